"""The public report (SCANNER.md "Report"): assembled from the plan and every observation.

Public-safe by construction: it is built only from observation fields that hold names, counts,
outcomes and parsed policy facts — never header values other than parsed policy signals, never
cookie values, bodies, challenge payloads or addresses. A failed path run is listed with its error
and does not fail the report.
"""

from __future__ import annotations

from typing import Any

from botscope.scanner import analysis, scoring
from botscope.scanner.findings import build_findings
from botscope.scanner.model import Observation, ScanPlan
from botscope.scanner.policy import POLICY_PATHS, analyze_policy
from botscope.scanner.rules_engine import load_ruleset

SCHEMA_VERSION = "1"
_SEVERITIES = ("info", "low", "medium", "high")
_CHANGE_FIELDS = ("status", "severity", "paths", "profiles", "title")


def _path_run(obs: Observation) -> dict[str, Any]:
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
    }


def _public_policy(policy: dict[str, Any]) -> dict[str, Any]:
    robots = policy["robots_txt"]
    return {
        "robots_txt": {
            "present": robots["present"], "ai_agents": robots["ai_agents"], "named_agents": robots["named_agents"],
            "managed_by": robots["managed_by"], "managed_disallowed": robots["managed_disallowed"],
            "conflicts": robots["conflicts"], "outcome": robots["outcome"], "http_status": robots["http_status"],
        },
        "content_signals": policy["content_signals"],
        "content_usage": policy["content_usage"],
        "llms_txt": policy["llms_txt"],
        "ai_txt": policy["ai_txt"],
        "tdmrep": policy["tdmrep"],
        "noai_meta": policy["noai_meta"],
        "web_bot_auth": policy["web_bot_auth"],
        "pay_per_crawl": policy["pay_per_crawl"],
    }


_STOP_ORDER = {"challenged": 3, "blocked": 2, "rate_limited": 1}


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


def compute_changes(findings: list[dict[str, Any]], previous_report: dict[str, Any]) -> dict[str, Any]:
    """added / removed / changed findings by fingerprint against a previous report."""
    def brief(f: dict[str, Any]) -> dict[str, Any]:
        return {k: f.get(k) for k in ("fingerprint", "category", "measure", "vendor", "title", "status", "severity")}

    old = {f["fingerprint"]: f for f in previous_report.get("findings") or [] if f.get("fingerprint")}
    new = {f["fingerprint"]: f for f in findings}
    changed = []
    for fp in sorted(set(old) & set(new)):
        diffs = {k: {"before": old[fp].get(k), "after": new[fp].get(k)} for k in _CHANGE_FIELDS
                 if old[fp].get(k) != new[fp].get(k)}
        if diffs:
            changed.append({**brief(new[fp]), "changes": diffs})
    return {
        "since_scan_job_id": previous_report.get("scan_job_id"),
        "added": [brief(new[fp]) for fp in new if fp not in old],
        "removed": [brief(old[fp]) for fp in old if fp not in new],
        "changed": changed,
    }


def build_report(plan: ScanPlan, observations: list[Observation], *, scan_job_id: str | None,
                 started_at: str | None, completed_at: str | None,
                 previous_report: dict | None = None) -> dict:
    ruleset = load_ruleset()
    detections = analysis.aggregate_detections(observations)
    policy = analyze_policy(observations)
    robots_text = analysis.robots_text_of(observations)
    enforcement = analysis.enforcement(observations, robots_text)
    coverage = analysis.coverage(observations)
    policy_outcomes = _policy_outcomes(observations)
    findings = build_findings(plan, detections, policy, enforcement, coverage, policy_outcomes,
                              analysis.labyrinth_signals(observations), scan_job_id)

    measures = {d["measure"] for d in detections}
    active_measures = {d["measure"] for d in detections if d["active"]}
    verdicts = {e["verdict"] for e in enforcement}
    if "differential_content" in verdicts:
        measures.add("tarpit")
    if verdicts & {"enforced", "undeclared_block"}:
        # the site stops some client types itself (user-agent rules), vendor or not
        measures.add("bot_management")
    signals = scoring.policy_signals(policy)
    measures_present = set(measures)
    if signals:
        measures_present.add("policy")
    excluded = set(scoring.scoring_table()["posture"]["defense_measures_excluded"])
    defense = measures - excluded
    layers = {d["layer"] for d in detections if d["measure"] not in excluded}
    if verdicts & {"enforced", "undeclared_block", "differential_content"}:
        layers.add("application")
    critical = coverage["critical_paths"]
    ratio = (1 - len(coverage["unprotected_paths"]) / len(critical)) if critical else None
    by_severity = dict.fromkeys(_SEVERITIES, 0)
    for finding in findings:
        by_severity[finding["severity"]] += 1

    public_detections = [{k: d[k] for k in ("vendor", "product", "measure", "layer", "confidence", "active",
                                            "paths", "profiles", "evidence")} for d in detections]
    return {
        "schema_version": SCHEMA_VERSION,
        "scan_job_id": scan_job_id,
        "target_url": plan.target.url,
        "scan_mode": plan.mode,
        "status": "completed",
        "ruleset_version": ruleset.version,
        "started_at": started_at,
        "completed_at": completed_at,
        "summary": {
            "posture": scoring.posture(defense, layers, "enforced" in verdicts),
            "score": scoring.score(measures, active_measures, policy, verdicts, ratio),
            "measures_present": sorted(measures_present),
            "vendors": sorted({d["vendor"] for d in detections if d["vendor"]}),
            "findings_by_severity": by_severity,
        },
        "path_runs": [_path_run(o) for o in observations],
        "detections": public_detections,
        "policy": _public_policy(policy),
        "enforcement": [{k: e[k] for k in ("agent_profile", "path", "declared", "observed", "verdict")} for e in enforcement],
        "coverage": coverage,
        "rendered": analysis.rendered_verdicts(observations, robots_text),
        "findings": findings,
        "changes": compute_changes(findings, previous_report) if previous_report is not None else None,
    }
