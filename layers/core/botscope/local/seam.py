"""The seam between moto's Step Functions interpreter and our in-process Lambda handlers.

moto 5.2 runs state machines when configured with ``{"stepfunctions": {"execute_state_machine":
true}}``. A Task state invokes Lambda through boto3 (``lambda_eval_utils``), which lands in
``LambdaSimpleBackend.invoke`` when ``{"lambda": {"use_docker": false}}``; that backend only echoes
the payload. The seam replaces that one method: a function registered here runs our real handler
(``functions/<name>/app.py``) with the payload as event, and a handler exception becomes a Lambda
function error (``x-amz-function-error: Unhandled`` and ``{"errorType", "errorMessage"}``), which the
interpreter turns into the ASL error name that Retry and Catch match — as on AWS.

This depends on moto internals (pinned to 5.2.x); tests/integration/local/test_seam.py checks the
signature and that a Task really runs our code, so an upgrade that moves it fails loudly.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from botscope.aws.template import REPO_ROOT

FUNCTIONS_DIR = REPO_ROOT / "functions"
Handler = Callable[[dict[str, Any], Any], Any]

# The patched attribute: (module, class, method). The seam test asserts it exists with this signature.
PATCH_TARGET = ("moto.awslambda_simple.models", "LambdaSimpleBackend", "invoke")
EXPECTED_PARAMETERS = ("self", "function_name", "qualifier", "body", "headers", "response_headers")


@dataclass
class LambdaContext:
    """What Powertools reads from a Lambda context object."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


_LOAD_LOCK = threading.Lock()
_LOADED: dict[str, ModuleType] = {}


def load_handler(function_dir: str | Path, attribute: str = "lambda_handler") -> Handler:
    """Imports ``functions/<name>/app.py`` under a unique module name (every handler file is
    called app.py, as on Lambda) and returns its handler.

    Parallel first invocations (the Map state's probes) must not see a half-imported module: the
    import runs under a lock, and only a completely executed module is handed out."""
    path = Path(function_dir)
    if not path.is_absolute():
        path = FUNCTIONS_DIR / path
    module_name = f"botscope_function_{path.name}"
    module = _LOADED.get(module_name)
    if module is None:
        with _LOAD_LOCK:
            module = _LOADED.get(module_name)
            if module is None:
                spec = importlib.util.spec_from_file_location(module_name, path / "app.py")
                if spec is None or spec.loader is None:
                    raise FileNotFoundError(path / "app.py")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module  # as the import system does (dataclasses need it)
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(module_name, None)
                    raise
                _LOADED[module_name] = module
    return _handler_of(module, attribute)


def _handler_of(module: ModuleType, attribute: str) -> Handler:
    handler = getattr(module, attribute)
    if not callable(handler):
        raise TypeError(f"{module.__name__}.{attribute} is not callable")
    return cast(Handler, handler)


def invoke_handler(handler: Handler, function_name: str, event: Any) -> tuple[Any, str | None]:
    """Runs a handler as Lambda would. Returns (result, None) or (error payload, "Unhandled")."""
    context = LambdaContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
    )
    try:
        return handler(event, context), None
    except Exception as exc:  # the function error IS the result, as on Lambda
        return {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-5:],
        }, "Unhandled"


class LambdaSeam:
    """Routes moto Lambda invocations of registered function names to in-process handlers."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[str, Handler]] = {}
        self._lock = threading.Lock()
        self._original: Any = None
        self.invocations: list[str] = []  # function names, in order (tests read it)

    def register(self, function_name: str, handler: Handler) -> None:
        with self._lock:
            self._handlers[function_name] = (function_name, handler)

    def _lookup(self, name_or_arn: str) -> tuple[str, Handler] | None:
        # moto passes a name or an ARN (the ASL uses ARNs), possibly with a qualifier.
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        return self._handlers.get(name)

    def install(self) -> None:
        if self._original is not None:
            return
        backend_class = _patch_owner()
        original = backend_class.invoke
        seam = self

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            found = seam._lookup(function_name)
            if found is None:
                return cast(
                    str | bytes | None,
                    original(backend, function_name, qualifier, body, headers, response_headers),
                )
            name, handler = found
            seam.invocations.append(name)
            event = json.loads(body) if body else {}
            result, function_error = invoke_handler(handler, name, event)
            if function_error:
                response_headers["x-amz-function-error"] = function_error
            return json.dumps(result, default=str).encode()

        invoke.__wrapped__ = original  # type: ignore[attr-defined]
        backend_class.invoke = invoke
        self._original = original

    def uninstall(self) -> None:
        if self._original is None:
            return
        _patch_owner().invoke = self._original
        self._original = None


def _patch_owner() -> Any:
    module_name, class_name, _ = PATCH_TARGET
    module = importlib.import_module(module_name)
    return getattr(module, class_name)
