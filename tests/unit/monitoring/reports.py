"""Builders for report dicts (docs/report.md) used by the change-detection tests."""

from __future__ import annotations

import copy
from typing import Any

RULESET = "2026.11.1"

PATHS = ["/", "/login", "/signup", "/about", "/robots.txt", "/llms.txt", "/ai.txt"]
PROFILES = ["browser", "ai_crawler", "ai_agent", "http_client"]


def finding(
    fingerprint: str,
    measure: str,
    paths: list[str],
    *,
    vendor: str | None = None,
    status: str = "present",
    category: str = "defense",
    severity: str = "medium",
) -> dict[str, Any]:
    return {
        "finding_id": f"fnd_{fingerprint}",
        "fingerprint": fingerprint,
        "category": category,
        "measure": measure,
        "status": status,
        "severity": severity,
        "confidence": 0.9,
        "title": f"{measure} on {', '.join(paths)}",
        "summary": "…",
        "vendor": vendor,
        "layer": "edge",
        "paths": paths,
        "profiles": ["browser"],
        "evidence": [{"signal": "header", "name": "cf-mitigated"}],
        "recommendation": "…",
    }


def base_report(scan_job_id: str = "scan_1", *, ruleset: str = RULESET) -> dict[str, Any]:
    """A site with a Cloudflare challenge on /login, reCAPTCHA on /signup, robots.txt allowing AI."""
    return {
        "schema_version": "1",
        "scan_job_id": scan_job_id,
        "target_url": "https://shop.example/",
        "scan_mode": "full",
        "status": "completed",
        "ruleset_version": ruleset,
        "summary": {
            "posture": "layered",
            "score": 60,
            "measures_present": ["challenge", "captcha"],
            "vendors": ["cloudflare", "recaptcha"],
            "findings_by_severity": {"medium": 2},
        },
        "path_runs": [
            {
                "path_run_id": f"run_{i}_{p}",
                "path": path,
                "profile": p,
                "status": "completed",
                "outcome": "served",
                "http_status": 200,
                "duration_ms": 10,
                "error": None,
            }
            for i, path in enumerate(PATHS)
            for p in PROFILES
        ],
        "detections": [],
        "policy": {
            "robots_txt": {
                "present": True,
                "ai_agents": {"GPTBot": "allowed", "ClaudeBot": "allowed"},
                "named_agents": [],
                "managed_by": None,
            },
            "content_signals": None,
            "llms_txt": {"present": False},
            "ai_txt": {"present": False},
            "tdmrep": {"present": False, "reserved": False},
            "noai_meta": {"noai": False, "noimageai": False},
            "web_bot_auth": {"directory_present": False},
        },
        "enforcement": [
            {
                "agent_profile": "ai_crawler",
                "path": "/",
                "declared": "allowed",
                "observed": "served",
                "verdict": "consistent",
            }
        ],
        "findings": [
            finding("fp_challenge_login", "challenge", ["/login"], vendor="cloudflare"),
            finding("fp_captcha_signup", "captcha", ["/signup"], vendor="recaptcha"),
        ],
        "changes": None,
    }


def variant(report: dict[str, Any], scan_job_id: str, **changes: Any) -> dict[str, Any]:
    new = copy.deepcopy(report)
    new["scan_job_id"] = scan_job_id
    new.update(changes)
    return new


def without_finding(report: dict[str, Any], scan_job_id: str, fingerprint: str) -> dict[str, Any]:
    new = variant(report, scan_job_id)
    new["findings"] = [f for f in new["findings"] if f["fingerprint"] != fingerprint]
    return new


def with_ai_block(report: dict[str, Any], scan_job_id: str) -> dict[str, Any]:
    new = variant(report, scan_job_id)
    new["policy"]["robots_txt"]["ai_agents"] = {"GPTBot": "disallowed", "ClaudeBot": "disallowed"}
    new["findings"].append(finding("fp_policy_ai_block", "policy", ["/robots.txt"], category="policy"))
    return new


def with_failed_path(report: dict[str, Any], scan_job_id: str, path: str) -> dict[str, Any]:
    new = variant(report, scan_job_id)
    for run in new["path_runs"]:
        if run["path"] == path:
            run.update(
                status="failed",
                outcome="error",
                http_status=None,
                error={"code": "timeout", "message": "The path did not answer in time."},
            )
    return new
