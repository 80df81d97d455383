"""Prefixed, sortable ids (botscope.ids): the ULID-style body in Crockford base32."""

from __future__ import annotations

import random

from botscope import ids

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _digit_by_digit(value: int, length: int) -> str:
    """Base32 the slow, obvious way: one 5-bit digit at a time, most significant first."""
    return "".join(CROCKFORD[(value >> (5 * (length - 1 - i))) & 31] for i in range(length))


def test_the_time_part_matches_the_ulid_specification_example() -> None:
    # The ULID specification's example: 1469918176385 ms encodes as 01ARYZ6S41.
    assert ids.new_id("scan", 1469918176385).removeprefix("scan_")[:10] == "01aryz6s41"


def test_encoding_agrees_with_digit_by_digit_base32_for_random_values() -> None:
    rng = random.Random(14)
    for _ in range(2000):
        value = rng.getrandbits(90)  # wider than 80 bits: the high bits beyond the length drop
        assert ids._encode(value, 16) == _digit_by_digit(value, 16)
        assert ids._encode(value, 10) == _digit_by_digit(value, 10)


def test_ids_sort_by_creation_time_and_are_recognised() -> None:
    earlier, later = ids.new_id("evt", 1_700_000_000_000), ids.new_id("evt", 1_700_000_000_001)
    assert earlier < later
    assert ids.is_id(earlier, "evt") and not ids.is_id(earlier, "scan")
    assert not ids.is_id("evt_" + "i" * 26, "evt")  # "i" is not a Crockford digit


def test_a_derived_id_is_stable_and_keeps_the_source_time() -> None:
    source = ids.new_id("scan", 1_700_000_000_000)
    first = ids.derived_id("evt", source, "scan.completed")
    assert first == ids.derived_id("evt", source, "scan.completed")
    assert first != ids.derived_id("evt", source, "scan.failed")
    assert first.removeprefix("evt_")[:10] == source.removeprefix("scan_")[:10]
    assert ids.is_id(first, "evt")
