"""Makes moto's DynamoDB apply each request atomically, as real DynamoDB does.

moto's backend runs a transaction as check-then-write without a lock, and when a transaction fails
it restores a copy of the whole table — wiping writes that other threads made meanwhile. Under
threads (the local stack's ThreadedMotoServer, concurrency tests) that breaks the guarantees our
conditional writes rely on: 20 concurrent enrollments into 5 slots could overbook. Serialising
the backend's request methods behind one lock restores the real service's per-request atomicity.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_METHODS = ("put_item", "update_item", "delete_item", "get_item", "query", "scan", "batch_get_item",
            "batch_write_item", "transact_get_items", "transact_write_items")
_LOCK = threading.RLock()
_installed: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Idempotent: wraps each backend method once."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _METHODS:
        if name in _installed or not hasattr(DynamoDBBackend, name):
            continue
        original = getattr(DynamoDBBackend, name)
        _installed[name] = original

        def locked(*args: Any, __fn: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __fn(*args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


def uninstall() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name, original in _installed.items():
        setattr(DynamoDBBackend, name, original)
    _installed.clear()


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    already = bool(_installed)
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()
