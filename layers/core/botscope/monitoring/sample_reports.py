"""The public sample reports: a daily scan of a configured list of sample targets, published as
tabs that anyone may read (``GET /api/v1/sample-reports``, no auth).

Items (docs/data-model.md, kept by ``botscope.store.samples``): ``SAMPLES`` / ``DAY#<YYYY-MM-DD>``
holds one day's tabs and whether they are all ready; ``SAMPLES`` / ``CURRENT`` points at the last
day whose tabs were all ready.

One refresh (``refresh()``, run by ``SampleReportsFunction`` daily and by the local stack every few
seconds) is idempotent and converges:

1. today has no DAY item → start one scan per configured target and write the DAY item (a
   conditional put: two refreshes racing start the day once; the loser's scans are never started);
2. today's DAY item exists → read its scans; when every one is finished (completed, or failed /
   timed out) and at least one completed, the day is published: its completed tabs become the
   ``CURRENT`` day. Until then ``CURRENT`` still points at yesterday, so yesterday's tabs remain.

Step 2 also runs when a sample scan finishes (``monitoring.hooks``) and on every monitor scheduler
run, so a day is published as soon as its last scan is done, without waiting for the next cron.

Targets are configuration, not code: ``botscope/monitoring/sample_targets.json`` by default, or the
file named by ``BOTSCOPE_SAMPLE_TARGETS_FILE`` (the local stack points it at the fixture site).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botscope.config import get_settings
from botscope.isotime import parse_iso
from botscope.store import samples
from botscope.store.samples import SampleDay, SampleTab

if TYPE_CHECKING:
    from botscope.store.scans import Scan

# Sample scans belong to no customer: they are written under this reserved workspace id, which no
# credential can ever carry (workspace ids are ``ws_`` + 26 base32 characters).
SAMPLES_WORKSPACE_ID = "ws_samples"
PACKAGED_TARGETS = Path(__file__).with_name("sample_targets.json")
LOCAL_TARGETS = Path(__file__).with_name("sample_targets.local.json")
_SLUG = re.compile(r"[^a-z0-9]+")

# (target_url, scan_job_id) → starts the scan; replaced in tests.
SampleScanStarter = Callable[[str, str], None]


def load_targets(path: str | None = None) -> list[dict[str, str]]:
    """The configured targets: ``[{"label", "target_url"}]`` (``slug`` optional). In local mode the
    default is the fixture-site list, so the local stack never scans real sites by accident; a
    target whose ``{origin}`` is not configured is left out."""
    settings = get_settings()
    default = LOCAL_TARGETS if settings.local_mode else PACKAGED_TARGETS
    source = Path(path or settings.sample_targets_file or default)
    document = json.loads(source.read_text())
    entries = document["targets"] if isinstance(document, dict) else document
    origin = settings.sample_targets_origin.rstrip("/")
    targets = []
    for entry in entries:
        if "{origin}" in str(entry["target_url"]) and not origin:
            continue
        url = str(entry["target_url"]).replace("{origin}", origin)
        slug = entry.get("slug") or _SLUG.sub("-", str(entry["label"]).lower()).strip("-")
        targets.append({"label": str(entry["label"]), "target_url": url, "slug": slug})
    return targets


def tab_id(day: str, slug: str) -> str:
    return f"{day.replace('-', '')}-{slug}"


def refresh(
    now: datetime | None = None, starter: SampleScanStarter | None = None, *, start_new_day: bool = True
) -> dict[str, Any]:
    """One step of the daily refresh (module docstring). Returns what it did. With
    ``start_new_day=False`` it only publishes a day whose scans are all finished (the monitor
    scheduler and the end of every sample scan call it that way)."""
    now = now or datetime.now(UTC)
    day = now.date().isoformat()
    day_item = samples.get_day(day)
    if day_item is None and start_new_day:
        if starter is None:
            raise ValueError("starting a new day needs a scan starter (botscope.service.monitoring)")
        return _start_day(day, now, starter)
    # A day started shortly before midnight finishes after it: yesterday may still be unpublished.
    result: dict[str, Any] = {"day": day, "action": "not_started"}
    for candidate in ((now - timedelta(days=1)).date().isoformat(), day):
        item = day_item if candidate == day else samples.get_day(candidate)
        if item is not None:
            result = _publish_if_ready(item, now)
    return result


def _start_day(day: str, now: datetime, starter: SampleScanStarter) -> dict[str, Any]:
    from botscope import ids

    tabs = [
        SampleTab(
            tab_id=tab_id(day, t["slug"]),
            label=t["label"],
            target_url=t["target_url"],
            scan_job_id=ids.new_id("scan"),
        )
        for t in load_targets()
    ]
    if not tabs:
        return {"day": day, "action": "no_targets"}
    if not samples.start_day(day, tabs, now=now):
        return {"day": day, "action": "already_started"}
    started, failed = 0, 0
    for tab in tabs:
        try:
            starter(tab.target_url, tab.scan_job_id)
            started += 1
        except Exception:  # noqa: BLE001 - one bad target must not stop the others
            failed += 1
            from botscope.observability import logger

            logger.exception("sample scan did not start", extra={"tab_id": tab.tab_id})
    return {"day": day, "action": "started", "scans": started, "start_failures": failed}


def _publish_if_ready(day_item: SampleDay, now: datetime) -> dict[str, Any]:
    from botscope.store import scans

    day = day_item.generated_on
    if day_item.published:
        return {"day": day, "action": "published_already"}
    statuses = {tab.tab_id: _settled_status(scans.get_scan(tab.scan_job_id), now) for tab in day_item.tabs}
    if any(status in ("queued", "running") for status in statuses.values()):
        return {"day": day, "action": "waiting", "statuses": statuses}
    ready = [t for t in day_item.tabs if statuses[t.tab_id] == "completed"]
    if not ready:
        return {"day": day, "action": "nothing_ready", "statuses": statuses}
    samples.publish_day(day, ready, now=now)
    return {"day": day, "action": "published", "tabs": len(ready), "statuses": statuses}


def _settled_status(scan: Scan | None, now: datetime) -> str:
    """A scan's status, with a missing scan (its start failed) or one past its deadline as failed."""
    if scan is None:
        return "failed"
    status = scan.status
    deadline = scan.deadline_at
    if scan.is_active and deadline and now > parse_iso(deadline):
        return "failed"
    return status


def current() -> dict[str, Any]:
    """``{"generated_on", "tabs": [{tab_id, label, target_url, scan_job_id}]}`` of the last ready day."""
    published = samples.get_current()
    if published is None:
        return {"generated_on": None, "tabs": []}
    return {"generated_on": published.generated_on, "tabs": [t.to_dict() for t in published.tabs]}


def find_tab(tab: str) -> SampleTab | None:
    """A published tab by id: today's (CURRENT) or an earlier day's that is still kept."""
    published = samples.get_current()
    for entry in published.tabs if published else []:
        if entry.tab_id == tab:
            return entry
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})-[a-z0-9-]+", tab)
    if not match:
        return None
    day_item = samples.get_day(f"{match.group(1)}-{match.group(2)}-{match.group(3)}")
    if not day_item or not day_item.published:
        return None
    return next((t for t in day_item.tabs if t.tab_id == tab), None)
