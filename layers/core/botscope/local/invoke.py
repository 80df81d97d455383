"""``make invoke-<fn>``: runs ``functions/<fn>/app.py`` once with an event file, in-process, and prints
the result (as ``sam local invoke`` would, without Docker).

If a local stack is running (``make run`` wrote ``.botscope/stack.json``), the handler talks to
its AWS resources, so a stage can be replayed against a real scan of that stack. Otherwise a fresh
stack without API server is started for the call and thrown away afterwards.

    python -m botscope.local.invoke scan_prepare events/scan_prepare.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from botscope.aws.template import REPO_ROOT
from botscope.config import reset_settings
from botscope.local.seam import invoke_handler, load_handler
from botscope.store.table import reset_clients

STACK_FILE = REPO_ROOT / ".botscope" / "stack.json"


def _running_stack() -> dict[str, Any] | None:
    if not STACK_FILE.exists():
        return None
    stack = json.loads(STACK_FILE.read_text())
    try:
        httpx.get(f"{stack['aws_endpoint_url']}/moto-api/config", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return None  # a stale file from a stack that was killed
    return dict(stack)


def _invoke(function_dir: str, event: dict[str, Any]) -> tuple[Any, str | None]:
    return invoke_handler(load_handler(function_dir), function_dir, event)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m botscope.local.invoke <function_dir> <event.json>", file=sys.stderr)
        return 2
    function_dir, event_path = args
    event = json.loads(Path(event_path).read_text())
    stack = _running_stack()
    if stack is not None:
        print(f"using the running local stack (pid {stack['pid']})", file=sys.stderr)
        os.environ.update({"AWS_ENDPOINT_URL": stack["aws_endpoint_url"], "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",  # noqa: S105
                           "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
                           "POWERTOOLS_METRICS_DISABLED": "true", **stack["env"]})
        reset_settings()
        reset_clients()
        result, function_error = _invoke(function_dir, event)
    else:
        from botscope.local.stack import LocalStack

        print("no running local stack: starting a temporary one", file=sys.stderr)
        with LocalStack(serve_api=False, run_schedules=False,
                        state_dir=REPO_ROOT / ".botscope" / "invoke"):
            result, function_error = _invoke(function_dir, event)
    print(json.dumps(result, indent=2, default=str))
    return 1 if function_error else 0


if __name__ == "__main__":
    sys.exit(main())
