"""The BotScope MCP server: tools for agents over streamable HTTP at ``/mcp``.

Every tool is a thin adapter over the same service functions the HTTP API uses
(``botscope.service.scans``, ``botscope.service.api_keys``, ``botscope.service.monitoring``), so
plans, validation, errors and tenant isolation are identical. Domain errors become MCP tool errors
(``isError: true``) whose text starts with the problem code of docs/api.md (e.g. ``not_found``) and
whose structured content carries ``{"error": {code, status, title, detail, errors}}``.

Transport: stateless, JSON responses (no SSE, no session id), so one HTTP POST is one Lambda
invocation behind API Gateway. The SDK's session manager needs a running task group, normally
started by an ASGI lifespan; Lambda (Mangum with ``lifespan="off"``) and a mounted sub-app never
run one, so ``McpHttpEndpoint`` starts a fresh stateless manager for each request instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from botscope import __version__
from botscope.auth.principal import Principal
from botscope.errors import BotScopeError, Unauthorized, ValidationFailed
from botscope.numbers import ascii_int
from botscope.scanner.vocabulary import ScanMode

# Where McpHttpEndpoint leaves the authenticated caller for the tools (the ASGI scope travels with
# the Starlette request that the SDK hands to each tool call).
PRINCIPAL_SCOPE_KEY = "botscope.principal"

# wait_for_scan_results: the HTTP API in front of Lambda cuts a request at ~29-30 s, so a call
# waits at most MAX_WAIT_SECONDS and then answers "still running, call again".
DEFAULT_WAIT_SECONDS = 20
MAX_WAIT_SECONDS = 25
DEFAULT_POLL_SECONDS = 3.0
MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 10.0

INSTRUCTIONS = """\
BotScope audits a website's anti-bot and anti-agent measures (ABAAM): CDN/WAF challenges, bot
managers, CAPTCHAs, rate limits, robots.txt and AI-crawler policy.
Typical flow: create_scan(target_url) -> wait_for_scan_results(scan_job_id) (call it again while
it answers done=false) -> get_scan_findings or get_scan_report.
Errors carry a stable code first (e.g. "plan_required", "url_not_monitored", "not_found",
"scan_not_ready", "rate_limited"); the text after it says what to do next."""

ScanJobId = Annotated[
    str,
    Field(description="The scan id returned by create_scan, e.g. 'scan_01j…'.", min_length=1, max_length=64),
]


# --- adapters ------------------------------------------------------------------------------------


def _principal(ctx: Context) -> Principal:
    request = ctx.request_context.request
    principal = getattr(request, "scope", {}).get(PRINCIPAL_SCOPE_KEY) if request is not None else None
    if not isinstance(principal, Principal):
        raise Unauthorized("Call /mcp with 'Authorization: Bearer dxk_…' or 'Bearer mcp_…'.")
    return principal


def error_result(exc: BotScopeError) -> CallToolResult:
    """A tool error an agent can act on: the stable code first, then what to do."""
    error = {"code": exc.code, "status": exc.status, "title": exc.title, "detail": exc.message}
    if exc.errors:
        error["errors"] = exc.errors
    retry_after = exc.headers.get("Retry-After")
    if retry_after:
        seconds = ascii_int(retry_after, max_digits=9)
        error["retry_after_seconds"] = seconds if seconds is not None else retry_after
    text = f"{exc.code} ({exc.status}): {exc.message}"
    if exc.errors:
        text += " " + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content={"error": error}, is_error=True
    )


def _run(ctx: Context, operation: Callable[[Principal], dict[str, Any]]) -> dict[str, Any] | CallToolResult:
    try:
        return operation(_principal(ctx))
    except BotScopeError as exc:
        return error_result(exc)


def _read_scan(ctx: Context, scan_job_id: str, read: str) -> dict[str, Any] | CallToolResult:
    """The read-only scan tools: ``read`` names the ``botscope.service.scans`` function to call
    (``get_scan_status``, ``get_findings``, ``get_report``) with the caller and the scan id."""
    from botscope.service import scans

    return _run(ctx, lambda p: getattr(scans, read)(p, scan_job_id))


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as ``[{field, message}]``, the shape of the HTTP API's 422 (no input values,
    no links to pydantic's documentation)."""
    return [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())) or "arguments",
            "message": error.get("msg", "invalid"),
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]


class BotScopeMCPServer(MCPServer):
    """The SDK's server, with argument validation failures answered like domain errors: a tool
    error whose structured content is ``{"error": {"code": "validation_error", "status": 422,
    "errors": [...]}}``, instead of the SDK's text of the pydantic exception."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc, UnexpectedToolError) or not isinstance(exc.__cause__, ValidationError):
                raise
            errors = validation_errors(exc.__cause__)
            fields = ", ".join(e["field"] for e in errors)
            return error_result(ValidationFailed(f"Invalid arguments for {name}: {fields}.", errors=errors))


# --- tools ---------------------------------------------------------------------------------------

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def build_server() -> MCPServer:
    server: MCPServer = BotScopeMCPServer(
        name="botscope",
        title="BotScope",
        version=__version__,
        instructions=INSTRUCTIONS,
        website_url="https://botscope.dev",
        log_level="WARNING",
    )
    # One stateless manager per request: its start/stop lines would be noise in every invocation's logs.
    logging.getLogger("mcp.server.streamable_http_manager").setLevel(logging.WARNING)
    _register_api_key_tools(server)
    _register_scan_start_tools(server)
    _register_scan_progress_tools(server)
    _register_scan_result_tools(server)
    _register_scan_cancel_tools(server)
    _register_monitoring_tools(server)
    return server


def _register_api_key_tools(server: MCPServer) -> None:
    """The credential tool: a standard API key for plain HTTP calls."""

    @server.tool(
        title="Create an API key",
        description=(
            "Creates a standard BotScope API key (dxk_…) for this workspace, for plain HTTP calls to "
            "https://<host>/api/v1 with 'Authorization: Bearer <key>'. The full key is returned only "
            "once: store it securely and never echo it to logs or chat. Ask the user before calling: "
            "each call mints a new long-lived credential (a workspace may hold 25 active keys; error "
            "api_key_limit_reached means one must be revoked in the dashboard first). Needs a dxk_ "
            "key: an mcp_ token cannot mint keys (insufficient_scope)."
        ),
        # Minting a credential is not reversible by the agent and widens access: hint "destructive"
        # so clients ask a human to confirm, as for other security-sensitive actions.
        annotations=ToolAnnotations(
            title="Create an API key",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    def create_api_key(
        label: Annotated[
            str, Field(description="What the key is for (1-64 printable characters), e.g. 'ci-pipeline'.")
        ],
        ctx: Context,
    ) -> dict[str, Any]:
        from botscope.service import api_keys

        return _run(ctx, lambda p: api_keys.create_api_key(p, label))  # type: ignore[return-value]


def _register_scan_start_tools(server: MCPServer) -> None:
    """Starting a scan."""

    @server.tool(
        title="Start a scan",
        description=(
            "Starts an ABAAM scan of a public website and returns at once with scan_job_id and "
            "status 'queued' (a scan takes about 1-3 minutes). Then call wait_for_scan_results. If a "
            "scan of the same URL is already running for this workspace, that scan is returned "
            "(created=false) instead of a second one. Plans: starter cannot scan (plan_required); "
            "growth can scan only URLs under monitoring - pass enroll_monitoring=true to enroll a new "
            "URL into a free slot (errors url_not_monitored, monitoring_slots_exhausted). Private, "
            "loopback and metadata addresses are refused (target_not_public)."
        ),
        annotations=ToolAnnotations(
            title="Start a scan",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    )
    def create_scan(
        target_url: Annotated[
            str,
            Field(
                description="Absolute http(s) URL of the site, e.g. 'https://example.com'.",
                min_length=1,
                max_length=2048,
            ),
        ],
        ctx: Context,
        scan_mode: Annotated[
            ScanMode,
            Field(description="'full' probes all paths with every client profile; 'quick' a smaller set."),
        ] = "full",
        enroll_monitoring: Annotated[
            bool, Field(description="Also put this URL under monitoring (takes a slot on growth).")
        ] = False,
        idempotency_key: Annotated[
            str | None,
            Field(
                description="Optional key (e.g. a UUID) to make retries safe: the same key and arguments "
                "return the first result for 24 h.",
                max_length=255,
            ),
        ] = None,
    ) -> dict[str, Any]:
        from botscope.service import scans

        def start(principal: Principal) -> dict[str, Any]:
            outcome = scans.start_scan(
                principal, target_url, scan_mode, enroll_monitoring, idempotency_key, trigger="mcp"
            )
            return {**outcome.body, "created": outcome.created}

        return _run(ctx, start)  # type: ignore[return-value]


def _register_scan_progress_tools(server: MCPServer) -> None:
    """Following a running scan: its status, and waiting for it to end."""

    @server.tool(
        title="Get scan status",
        description=(
            "Returns the scan's status (queued, running, completed, failed), progress and per-path "
            "runs. Prefer wait_for_scan_results to poll. not_found means the id is not a scan of "
            "this workspace."
        ),
        annotations=READ_ONLY,
    )
    def get_scan_status(scan_job_id: ScanJobId, ctx: Context) -> dict[str, Any]:
        return _read_scan(ctx, scan_job_id, "get_scan_status")  # type: ignore[return-value]

    @server.tool(
        title="Wait for scan results",
        description=(
            f"Waits server-side (up to timeout_seconds; one call waits at most {MAX_WAIT_SECONDS} s, a "
            "longer timeout is shortened to that) for the scan to finish. When it completed, returns "
            "done=true with the findings; when it failed, done=true with the error. If it is still "
            "running when the time is up, returns done=false with the current status and how long it "
            "waited (waited_seconds): call this tool again with the same scan_job_id."
        ),
        annotations=READ_ONLY,
    )
    def wait_for_scan_results(
        scan_job_id: ScanJobId,
        ctx: Context,
        # Out-of-range values are clamped by wait_for_scan, not refused: an agent asking to wait
        # 50 s gets the longest wait one call allows and is told to call again.
        timeout_seconds: Annotated[
            int,
            Field(
                description=f"How long to wait in this call, in seconds (at most {MAX_WAIT_SECONDS} are used).",
            ),
        ] = DEFAULT_WAIT_SECONDS,
        poll_interval_seconds: Annotated[
            float,
            Field(
                description=f"How often to check ({MIN_POLL_SECONDS:g}-{MAX_POLL_SECONDS:g} s; other values are "
                "clamped to that range)."
            ),
        ] = DEFAULT_POLL_SECONDS,
    ) -> dict[str, Any]:
        return _run(
            ctx,
            lambda p: wait_for_scan(
                p,
                scan_job_id,
                timeout_seconds,  # type: ignore[return-value]
                poll_interval_seconds,
            ),
        )


def _register_scan_result_tools(server: MCPServer) -> None:
    """A finished scan's findings and report."""

    @server.tool(
        title="Get scan findings",
        description=(
            "Returns the public-safe findings of a completed scan: each measure (e.g. a Cloudflare "
            "managed challenge, robots.txt AI-crawler rules) with status present/absent/"
            "inconclusive, severity, confidence, paths, client profiles and a recommendation. "
            "scan_not_ready means it is still running (use wait_for_scan_results); scan_failed "
            "means it produced no report."
        ),
        annotations=READ_ONLY,
    )
    def get_scan_findings(scan_job_id: ScanJobId, ctx: Context) -> dict[str, Any]:
        return _read_scan(ctx, scan_job_id, "get_findings")  # type: ignore[return-value]

    @server.tool(
        title="Get scan report",
        description=(
            "Returns the full public report of a completed scan: summary, findings, per-path and "
            "per-profile outcomes. Larger than get_scan_findings; use it when you need the whole "
            "picture. Same errors as get_scan_findings."
        ),
        annotations=READ_ONLY,
    )
    def get_scan_report(scan_job_id: ScanJobId, ctx: Context) -> dict[str, Any]:
        return _read_scan(ctx, scan_job_id, "get_report")  # type: ignore[return-value]


def _register_scan_cancel_tools(server: MCPServer) -> None:
    """Cancelling a scan."""

    @server.tool(
        title="Cancel a scan",
        description=(
            "Cancels a queued or running scan: no further request is sent to the target, path runs "
            "not yet probed end 'cancelled', and what was observed so far stays readable as a report "
            "marked complete=false (get_scan_report). Returns the scan with cancelled_now=true, or "
            "cancelled_now=false when it had already ended (nothing changed). Ask the user first: "
            "the scan cannot be resumed, only started again with create_scan."
        ),
        # Stopping work the user started cannot be undone by the agent: clients should confirm.
        annotations=ToolAnnotations(
            title="Cancel a scan",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    def cancel_scan(scan_job_id: ScanJobId, ctx: Context) -> dict[str, Any]:
        from botscope.service import scans

        def cancel(principal: Principal) -> dict[str, Any]:
            outcome = scans.cancel_scan(principal, scan_job_id)
            return {**outcome.body, "cancelled_now": outcome.cancelled_now}

        return _run(ctx, cancel)  # type: ignore[return-value]


def _register_monitoring_tools(server: MCPServer) -> None:
    """The monitored URLs of the workspace."""

    @server.tool(
        title="List monitored URLs",
        description=(
            "Lists the URLs this workspace monitors (rescanned on a schedule): slots used and "
            "available, and per URL the last scan, next scan time and a findings summary. Use "
            "create_scan with enroll_monitoring=true to add one."
        ),
        annotations=READ_ONLY,
    )
    def list_monitoring_subscriptions(ctx: Context) -> dict[str, Any]:
        from botscope.service import monitoring

        return _run(ctx, monitoring.list_monitoring)  # type: ignore[return-value]


def wait_for_scan(
    principal: Principal,
    scan_job_id: str,
    timeout_seconds: float,
    poll_interval_seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Polls ``get_scan_status`` until the scan is terminal or the time is up (never raises for
    "still running": the agent is told to call again). ``timeout_seconds`` is clamped to
    0..``MAX_WAIT_SECONDS`` and the poll interval to its range; every result says how long the
    call waited (``waited_seconds``)."""
    from botscope.service import scans

    timeout = min(max(float(timeout_seconds), 0.0), float(MAX_WAIT_SECONDS))
    interval = min(max(float(poll_interval_seconds), MIN_POLL_SECONDS), MAX_POLL_SECONDS)
    started = clock()
    deadline = started + timeout
    while True:
        status = scans.get_scan_status(principal, scan_job_id)
        waited = {"waited_seconds": round(clock() - started, 1)}
        if status["status"] == "completed":
            findings = scans.get_findings(principal, scan_job_id)
            return {"done": True, "status": "completed", "scan": status, **waited, **findings}
        if status["status"] == "failed":
            return {"done": True, "status": "failed", "scan": status, **waited, "error": status.get("error")}
        remaining = deadline - clock()
        if remaining <= 0:
            shortened = (
                (
                    f" (the {float(timeout_seconds):g} s asked for is more than the {MAX_WAIT_SECONDS} s one "
                    "call may wait)"
                )
                if timeout_seconds > MAX_WAIT_SECONDS
                else ""
            )
            return {
                "done": False,
                "status": status["status"],
                "scan": status,
                **waited,
                "max_wait_seconds": MAX_WAIT_SECONDS,
                "message": f"Waited {waited['waited_seconds']:g} s{shortened}; the scan is still running. "
                "Call wait_for_scan_results again with the same scan_job_id.",
            }
        sleep(min(interval, remaining))


# --- HTTP endpoint -------------------------------------------------------------------------------


class McpHttpEndpoint:
    """ASGI app for ``/mcp``: authenticates the Bearer token (``dxk_`` or ``mcp_``), applies the
    credential's request rate, then serves the JSON-RPC message with a per-request stateless
    session manager (no lifespan needed)."""

    def __init__(self, server: MCPServer | None = None) -> None:
        self.server = server or build_server()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from botscope.problem import problem_response

        if scope["type"] != "http":  # pragma: no cover - API Gateway and uvicorn send only http here
            return
        request = Request(scope, receive)
        if request.method != "POST":
            # Stateless JSON mode has no server-to-client SSE stream (GET) and no session to end
            # (DELETE); the spec's answer is 405. Left to the SDK, a GET would hold a stream open
            # until the Lambda timed out.
            response = problem_response(
                request,
                status=405,
                code="method_not_allowed",
                title="Method not allowed",
                detail="This MCP endpoint is stateless: send JSON-RPC messages with POST.",
                headers={"Allow": "POST"},
            )
            await response(scope, receive, send)
            return
        try:
            principal = await anyio.to_thread.run_sync(self._authenticate, request)
        except BotScopeError as exc:
            headers = dict(exc.headers)
            if exc.status == 401:
                presented = "authorization" in request.headers
                headers["WWW-Authenticate"] = (
                    'Bearer realm="botscope", error="invalid_token"'
                    if presented
                    else 'Bearer realm="botscope"'
                )
            response = problem_response(
                request,
                status=exc.status,
                code=exc.code,
                title=exc.title,
                detail=exc.message,
                errors=exc.errors,
                headers=headers,
            )
            await response(scope, receive, send)
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        # The private low-level server is what the SDK's own manager and in-process client wrap.
        manager = StreamableHTTPSessionManager(
            app=self.server._lowlevel_server,  # noqa: SLF001
            json_response=True,
            stateless=True,
        )
        async with manager.run():
            await manager.handle_request(scope, receive, send)

    @staticmethod
    def _authenticate(request: Request) -> Principal:
        from botscope import ratelimit
        from botscope.auth.authenticate import authenticate_bearer, bearer_token
        from botscope.config import get_settings
        from botscope.errors import Forbidden

        # Browsers always send Origin on POST; agents do not. Refusing foreign browser origins
        # closes DNS-rebinding and cross-site use of an ambient credential.
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") not in get_settings().allowed_origin_list:
            raise Forbidden("This Origin may not call /mcp.", code="forbidden_origin")
        token = bearer_token(request)
        if token is None:
            raise Unauthorized(
                "Call /mcp with 'Authorization: Bearer dxk_…' (API key) or 'Bearer mcp_…' (MCP token)."
            )
        principal = authenticate_bearer(token, request, allow_mcp_tokens=True)
        ratelimit.check_request_rate(principal)
        return principal
