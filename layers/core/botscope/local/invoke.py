"""``make invoke-<fn>``: runs ``functions/<fn>/app.py`` once with an event file, in-process, and prints
the result (as ``sam local invoke`` would, without Docker).

If a local stack is running (``make run`` wrote ``.botscope/stack.json``), the handler talks to
its AWS resources, so a stage can be replayed against a real scan of that stack. Otherwise a fresh
stack without API server is started for the call and thrown away afterwards.

Placeholders in the event are filled before the call: ``${NAME}`` from the environment, then from
``.botscope/dev.env`` (``BOTSCOPE_API_KEY``, ``BOTSCOPE_WORKSPACE_ID``, …; ``make invoke-x URL=…``
sets ``URL``), and the sample events' example API keys by the running stack's enterprise key. A
function without a folder, an event file that does not exist or a placeholder with no value is a
one-line message and exit status 2, not a traceback.

    python -m botscope.local.invoke scan_prepare events/scan_prepare.json
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx

from botscope.aws.template import REPO_ROOT
from botscope.config import reset_settings
from botscope.local.seam import invoke_handler, load_handler
from botscope.store.table import reset_clients

STACK_FILE = REPO_ROOT / ".botscope" / "stack.json"
DEV_ENV_FILE = REPO_ROOT / ".botscope" / "dev.env"
EVENTS_DIR = REPO_ROOT / "events"
FUNCTIONS_DIR = REPO_ROOT / "functions"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# The example keys in the sample API Gateway events (events/api_*.json).
_EXAMPLE_KEYS = ("dxk_EXAMPLE_REPLACE_WITH_A_REAL_KEY", "dxk_REPLACE_WITH_A_KEY")


class InvokeError(Exception):
    """What the developer must fix before the call can run (printed as one line)."""


def dev_env(path: Path | None = None) -> dict[str, str]:
    path = path or DEV_ENV_FILE
    if not path.exists():
        return {}
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def fill_placeholders(text: str, values: dict[str, str], *, event_path: str) -> str:
    """``${NAME}`` → ``values[NAME]``; the sample events' example keys → the enterprise API key."""
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if not values.get(name)})
    if missing:
        hint = " ".join(f"{name}=…" for name in missing)
        raise InvokeError(
            f"{event_path} needs {', '.join(missing)}: set it in the environment or on the make "
            f"command line (make invoke-<fn> EVENT={event_path} {hint}); "
            "BOTSCOPE_* values come from .botscope/dev.env while `make run` runs"
        )
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    key = values.get("BOTSCOPE_ENTERPRISE_API_KEY") or values.get("BOTSCOPE_API_KEY")
    if key:
        for example in _EXAMPLE_KEYS:
            text = text.replace(example, key)
    return text


def load_event(function_dir: str, event_path: str, values: dict[str, str]) -> dict[str, Any]:
    if not (FUNCTIONS_DIR / function_dir / "app.py").exists():
        known = ", ".join(sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "app.py").exists()))
        raise InvokeError(
            f"no function '{function_dir}' (functions/{function_dir}/app.py); functions: {known}"
        )
    path = Path(event_path)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        related = sorted(p.name for p in EVENTS_DIR.glob(f"{function_dir}*.json"))
        offer = (
            f"events for it: {', '.join(related)}" if related else "no event in events/ starts with its name"
        )
        raise InvokeError(
            f"no event file {event_path} for '{function_dir}' ({offer}); "
            f"pass one with EVENT=events/<file>.json"
        )
    try:
        event = json.loads(fill_placeholders(path.read_text(), values, event_path=event_path))
    except json.JSONDecodeError as exc:
        raise InvokeError(f"{event_path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(event, dict):
        raise InvokeError(f"{event_path} must hold a JSON object")
    return event


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
    stack = _running_stack()
    try:
        event = load_event(function_dir, event_path, {**dev_env(), **os.environ})
    except InvokeError as exc:
        print(f"make invoke-{function_dir}: {exc}", file=sys.stderr)
        return 2
    if stack is not None:
        print(f"using the running local stack (pid {stack['pid']})", file=sys.stderr)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": stack["aws_endpoint_url"],
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",  # noqa: S105
                "AWS_REGION": "us-east-1",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                **stack["env"],
            }
        )
        reset_settings()
        reset_clients()
        result, function_error = _invoke(function_dir, event)
    else:
        from botscope.local.stack import LocalStack

        print("no running local stack: starting a temporary one", file=sys.stderr)
        with LocalStack(serve_api=False, run_schedules=False, state_dir=REPO_ROOT / ".botscope" / "invoke"):
            result, function_error = _invoke(function_dir, event)
    print(json.dumps(result, indent=2, default=str))
    return 1 if function_error else 0


if __name__ == "__main__":
    sys.exit(main())
