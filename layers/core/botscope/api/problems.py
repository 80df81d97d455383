"""RFC 9457 problem responses: the one place where domain errors become HTTP."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from botscope.aws.errors import is_transient_code
from botscope.errors import BotScopeError, ServiceUnavailable
from botscope.links import API_PREFIX
from botscope.problem import MEDIA_TYPE, PROBLEM_TYPE_BASE, problem_response  # noqa: F401 - re-exported


def _field(loc: tuple[Any, ...] | list[Any], error_type: str = "") -> str:
    if error_type == "json_invalid":
        return "body"  # pydantic's location is a character offset, meaningless to a caller
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _unsupported_media_type(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """A body sent as anything but JSON to an operation that reads a JSON body: 415, not a
    validation error about the body's shape."""
    if not any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors()):
        return None
    if _is_json_media_type(request.headers.get("content-type", "")) or not await request.body():
        return None
    return problem_response(
        request,
        status=415,
        code="unsupported_media_type",
        title="Unsupported media type",
        detail="Send the request body as JSON with 'Content-Type: application/json'.",
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


RETRY_AFTER_SECONDS = 2


def _temporarily_unavailable(request: Request) -> JSONResponse:
    from botscope.observability import logger

    logger.warning("AWS dependency throttled or unreachable", exc_info=True)
    return problem_response(
        request,
        status=ServiceUnavailable.status,
        code=ServiceUnavailable.code,
        title=ServiceUnavailable.title,
        detail="A dependency is busy or unreachable; retry after the Retry-After delay.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unauthenticated(request: Request) -> JSONResponse | None:
    """FastAPI parses and validates the body before a route's dependencies run, so a caller with
    no valid credential would learn about body errors first. Credentials come first: on an
    authenticated route, a body error answers 401/403 unless the caller is authenticated."""
    from starlette.concurrency import run_in_threadpool

    from botscope.api.deps import get_principal

    path = request.url.path
    if (
        getattr(request.state, "principal", None) is not None
        or not path.startswith(f"{API_PREFIX}/")
        or path in _PUBLIC_OPERATION_PATHS
        or path.startswith(f"{API_PREFIX}/sample-reports/")
    ):
        return None
    try:
        await run_in_threadpool(get_principal, request)
    except BotScopeError as exc:
        return _domain_problem(request, exc)
    return None


def _domain_problem(request: Request, exc: BotScopeError) -> JSONResponse:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.message,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _domain(request: Request, exc: BotScopeError) -> JSONResponse:
    if exc.status not in {401, 403}:  # raised before the credential was checked: credentials first
        unauthenticated = await _unauthenticated(request)
        if unauthenticated is not None:
            return unauthenticated
    return _domain_problem(request, exc)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    unauthenticated = await _unauthenticated(request)
    if unauthenticated is not None:
        return unauthenticated
    unsupported = await _unsupported_media_type(request, exc)
    if unsupported is not None:
        return unsupported
    errors = [
        {"field": _field(e.get("loc", ()), str(e.get("type", ""))), "message": e.get("msg", "invalid")}
        for e in exc.errors()
    ]
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="Validation failed",
        detail="The request body or parameters are invalid.",
        errors=errors,
    )


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code in {400, 413, 415, 422}:
        unauthenticated = await _unauthenticated(request)
        if unauthenticated is not None:
            return unauthenticated
    code = _STATUS_CODES.get(exc.status_code, "error")
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=str(exc.detail) if exc.detail else code.replace("_", " "),
        detail=str(exc.detail),
        headers=getattr(exc, "headers", None),
    )


async def _aws_client_error(request: Request, exc: ClientError) -> JSONResponse:
    # Throttling or a service hiccup after boto3's own retries: the client should retry, not
    # read it as our bug. Anything else from AWS is a real internal error.
    if is_transient_code(exc.response):
        return _temporarily_unavailable(request)
    return await _unexpected(request, exc)


async def _aws_unreachable(request: Request, exc: Exception) -> JSONResponse:
    return _temporarily_unavailable(request)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    from botscope.observability import logger

    logger.exception("unhandled error")
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal error",
        detail="Something went wrong on our side; the request id helps us find it.",
    )


def install(app: FastAPI) -> None:
    """Every error becomes a problem document: domain errors, validation, HTTP errors, AWS
    throttling or outages (503 with Retry-After) and anything unexpected (500)."""
    app.exception_handler(BotScopeError)(_domain)
    app.exception_handler(RequestValidationError)(_validation)
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(ClientError)(_aws_client_error)
    app.exception_handler(BotoConnectionError)(_aws_unreachable)
    app.exception_handler(HTTPClientError)(_aws_unreachable)
    app.exception_handler(Exception)(_unexpected)


# --- OpenAPI documentation of problem responses ------------------------------------------------


class ProblemFieldError(BaseModel):
    field: str
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of this API is returned."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code (docs/api.md).")
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = Field(default=None, description="Validation failures only.")


def problem_docs(**by_status: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route: ``problem_docs(**{"404": "not_found: …"})``."""
    return {
        int(status): {
            "model": ProblemDetails,
            "description": description,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status, description in by_status.items()
    }


# --- one place that documents the errors every operation can answer -------------------------------
#
# Three layers, merged into each operation's ``responses`` (a route's own ``responses=`` text wins):
# 1. ``_STANDARD_ERRORS``, applied by rule: what any authenticated operation, any operation with a
#    path parameter or a JSON body can answer.
# 2. ``OPERATION_ERRORS``: the operation-specific problem codes, by (METHOD, path). A route added
#    anywhere declares its own codes here; the OpenAPI test fails on an undocumented response.
# 3. ``security``: the Bearer API key and the session cookie, per operation (public ones: none).

_PUBLIC_OPERATION_PATHS = {
    f"{API_PREFIX}/health",
    f"{API_PREFIX}/openapi.json",
    f"{API_PREFIX}/sample-reports",
    f"{API_PREFIX}/sample-reports/{{tab_id}}",
}
_STANDARD_ERRORS = {
    "400": "bad_request: the request could not be read.",
    "401": "unauthorized: missing, malformed, unknown or revoked credential (with WWW-Authenticate).",
    "403": "csrf: a cookie-authenticated request without an allowed Origin; insufficient_scope: an "
    "mcp_ token used outside /mcp.",
    "404": "not_found: no such resource in your workspace (another workspace's id answers 404 too).",
    "413": "payload_too_large: the body is over the operation's limit.",
    "415": "unsupported_media_type: the body is not sent as application/json.",
    "422": "validation_error (with errors[]; malformed JSON names the field `body`), or a more specific "
    "code of the operation.",
    "429": "rate_limited: too many requests for this credential (Retry-After, RateLimit headers).",
    "503": "temporarily_unavailable: a dependency is throttled or unreachable; retry after Retry-After.",
}

# Operation-specific problem codes: (METHOD, path) → {status: [codes]}. Descriptions name them.
OPERATION_ERRORS: dict[tuple[str, str], dict[str, list[str]]] = {
    ("POST", "/api/v1/scans"): {
        "403": ["plan_required", "url_not_monitored"],
        "409": ["monitoring_slots_exhausted", "idempotency_in_flight"],
        "422": ["invalid_target", "target_not_public", "target_unresolvable", "idempotency_mismatch"],
        "429": ["rate_limited"],
        "503": ["scan_start_failed"],
    },
    ("GET", "/api/v1/scans/{scan_job_id}/findings"): {
        "409": ["scan_not_ready", "scan_failed", "scan_cancelled"]
    },
    ("GET", "/api/v1/scans/{scan_job_id}/report"): {
        "409": ["scan_not_ready", "scan_failed", "scan_cancelled"]
    },
    ("GET", "/api/v1/monitoring"): {"403": ["plan_required"]},
    ("DELETE", "/api/v1/monitoring/{monitored_url_id}"): {"403": ["plan_required"]},
    ("GET", "/api/v1/monitoring/{monitored_url_id}"): {"403": ["plan_required"]},
    ("PATCH", "/api/v1/monitoring/{monitored_url_id}"): {"403": ["plan_required"]},
    ("POST", "/api/v1/monitoring/{monitored_url_id}/rescan"): {
        "403": ["plan_required"],
        "409": ["scan_in_progress", "monitoring_slots_exhausted"],
        "422": ["invalid_target", "target_not_public", "target_unresolvable"],
        "503": ["scan_start_failed"],
    },
    ("POST", "/api/v1/webhooks"): {
        "409": ["webhook_exists", "webhook_limit_reached"],
        "422": ["invalid_target", "target_not_public", "target_unresolvable"],
    },
    ("POST", "/api/v1/webhooks/{webhook_id}/test"): {"409": ["webhook_disabled"]},
    ("POST", "/api/v1/api-keys"): {"403": ["insufficient_scope"], "409": ["api_key_limit_reached"]},
    ("GET", "/api/v1/audit-log"): {"403": ["plan_required"]},
}

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer dxk_…` (POST /api/v1/api-keys).",
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "botscope_session",
        "description": "The dashboard's session cookie; unsafe methods also need an allowed Origin.",
    },
}
_AUTHENTICATED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"sessionCookie": []}]
_UNSAFE_METHODS = {"post", "put", "patch", "delete"}


def _wanted_statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    wanted = ["503"]
    if path not in _PUBLIC_OPERATION_PATHS:
        wanted += ["401", "403", "429"]
    if "{" in path:
        wanted.append("404")
    if "requestBody" in operation:
        wanted += ["400", "413", "415", "422"]
    elif any(p.get("in") == "query" for p in operation.get("parameters", [])):
        wanted.append("422")
    if method in _UNSAFE_METHODS and path not in _PUBLIC_OPERATION_PATHS and "403" not in wanted:
        wanted.append("403")
    return wanted


def document_standard_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Adds every error each operation can answer to the OpenAPI document, all as
    ``application/problem+json`` (FastAPI documents its 422 as plain JSON by default), and the
    security schemes with each operation's security requirement."""
    components = openapi.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in (
        ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}).items()
    ):
        schemas.setdefault(name, schema)
    schemas.setdefault(
        "ProblemDetails", ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    # FastAPI's own 422 schemas are replaced by ProblemDetails below; leave none dangling.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for path, item in openapi.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            operation["security"] = [] if path in _PUBLIC_OPERATION_PATHS else _AUTHENTICATED
            responses = operation.setdefault("responses", {})
            specific = OPERATION_ERRORS.get((method.upper(), path), {})
            for status in [*_wanted_statuses(method, path, operation), *specific]:
                responses.setdefault(
                    status,
                    {
                        "description": _STANDARD_ERRORS.get(
                            status,
                            _STATUS_CODES.get(int(status), "error").replace("_", " ").capitalize() + ":",
                        )
                    },
                )
            for status, codes in specific.items():
                description = responses[status].get("description", "")
                missing = [c for c in codes if c not in description]
                if missing:
                    separator = " " if description.endswith(":") else "; "
                    responses[status]["description"] = (
                        description.rstrip(".") + separator + ", ".join(missing)
                    )
            for status, response in responses.items():
                if status[:1] in {"4", "5"}:
                    response["content"] = content
    return openapi
