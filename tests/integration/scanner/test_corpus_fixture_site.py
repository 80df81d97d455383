"""The repository corpus (tests/corpus) replayed on 127.0.0.1 and scanned end to end.

Each capture is served by its own fixture site at its ``expect.serve_path`` with canaries planted
(cookie values, a header value and a body token): the report must meet the capture's ``expect``
and contain none of the canaries. The summary test prints recall and false positives per vendor
and holds the corpus targets (vendor recall >= 0.97, no false positive, every policy fact right).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from botscope.scanner import engine

from tests.fixtures.corpus import (
    capture_paths,
    check_report,
    leaked_canaries,
    load_capture,
    policy_value,
    reported_vendors,
    score,
)
from tests.fixtures.site import FixtureSite, corpus_scenario
from tests.integration.scanner.conftest import LOCAL_POLICY

CAPTURES = [path.stem for path in capture_paths()]
# Sites scanned at once: each capture gets its own server, so scans never share a scenario.
PARALLEL_SITES = 4
RECALL_TARGET = 0.97


async def _scan_all(sites: list[FixtureSite]) -> dict[str, dict]:
    reports: dict[str, dict] = {}
    for start in range(0, len(CAPTURES), len(sites)):
        batch = CAPTURES[start : start + len(sites)]
        for site, name in zip(sites, batch, strict=False):
            site.set_scenario(corpus_scenario(name))
        results = await asyncio.gather(
            *(
                engine.run_scan(site.url("/"), "quick", LOCAL_POLICY)
                for site, _ in zip(sites, batch, strict=False)
            )
        )
        reports.update(zip(batch, results, strict=True))
    return reports


@pytest.fixture(scope="module")
def corpus_reports() -> Iterator[dict[str, dict]]:
    with ExitStack() as stack:
        sites = [stack.enter_context(FixtureSite("clean")) for _ in range(PARALLEL_SITES)]
        yield asyncio.run(_scan_all(sites))


def test_corpus_meets_the_issue_size() -> None:
    docs = [load_capture(name) for name in CAPTURES]
    assert len(docs) >= 150
    assert sum(doc["kind"] == "policy" for doc in docs) >= 30
    assert sum(doc["kind"] == "trap" for doc in docs) >= 25


@pytest.mark.parametrize("capture", CAPTURES)
def test_capture_meets_its_expectations(corpus_reports: dict[str, dict], capture: str) -> None:
    report = corpus_reports[capture]
    assert report["status"] == "completed"
    assert check_report(report, load_capture(capture)["expect"]) == []


@pytest.mark.parametrize("capture", CAPTURES)
def test_no_planted_canary_reaches_the_report(corpus_reports: dict[str, dict], capture: str) -> None:
    assert leaked_canaries(corpus_reports[capture]) == []


def test_corpus_summary(corpus_reports: dict[str, dict], capsys: pytest.CaptureFixture[str]) -> None:
    """Recall / false positives per vendor over the whole replayed corpus (printed with -s)."""
    docs = {name: load_capture(name) for name in CAPTURES}
    total = score((name, reported_vendors(corpus_reports[name]), docs[name]["expect"]) for name in CAPTURES)
    facts = [
        (name, key, value)
        for name, doc in docs.items()
        for key, value in (doc["expect"].get("policy") or {}).items()
    ]
    wrong_facts = [
        (name, key) for name, key, value in facts if policy_value(corpus_reports[name], key) != value
    ]
    leaks = [name for name in CAPTURES if leaked_canaries(corpus_reports[name])]
    with capsys.disabled():
        print(f"\ncorpus: {len(CAPTURES)} captures, {len(facts)} policy facts\n{total.table()}")
        print(f"policy facts wrong: {len(wrong_facts)}; canary leaks: {len(leaks)}")
    assert total.recall is not None and total.recall >= RECALL_TARGET
    assert total.false_positives == []
    assert wrong_facts == []
    assert leaks == []
