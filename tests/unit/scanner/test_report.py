"""build_report: the report of docs/report.md, findings, fingerprints, changes, summary."""

from __future__ import annotations

import json

from botscope.scanner.findings import fingerprint
from botscope.scanner.model import FetchResult, ProbeError
from botscope.scanner.observe import build_observation
from botscope.scanner.policy import ai_agent_tokens
from botscope.scanner.report import build_report
from botscope.scanner.rules_engine import load_ruleset

from tests.unit.scanner._helpers import PROFILES, fetch_result, plan_for, spec

HTML = {"content-type": "text/html"}
TEXT = {"content-type": "text/plain"}
PAGE = (
    "<html><head><title>Shop</title></head><body><p>"
    + "Plain shop page with products and prices. " * 20
    + "</p></body></html>"
)
LOGIN = (
    '<html><head><title>Login</title><script src="https://js.hcaptcha.com/1/api.js"></script></head><body>'
    '<form action="/login"><div class="h-captcha" data-sitekey="k"></div></form></body></html>'
)
ROBOTS = (
    "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"
)
CF = {**HTML, "server": "cloudflare", "cf-ray": "8a-FRA"}


def scan(ai_blocked=True, robots=ROBOTS, extra_headers=None, ids=("run",), fail_one=False):
    """A small scan: '/' and '/login' with every profile plus robots.txt."""
    specs, observations = [], []
    for path, body, critical, category in (("/", PAGE, False, "target"), ("/login", LOGIN, True, "login")):
        for profile in PROFILES:
            run = spec(path, profile, critical=critical, category=category)
            run.path_run_id = f"{ids[0]}_{path}_{profile}"
            specs.append(run)
            if fail_one and path == "/login" and profile == "http_client":
                fetch = FetchResult(
                    url="https://example.test/login", error=ProbeError(code="timeout", message="timed out")
                )
            elif ai_blocked and profile == "ai_crawler":
                fetch = fetch_result(
                    403, {**CF, **(extra_headers or {})}, "<html><title>Forbidden</title></html>", path=path
                )
            else:
                fetch = fetch_result(
                    200,
                    {**CF, **(extra_headers or {})},
                    body,
                    set_cookie=["__cf_bm"],
                    path=path,
                    duration_ms=100 + len(ids[0]),
                )
            observations.append(build_observation(run, fetch))
    robots_spec = spec("/robots.txt")
    specs.append(robots_spec)
    observations.append(
        build_observation(
            robots_spec,
            fetch_result(200, TEXT, robots, path="/robots.txt")
            if robots is not None
            else fetch_result(404, HTML, "", path="/robots.txt"),
        )
    )
    return plan_for(specs), observations


def report_for(**kwargs):
    scan_id = kwargs.pop("scan_job_id", "scan_a")
    previous = kwargs.pop("previous_report", None)
    started = kwargs.pop("started_at", "2026-11-28T00:00:00Z")
    plan, observations = scan(**kwargs)
    return build_report(
        plan,
        observations,
        scan_job_id=scan_id,
        started_at=started,
        completed_at="2026-11-28T00:01:00Z",
        previous_report=previous,
    )


def test_report_has_the_documented_shape() -> None:
    report = report_for()
    assert set(report) >= {
        "schema_version",
        "scan_job_id",
        "target_url",
        "scan_mode",
        "status",
        "ruleset_version",
        "started_at",
        "completed_at",
        "summary",
        "path_runs",
        "detections",
        "policy",
        "enforcement",
        "findings",
        "changes",
        "coverage",
    }
    assert report["schema_version"] == "1" and report["status"] == "completed"
    assert report["ruleset_version"] == load_ruleset().version
    assert set(report["summary"]) == {
        "posture",
        "score",
        "measures_present",
        "vendors",
        "findings_by_severity",
        "baseline",
        "limitations",
    }
    assert set(report["path_runs"][0]) >= {
        "path_run_id",
        "path",
        "profile",
        "status",
        "outcome",
        "http_status",
        "duration_ms",
        "error",
    }
    assert set(report["detections"][0]) >= {
        "vendor",
        "product",
        "measure",
        "layer",
        "confidence",
        "paths",
        "profiles",
        "evidence",
    }
    finding_keys = {
        "finding_id",
        "fingerprint",
        "category",
        "measure",
        "status",
        "severity",
        "confidence",
        "title",
        "summary",
        "vendor",
        "layer",
        "paths",
        "profiles",
        "evidence",
        "recommendation",
    }
    assert all(set(f) == finding_keys for f in report["findings"])
    assert all(
        0.0 <= f["confidence"] <= 1.0 and f["severity"] in ("info", "low", "medium", "high")
        for f in report["findings"]
    )
    assert set(report["enforcement"][0]) == {
        "agent_profile",
        "path",
        "declared",
        "observed",
        "verdict",
        "basis",
    }
    assert report["changes"] is None
    json.dumps(report)  # JSON-serializable as is


def test_policy_lists_every_known_ai_agent() -> None:
    robots = report_for()["policy"]["robots_txt"]
    assert set(robots["ai_agents"]) == set(ai_agent_tokens())
    assert robots["ai_agents"]["GPTBot"] == "disallowed" and robots["ai_agents"]["ClaudeBot"] == "allowed"
    assert robots["named_agents"] == ["GPTBot"]
    assert report_for()["policy"]["content_signals"] == {"search": "yes", "ai-train": "no"}


def test_detections_summary_and_enforcement() -> None:
    report = report_for()
    summary = report["summary"]
    assert summary["vendors"] == ["cloudflare", "hcaptcha"]
    assert {"captcha", "cdn", "bot_management", "policy"} <= set(summary["measures_present"])
    assert 0 <= summary["score"] <= 100
    assert summary["posture"] in ("basic", "layered", "hardened")
    verdicts = {(e["agent_profile"], e["path"]): e["verdict"] for e in report["enforcement"]}
    assert verdicts[("ai_crawler", "/")] == "enforced"
    assert verdicts[("ai_agent", "/")] == "consistent"
    assert sum(summary["findings_by_severity"].values()) == len(report["findings"])


def test_declared_not_enforced_is_a_medium_finding() -> None:
    report = report_for(ai_blocked=False)
    finding = next(f for f in report["findings"] if f["title"].startswith("robots.txt disallows GPTBot"))
    assert finding["severity"] == "medium" and finding["category"] == "enforcement"
    assert finding["paths"] == ["/", "/login"] and finding["profiles"] == ["ai_crawler"]


def test_no_defenses_means_posture_none_and_low_score() -> None:
    specs = [spec("/", p) for p in PROFILES]
    observations = [build_observation(s, fetch_result(200, HTML, PAGE)) for s in specs]
    report = build_report(plan_for(specs), observations, scan_job_id=None, started_at=None, completed_at=None)
    assert report["summary"]["posture"] == "none"
    assert report["summary"]["score"] <= 10
    assert report["detections"] == []


def test_failed_path_run_does_not_fail_the_report() -> None:
    report = report_for(fail_one=True)
    failed = [r for r in report["path_runs"] if r["status"] == "failed"]
    assert (
        len(failed) == 1 and failed[0]["outcome"] == "timed_out" and failed[0]["error"]["code"] == "timeout"
    )
    assert report["status"] == "completed"


def test_browser_challenged_is_a_finding_not_an_error() -> None:
    specs = [spec("/", p) for p in PROFILES]
    challenge = fetch_result(
        403, {**CF, "cf-mitigated": "challenge"}, "<html><title>Just a moment...</title></html>"
    )
    observations = [build_observation(s, challenge) for s in specs]
    report = build_report(
        plan_for(specs), observations, scan_job_id="scan_x", started_at=None, completed_at=None
    )
    scan_findings = [f for f in report["findings"] if f["category"] == "scan"]
    assert scan_findings and all(f["status"] == "inconclusive" for f in scan_findings)
    assert report["status"] == "completed"


def test_fingerprints_are_stable_across_scans() -> None:
    first = report_for(scan_job_id="scan_1", ids=("a",), started_at="2026-11-28T00:00:00Z")
    second = report_for(scan_job_id="scan_2", ids=("bbbbbb",), started_at="2026-12-05T09:30:00Z")
    assert sorted(f["fingerprint"] for f in first["findings"]) == sorted(
        f["fingerprint"] for f in second["findings"]
    )
    assert {f["finding_id"] for f in first["findings"]}.isdisjoint(
        {f["finding_id"] for f in second["findings"]}
    )
    again = report_for(scan_job_id="scan_1", ids=("a",))
    assert [f["finding_id"] for f in again["findings"]] == [f["finding_id"] for f in first["findings"]]


def test_fingerprint_depends_on_site_and_measure_only() -> None:
    a = fingerprint("https://a.test", "detection", "cdn", "cloudflare")
    assert a == fingerprint("https://A.test", "detection", "cdn", "cloudflare")
    assert a != fingerprint("https://b.test", "detection", "cdn", "cloudflare")
    assert a != fingerprint("https://a.test", "detection", "waf", "cloudflare")
    assert fingerprint("o", "coverage", "m", None, ["/b", "/a"]) == fingerprint(
        "o", "coverage", "m", None, ["/a", "/b"]
    )


def test_changes_added_removed_changed() -> None:
    previous = report_for(scan_job_id="scan_1")
    current = report_for(scan_job_id="scan_2", ai_blocked=False, previous_report=previous)
    changes = current["changes"]
    assert changes["since_scan_job_id"] == "scan_1"
    added_titles = {c["title"] for c in changes["added"]}
    removed_titles = {c["title"] for c in changes["removed"]}
    assert any(t.startswith("robots.txt disallows GPTBot") for t in added_titles)
    assert "robots.txt policy for GPTBot is enforced" in removed_titles
    unchanged = report_for(scan_job_id="scan_3", previous_report=previous)["changes"]
    assert unchanged["added"] == [] and unchanged["removed"] == [] and unchanged["changed"] == []


def test_changes_report_changed_fields() -> None:
    previous = report_for(scan_job_id="scan_1")
    # same detection, different paths → "changed" with the field diff
    for finding in previous["findings"]:
        if finding["vendor"] == "hcaptcha":
            finding["paths"] = ["/", "/login"]
    current = report_for(scan_job_id="scan_2", previous_report=previous)
    changed = current["changes"]["changed"]
    assert len(changed) == 1 and changed[0]["vendor"] == "hcaptcha"
    assert changed[0]["changes"]["paths"] == {"before": ["/", "/login"], "after": ["/login"]}


def test_changes_compare_like_with_like_paths_one_scan_did_not_observe_are_not_changes() -> None:
    previous = report_for(scan_job_id="scan_1")
    # the previous scan never probed /signup (a quick scan, or a smaller sitemap)
    previous["path_runs"] = [r for r in previous["path_runs"] if r["path"] != "/login"]
    previous["findings"] = [f for f in previous["findings"] if f["paths"] != ["/login"]]
    current = report_for(scan_job_id="scan_2", previous_report=previous)["changes"]
    # the hCaptcha on /login was simply not looked at before: neither added nor changed
    assert current["added"] == [] and current["changed"] == [] and current["removed"] == []
    assert "hcaptcha" in {c["vendor"] for c in current["not_compared"]}


def test_policy_file_challenged_for_an_ai_profile_is_a_finding() -> None:
    specs = [spec("/", "browser"), spec("/llms.txt", "browser"), spec("/llms.txt", "ai_crawler")]
    fetches = [
        fetch_result(200, HTML, PAGE),
        fetch_result(200, TEXT, "# Site\n> summary\n", path="/llms.txt"),
        fetch_result(
            429,
            {**HTML, "x-vercel-mitigated": "challenge"},
            "<html><title>Vercel Security Checkpoint</title></html>",
            path="/llms.txt",
        ),
    ]
    observations = [build_observation(s, f) for s, f in zip(specs, fetches, strict=True)]
    report = build_report(plan_for(specs), observations, scan_job_id="s", started_at=None, completed_at=None)
    finding = next(f for f in report["findings"] if f["title"] == "Policy file /llms.txt is challenged")
    assert finding["profiles"] == ["ai_crawler"] and finding["measure"] == "challenge"
    assert report["policy"]["llms_txt"]["present"] is True  # the browser got the file


def test_report_with_no_observations_is_still_a_report() -> None:
    report = build_report(plan_for([]), [], scan_job_id="scan_empty", started_at=None, completed_at=None)
    assert report["status"] == "completed" and report["path_runs"] == [] and report["findings"] == []
    # nothing observed: the posture is unknown, never "none"
    assert report["summary"]["posture"] == "unknown" and report["summary"]["score"] == 0
    assert report["summary"]["baseline"] == "failed"
    assert set(report["policy"]["robots_txt"]["ai_agents"].values()) == {"unspecified"}


def test_browser_challenged_is_one_finding_about_the_browser() -> None:
    specs = [spec("/", p) for p in PROFILES]
    challenge = fetch_result(
        403, {**CF, "cf-mitigated": "challenge"}, "<html><title>Just a moment...</title></html>"
    )
    report = build_report(
        plan_for(specs),
        [build_observation(s, challenge) for s in specs],
        scan_job_id="s",
        started_at=None,
        completed_at=None,
    )
    scan_findings = [f for f in report["findings"] if f["category"] == "scan"]
    assert len(scan_findings) == 1 and scan_findings[0]["profiles"] == ["browser"]


def test_site_native_ai_blocking_counts_as_a_defense() -> None:
    report = report_for(robots=None)  # no declaration, AI crawler blocked with a plain 403
    assert "bot_management" in report["summary"]["measures_present"]
    assert report["summary"]["posture"] != "none"
    assert any(e["verdict"] == "undeclared_block" for e in report["enforcement"])


def test_rate_limited_policy_file_is_not_a_policy_finding() -> None:
    specs = [spec("/", "browser"), spec("/ai.txt", "browser")]
    fetches = [
        fetch_result(200, HTML, PAGE),
        fetch_result(429, {**HTML, "retry-after": "5"}, "slow down", path="/ai.txt"),
    ]
    report = build_report(
        plan_for(specs),
        [build_observation(s, f) for s, f in zip(specs, fetches, strict=True)],
        scan_job_id="s",
        started_at=None,
        completed_at=None,
    )
    assert not [f for f in report["findings"] if f["title"].startswith("Policy file")]
    assert "rate_limit" in report["summary"]["measures_present"]


def test_report_from_json_round_tripped_observations_is_identical() -> None:
    """The pipeline stores observations between Lambda stages as JSON."""
    from botscope.scanner.model import Observation

    plan, observations = scan()
    stored = [
        Observation.model_validate(json.loads(json.dumps(o.model_dump(mode="json")))) for o in observations
    ]
    kwargs = {"scan_job_id": "scan_rt", "started_at": None, "completed_at": None}
    assert build_report(plan, stored, **kwargs) == build_report(plan, observations, **kwargs)
