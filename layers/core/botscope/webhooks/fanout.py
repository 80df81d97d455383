"""Fan-out of events to subscribed webhook endpoints (one SQS message per (event, endpoint)).

INTERFACE ONLY until the webhooks feature lands (issue 4): callers use ``publish_event``.
"""

from __future__ import annotations

from typing import Any

from botscope import ids


def publish_event(workspace_id: str, event_type: str, data: dict[str, Any]) -> str:
    """Creates the event (its id is the ``webhook-id`` of every attempt) and enqueues one message per
    subscribed endpoint. Returns the event id."""
    return ids.new_id("evt")
