"""The entity base: DynamoDB values become plain ones, storage keys never leave the store, entities
are immutable."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botscope.store.entity import Entity
from pydantic import ValidationError

from tests.helpers.entities import undeclared_attributes


class Sample(Entity):
    sample_id: str
    count: int
    ratio: float
    tags: list[str]
    note: str | None = None


RAW = {
    "pk": "WS#ws_1",
    "sk": "SAMPLE#1",
    "gsi1pk": "WS#ws_1#SAMPLES",
    "expires_at": Decimal(1900000000),
    "sample_id": "s1",
    "count": Decimal(3),
    "ratio": Decimal("0.25"),
    "tags": ["a", "b"],
}


def test_from_item_converts_numbers_and_drops_storage_keys() -> None:
    sample = Sample.from_item(RAW)
    assert sample.count == 3 and isinstance(sample.count, int)
    assert sample.ratio == 0.25
    assert sample.to_dict() == {
        "sample_id": "s1",
        "count": 3,
        "ratio": 0.25,
        "tags": ["a", "b"],
        "note": None,
    }


def test_entities_are_immutable() -> None:
    sample = Sample.from_item(RAW)
    with pytest.raises(ValidationError):
        sample.count = 4  # type: ignore[misc]
    assert sample.model_copy(update={"count": 4}).count == 4 and sample.count == 3


def test_undeclared_attributes_names_what_an_entity_would_drop() -> None:
    assert undeclared_attributes(Sample, RAW) == set()
    assert undeclared_attributes(Sample, {**RAW, "extra": 1}) == {"extra"}
