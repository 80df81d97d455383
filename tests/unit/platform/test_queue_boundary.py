"""Every SQS call of the application is the store's (docs/data-model.md):
``botscope.store.delivery_queue`` owns the webhook queues, so no product module above the store
names the SQS client. ``botscope.local`` (the dev-only one-machine stack, not in the Lambda layer)
stands in for AWS itself: it creates the queues and polls them as Lambda's event source mapping
would."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "layers" / "core" / "botscope"
# Top-level packages allowed to make SQS calls: the store, and the dev-only stand-in for AWS.
SQS_OWNERS = {"store", "local"}


def _sqs_uses(path: Path) -> list[int]:
    """Lines naming ``sqs_client`` or creating an SQS client with ``boto3.client("sqs")``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Name) and node.id == "sqs_client":
            lines.append(node.lineno)
        elif isinstance(node, ast.alias) and node.name == "sqs_client":
            lines.append(getattr(node, "lineno", 0))
        elif isinstance(node, ast.Attribute) and node.attr == "sqs_client":
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "sqs"
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_outside_the_store_makes_an_sqs_call() -> None:
    offenders = {
        str(path.relative_to(CORE)): lines
        for path in sorted(CORE.rglob("*.py"))
        if path.relative_to(CORE).parts[0] not in SQS_OWNERS and (lines := _sqs_uses(path))
    }
    assert offenders == {}


def test_the_check_sees_the_store_s_own_sqs_calls() -> None:
    assert _sqs_uses(CORE / "store" / "delivery_queue.py")
