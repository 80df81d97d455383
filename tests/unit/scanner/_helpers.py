"""Builders for scanner analysis tests: FetchResults from fixture/corpus JSON, plans, observations.

No network: the analysis stages take ``FetchResult`` objects, which is the seam these tests use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botscope.scanner.model import FetchResult, PathRunSpec, ScanPlan, Target
from botscope.scanner.vocabulary import (
    AI_TXT,
    LLMS_FULL_TXT,
    LLMS_TXT,
    ROBOTS_TXT,
    TDMREP_JSON,
    WEB_BOT_AUTH_DIRECTORY,
)

REPO = Path(__file__).resolve().parents[3]
RESPONSES_DIR = REPO / "tests" / "fixtures" / "responses"
CORPUS_DIR = REPO / "tests" / "corpus"

ORIGIN = "https://example.test"
POLICY_PATHS = {
    f.path: f.name for f in (ROBOTS_TXT, LLMS_TXT, LLMS_FULL_TXT, AI_TXT, TDMREP_JSON, WEB_BOT_AUTH_DIRECTORY)
}
PROFILES = ("browser", "ai_crawler", "ai_agent", "http_client")
CANARY_COOKIE_VALUE = "CANARYCOOKIEVALUE0123456789"


def target(origin: str = ORIGIN, path: str = "/") -> Target:
    scheme, host = origin.split("://", 1)
    return Target(
        url=origin + path,
        scheme=scheme,
        host=host,
        port=443 if scheme == "https" else 80,  # type: ignore[arg-type]
        path=path,
        origin=origin,
    )


def fetch_result(
    status: int | None = 200,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: str | bytes = b"",
    set_cookie: Iterable[str] = (),
    path: str = "/",
    origin: str = ORIGIN,
    **extra: Any,
) -> FetchResult:
    """A FetchResult as the fetcher would produce it (names lower-cased, Set-Cookie with values)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    pairs = [(name.lower(), value) for name, value in pairs]
    pairs += [("set-cookie", f"{name}={CANARY_COOKIE_VALUE}; Path=/; HttpOnly") for name in set_cookie]
    raw = body.encode("utf-8") if isinstance(body, str) else body
    final_url = extra.pop("final_url", origin + path)
    return FetchResult(
        url=origin + path,
        final_url=final_url,
        status=status,
        headers=pairs,
        body=raw,
        body_size=len(raw),
        duration_ms=extra.pop("duration_ms", 120),
        ttfb_ms=40,
        started_at="2026-11-28T00:00:00Z",
        **extra,
    )


def spec(
    path: str = "/", profile: str = "browser", *, critical: bool = False, category: str | None = None
) -> PathRunSpec:
    kind = "policy" if path in POLICY_PATHS else "page"
    return PathRunSpec(
        path=path,
        profile=profile,
        kind=kind,
        critical=critical,  # type: ignore[arg-type]
        category=category or POLICY_PATHS.get(path) or ("target" if path == "/" else None),
    )


def plan_for(specs: list[PathRunSpec], mode: str = "quick", origin: str = ORIGIN) -> ScanPlan:
    return ScanPlan(target=target(origin), mode=mode, path_runs=specs)  # type: ignore[arg-type]


def load_fixture(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def fixture_fetch(doc: dict[str, Any], path: str = "/") -> FetchResult:
    """FetchResult from a fixture/corpus document (status, headers, set_cookie, body/body_excerpt)."""
    status = doc.get("status")
    if status is None:
        status = 200
    body = doc.get("body", doc.get("body_excerpt", ""))
    headers = doc.get("headers") or {}
    if doc.get("kind") == "policy" and "content-type" not in {k.lower() for k in headers} and path != "/":
        headers = {**headers, "content-type": "text/plain; charset=utf-8"}
    return fetch_result(
        status=status, headers=headers, body=body, set_cookie=doc.get("set_cookie") or (), path=path
    )


def response_fixtures() -> list[Path]:
    return sorted(RESPONSES_DIR.glob("*/*.json"))


def corpus_files() -> list[Path]:
    return sorted(CORPUS_DIR.glob("*.json")) if CORPUS_DIR.exists() else []
