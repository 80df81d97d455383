"""Change detection rules (botscope.monitoring.changes; documented in docs/monitoring.md)."""

from __future__ import annotations

from typing import Any

from botscope.monitoring import changes

from tests.unit.monitoring import reports as r


def run_scans(*scan_reports: dict[str, Any]) -> list[changes.Evaluation]:
    """Feeds reports through evaluate() as consecutive scans, carrying the stored state (through
    to_item/from_item, as the MON item would)."""
    baseline_item, pending, results = None, [], []
    for report in scan_reports:
        current = changes.snapshot_from_report(report)
        evaluation = changes.evaluate(changes.Snapshot.from_item(baseline_item), pending, current)
        baseline_item, pending = evaluation.baseline.to_item(), evaluation.pending
        results.append(evaluation)
    return results


def fired_keys(evaluation: changes.Evaluation) -> set[tuple[str, str, str]]:
    return {(c.kind, c.subject, c.key) for c in evaluation.fired}


def test_first_scan_sets_the_baseline_and_reports_nothing() -> None:
    (first,) = run_scans(r.base_report("scan_1"))
    assert first.reason == "first_scan"
    assert first.fired == []
    assert set(first.baseline.findings) == {"fp_challenge_login", "fp_captcha_signup"}


def test_unchanged_site_never_fires_across_several_rescans() -> None:
    base = r.base_report("scan_1")
    results = run_scans(base, *(r.variant(base, f"scan_{i}") for i in range(2, 8)))
    assert all(e.fired == [] and e.pending == [] for e in results)
    assert [e.reason for e in results[1:]] == ["unchanged"] * 6


def test_a_change_fires_only_after_the_second_consecutive_scan_sees_it() -> None:
    base = r.base_report("scan_1")
    blocked = r.with_ai_block(base, "scan_2")
    first_seen, confirmed, after = run_scans(
        base, blocked, r.variant(blocked, "scan_3"), r.variant(blocked, "scan_4")
    )[1:]
    # Given the change is seen once, it is pending, not fired.
    assert first_seen.fired == [] and first_seen.reason == "pending"
    assert {p["key"] for p in first_seen.pending} >= {"fp_policy_ai_block", "robots_txt.ai_agents.GPTBot"}
    # When the next scan sees the same change, it fires once, naming the policy change.
    assert confirmed.reason == "fired" and not confirmed.immediate
    assert ("added", "finding", "fp_policy_ai_block") in fired_keys(confirmed)
    gptbot = next(c for c in confirmed.fired if c.key == "robots_txt.ai_agents.GPTBot")
    assert (gptbot.change, gptbot.before, gptbot.after) == ("policy", "allowed", "disallowed")
    assert confirmed.confirmed_since == "scan_2"
    # And it is folded into the baseline: the following scan reports nothing.
    assert after.fired == [] and after.reason == "unchanged"


def test_a_change_that_flaps_back_is_never_reported() -> None:
    base = r.base_report("scan_1")
    results = run_scans(
        base, r.with_ai_block(base, "scan_2"), r.variant(base, "scan_3"), r.variant(base, "scan_4")
    )
    assert all(e.fired == [] for e in results)
    assert results[2].pending == []  # the candidate was dropped, not kept waiting


def test_measure_disappearing_from_a_critical_path_fires_at_once() -> None:
    base = r.base_report("scan_1")
    gone = r.without_finding(base, "scan_2", "fp_challenge_login")
    _, immediate, again = run_scans(base, gone, r.variant(gone, "scan_3"))
    assert immediate.immediate is True
    assert fired_keys(immediate) == {("removed", "finding", "fp_challenge_login")}
    assert immediate.fired[0].critical_disappearance and immediate.fired[0].paths == {"/login"}
    assert again.fired == []  # reported once


def test_measure_disappearing_from_an_ordinary_path_waits_for_confirmation() -> None:
    base = r.variant(r.base_report("scan_1"), "scan_1")
    base["findings"].append(r.finding("fp_waf_about", "waf", ["/about"], vendor="cloudflare"))
    gone = r.without_finding(base, "scan_2", "fp_waf_about")
    _, first, second = run_scans(base, gone, r.variant(gone, "scan_3"))
    assert first.fired == [] and first.reason == "pending"
    assert fired_keys(second) == {("removed", "finding", "fp_waf_about")}
    assert second.immediate is False


def test_a_ruleset_upgrade_alone_is_not_reported_and_rebaselines() -> None:
    base = r.base_report("scan_1")
    upgraded = r.variant(r.with_ai_block(base, "scan_2"), "scan_2", ruleset_version="2026.12.0")
    upgraded["findings"] = [f for f in upgraded["findings"] if f["fingerprint"] != "fp_challenge_login"]
    _, upgrade, next_scan, third = run_scans(
        base, upgraded, r.variant(upgraded, "scan_3"), r.variant(upgraded, "scan_4")
    )
    assert upgrade.reason == "ruleset_upgrade" and upgrade.fired == [] and upgrade.pending == []
    assert upgrade.suppressed["ruleset_upgrade"] >= 2
    assert upgrade.baseline.ruleset_version == "2026.12.0"
    # Even the critical-path disappearance that came with the upgrade is not reported later.
    assert next_scan.fired == [] and third.fired == []


def test_a_failed_path_run_is_not_a_change() -> None:
    base = r.base_report("scan_1")
    # Given /login's runs failed (timeouts), its challenge finding is missing from the report.
    failed = r.without_finding(r.with_failed_path(base, "scan_2", "/login"), "scan_2", "fp_challenge_login")
    _, transient, recovered, again = run_scans(
        base, failed, r.variant(failed, "scan_3"), r.variant(base, "scan_4")
    )
    # Then nothing fires, not even the critical-path rule, on two failed scans in a row ...
    assert transient.fired == [] and transient.suppressed.get("transient_error", 0) >= 1
    assert recovered.fired == []
    # ... and the baseline still knows the challenge, so the recovery is not an "added" either.
    assert "fp_challenge_login" in recovered.baseline.findings
    assert again.fired == [] and again.reason == "unchanged"


def test_a_failed_scan_in_between_neither_confirms_nor_cancels_a_pending_change() -> None:
    base = r.base_report("scan_1")
    blocked = r.with_ai_block(base, "scan_2")
    robots_failed = r.with_failed_path(r.variant(base, "scan_3"), "scan_3", "/robots.txt")
    _, seen, blind, confirmed = run_scans(base, blocked, robots_failed, r.variant(blocked, "scan_4"))
    assert seen.reason == "pending" and blind.fired == []
    assert {p["key"] for p in blind.pending} == {p["key"] for p in seen.pending}
    assert ("added", "finding", "fp_policy_ai_block") in fired_keys(confirmed)


def test_a_path_unobservable_at_baseline_is_learned_silently() -> None:
    base = r.base_report("scan_1")
    first = r.without_finding(r.with_failed_path(base, "scan_1", "/login"), "scan_1", "fp_challenge_login")
    _, learned, steady = run_scans(first, r.variant(base, "scan_2"), r.variant(base, "scan_3"))
    assert learned.fired == [] and learned.suppressed.get("first_observation") == 1
    assert "fp_challenge_login" in learned.baseline.findings and not learned.baseline.unknown_paths
    assert steady.fired == [] and steady.pending == []


def test_vendor_swap_is_one_change() -> None:
    base = r.base_report("scan_1")
    swapped = r.variant(base, "scan_2")
    swapped["findings"] = [
        r.finding("fp_captcha_signup_h", "captcha", ["/signup"], vendor="hcaptcha")
        if f["fingerprint"] == "fp_captcha_signup"
        else f
        for f in swapped["findings"]
    ]
    _, first, second = run_scans(base, swapped, r.variant(swapped, "scan_3"))
    assert first.fired == []
    (change,) = second.fired
    assert (change.kind, change.change, change.vendor) == ("changed", "vendor_swapped", "hcaptcha")
    assert (change.before["vendor"], change.after["vendor"]) == ("recaptcha", "hcaptcha")


def test_measure_moved_away_from_a_critical_path_fires_at_once() -> None:
    base = r.base_report("scan_1")
    moved = r.variant(base, "scan_2")
    moved["findings"] = [
        r.finding("fp_challenge_login", "challenge", ["/about"], vendor="cloudflare")
        if f["fingerprint"] == "fp_challenge_login"
        else f
        for f in moved["findings"]
    ]
    _, evaluation = run_scans(base, moved)
    (change,) = evaluation.fired
    assert (change.change, evaluation.immediate) == ("moved", True)
    assert change.before["paths"] == ["/login"] and change.after["paths"] == ["/about"]


def test_status_and_enforcement_verdict_changes_are_reported() -> None:
    base = r.base_report("scan_1")
    changed = r.variant(base, "scan_2")
    changed["findings"][1]["status"] = "absent"  # captcha on /signup: present → absent (signup is critical)
    changed["enforcement"][0]["verdict"] = "enforced"
    _, evaluation = run_scans(base, changed)
    kinds = {(c.subject, c.change) for c in evaluation.fired}
    assert ("finding", "status") in kinds  # critical path: immediate
    assert evaluation.immediate
    # The verdict change rides along in the same event, marked unconfirmed.
    verdict = next(c for c in evaluation.fired if c.subject == "enforcement")
    assert (verdict.change, verdict.after, verdict.public()["confirmed"]) == ("verdict", "enforced", False)
    assert evaluation.pending == []


def test_inconclusive_status_is_not_a_change() -> None:
    base = r.base_report("scan_1")
    unsure = r.variant(base, "scan_2")
    unsure["findings"][0]["status"] = "inconclusive"
    _, first, second = run_scans(base, unsure, r.variant(unsure, "scan_3"))
    assert first.fired == [] and second.fired == []
    assert first.suppressed.get("inconclusive") == 1


def test_event_groups_policy_changes_per_field_and_value() -> None:
    base = r.base_report("scan_1")
    many = r.variant(base, "scan_2")
    many["policy"]["robots_txt"]["ai_agents"] = {f"Agent{i}": "disallowed" for i in range(40)}
    _, _, confirmed = run_scans(base, many, r.variant(many, "scan_3"))
    summary = confirmed.event_summary()
    assert summary["added"] + summary["removed"] + summary["changed"] == len(confirmed.fired) == 42
    added = next(c for c in summary["changes"] if c["kind"] == "added")
    assert (added["key"], added["after"], added["count"]) == ("robots_txt.ai_agents", "disallowed", 40)
    assert len(added["names"]) == changes.MAX_GROUP_NAMES and added["paths"] == ["/robots.txt"]
    assert summary["truncated"] is False


def test_event_lists_at_most_a_bounded_number_of_items() -> None:
    base = r.base_report("scan_1")
    many = r.variant(base, "scan_2")
    many["findings"] += [r.finding(f"fp_waf_{i}", "waf", [f"/p{i}"], vendor=f"vendor{i}") for i in range(25)]
    for run_path in (f"/p{i}" for i in range(25)):
        many["path_runs"].append(
            {"path": run_path, "profile": "browser", "status": "completed", "outcome": "served"}
        )
    base["path_runs"] = many["path_runs"]
    _, _, confirmed = run_scans(base, many, r.variant(many, "scan_3"))
    summary = confirmed.event_summary()
    assert summary["added"] == 25
    assert len(summary["changes"]) == changes.MAX_EVENT_ITEMS and summary["truncated"] is True


def test_snapshot_round_trips_through_the_stored_item() -> None:
    snap = changes.snapshot_from_report(r.with_failed_path(r.base_report("scan_1"), "scan_1", "/llms.txt"))
    again = changes.Snapshot.from_item(snap.to_item())
    assert again is not None
    assert (again.findings, again.policy, again.enforcement, again.unknown_paths) == (
        snap.findings,
        snap.policy,
        snap.enforcement,
        {"/llms.txt"},
    )


def test_scans_of_another_mode_are_not_compared() -> None:
    quick = r.variant(r.base_report("scan_1"), "scan_1", scan_mode="quick")
    quick["findings"] = quick["findings"][:1]  # a quick scan saw less
    full = r.base_report("scan_2")
    _, rebased, again, quick_again = run_scans(
        quick, full, r.variant(full, "scan_3"), r.variant(quick, "scan_4")
    )
    assert rebased.reason == "scan_mode_changed" and rebased.fired == [] and rebased.pending == []
    assert again.reason == "unchanged"
    assert quick_again.reason == "other_scan_mode" and quick_again.fired == []
    assert quick_again.baseline.scan_mode == "full"


def test_an_immediate_event_carries_the_other_changes_of_its_scan_once() -> None:
    base = r.base_report("scan_1")
    both = r.with_ai_block(r.without_finding(base, "x", "fp_challenge_login"), "scan_2")
    _, immediate, next_scan, third = run_scans(
        base, both, r.variant(both, "scan_3"), r.variant(both, "scan_4")
    )
    assert immediate.immediate and immediate.reason == "fired" and immediate.pending == []
    by_key = {c.key: c for c in immediate.fired}
    assert by_key["fp_challenge_login"].public()["confirmed"] is True
    assert by_key["fp_policy_ai_block"].public()["confirmed"] is False
    robots = next(e for e in immediate.event_summary()["changes"] if e["key"] == "robots_txt.ai_agents")
    assert robots["confirmed"] is False and robots["count"] == 2
    # One change of the site, one event: the confirming scan reports nothing more.
    assert next_scan.fired == [] and third.fired == []


def test_a_scan_that_probed_more_paths_compares_like_with_like() -> None:
    # Given a baseline that never probed /cart (its discovery did not find it)
    base = r.base_report("scan_1")
    # When later scans also probe /cart, where the challenge of /login shows up as well
    wider = r.variant(base, "scan_2")
    wider["path_runs"] = wider["path_runs"] + [
        {**run, "path_run_id": run["path_run_id"] + "_cart", "path": "/cart"}
        for run in wider["path_runs"]
        if run["path"] == "/login"
    ]
    for finding in wider["findings"]:
        if finding["fingerprint"] == "fp_challenge_login":
            finding["paths"] = ["/cart", "/login"]
    wider["findings"].append(r.finding("fp_captcha_cart", "captcha", ["/cart"], vendor="hcaptcha"))
    _, first, second = run_scans(base, wider, r.variant(wider, "scan_3"))
    # Then nothing is reported: /cart was not looked at before, so nothing there "appeared" or "moved"
    assert first.fired == [] and first.pending == [] and second.fired == [] and second.pending == []
    assert first.suppressed.get("not_compared") == 2
    # and the baseline learned what the wider scan saw
    assert first.baseline.findings["fp_challenge_login"]["paths"] == ["/cart", "/login"]
    assert "fp_captcha_cart" in first.baseline.findings and "/cart" in first.baseline.probed_paths


def test_the_random_not_found_probe_is_not_a_path_of_the_site() -> None:
    report = r.base_report("scan_1")
    report["path_runs"].append(
        {
            "path_run_id": "run_probe",
            "path": "/.well-known/botscope-not-found-ab.txt",
            "profile": "browser",
            "kind": "probe",
            "status": "completed",
            "outcome": "not_found",
            "http_status": 404,
            "duration_ms": 5,
            "error": None,
        }
    )
    snapshot = changes.snapshot_from_report(report)
    assert not any(p.startswith("/.well-known/botscope-not-found-") for p in snapshot.probed_paths)
