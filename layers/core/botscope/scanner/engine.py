"""The scanner's narrow interface, used by the CLI (one process) and the serverless pipeline (one
Lambda invocation per stage):

    plan_scan(url, mode, fetcher)         → ScanPlan       (raises InvalidTarget / TargetNotPublic)
    probe(spec, target, fetcher)          → Observation    (never raises for network trouble)
    analyze(plan, observations, …)        → report dict    (docs/report.md)
    run_scan(url, mode, policy, …)        → report dict    (all three, probes concurrent)

``plan_scan_sync`` / ``probe_sync`` wrap the async stages for Lambda handlers; each call owns its
``Fetcher`` (and so its event loop, pins, and request budget).

Rendered path runs (profile ``rendered``, planned when ``render=True``) are not fetched: they are
loaded by a real browser (``render_paths``), one browser per call, one fresh context per path run,
after the HTTP path runs so the browser's connections never add to theirs on the target host.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botscope.errors import InvalidTarget, TargetUnreachable
from botscope.isotime import now_iso
from botscope.scanner.fetch import Fetcher, FetchLimits
from botscope.scanner.model import (
    FetchResult,
    Observation,
    PathRunSpec,
    ProbeError,
    ScanMode,
    ScanPlan,
    Target,
)
from botscope.scanner.plan import RENDER_PROFILE, SITEMAP_PATH, build_plan
from botscope.scanner.profiles import PROFILE_IDS
from botscope.scanner.targets import NetworkPolicy, Resolver, normalize_target

if TYPE_CHECKING:
    from botscope.scanner.probe.web_bot_auth import WebBotAuthSigner


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a running scan, for live displays (CLI) and progress records."""

    kind: Literal["planned", "started", "finished"]
    total: int
    index: int | None = None  # position of the path run in the plan
    spec: PathRunSpec | None = None
    observation: Observation | None = None
    completed: int = 0  # path runs finished so far


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class RenderOptions:
    """How rendered path runs are run: the browser binary and the per-run limits (defaults of
    ``probe.browser.RenderLimits`` when None)."""

    executable_path: str | None = None
    limits: Any = None


async def plan_scan(target_url: str, mode: ScanMode, fetcher: Fetcher, *, render: bool = False) -> ScanPlan:
    """Normalize and guard the target (typed errors, nothing sent for a rejected target); in full
    mode fetch the target page and /sitemap.xml with the browser profile to discover paths.

    In full mode a target page that lands on another origin through redirects (http → https,
    apex → www) is planned at the origin it lands on: otherwise every path run would pay a
    redirect out of the request budget and every discovered link would look cross-origin. Every
    hop of that redirect was guarded like the target itself."""
    target = await fetcher.guard_url(target_url)
    page = sitemap = None
    if mode == "full":
        page, sitemap = await asyncio.gather(
            fetcher.fetch(target.url, "browser"),
            fetcher.fetch(target.origin + SITEMAP_PATH, "browser"),
        )
        target = _landing_target(target, page)
    # A scan that signs (a Web Bot Auth key, opted in) also fetches each page as signed_agent.
    profiles = PROFILE_IDS + (("signed_agent",) if fetcher.signs else ())
    return build_plan(
        target,
        mode,
        page=page,
        sitemap=sitemap,
        request_budget=fetcher.limits.request_budget,
        profiles=profiles,
        render=render,
    )


def _landing_target(target: Target, page: FetchResult) -> Target:
    if page.error is not None or not page.redirect_chain or not page.final_url:
        return target
    if page.status is None or not 200 <= page.status < 300:
        return target
    try:
        landed = normalize_target(page.final_url)
    except InvalidTarget:
        return target
    return landed if landed.origin != target.origin else target


async def probe(spec: PathRunSpec, target: Target, fetcher: Fetcher, ruleset: Any = None) -> Observation:
    """Fetch one path run with its profile and reduce the answer to an ``Observation``."""
    from botscope.scanner.observe import build_observation  # Scanner B's stage

    if ruleset is None:
        from botscope.scanner.rules_engine import load_ruleset

        ruleset = load_ruleset()
    if spec.profile == "rendered":
        observations = await render_paths([spec], target, fetcher.policy, ruleset=ruleset, fetcher=fetcher)
        return observations[0]
    result = await fetcher.fetch(target.origin + spec.path, spec.profile)
    return build_observation(spec, result, ruleset)


def _budget_of(fetcher: Fetcher) -> Callable[[], bool]:
    """Counts one browser request to the target host against the fetcher's request budget."""

    def take() -> bool:
        if fetcher.requests_made >= fetcher.limits.request_budget:
            return False
        fetcher.requests_made += 1
        return True

    return take


async def render_paths(
    specs: list[PathRunSpec],
    target: Target,
    policy: NetworkPolicy | None = None,
    *,
    resolver: Resolver | None = None,
    options: RenderOptions | None = None,
    ruleset: Any = None,
    fetcher: Fetcher | None = None,
    on_done: Callable[[int, Observation], None] | None = None,
) -> list[Observation]:
    """Rendered path runs, one after the other in one browser. Never raises for browser trouble:
    a browser that cannot start makes every run an ``error`` observation (``render_unavailable``)."""
    from botscope.scanner.probe.browser import RenderSession, RenderUnavailable

    if ruleset is None:
        from botscope.scanner.rules_engine import load_ruleset

        ruleset = load_ruleset()
    options = options or RenderOptions()
    observations: list[Observation] = []
    try:
        async with RenderSession(
            target,
            policy,
            resolver=resolver,
            limits=options.limits,
            executable_path=options.executable_path,
            budget=_budget_of(fetcher) if fetcher is not None else None,
        ) as session:
            for index, spec in enumerate(specs):
                try:
                    observation = await session.render(spec, ruleset)
                except Exception as exc:  # noqa: BLE001 - one failed render must not cost the others
                    observation = _failed_observation(spec, exc)
                observations.append(observation)
                if on_done is not None:
                    on_done(index, observation)
    except RenderUnavailable as exc:
        error = ProbeError(code="render_unavailable", message=str(exc))
        for index in range(len(observations), len(specs)):
            observation = Observation(spec=specs[index], outcome="error", error=error)
            observations.append(observation)
            if on_done is not None:
                on_done(index, observation)
    return observations


def analyze(
    plan: ScanPlan,
    observations: list[Observation],
    *,
    scan_job_id: str | None,
    started_at: str | None,
    completed_at: str | None,
    previous_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The public report of a scan from its plan and observations. Raises ``TargetUnreachable``
    when no path run got an HTTP response: a report of nothing would read as "no defenses"."""
    from botscope.scanner.report import build_report

    ensure_reachable(observations)

    return build_report(
        plan,
        observations,
        scan_job_id=scan_job_id,
        started_at=started_at,
        completed_at=completed_at,
        previous_report=previous_report,
    )


def ensure_reachable(observations: list[Observation]) -> None:
    """Raise ``TargetUnreachable`` unless at least one path run got an HTTP status. The message
    names the most common error code of the runs (never an address)."""
    if any(obs.http_status is not None for obs in observations):
        return
    codes: dict[str, int] = {}
    for obs in observations:
        code = obs.error.code if obs.error is not None else "no_response"
        codes[code] = codes.get(code, 0) + 1
    common = max(codes, key=lambda c: codes[c]) if codes else "no_response"
    raise TargetUnreachable(
        f"No path run got an HTTP response ({len(observations)} tried, most ended with {common}); "
        "the target did not answer, so there is nothing to report."
    )


def _failed_observation(spec: PathRunSpec, exc: Exception) -> Observation:
    # A bug in one path run's analysis must not cost the whole scan; the message stays generic
    # (an exception text could quote response content).
    return Observation(
        spec=spec,
        outcome="error",
        error=ProbeError(code="internal_error", message=f"analysis failed ({type(exc).__name__})"),
    )


async def run_scan(
    target_url: str,
    mode: ScanMode,
    policy: NetworkPolicy | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    resolver: Resolver | None = None,
    limits: FetchLimits | None = None,
    scan_job_id: str | None = None,
    previous_report: dict[str, Any] | None = None,
    extra_ca_bundle: str | None = None,
    signer: WebBotAuthSigner | None = None,
    render: bool = False,
    render_options: RenderOptions | None = None,
) -> dict[str, Any]:
    """A whole scan in one process: plan, probe every path run concurrently (the fetcher bounds
    concurrency per host), then the rendered runs in one browser, analyze. Raises InvalidTarget /
    TargetNotPublic for a rejected target."""
    started_at = now_iso("seconds")
    async with Fetcher(policy, limits, resolver, extra_ca_bundle=extra_ca_bundle, signer=signer) as fetcher:
        plan = await plan_scan(target_url, mode, fetcher, render=render)
        progress = _Progress(on_progress, total=len(plan.path_runs))
        from botscope.scanner.rules_engine import load_ruleset

        ruleset = load_ruleset()
        http_runs = [(i, s) for i, s in enumerate(plan.path_runs) if s.profile != RENDER_PROFILE]
        rendered_runs = [(i, s) for i, s in enumerate(plan.path_runs) if s.profile == RENDER_PROFILE]
        by_index = await _probe_concurrently(http_runs, plan.target, fetcher, ruleset, progress)
        if rendered_runs:
            by_index |= await _render_in_turn(
                rendered_runs,
                plan.target,
                fetcher,
                resolver=resolver,
                options=render_options,
                ruleset=ruleset,
                progress=progress,
            )
        observations = [by_index[i] for i in range(len(plan.path_runs))]
    return analyze(
        plan,
        observations,
        scan_job_id=scan_job_id,
        started_at=started_at,
        completed_at=now_iso("seconds"),
        previous_report=previous_report,
    )


class _Progress:
    """The ``started`` / ``finished`` events of a scan's path runs, with the running count."""

    def __init__(self, on_progress: ProgressCallback | None, total: int) -> None:
        self._notify = on_progress or (lambda event: None)
        self.total = total
        self.completed = 0
        self._notify(ProgressEvent(kind="planned", total=total))

    def started(self, index: int, spec: PathRunSpec) -> None:
        self._notify(
            ProgressEvent(kind="started", total=self.total, index=index, spec=spec, completed=self.completed)
        )

    def finished(self, index: int, spec: PathRunSpec, observation: Observation) -> None:
        self.completed += 1
        self._notify(
            ProgressEvent(
                kind="finished",
                total=self.total,
                index=index,
                spec=spec,
                observation=observation,
                completed=self.completed,
            )
        )


async def _probe_concurrently(
    runs: list[tuple[int, PathRunSpec]], target: Target, fetcher: Fetcher, ruleset: Any, progress: _Progress
) -> dict[int, Observation]:
    """The HTTP path runs, all at once (the fetcher bounds concurrency per host), by plan index."""

    async def run_one(index: int, spec: PathRunSpec) -> Observation:
        progress.started(index, spec)
        try:
            observation = await probe(spec, target, fetcher, ruleset)
        except Exception as exc:  # noqa: BLE001 - see _failed_observation
            observation = _failed_observation(spec, exc)
        progress.finished(index, spec, observation)
        return observation

    observations = await asyncio.gather(*(run_one(i, s) for i, s in runs))
    return dict(zip((i for i, _ in runs), observations, strict=True))


async def _render_in_turn(
    runs: list[tuple[int, PathRunSpec]],
    target: Target,
    fetcher: Fetcher,
    *,
    resolver: Resolver | None,
    options: RenderOptions | None,
    ruleset: Any,
    progress: _Progress,
) -> dict[int, Observation]:
    """The rendered path runs, one after the other in one browser, by plan index. All are
    announced as started up front: they share the browser that is about to start."""
    for index, spec in runs:
        progress.started(index, spec)
    by_index: dict[int, Observation] = {}

    def rendered_done(position: int, observation: Observation) -> None:
        index, spec = runs[position]
        by_index[index] = observation
        progress.finished(index, spec, observation)

    await render_paths(
        [s for _, s in runs],
        target,
        fetcher.policy,
        resolver=resolver,
        options=options,
        ruleset=ruleset,
        fetcher=fetcher,
        on_done=rendered_done,
    )
    return by_index


# --- sync wrappers for the pipeline's Lambda stages ----------------------------------------------


def plan_scan_sync(
    target_url: str,
    mode: ScanMode,
    policy: NetworkPolicy | None = None,
    *,
    resolver: Resolver | None = None,
    limits: FetchLimits | None = None,
    extra_ca_bundle: str | None = None,
    signer: WebBotAuthSigner | None = None,
    render: bool = False,
) -> ScanPlan:
    async def run() -> ScanPlan:
        async with Fetcher(
            policy, limits, resolver, extra_ca_bundle=extra_ca_bundle, signer=signer
        ) as fetcher:
            return await plan_scan(target_url, mode, fetcher, render=render)

    return asyncio.run(run())


def probe_sync(
    spec: PathRunSpec,
    target: Target,
    policy: NetworkPolicy | None = None,
    *,
    resolver: Resolver | None = None,
    limits: FetchLimits | None = None,
    ruleset: Any = None,
    extra_ca_bundle: str | None = None,
    signer: WebBotAuthSigner | None = None,
) -> Observation:
    async def run() -> Observation:
        async with Fetcher(
            policy, limits, resolver, extra_ca_bundle=extra_ca_bundle, signer=signer
        ) as fetcher:
            return await probe(spec, target, fetcher, ruleset)

    return asyncio.run(run())
