"""The public report (docs/report.md): assembled from the plan and every observation.

Public-safe by construction: it is built only from observation fields that hold names, counts,
outcomes and parsed policy facts — never header values other than parsed policy signals, never
cookie values, bodies, challenge payloads or addresses. A failed path run is listed with its error
and does not fail the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botscope.scanner import analysis, scoring
from botscope.scanner.findings import build_findings
from botscope.scanner.model import Observation, ProfileId, RenderedProfileId, ScanPlan
from botscope.scanner.plan import RENDER_PROFILE
from botscope.scanner.policy import analyze_policy
from botscope.scanner.profiles import get_profile
from botscope.scanner.rules_engine import load_ruleset
from botscope.scanner.vocabulary import (
    NO_ANSWER_OUTCOMES,
    POLICY_PATHS,
    SEVERITIES,
    STOPPED_OUTCOMES,
    STOPPING_VERDICTS,
    Baseline,
    Outcome,
)

SCHEMA_VERSION = "1"
_CHANGE_FIELDS = ("status", "severity", "paths", "profiles", "title")


def wire_record(
    profile_id: ProfileId | RenderedProfileId, http_version: str | None, tls: bool
) -> dict[str, Any]:
    """How BotScope's own client looked on the wire for a path run (public: our client, not the
    site's data): the profile version, the HTTP version the server answered with, and the JA4 the
    profile data records for that version (None when not recorded, or when the run used no TLS)."""
    if profile_id == RENDER_PROFILE:
        # the system Chromium, whatever its build: no profile version, no recorded JA4
        return {"profile_version": None, "http_version": http_version, "ja4": None}
    profile = get_profile(profile_id)
    return {
        "profile_version": profile.version,
        "http_version": http_version,
        "ja4": profile.ja4 if tls else None,
    }


def _path_run(obs: Observation, tls: bool = True) -> dict[str, Any]:
    failed = obs.error is not None and obs.http_status is None
    return {
        "path_run_id": obs.spec.path_run_id,
        "path": obs.spec.path,
        "profile": obs.spec.profile,
        "kind": obs.spec.kind,
        "status": "failed" if failed else "completed",
        "outcome": obs.outcome,
        "http_status": obs.http_status,
        "duration_ms": obs.duration_ms,
        "error": {"code": obs.error.code, "message": obs.error.message} if obs.error else None,
        "wire": wire_record(obs.spec.profile, obs.http_version, tls),
    }


_ROBOTS_PUBLIC = (
    "present",
    "access",
    "effect",
    "ai_agents",
    "ai_agents_named",
    "generic_rules",
    "named_agents",
    "managed_by",
    "managed_disallowed",
    "conflicts",
    "truncated",
    "outcome",
    "http_status",
)


def _public_policy(policy: dict[str, Any]) -> dict[str, Any]:
    robots = policy["robots_txt"]
    return {
        "robots_txt": {key: robots[key] for key in _ROBOTS_PUBLIC},
        "content_signals": policy["content_signals"],
        "content_signals_invalid": policy["content_signals_invalid"],
        "content_usage": policy["content_usage"],
        "content_usage_detail": policy["content_usage_detail"],
        "llms_txt": policy["llms_txt"],
        "llms_full_txt": policy["llms_full_txt"],
        "ai_txt": policy["ai_txt"],
        "tdmrep": policy["tdmrep"],
        "noai_meta": policy["noai_meta"],
        "web_bot_auth": policy["web_bot_auth"],
        "pay_per_crawl": policy["pay_per_crawl"],
    }


_STOP_ORDER: dict[Outcome, int] = {"challenged": 3, "blocked": 2, "rate_limited": 1}


def _policy_outcomes(observations: list[Observation]) -> dict[str, dict[str, Any]]:
    """Per policy file: the most telling outcome any profile got (a challenge beats a block beats a
    rate limit beats anything else) and the profiles that got it."""
    outcomes: dict[str, dict[str, Any]] = {}
    for obs in observations:
        if obs.spec.path not in POLICY_PATHS:
            continue
        rank = _STOP_ORDER.get(obs.outcome, 0)
        current = outcomes.get(obs.spec.path)
        if current is None or rank > current["rank"]:
            outcomes[obs.spec.path] = {"outcome": obs.outcome, "rank": rank, "profiles": [obs.spec.profile]}
        elif rank == current["rank"] and obs.spec.profile not in current["profiles"]:
            current["profiles"].append(obs.spec.profile)
    return outcomes


def _observed_paths(observations: list[Observation]) -> set[str]:
    return {o.spec.path for o in observations if o.http_status is not None}


def _report_observed_paths(report: dict[str, Any]) -> set[str]:
    return {
        str(r.get("path"))
        for r in report.get("path_runs") or []
        if r.get("kind") != "probe" and r.get("status") != "failed" and r.get("outcome") != "error"
    }


def compute_changes(
    findings: list[dict[str, Any]],
    previous_report: dict[str, Any],
    *,
    probed: set[str] | None = None,
    scan_mode: str | None = None,
) -> dict[str, Any]:
    """added / removed / changed findings by fingerprint against a previous report, like with like:
    only the paths both scans observed are compared (a full scan after a quick one does not report
    the paths the quick one never probed as added). Findings seen only on paths one of the two
    scans did not observe are listed as ``not_compared``."""

    def brief(f: dict[str, Any]) -> dict[str, Any]:
        return {
            k: f.get(k)
            for k in ("fingerprint", "category", "measure", "vendor", "title", "status", "severity")
        }

    before_paths = _report_observed_paths(previous_report)
    common = (before_paths & probed) if probed is not None and before_paths else None

    def projected(f: dict[str, Any]) -> dict[str, Any] | None:
        """The finding restricted to the commonly observed paths; None when it has paths and none
        of them were observed by both scans."""
        paths = f.get("paths") or []
        if common is None or not paths:
            return f
        kept = sorted(p for p in paths if p in common)
        return {**f, "paths": kept} if kept else None

    old_all = {f["fingerprint"]: f for f in previous_report.get("findings") or [] if f.get("fingerprint")}
    new_all = {f["fingerprint"]: f for f in findings}
    old = {fp: p for fp, f in old_all.items() if (p := projected(f)) is not None}
    new = {fp: p for fp, f in new_all.items() if (p := projected(f)) is not None}
    not_compared = [brief(new_all[fp]) for fp in new_all if fp not in new] + [
        brief(old_all[fp]) for fp in old_all if fp not in old and fp not in new_all
    ]
    changed = []
    for fp in sorted(set(old) & set(new)):
        diffs = {
            k: {"before": old[fp].get(k), "after": new[fp].get(k)}
            for k in _CHANGE_FIELDS
            if old[fp].get(k) != new[fp].get(k)
        }
        if diffs:
            changed.append({**brief(new_all[fp]), "changes": diffs})
    return {
        "since_scan_job_id": previous_report.get("scan_job_id"),
        "compared_modes": [previous_report.get("scan_mode"), scan_mode],
        "added": [brief(new_all[fp]) for fp in new if fp not in old],
        "removed": [brief(old_all[fp]) for fp in old if fp not in new],
        "changed": changed,
        "not_compared": not_compared,
    }


def _baseline(observations: list[Observation]) -> Baseline:
    """How the browser profile fared on the page paths: ``served`` (at least one answer to compare
    with), ``stopped`` (every one challenged, blocked or rate limited) or ``failed`` (no answer)."""
    pages = [o for o in observations if o.spec.profile == "browser" and o.spec.kind == "page"]
    if not pages or all(o.outcome in NO_ANSWER_OUTCOMES for o in pages):
        return "failed"
    if all(o.outcome in STOPPED_OUTCOMES or o.outcome in NO_ANSWER_OUTCOMES for o in pages):
        return "stopped"
    return "served"


def _limitations(
    baseline: Baseline, policy: dict[str, Any], observations: list[Observation]
) -> list[dict[str, str]]:
    """What the scan could not see, so a reader does not take silence for absence."""
    out = []
    if baseline == "failed":
        out.append(
            {
                "code": "browser_baseline_failed",
                "message": "Every browser path run failed: nothing to compare the other clients with; "
                "the posture is unknown.",
            }
        )
    elif baseline == "stopped":
        out.append(
            {
                "code": "browser_baseline_stopped",
                "message": "The browser profile itself was challenged or blocked on every page: the "
                "comparison with the other clients is inconclusive.",
            }
        )
    failed = sum(1 for o in observations if o.http_status is None and o.spec.kind != "probe")
    if failed:
        out.append({"code": "path_runs_failed", "message": f"{failed} path runs got no HTTP answer."})
    if policy["robots_txt"]["access"] == "unreachable":
        out.append(
            {
                "code": "robots_txt_unreachable",
                "message": "robots.txt could not be fetched (5xx or no answer): by RFC 9309 the site counts "
                "as completely disallowed for crawlers.",
            }
        )
    return out


@dataclass(frozen=True)
class _Analysis:
    """What the analysis stages found across the path runs of one scan."""

    detections: list[dict[str, Any]]
    policy: dict[str, Any]
    robots_text: str | None
    enforcement: list[dict[str, Any]]
    coverage: dict[str, Any]
    stalls: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    baseline: Baseline


def _analyze(plan: ScanPlan, observations: list[Observation], scan_job_id: str | None) -> _Analysis:
    # The never-existing path is only the soft-404 baseline of the policy files: it is not a page
    # of the site and carries no finding of its own.
    site_runs = [o for o in observations if o.spec.kind != "probe"]
    detections = analysis.aggregate_detections(site_runs)
    policy = analyze_policy(observations, authority=plan.target.origin.split("://", 1)[1])
    robots_text = analysis.robots_text_of(site_runs) if policy["robots_txt"]["access"] == "parsed" else None
    enforcement = analysis.enforcement(
        site_runs, robots_text, robots_unreachable=policy["robots_txt"]["access"] == "unreachable"
    )
    coverage = analysis.coverage(site_runs)
    stalls = analysis.stalls(site_runs)
    stopped_runs = [
        {"profile": o.spec.profile, "path": o.spec.path, "http_status": o.http_status}
        for o in site_runs
        if o.outcome in STOPPED_OUTCOMES
    ]
    findings = build_findings(
        plan,
        detections,
        policy,
        enforcement,
        coverage,
        _policy_outcomes(site_runs),
        analysis.labyrinth_signals(site_runs),
        scan_job_id,
        stalls=stalls,
        stopped_runs=stopped_runs,
    )
    return _Analysis(
        detections, policy, robots_text, enforcement, coverage, stalls, findings, _baseline(site_runs)
    )


def _summary(found: _Analysis, site_runs: list[Observation]) -> dict[str, Any]:
    """The report's ``summary``: posture, score, measures and the findings counted by severity."""
    detections = found.detections
    measures = {d["measure"] for d in detections}
    active_measures = {d["measure"] for d in detections if d["active"]}
    verdicts = {e["verdict"] for e in found.enforcement}
    if "differential_content" in verdicts or found.stalls:
        measures.add("tarpit")
    if verdicts & STOPPING_VERDICTS:
        # the site stops some client types itself (user-agent rules), vendor or not
        measures.add("bot_management")
    measures_present = set(measures)
    if scoring.policy_signals(found.policy):
        measures_present.add("policy")
    excluded = set(scoring.scoring_table()["posture"]["defense_measures_excluded"])
    layers = {d["layer"] for d in detections if d["measure"] not in excluded}
    if verdicts & (STOPPING_VERDICTS | {"differential_content"}):
        layers.add("application")
    critical = found.coverage["critical_paths"]
    ratio = (1 - len(found.coverage["unprotected_paths"]) / len(critical)) if critical else None
    by_severity = dict.fromkeys(SEVERITIES, 0)
    for finding in found.findings:
        by_severity[finding["severity"]] += 1
    return {
        "posture": "unknown"
        if found.baseline == "failed"
        else scoring.posture(measures - excluded, layers, "enforced" in verdicts),
        "baseline": found.baseline,
        "limitations": _limitations(found.baseline, found.policy, site_runs),
        "score": scoring.score(measures, active_measures, found.policy, verdicts, ratio),
        "measures_present": sorted(measures_present),
        "vendors": sorted({d["vendor"] for d in detections if d["vendor"]}),
        "findings_by_severity": by_severity,
    }


_DETECTION_PUBLIC = (
    "vendor",
    "product",
    "measure",
    "layer",
    "confidence",
    "active",
    "paths",
    "profiles",
    "evidence",
)
_ENFORCEMENT_PUBLIC = ("agent_profile", "path", "declared", "observed", "verdict", "basis")


def build_report(
    plan: ScanPlan,
    observations: list[Observation],
    *,
    scan_job_id: str | None,
    started_at: str | None,
    completed_at: str | None,
    previous_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    probe_runs = [o for o in observations if o.spec.kind == "probe"]
    site_runs = [o for o in observations if o.spec.kind != "probe"]
    found = _analyze(plan, observations, scan_job_id)
    return {
        "schema_version": SCHEMA_VERSION,
        "scan_job_id": scan_job_id,
        "target_url": plan.target.url,
        "scan_mode": plan.mode,
        "status": "completed",
        "ruleset_version": load_ruleset().version,
        "started_at": started_at,
        "completed_at": completed_at,
        "summary": _summary(found, site_runs),
        "path_runs": [_path_run(o, plan.target.scheme == "https") for o in site_runs + probe_runs],
        "detections": [{k: d[k] for k in _DETECTION_PUBLIC} for d in found.detections],
        "policy": _public_policy(found.policy),
        "enforcement": [{k: e[k] for k in _ENFORCEMENT_PUBLIC} for e in found.enforcement],
        "coverage": found.coverage,
        "rendered": analysis.rendered_verdicts(observations, found.robots_text),
        "findings": found.findings,
        "changes": compute_changes(
            found.findings, previous_report, probed=_observed_paths(site_runs), scan_mode=plan.mode
        )
        if previous_report is not None
        else None,
    }
