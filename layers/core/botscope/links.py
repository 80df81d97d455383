"""The HTTP API's path prefix and the links to a scan that responses, webhook payloads and
monitoring events carry (docs/api.md)."""

from __future__ import annotations

API_PREFIX = "/api/v1"


def scan_path(scan_job_id: str, resource: str = "") -> str:
    """``/api/v1/scans/{id}`` or one of its resources (``findings``, ``report``)."""
    path = f"{API_PREFIX}/scans/{scan_job_id}"
    return f"{path}/{resource}" if resource else path
