"""The rendered profile: a headless Chromium (Playwright driving the system browser) that loads a
path like a visitor and reports what the page did — names, hosts and counts only.

Every request the browser makes leaves through ``EgressProxy`` (the SSRF guard); Chromium's own
resolver is switched off (``--host-resolver-rules``) so it cannot look a name up itself, QUIC and
non-proxied WebRTC UDP are off, service workers are blocked, downloads are refused, popups are
closed and no permission is granted. One browser per ``RenderSession`` (one scan or one pipeline
invocation) and one fresh context per path run: nothing (cookies, storage, cache) is kept from one
path run to the next.

Playwright is an optional dependency (the ``render`` extra; the container-image function has it):
this module imports it lazily, and ``RenderUnavailable`` says why a browser could not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botscope.scanner.model import (
    FetchResult,
    Observation,
    PathRunSpec,
    ProbeError,
    RenderedHop,
    RenderedObservation,
    RenderedWidget,
    Target,
)
from botscope.scanner.probe.egress_proxy import EGRESS_ANSWER_HEADER, EgressLimits, EgressProxy
from botscope.scanner.targets import NetworkPolicy, Resolver, is_ip_literal
from botscope.scanner.vocabulary import STOPPED_OUTCOMES

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
_REPORT_BINDING = "__botscopeProbe"
HARD_MARGIN_S = 10.0


class RenderUnavailable(Exception):
    """No browser could be started (Playwright missing, Chromium missing or crashing)."""


@dataclass(frozen=True)
class RenderLimits:
    page_budget: float = 15.0  # seconds per path run, challenge wait included
    settle: float = 2.0  # after the page is served: time for late scripts (injected CAPTCHAs)
    egress: EgressLimits = field(default_factory=EgressLimits)


def chromium_args(proxy_server: str) -> list[str]:
    """Launch flags: everything through our proxy, no direct network path of its own."""
    proxy_host = urlsplit(proxy_server).hostname or "127.0.0.1"
    return [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--mute-audio",
        "--disable-dev-shm-usage",
        f"--proxy-server={proxy_server}",
        # Chromium bypasses proxies for loopback by default; "<-loopback>" removes that exception.
        "--proxy-bypass-list=<-loopback>",
        # No name resolution in the browser: every name is resolved (once, checked) by the proxy.
        f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {proxy_host}",
        "--disable-quic",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--disable-features=NetworkPrediction,DnsOverHttps,MediaRouter,OptimizationHints,Translate",
        # A visitor's browser does not announce automation (navigator.webdriver stays false).
        "--disable-blink-features=AutomationControlled",
    ]


# Counts fingerprinting API use and cookie names set by script; runs before any page script in
# every frame. Reports go to a Playwright binding captured and then removed from window.
INIT_SCRIPT = r"""
(() => {
  const binding = window.__botscopeProbe;
  try { delete window.__botscopeProbe; } catch (e) {}
  if (typeof binding !== 'function') return;
  const counts = Object.create(null);
  const send = (kind, name) => { try { binding(kind, name); } catch (e) {} };
  const note = (api) => { counts[api] = (counts[api] || 0) + 1; if (counts[api] <= 50) send('api', api); };
  const wrap = (proto, prop, api) => {
    if (!proto) return;
    const original = proto[prop];
    if (typeof original !== 'function') return;
    Object.defineProperty(proto, prop, { configurable: true, writable: true,
      value: function (...args) { note(api); return original.apply(this, args); } });
  };
  wrap(window.HTMLCanvasElement && HTMLCanvasElement.prototype, 'toDataURL', 'canvas_readback');
  wrap(window.HTMLCanvasElement && HTMLCanvasElement.prototype, 'toBlob', 'canvas_readback');
  wrap(window.CanvasRenderingContext2D && CanvasRenderingContext2D.prototype, 'getImageData', 'canvas_readback');
  wrap(window.OffscreenCanvas && OffscreenCanvas.prototype, 'convertToBlob', 'canvas_readback');
  wrap(window.WebGLRenderingContext && WebGLRenderingContext.prototype, 'getParameter', 'webgl_parameters');
  wrap(window.WebGL2RenderingContext && WebGL2RenderingContext.prototype, 'getParameter', 'webgl_parameters');
  wrap(window.FontFaceSet && FontFaceSet.prototype, 'check', 'font_enumeration');
  wrap(window.navigator && navigator.permissions && Object.getPrototypeOf(navigator.permissions), 'query', 'permissions_query');
  for (const name of ['AudioContext', 'OfflineAudioContext', 'webkitAudioContext']) {
    const original = window[name];
    if (typeof original !== 'function') continue;
    window[name] = new Proxy(original, { construct(target, args, newTarget) {
      note('audio_context'); return Reflect.construct(target, args, newTarget); } });
  }
  const webdriver = Object.getOwnPropertyDescriptor(Navigator.prototype, 'webdriver');
  if (webdriver && webdriver.get) {
    Object.defineProperty(Navigator.prototype, 'webdriver', { configurable: true, enumerable: true,
      get: function () { note('navigator_webdriver'); return webdriver.get.call(this); } });
  }
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (cookie && cookie.set) {
    Object.defineProperty(Document.prototype, 'cookie', { configurable: true, enumerable: true,
      get: function () { return cookie.get.call(this); },
      set: function (value) {
        const name = String(value).split(';')[0].split('=')[0].trim();
        if (name) send('cookie', name.slice(0, 80));
        return cookie.set.call(this, value);
      } });
  }
  if (window.CookieStore && CookieStore.prototype.set) {
    const original = CookieStore.prototype.set;
    CookieStore.prototype.set = function (first, ...rest) {
      const name = typeof first === 'string' ? first : (first && first.name);
      if (name) send('cookie', String(name).slice(0, 80));
      return original.call(this, first, ...rest);
    };
  }
})();
"""

# CAPTCHA widgets that are actually rendered (a visible box), and the form each one sits in.
# ``html`` is the document the server sent: a widget absent from it was injected by script.
WIDGET_SCRIPT = r"""
(html) => {
  const selectors = {
    recaptcha: 'iframe[src*="/recaptcha/"], .g-recaptcha',
    hcaptcha: 'iframe[src*="hcaptcha.com"], .h-captcha',
    turnstile: 'iframe[src*="challenges.cloudflare.com"], .cf-turnstile',
    arkose: 'iframe[src*="arkoselabs.com"], iframe[src*="funcaptcha.com"], #FunCaptcha',
    geetest: '.geetest_captcha, .geetest_holder, .geetest_panel',
    friendly_captcha: '.frc-captcha',
    aws_waf_captcha: 'awswaf-captcha, #captcha-container',
    datadome: 'iframe[src*="captcha-delivery.com"]',
    human: '#px-captcha',
  };
  let served = null;
  try { served = new DOMParser().parseFromString(html || '', 'text/html'); } catch (e) {}
  const out = [];
  for (const [kind, selector] of Object.entries(selectors)) {
    for (const element of document.querySelectorAll(selector)) {
      const box = element.getBoundingClientRect();
      if (box.width <= 0 || box.height <= 0) continue;
      const form = element.closest('form');
      let action = null;
      if (form) {
        try { action = new URL(form.getAttribute('action') || location.href, location.href).pathname; }
        catch (e) { action = location.pathname; }
      }
      out.push({ kind, form: action, after_load: !!served && !served.querySelector(selector) });
      break;
    }
  }
  return out;
}
"""

STORAGE_SCRIPT = r"""
async () => {
  const count = (store) => { try { return store.length; } catch (e) { return 0; } };
  let indexeddb = 0;
  try { indexeddb = (await indexedDB.databases()).length; } catch (e) {}
  return { local_storage: count(window.localStorage), session_storage: count(window.sessionStorage), indexeddb };
}
"""


def _host_of(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _public_host(host: str | None) -> str | None:
    """A host name safe to report: never an IP literal (reports carry no addresses)."""
    if not host or is_ip_literal(host):
        return None
    return host[:253]


def _add(items: list[str], value: str | None, limit: int = 50) -> None:
    if value and value not in items and len(items) < limit:
        items.append(value)


@dataclass
class _Document:
    """One main-frame document response as the server sent it (in memory only)."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    at: float
    body: bytes = b""
    outcome: str = "error"
    classified: bool = False


class _RunRecorder:
    """Collects one path run's events from Playwright callbacks."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.documents: list[_Document] = []
        self.hops: list[tuple[int | None, str, float]] = []
        self.script_hosts: list[str] = []
        self.frame_hosts: list[str] = []
        self.js_cookies: list[str] = []
        self.api_probes: dict[str, int] = {}
        self.popups = 0
        self.downloads = 0
        self.pending: list[asyncio.Task[None]] = []
        self.main_frame: Any = None
        self.navigated = asyncio.Event()

    def third_party(self, url: str) -> str | None:
        host = _host_of(url)
        return None if host is None or host == self.target.host else _public_host(host)

    def on_request(self, request: Any) -> None:
        kind = request.resource_type
        if kind == "script":
            _add(self.script_hosts, self.third_party(request.url))
        elif kind == "document" and request.frame is not self.main_frame:
            _add(self.frame_hosts, self.third_party(request.url))

    def on_response(self, response: Any) -> None:
        request = response.request
        if not request.is_navigation_request() or request.frame is not self.main_frame:
            return
        now = time.monotonic()
        self.hops.append((response.status, response.url, now))
        if 300 <= response.status < 400:
            return
        document = _Document(url=response.url, status=response.status, headers=[], at=now)
        self.documents.append(document)
        self.pending.append(asyncio.ensure_future(self._read(response, document)))

    async def _read(self, response: Any, document: _Document) -> None:
        # Read at once: the body of a challenge page that reloads itself is gone after the reload.
        with contextlib.suppress(Exception):
            document.headers = [(h["name"].lower(), h["value"]) for h in await response.headers_array()]
        with contextlib.suppress(Exception):
            document.body = await response.body()
        self.navigated.set()

    def on_binding(self, kind: str, name: str) -> None:
        name = str(name)[:80]
        if kind == "cookie":
            _add(self.js_cookies, name)
        elif kind == "api":
            self.api_probes[name] = self.api_probes.get(name, 0) + 1

    async def settle(self) -> None:
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)
            self.pending.clear()


@dataclass
class _PageCapture:
    """What one render captured from its page, and how it ended."""

    error: ProbeError | None = None
    budget_exhausted: bool = False
    final_dom: str = ""
    widgets: list[dict[str, Any]] = field(default_factory=list)
    storage: dict[str, int] = field(default_factory=dict)


class RenderSession:
    """One browser and its egress proxy. ``async with RenderSession(target, policy) as session``,
    then ``await session.render(spec, ruleset)`` per path run (sequentially)."""

    def __init__(
        self,
        target: Target,
        policy: NetworkPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        limits: RenderLimits | None = None,
        executable_path: str | None = None,
        budget: Callable[[], bool] | None = None,
    ) -> None:
        self.target = target
        self.limits = limits or RenderLimits()
        self.executable_path = executable_path or DEFAULT_EXECUTABLE
        self.proxy = EgressProxy(
            target.host, target.port, policy, resolver=resolver, limits=self.limits.egress, budget=budget
        )
        self._playwright: Any = None
        self._browser: Any = None
        self.start_ms: int | None = None
        self.user_agent = ""

    async def __aenter__(self) -> RenderSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        started = time.monotonic()
        try:
            from playwright.async_api import async_playwright
        except ImportError as exc:
            raise RenderUnavailable("playwright is not installed") from exc
        await self.proxy.__aenter__()
        try:
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable_path,
                headless=True,
                args=chromium_args(self.proxy.server),
                # Playwright's own defaults would add flags that mark the browser as automated.
                ignore_default_args=["--enable-automation"],
                timeout=30_000,
            )
        except Exception as exc:
            await self.aclose()
            raise RenderUnavailable(f"the browser did not start ({type(exc).__name__})") from exc
        major = str(self._browser.version).split(".", 1)[0]
        self.user_agent = (
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.0.0 Safari/537.36"
        )
        self.start_ms = int((time.monotonic() - started) * 1000)

    async def aclose(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None
        await self.proxy.aclose()

    async def render(self, spec: PathRunSpec, ruleset: Any = None) -> Observation:
        """Load ``spec.path`` in a fresh context and reduce what happened to an ``Observation``."""
        from botscope.scanner.rules_engine import load_ruleset

        ruleset = ruleset or load_ruleset()
        self.proxy.reset_stats()
        recorder = _RunRecorder(self.target)
        started_wall = time.monotonic()
        context = await self._browser.new_context(
            user_agent=self.user_agent,
            accept_downloads=False,
            service_workers="block",
            permissions=[],
            java_script_enabled=True,
            ignore_https_errors=False,
            viewport={"width": 1280, "height": 800},
        )
        try:
            capture = await self._load(
                context, spec, recorder, ruleset, deadline=started_wall + self.limits.page_budget
            )
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(HARD_MARGIN_S):
                    await recorder.settle()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(HARD_MARGIN_S):
                    await context.close()
        rendered = self._rendered(recorder, capture.widgets, capture.storage, capture.budget_exhausted)
        self._add_egress_stats(rendered)
        duration_ms = int((time.monotonic() - started_wall) * 1000)
        return self._observation(spec, recorder, capture, rendered, ruleset, duration_ms)

    async def _load(
        self, context: Any, spec: PathRunSpec, recorder: _RunRecorder, ruleset: Any, *, deadline: float
    ) -> _PageCapture:
        """Navigate, wait out an interstitial, and capture the page. A hard bound covers everything
        the page can stall (a script spinning the main thread blocks every evaluate): the page
        budget, the settle time and a margin."""
        capture = _PageCapture()
        try:
            async with asyncio.timeout(self.limits.page_budget + self.limits.settle + HARD_MARGIN_S):
                page = await self._open_page(context, recorder)
                try:
                    await page.goto(
                        self.target.origin + spec.path,
                        wait_until="load",
                        timeout=self.limits.page_budget * 1000,
                    )
                except Exception as exc:  # navigation errors: refused, timed out, aborted
                    if not recorder.documents:
                        capture.error = ProbeError(code="render_failed", message=_navigation_error(exc))
                if capture.error is None:
                    capture.budget_exhausted = await self._wait_for_content(
                        page, recorder, ruleset, spec, deadline
                    )
                    await self._capture_page(page, recorder, capture)
                with contextlib.suppress(Exception):
                    capture.storage["cookies"] = len(await context.cookies())
        except TimeoutError:
            capture.budget_exhausted = True
            capture.error = ProbeError(
                code="render_timeout", message="the page did not finish within the page budget"
            )
        return capture

    async def _open_page(self, context: Any, recorder: _RunRecorder) -> Any:
        """A page whose requests, answers and reports feed ``recorder``; popups, downloads and
        dialogs are closed, cancelled and dismissed (and counted)."""
        await context.expose_binding(
            _REPORT_BINDING, lambda _source, kind, name: recorder.on_binding(kind, name)
        )
        await context.add_init_script(INIT_SCRIPT)
        page = await context.new_page()
        recorder.main_frame = page.main_frame

        def close_popup(other: Any) -> None:
            if other is not page:
                recorder.popups += 1
                asyncio.ensure_future(other.close())

        def on_download(download: Any) -> None:
            recorder.downloads += 1
            asyncio.ensure_future(download.cancel())

        context.on("page", close_popup)
        page.on("download", on_download)
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.dismiss()))
        page.on("request", recorder.on_request)
        page.on("response", recorder.on_response)
        return page

    @staticmethod
    async def _capture_page(page: Any, recorder: _RunRecorder, capture: _PageCapture) -> None:
        """The rendered DOM, the widgets in it and the storage the page used (each best effort)."""
        with contextlib.suppress(Exception):
            capture.final_dom = await page.content()
        with contextlib.suppress(Exception):
            capture.widgets = await page.evaluate(
                WIDGET_SCRIPT, _text(recorder.documents[-1].body) if recorder.documents else ""
            )
        with contextlib.suppress(Exception):
            capture.storage = await page.evaluate(STORAGE_SCRIPT)

    def _add_egress_stats(self, rendered: RenderedObservation) -> None:
        stats = self.proxy.stats
        rendered.requests, rendered.target_requests = stats.requests, stats.target_requests
        rendered.refused_requests, rendered.bytes_received, rendered.limit_hit = (
            stats.refused,
            stats.bytes_in,
            stats.limit_hit,
        )
        rendered.budget_ms = int(self.limits.page_budget * 1000)

    def _observation(
        self,
        spec: PathRunSpec,
        recorder: _RunRecorder,
        capture: _PageCapture,
        rendered: RenderedObservation,
        ruleset: Any,
        duration_ms: int,
    ) -> Observation:
        """The observation of the document the visitor ended on, or the run's error."""
        from botscope.scanner.observe import build_observation, decide_outcome

        if capture.error is not None or not recorder.documents:
            return Observation(
                spec=spec,
                outcome="error",
                duration_ms=duration_ms,
                rendered=rendered,
                error=capture.error or ProbeError(code="render_failed", message="the page did not load"),
            )
        last = recorder.documents[-1]
        if (EGRESS_ANSWER_HEADER, self.proxy.answer_marker) in last.headers:
            # The proxy's own answer (the site did not answer, or its address was refused): no HTTP
            # response from the site, so the run failed rather than "served an error page".
            return Observation(
                spec=spec,
                outcome="error",
                duration_ms=duration_ms,
                rendered=rendered,
                error=ProbeError(code="connect_failed", message="the site gave the browser no answer"),
            )
        # The rendered DOM is the body, so that widgets and tags added by script are visible to the
        # body rules too.
        fetched = FetchResult(
            url=self.target.origin + spec.path,
            final_url=last.url,
            status=last.status,
            headers=last.headers,
            body=capture.final_dom.encode("utf-8", "replace") or last.body,
            duration_ms=duration_ms,
        )
        observation = build_observation(spec, fetched, ruleset)
        observation.rendered = rendered
        observation.matches = ruleset.match(_features(observation, fetched, rendered))
        observation.outcome = decide_outcome(last.status, observation.matches)
        return observation

    async def _wait_for_content(
        self, page: Any, recorder: _RunRecorder, ruleset: Any, spec: PathRunSpec, deadline: float
    ) -> bool:
        """Wait while the main document is an interstitial (it may clear by itself); then let late
        scripts run. Returns True when the page budget ran out while still waiting."""
        from botscope.scanner.observe import build_observation

        while True:
            await recorder.settle()
            last = recorder.documents[-1] if recorder.documents else None
            if last is not None and not last.classified:
                fetched = FetchResult(
                    url=last.url, final_url=last.url, status=last.status, headers=last.headers, body=last.body
                )
                last.outcome = build_observation(spec, fetched, ruleset).outcome
                last.classified = True
            remaining = deadline - time.monotonic()
            if last is None or last.outcome not in STOPPED_OUTCOMES:
                with contextlib.suppress(Exception):
                    await page.wait_for_load_state(
                        "networkidle", timeout=max(1, min(remaining, self.limits.settle)) * 1000
                    )
                await recorder.settle()
                return False
            if remaining <= 0:
                return True
            recorder.navigated.clear()
            count = len(recorder.documents)
            try:
                async with asyncio.timeout(remaining):
                    while len(recorder.documents) == count:
                        await recorder.navigated.wait()
                        recorder.navigated.clear()
            except TimeoutError:
                return True
            with contextlib.suppress(Exception):
                await page.wait_for_load_state("load", timeout=max(1, deadline - time.monotonic()) * 1000)

    def _rendered(
        self,
        recorder: _RunRecorder,
        widgets: list[dict[str, Any]],
        storage: dict[str, int],
        budget_exhausted: bool,
    ) -> RenderedObservation:
        rendered = RenderedObservation()
        first = recorder.hops[0][2] if recorder.hops else time.monotonic()
        for status, url, at in recorder.hops[:20]:
            host = _host_of(url)
            same = host == self.target.host and urlsplit(url).port in (None, self.target.port)
            rendered.navigation.append(
                RenderedHop(
                    status=status,
                    same_origin=same,
                    path=(urlsplit(url).path or "/") if same else None,
                    host=None if same else _public_host(host),
                    at_ms=int((at - first) * 1000),
                )
            )
        documents = recorder.documents
        rendered.final_status = documents[-1].status if documents else None
        if documents:
            first_doc = documents[0]
            # An interstitial: a challenge page, or a stopped first answer the page left by itself.
            rendered.challenge_shown = first_doc.outcome == "challenged" or (
                first_doc.outcome in STOPPED_OUTCOMES and len(documents) > 1
            )
            if rendered.challenge_shown:
                cleared = documents[-1].outcome == "served"
                rendered.challenge_cleared = cleared
                if cleared:
                    rendered.cleared_after_ms = int((documents[-1].at - first_doc.at) * 1000)
        rendered.script_hosts = sorted(recorder.script_hosts)
        rendered.frame_hosts = sorted(recorder.frame_hosts)
        rendered.js_cookie_names = sorted(recorder.js_cookies)
        rendered.api_probes = dict(sorted(recorder.api_probes.items()))
        rendered.widgets = [
            RenderedWidget(kind=str(w.get("kind")), form=w.get("form"), after_load=bool(w.get("after_load")))
            for w in widgets[:20]
        ]
        rendered.storage = {k: int(v) for k, v in storage.items() if isinstance(v, int | float)}
        rendered.popups_blocked, rendered.downloads_blocked = recorder.popups, recorder.downloads
        rendered.budget_exhausted = budget_exhausted
        return rendered


def _features(observation: Observation, fetched: FetchResult, rendered: RenderedObservation) -> Any:
    from botscope.scanner.rules_engine import ResponseFeatures, body_window

    return ResponseFeatures(
        status=fetched.status,
        headers=[(n.lower(), v) for n, v in fetched.headers],
        cookie_names=observation.cookie_names,
        body_text=body_window(fetched.body),
        title=(observation.title or "").lower() or None,
        script_hosts=sorted(set(observation.script_hosts) | set(rendered.script_hosts)),
        iframe_hosts=sorted(set(observation.iframe_hosts) | set(rendered.frame_hosts)),
        js_cookie_names=rendered.js_cookie_names,
        api_probes=list(rendered.api_probes),
        widgets=[w.kind for w in rendered.widgets],
    )


def _text(body: bytes) -> str:
    return body[: 2 * 1024 * 1024].decode("utf-8", "replace")


def _navigation_error(exc: Exception) -> str:
    # Playwright messages quote the URL; keep only the net:: error code or the error type.
    text = str(exc)
    for token in text.replace("\n", " ").split():
        if token.startswith("net::ERR_"):
            return f"the page did not load ({token})"
    if "Timeout" in type(exc).__name__ or "timeout" in text.lower():
        return "the page did not load within the page budget"
    return f"the page did not load ({type(exc).__name__})"
