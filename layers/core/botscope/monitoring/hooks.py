"""What the scan workflow asks of monitoring. INTERFACE until issue 5 lands."""

from __future__ import annotations

from typing import Any


def previous_report(scan: dict[str, Any]) -> dict[str, Any] | None:
    """The report of the previous completed scan of the same monitored URL, for the ``changes``
    section (None when the scan is not monitored or has no predecessor)."""
    return None


def after_scan_completed(scan: dict[str, Any], report: dict[str, Any]) -> None:
    """Updates the monitored URL (last scan, summary) and fires ``monitoring.findings_changed`` when
    a confirmed change is found."""
    return None


def after_scan_failed(scan: dict[str, Any]) -> None:
    """Keeps the monitored URL scheduled after a failed scan (a failure is not a defense change)."""
    return None
