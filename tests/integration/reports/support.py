"""Helpers of the report tests: real scans of the fixture site, stored as the workflow stores them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from botscope import ids
from botscope.scanner.engine import run_scan
from botscope.scanner.targets import NetworkPolicy

LOCAL = NetworkPolicy.from_cidrs(["127.0.0.0/8"])

# A site that puts markup and script wherever a scanned site controls text: its title, headers,
# cookie names, robots.txt agent names and paths (links, sitemap).
XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
HOSTILE_HOME = (
    f"<!doctype html><html><head><title>{XSS} Turnstile</title></head><body>"
    f'<a href="/login/{XSS}">log in</a> <a href="/signup?next={XSS}">sign up</a>'
    f'<a href="/account/%3Cscript%3Ealert(3)%3C/script%3E">account</a></body></html>'
)
HOSTILE_ROBOTS = (
    f"User-agent: GPTBot\nDisallow: /\n\nUser-agent: {XSS}\nDisallow: /{XSS}\n\n"
    f"User-agent: *\nContent-Signal: search=yes, ai-train={XSS}\nAllow: /\n"
)


def _html(body: str, status: int = 200) -> dict[str, Any]:
    return {
        "status": status,
        "headers": [["Content-Type", "text/html; charset=utf-8"], ["X-Powered-By", XSS], ["Server", XSS]],
        "cookies": [f"{XSS}=1; Path=/", "datadome=x<script>alert(4)</script>; Path=/"],
        "body": body,
    }


def hostile_scenario() -> dict[str, Any]:
    ai = {
        "status": 403,
        "headers": [["Content-Type", "text/html"], ["X-Block-Reason", XSS]],
        "cookies": [],
        "body": f"<title>{XSS}</title>Forbidden",
    }
    page = {
        "by_agent": [{"match": r"GPTBot|ChatGPT-User|ClaudeBot|PerplexityBot|CCBot", "response": ai}],
        "default": _html(HOSTILE_HOME),
    }
    not_found = {"status": 404, "headers": [["Content-Type", "text/html"]], "cookies": [], "body": "nope"}
    return {
        "description": "hostile",
        "routes": {
            "/": page,
            "/robots.txt": {
                "status": 200,
                "headers": [["Content-Type", "text/plain"]],
                "cookies": [],
                "body": HOSTILE_ROBOTS,
            },
            "/llms.txt": {
                "status": 200,
                "headers": [["Content-Type", "text/plain"]],
                "cookies": [],
                "body": f"# {XSS}\n> {XSS}\n",
            },
            "/sitemap.xml": {
                "status": 200,
                "headers": [["Content-Type", "application/xml"]],
                "cookies": [],
                "body": f"<urlset><url><loc>/checkout/{XSS.replace('<', '%3C')}</loc></url></urlset>",
            },
        },
        "prefix_routes": {},
        "fallback": page,
        "rate_limit": None,
        "headers": [],
        "cookies": [],
        "_not_found": not_found,
    }


def scan(url: str, mode: str = "full", scan_job_id: str | None = None) -> dict[str, Any]:
    return asyncio.run(run_scan(url, mode, LOCAL, scan_job_id=scan_job_id or ids.new_id("scan")))  # type: ignore[arg-type]


def store_completed(workspace_id: str, report: dict[str, Any], *, monitored_url_id: str | None = None) -> str:
    """Writes a completed scan holding ``report`` (its own id), as the workflow's Finalize does."""
    from botscope.store import reports, scans

    scan_job_id = report["scan_job_id"]
    scans.create_scan(
        workspace_id,
        report["target_url"],
        report["scan_mode"],
        deadline_seconds=600,
        scan_job_id=scan_job_id,
        monitored_url_id=monitored_url_id,
    )
    scans.mark_running(scan_job_id)
    key = reports.put_report(scan_job_id, report)
    assert scans.mark_completed(
        scan_job_id, report_key=key, ruleset_version=report["ruleset_version"], summary=report["summary"]
    )
    return scan_job_id


def publish_sample_day(site_url: str, targets_file: Path, monkeypatch: Any) -> dict[str, Any]:
    """Configures the sample targets on the fixture site, runs the daily refresh, finishes each tab's
    scan with a real scan of the fixture site and returns the published listing."""
    from botscope.config import reset_settings
    from botscope.monitoring import hooks, sample_reports
    from botscope.store import reports, scans

    targets_file.write_text(
        json.dumps(
            {
                "targets": [
                    {"label": "Fixture home", "slug": "home", "target_url": "{origin}/"},
                    {"label": "Fixture login", "slug": "login", "target_url": "{origin}/login"},
                ]
            }
        )
    )
    monkeypatch.setenv("BOTSCOPE_SAMPLE_TARGETS_FILE", str(targets_file))
    monkeypatch.setenv("BOTSCOPE_SAMPLE_TARGETS_ORIGIN", site_url.rstrip("/"))
    reset_settings()
    started: list[tuple[str, str]] = []

    def starter(target_url: str, scan_job_id: str) -> None:
        scans.create_scan(
            sample_reports.SAMPLES_WORKSPACE_ID,
            target_url,
            "quick",
            deadline_seconds=600,
            scan_job_id=scan_job_id,
            trigger="samples",
        )
        started.append((target_url, scan_job_id))

    sample_reports.refresh(starter=starter)
    for target_url, scan_job_id in started:
        report = scan(target_url, "quick", scan_job_id)
        scans.mark_running(scan_job_id)
        scans.mark_completed(
            scan_job_id,
            report_key=reports.put_report(scan_job_id, report),
            ruleset_version=report["ruleset_version"],
            summary=report["summary"],
        )
        hooks.after_scan_completed(scans.get_scan(scan_job_id), report)
    return sample_reports.current()
