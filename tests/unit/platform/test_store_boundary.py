"""Every DynamoDB, S3 and SQS call of the application is the store's (docs/data-model.md
"Repositories and entities"): no product module above ``botscope.store`` names the table or a
client, or creates a boto3 client for those services. ``botscope.local`` (the dev-only one-machine
stack, not in the Lambda layer) stands in for AWS itself and is exempt. Step Functions is not
storage: ``botscope.workflow`` starts and stops executions with ``sfn_client``."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "layers" / "core" / "botscope"
EXEMPT_PACKAGES = {"store", "local"}
STORE_HANDLES = {"table", "dynamodb_client", "dynamodb_resource", "s3_client", "sqs_client"}
STORE_SERVICES = {"dynamodb", "s3", "sqs"}


def _store_uses(path: Path) -> list[str]:
    """``line: name`` for every use of a store handle, or a boto3 client of a storage service."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        name = None
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botscope.store.table"):
            name = ",".join(a.name for a in node.names if a.name in STORE_HANDLES) or None
        elif isinstance(node, ast.Attribute) and node.attr in STORE_HANDLES and node.attr != "table":
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"client", "resource"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in STORE_SERVICES
        ):
            name = f"boto3 {node.args[0].value}"
        if name:
            found.append(f"{getattr(node, 'lineno', 0)}: {name}")
    return found


def test_no_module_above_the_store_makes_a_storage_call() -> None:
    offenders = {
        str(path.relative_to(CORE)): uses
        for path in sorted(CORE.rglob("*.py"))
        if path.relative_to(CORE).parts[0] not in EXEMPT_PACKAGES and (uses := _store_uses(path))
    }
    assert offenders == {}


def test_the_check_sees_the_store_s_own_calls() -> None:
    assert any("sqs" in use for use in _store_uses(CORE / "store" / "delivery_queue.py"))
    assert any("dynamodb" in use for use in _store_uses(CORE / "store" / "table.py"))
    assert _store_uses(CORE / "store" / "monitoring.py")  # imports table() from store.table
