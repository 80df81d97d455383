"""Makes moto's DynamoDB apply each request atomically, as real DynamoDB does, and cheaply.

moto's backend runs a transaction as check-then-write without a lock, and when a transaction fails
it restores a copy of the whole table — wiping writes that other threads made meanwhile. Under
threads (the local stack's ThreadedMotoServer, concurrency tests) that breaks the guarantees our
conditional writes rely on: 20 concurrent enrollments into 5 slots could overbook. Serialising
the backend's request methods behind one lock restores the real service's per-request atomicity.

moto also deep-copies every table a transaction touches, before each transaction, to roll back
on failure: time and memory grow with the table on every transaction (the local stack's memory
climbed by gigabytes over a hundred scans). Under the lock we instead snapshot only the items the
transaction addresses and restore just those when it is cancelled.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)
_LOCK = threading.RLock()
_installed: dict[str, Callable[..., Any]] = {}


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: copies everything but
    whole tables (the transaction backup, replaced by item-level snapshots below)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _transaction_keys(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    keys = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                item = op.get("Item") or {}
                key = {
                    attr: item[attr]
                    for attr in (table.hash_key_attr, table.range_key_attr)
                    if attr and attr in item
                }
            else:
                key = op.get("Key") or {}
            keys.append((op["TableName"], key))
    return keys


def _with_item_level_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        snapshots = []
        for table_name, key in _transaction_keys(self, transact_items):
            try:
                current = self.get_item(table_name, key)
            except Exception:  # noqa: BLE001, S112 - an invalid key: moto's own validation answers it
                continue
            snapshots.append((table_name, key, current.to_json()["Attributes"] if current else None))
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(snapshots):
                if attributes is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    return transact_write_items


def install() -> None:
    """Idempotent: wraps each backend method once."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    for name in _METHODS:
        if name in _installed or not hasattr(DynamoDBBackend, name):
            continue
        original = getattr(DynamoDBBackend, name)
        _installed[name] = original
        wrapped = _with_item_level_rollback(original) if name == "transact_write_items" else original

        def locked(*args: Any, __fn: Callable[..., Any] = wrapped, **kwargs: Any) -> Any:
            with _LOCK:
                return __fn(*args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    models.copy = _NoTableCopy  # type: ignore[attr-defined,assignment]


def uninstall() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    for name, original in _installed.items():
        setattr(DynamoDBBackend, name, original)
    _installed.clear()
    models.copy = copy  # type: ignore[attr-defined]


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    already = bool(_installed)
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()
