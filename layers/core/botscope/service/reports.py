"""Report pages and share links (the HTML routes and ``/api/v1/scans/{id}/share``).

Every page is built from the report object the API returns (``botscope.service.scans``), so the
page never shows more than ``GET /api/v1/scans/{id}/report`` does. Another workspace's scan, an
unknown or revoked share token, and an unknown share id all answer 404 alike.
"""

from __future__ import annotations

from typing import Any

from botscope import audit
from botscope.auth.principal import Principal
from botscope.errors import Conflict, NotFound
from botscope.redaction import redact_urls_in
from botscope.reporting.view import ai_access
from botscope.service import monitoring as monitoring_service
from botscope.service import scans as scan_service
from botscope.store import reports, scans, shares
from botscope.store.scans import Scan

TIMELINE_SCANS = 12  # monitored URLs: the last scans shown on the timeline
_TIMELINE_LOOKBACK = 100  # the workspace's newest scans searched for them


def share_paths(token: str, share_id: str) -> dict[str, str]:
    return {
        "url": f"/share/{token}",
        "badge_posture": f"/badges/{share_id}.svg",
        "badge_ai": f"/badges/{share_id}.svg?kind=ai",
    }


def create_share(principal: Principal, scan_job_id: str) -> dict[str, Any]:
    """POST /api/v1/scans/{id}/share: a new public link to the report (replacing an earlier one).
    The link's token is in the response only."""
    report = scan_service.get_report(principal, scan_job_id)  # 404 / 409 as the report itself
    badge = {
        "posture": str((report.get("summary") or {}).get("posture") or "unknown"),
        "ai_access": ai_access(report),
    }
    try:
        share, token = shares.create(principal.workspace_id, scan_job_id, badge)
    except shares.ShareConflict:
        raise Conflict(
            "The share link of this scan is being changed by another request; retry.", code="share_conflict"
        ) from None
    audit.record(principal, "scan.shared", scan_job_id, {"share_id": share.share_id})
    return {
        "share_id": share.share_id,
        "scan_job_id": scan_job_id,
        "created_at": share.created_at,
        **share_paths(token, share.share_id),
    }


def get_share(principal: Principal, scan_job_id: str) -> dict[str, Any]:
    """GET /api/v1/scans/{id}/share: whether the scan is shared (the link itself is not kept)."""
    scans.get_scan_for_workspace(principal.workspace_id, scan_job_id)
    current = shares.get_current(scan_job_id)
    if current is None or current.workspace_id != principal.workspace_id:
        raise NotFound("This scan has no share link.")
    return {
        "share_id": current.share_id,
        "scan_job_id": scan_job_id,
        "created_at": current.created_at,
        "badge_posture": f"/badges/{current.share_id}.svg",
        "badge_ai": f"/badges/{current.share_id}.svg?kind=ai",
    }


def revoke_share(principal: Principal, scan_job_id: str) -> None:
    """DELETE /api/v1/scans/{id}/share: the link and its badge stop working at once."""
    scans.get_scan_for_workspace(principal.workspace_id, scan_job_id)
    current = shares.get_current(scan_job_id)
    if current is None or current.workspace_id != principal.workspace_id or not shares.revoke(scan_job_id):
        raise NotFound("This scan has no share link.")
    audit.record(principal, "scan.unshared", scan_job_id, {"share_id": current.share_id})


def shared_report(token: str) -> dict[str, Any]:
    """The report behind a share token; 404 for an unknown or revoked one. A public page: query
    values of the target URL and its paths are redacted (they can carry the customer's secrets)."""
    share = shares.get_by_token(token)
    scan = scans.get_scan(share.scan_job_id) if share else None
    if (
        share is None
        or scan is None
        or scan.workspace_id != share.workspace_id
        or scan.status != "completed"
        or not scan.report_key
    ):
        raise NotFound("This share link is unknown or was revoked.")
    return redact_urls_in(reports.get_report(scan.report_key))  # type: ignore[no-any-return]


def badge_values(share_id: str) -> dict[str, str]:
    share = shares.get_by_id(share_id)
    if share is None:
        raise NotFound("No badge with this id.")
    return {
        "posture": share.posture or "unknown",
        "ai_access": share.ai_access or "unknown",
        "created_at": share.created_at,
    }


def report_page(principal: Principal, scan_job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """GET /reports/{id}: the report and, for a monitored URL, its timeline of scans."""
    report = scan_service.get_report(principal, scan_job_id)
    scan = scans.get_scan_for_workspace(principal.workspace_id, scan_job_id)
    return report, _timeline(principal, scan)


def _timeline(principal: Principal, scan: Scan) -> list[dict[str, Any]]:
    """The monitored URL's last completed scans, newest first, with what each changed."""
    monitored_url_id = scan.monitored_url_id
    if not monitored_url_id:
        return []
    items, _more = scans.list_scans(principal.workspace_id, _TIMELINE_LOOKBACK)
    related = [
        (s, s.report_key)
        for s in items
        if s.monitored_url_id == monitored_url_id and s.status == "completed" and s.report_key
    ][:TIMELINE_SCANS]
    entries = []
    for item, report_key in related:
        summary = item.summary or {}
        try:
            changes = reports.get_report(report_key).get("changes")
        except Exception:  # noqa: BLE001 - a missing old report leaves its entry without counts
            changes = None
        entries.append(
            {
                "scan_job_id": item.scan_job_id,
                "completed_at": item.completed_at or "unknown",
                "posture": summary.get("posture") or "unknown",
                "score": summary.get("score") if summary.get("score") is not None else "unknown",
                "has_changes": isinstance(changes, dict),
                "added": len((changes or {}).get("added") or []),
                "removed": len((changes or {}).get("removed") or []),
                "changed": len((changes or {}).get("changed") or []),
                "current": item.scan_job_id == scan.scan_job_id,
            }
        )
    return entries


def sample_page(tab_id: str | None) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
    """GET /sample-reports: the published day's tabs and the selected tab's report (the first tab
    by default). A tab whose report cannot be read shows as not available."""
    listing = monitoring_service.sample_reports()
    tabs = listing.get("tabs") or []
    known = {t["tab_id"] for t in tabs}
    selected = tab_id if tab_id in known else (tabs[0]["tab_id"] if tabs else None)
    report = None
    if selected is not None:
        try:
            report = monitoring_service.sample_report(selected)
        except NotFound:
            report = None
    return listing, selected, report
