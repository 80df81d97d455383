"""Data shapes shared by the scanner stages and by the serverless pipeline that calls them.

The pipeline runs the stages in separate Lambda invocations and stores what passes between them,
so every shape here is a pydantic model that round-trips through JSON (``model_dump(mode="json")``
/ ``model_validate``).

Flow (see ``engine``):  normalize/guard target → ``ScanPlan`` (list of ``PathRunSpec``) →
``probe`` each spec → ``Observation`` (private: may hold a policy file's text, never cookie values)
→ ``analyze`` all observations → the public report (a dict, docs/report.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from botscope.scanner.vocabulary import Outcome, PathKind, ScanMode

# the vocabulary's types, re-exported beside the shapes using them
__all__ = ["Outcome", "PathKind", "ScanMode"]

ProfileId = Literal["browser", "ai_crawler", "ai_agent", "http_client", "signed_agent"]
# The headless Chromium probe (``botscope.scanner.probe.browser``): a path run's profile, but not an
# HTTP client profile of ``profiles.json``.
RenderedProfileId = Literal["rendered"]
Signal = Literal[
    "header", "cookie", "body", "script", "status", "policy", "title", "js_cookie", "api_probe", "widget"
]
Measure = Literal[
    "cdn",
    "waf",
    "bot_management",
    "challenge",
    "captcha",
    "proof_of_work",
    "rate_limit",
    "tarpit",
    "waiting_room",
    "fingerprinting",
    "agent_auth",
    "policy",
]
Layer = Literal["edge", "application", "client", "policy"]


class Target(BaseModel):
    """A normalized, guarded scan target."""

    url: str  # normalized absolute URL (scheme, IDNA host, no default port, path)
    scheme: Literal["http", "https"]
    host: str  # IDNA (ASCII) host, or an IP literal
    port: int
    path: str  # path + query of the target page, at least "/"
    origin: str  # scheme://host[:port]


class PathRunSpec(BaseModel):
    """One planned request: a path fetched with one client profile."""

    path_run_id: str | None = None  # assigned by the pipeline (``run_…``); the CLI leaves it None
    path: str  # path + query, same origin as the target
    profile: ProfileId | RenderedProfileId
    kind: PathKind = "page"
    critical: bool = False  # a discovered critical path (login, signup, checkout, …)
    # ``vocabulary.TARGET_CATEGORY``, a ``critical_paths`` category, a policy file's name, or
    # ``vocabulary.NOT_FOUND_PROBE_CATEGORY``
    category: str | None = None


class ScanPlan(BaseModel):
    target: Target
    mode: ScanMode
    path_runs: list[PathRunSpec]
    discovered_paths: list[str] = Field(default_factory=list)
    request_budget: int = 80


class Evidence(BaseModel):
    signal: Signal
    name: str  # the signal's name only, never its value (public-safe)


class RuleMatch(BaseModel):
    rule_id: str
    vendor: str | None
    product: str | None = None
    measure: Measure
    layer: Layer
    strength: Literal["strong", "medium", "weak"]
    active: bool = False  # True when the match shows an active defense (challenge/block)
    score: float  # summed weights of the matched signals
    evidence: list[Evidence] = Field(default_factory=list)


class RedirectHop(BaseModel):
    status: int
    location_path: str | None  # path of the Location if same-origin, else None
    same_origin: bool


class ProbeError(BaseModel):
    # A ``vocabulary.ProbeErrorCode`` when the probe ran; a path run the pipeline failed carries the
    # pipeline's code instead (``botscope.workflow.stages.error_from_states``, ``not_probed``).
    code: str
    message: str


class RenderedHop(BaseModel):
    """One main-frame document of a rendered path run, in navigation order."""

    status: int | None
    same_origin: bool
    path: str | None = None  # path (no query) when same-origin
    host: str | None = None  # host name when cross-origin (never an IP literal)
    at_ms: int = 0  # since the first response


class RenderedWidget(BaseModel):
    kind: str  # recaptcha, hcaptcha, turnstile, arkose, geetest, ...
    form: str | None = None  # action path of the enclosing form, None when outside a form
    after_load: bool = False  # absent from the HTML the server sent: injected by script


class RenderedObservation(BaseModel):
    """What a real browser saw the page do (``botscope.scanner.probe.browser``). Names, hosts and
    counts only: never cookie or storage values, bodies, URLs with queries or addresses."""

    navigation: list[RenderedHop] = Field(default_factory=list)
    final_status: int | None = None
    challenge_shown: bool = False
    challenge_cleared: bool | None = None  # None when no challenge was shown
    cleared_after_ms: int | None = None
    script_hosts: list[str] = Field(default_factory=list)  # third-party script hosts, runtime ones too
    frame_hosts: list[str] = Field(default_factory=list)  # third-party frame hosts
    js_cookie_names: list[str] = Field(default_factory=list)
    widgets: list[RenderedWidget] = Field(default_factory=list)
    api_probes: dict[str, int] = Field(default_factory=dict)  # fingerprinting API → calls counted
    storage: dict[str, int] = Field(
        default_factory=dict
    )  # local_storage / session_storage keys, indexeddb, cookies
    requests: int = 0
    target_requests: int = 0
    refused_requests: int = 0
    bytes_received: int = 0
    limit_hit: str | None = None
    popups_blocked: int = 0
    downloads_blocked: int = 0
    budget_ms: int = 0
    budget_exhausted: bool = False


class Observation(BaseModel):
    """What one path run saw, reduced to the features the analysis needs.

    Private to the pipeline (stored beside the scan, never returned by the API): ``policy_text``
    may hold a robots.txt or llms.txt. It never holds cookie values, token values or raw page
    bodies, and never an IP address.
    """

    spec: PathRunSpec
    outcome: Outcome = "error"
    http_status: int | None = None
    error: ProbeError | None = None
    started_at: str | None = None
    duration_ms: int | None = None
    ttfb_ms: int | None = None
    http_version: str | None = None  # of the last response ("HTTP/1.1", "HTTP/2"); None: no answer
    redirect_chain: list[RedirectHop] = Field(default_factory=list)
    final_path: str | None = None
    # Response headers, lower-cased names. ``headers`` keeps the values of an allow-list of
    # non-secret headers (server, cf-mitigated, x-robots-tag, content-signal, tdm-reservation, …);
    # ``header_names`` lists every name seen.
    headers: dict[str, str] = Field(default_factory=dict)
    header_names: list[str] = Field(default_factory=list)
    cookie_names: list[str] = Field(default_factory=list)
    content_type: str | None = None
    title: str | None = None
    body_size: int = 0
    body_truncated: bool = False
    body_sha256: str | None = None
    text_shingles: list[int] = Field(default_factory=list)  # small content fingerprint for differential
    script_hosts: list[str] = Field(default_factory=list)
    iframe_hosts: list[str] = Field(default_factory=list)
    form_count: int = 0
    links: list[str] = Field(default_factory=list)  # same-origin link paths (discovery)
    form_actions: list[str] = Field(default_factory=list)  # same-origin form action paths
    hidden_nofollow_links: int = 0
    meta_robots: list[str] = Field(default_factory=list)  # tokens from <meta name=robots>
    meta_tdm: dict[str, str] = Field(default_factory=dict)  # <meta name=tdm-reservation|tdm-policy>, bounded
    matches: list[RuleMatch] = Field(default_factory=list)
    policy_text: str | None = None  # body of a policy file (robots.txt, llms.txt, ai.txt, …), bounded
    rendered: RenderedObservation | None = None  # the rendered profile's evidence


class FetchResult(BaseModel):
    """The raw outcome of one SSRF-guarded fetch (``botscope.scanner.fetch``), input to
    ``botscope.scanner.observe``. Lives in memory only: ``body`` is the capped raw body and
    ``headers`` keeps every value (Set-Cookie included) so the observer can read cookie *names*.
    Never stored, never returned."""

    url: str  # the URL requested (first hop)
    final_url: str | None = None  # after redirects that were followed
    status: int | None = None
    headers: list[tuple[str, str]] = Field(
        default_factory=list
    )  # final response, in order, names lower-cased
    redirect_chain: list[RedirectHop] = Field(default_factory=list)
    body: bytes = b""
    body_truncated: bool = False
    body_size: int = 0  # bytes read (== len(body) unless truncated)
    ttfb_ms: int | None = None
    duration_ms: int | None = None
    last_byte_ms: int | None = None  # time to the last body byte read (a stalled body included)
    started_at: str | None = None
    error: ProbeError | None = None
    http_version: str | None = None  # of the last response ("HTTP/1.1", "HTTP/2")
