"""One classification of critical paths (botscope.scanner.critical_paths), shared by the planner,
the findings and monitoring's change detection (docs/monitoring.md, docs/report.md)."""

from __future__ import annotations

import pytest
from botscope.monitoring import changes
from botscope.scanner import critical_paths, findings, plan

from tests.unit.monitoring import reports as r

LOOKALIKES = [
    "/research",
    "/capital",
    "/author",
    "/cartoons",
    "/apiary",
    "/accountant",
    "/rapid",
    "/searchlight",
]
CRITICAL = [
    "/login",
    "/users/sign_in",
    "/signup",
    "/forgot-password",
    "/cart",
    "/checkout/step-1",
    "/my-account",
    "/api/v1/items",
    "/graphql",
    "/search",
    "/contact",
]


@pytest.mark.parametrize("path", LOOKALIKES)
def test_words_that_merely_contain_a_critical_word_are_not_critical_anywhere(path: str) -> None:
    assert plan.classify_path(path) is None
    assert not changes.is_critical_path(path)


@pytest.mark.parametrize("path", CRITICAL)
def test_the_planner_and_monitoring_agree_on_critical_paths(path: str) -> None:
    assert plan.classify_path(path) is not None
    assert changes.is_critical_path(path)


def test_a_path_the_scan_flagged_critical_stays_critical_for_monitoring() -> None:
    assert changes.is_critical_path("/research", {"/research"})


def test_findings_only_name_categories_the_planner_produces() -> None:
    produced = {name for name, _ in critical_paths.CRITICAL_CATEGORIES}
    assert findings.HIGH_VALUE_CATEGORIES <= produced
    assert critical_paths.HIGH_VALUE_CATEGORIES <= produced


@pytest.mark.parametrize("path", ["/research", "/author", "/cartoons"])
def test_a_challenge_leaving_a_lookalike_path_waits_for_confirmation(path: str) -> None:
    base = r.variant(r.base_report("scan_1"), "scan_1")
    base["path_runs"] += [
        {**run, "path_run_id": run["path_run_id"] + "_x", "path": path}
        for run in base["path_runs"]
        if run["path"] == "/about"
    ]
    base["findings"].append(r.finding("fp_challenge_x", "challenge", [path], vendor="cloudflare"))
    gone = r.without_finding(base, "scan_2", "fp_challenge_x")
    first = changes.evaluate(changes.Snapshot.from_item(None), [], changes.snapshot_from_report(base))
    seen_once = changes.evaluate(first.baseline, first.pending, changes.snapshot_from_report(gone))
    assert seen_once.immediate is False and seen_once.fired == []
    assert {p["key"] for p in seen_once.pending} == {"fp_challenge_x"}
    confirmed = changes.evaluate(
        seen_once.baseline, seen_once.pending, changes.snapshot_from_report(r.variant(gone, "scan_3"))
    )
    assert [c.key for c in confirmed.fired] == ["fp_challenge_x"] and not confirmed.immediate
