"""The public sample reports' days (docs/data-model.md "sample reports", docs/monitoring.md).

Items:
- ``SAMPLES`` / ``DAY#<YYYY-MM-DD>``  one day's tabs and whether they were published (TTL 14 days)
- ``SAMPLES`` / ``CURRENT``           the last published day: its completed tabs

Starting a day is a conditional put (two refreshes racing start the day once); publishing never
moves ``CURRENT`` back to an older day.
"""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from botscope.store.entity import Entity
from botscope.store.table import is_conditional_failure, iso, table, ttl_after

SAMPLES_PK = "SAMPLES"
DAY_RETENTION_SECONDS = 14 * 24 * 3600


class SampleTab(Entity):
    tab_id: str
    label: str
    target_url: str
    scan_job_id: str


class SampleDay(Entity):
    """A day of sample reports. The ``DAY#`` item has ``published`` and ``created_at``; ``CURRENT``
    (the published day, with only its completed tabs) has ``published_at``."""

    generated_on: str
    tabs: list[SampleTab]
    published: bool = False
    created_at: str | None = None
    published_at: str | None = None


def _day_key(day: str) -> dict[str, str]:
    return {"pk": SAMPLES_PK, "sk": f"DAY#{day}"}


_CURRENT_KEY = {"pk": SAMPLES_PK, "sk": "CURRENT"}


def _get(key: dict[str, str]) -> SampleDay | None:
    item = table().get_item(Key=key, ConsistentRead=True).get("Item")
    return SampleDay.from_item(item) if item else None


def get_day(day: str) -> SampleDay | None:
    """The ``DAY#`` item of ``day`` (``YYYY-MM-DD``), or None when that day was not started (or is
    no longer kept)."""
    return _get(_day_key(day))


def get_current() -> SampleDay | None:
    """The last published day, or None before the first one."""
    return _get(_CURRENT_KEY)


def start_day(day: str, tabs: list[SampleTab], *, now: datetime) -> bool:
    """Writes the day's item with its tabs, unpublished. False when the day was already started."""
    try:
        table().put_item(
            Item={
                **_day_key(day),
                "generated_on": day,
                "tabs": [tab.to_dict() for tab in tabs],
                "published": False,
                "created_at": iso(now),
                "expires_at": ttl_after(DAY_RETENTION_SECONDS, now=now),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        return False
    return True


def publish_day(day: str, ready: list[SampleTab], *, now: datetime) -> None:
    """Makes ``ready`` (the day's completed tabs) the current sample reports, unless a later day
    is already current, and marks the day published."""
    try:
        table().put_item(
            Item={
                **_CURRENT_KEY,
                "generated_on": day,
                "tabs": [tab.to_dict() for tab in ready],
                "published_at": iso(now),
            },
            ConditionExpression="attribute_not_exists(pk) OR generated_on <= :day",
            ExpressionAttributeValues={":day": day},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    table().update_item(
        Key=_day_key(day),
        UpdateExpression="SET published = :t",
        ExpressionAttributeValues={":t": True},
    )
