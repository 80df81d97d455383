"""Cross-observation analysis: detections per vendor and measure, the declared-versus-observed
enforcement verdicts per AI profile and path, and the coverage of critical paths.

Verdicts (one per non-browser profile and page path):
- ``enforced``               declared disallowed (robots.txt) and blocked/challenged
- ``declared_not_enforced``  declared disallowed but served the same content as the browser
                             (AI profiles only: robots.txt does not bind a plain HTTP client)
- ``undeclared_block``       blocked/challenged without any robots.txt declaration against it
- ``differential_content``   served, but different content than the browser got (possible
                             tarpit / labyrinth)
- ``browser_challenged``     the browser baseline itself was challenged or blocked: strict
                             protection, or an inconclusive comparison
- ``consistent``             nothing declared against it, served like the browser
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from botscope.scanner.critical_paths import LOGIN_CATEGORY, classify_path
from botscope.scanner.model import Observation, RenderedObservation
from botscope.scanner.observe import shingle_similarity
from botscope.scanner.policy import path_allowed
from botscope.scanner.profiles import AI_PROFILE_IDS, get_profile, load_profiles
from botscope.scanner.vocabulary import (
    NO_ANSWER_OUTCOMES,
    ROBOTS_TXT,
    STOPPED_OUTCOMES,
    TARGET_CATEGORY,
    Declared,
    Observed,
    Verdict,
)

_STRENGTH_CONFIDENCE = {"strong": 0.95, "medium": 0.8, "weak": 0.5}
DIFFERENTIAL_SIMILARITY = 0.5
MIN_SHINGLES = 8
LABYRINTH_HIDDEN_LINKS = 5


def robots_tokens() -> dict[str, str]:
    """The robots.txt user-agent token of each client profile (profiles.json)."""
    return {pid: profile.robots_token for pid, profile in load_profiles().items()}


def _add(items: list[str], value: str | None) -> None:
    if value is not None and value not in items:
        items.append(value)


def aggregate_detections(observations: list[Observation]) -> list[dict[str, Any]]:
    """One detection per (vendor, product, measure, layer) across all path runs."""
    grouped: OrderedDict[tuple[str | None, ...], dict[str, Any]] = OrderedDict()
    for obs in observations:
        for match in obs.matches:
            key = (match.vendor, match.product, match.measure, match.layer)
            entry = grouped.get(key)
            if entry is None:
                entry = grouped[key] = {
                    "vendor": match.vendor,
                    "product": match.product,
                    "measure": match.measure,
                    "layer": match.layer,
                    "confidence": 0.0,
                    "active": False,
                    "paths": [],
                    "profiles": [],
                    "evidence": [],
                    "rule_ids": [],
                }
            confidence = _STRENGTH_CONFIDENCE[match.strength]
            entry["confidence"] = round(max(entry["confidence"], confidence), 2)
            entry["active"] = entry["active"] or match.active
            _add(entry["paths"], obs.spec.path)
            _add(entry["profiles"], obs.spec.profile)
            _add(entry["rule_ids"], match.rule_id)
            for evidence in match.evidence:
                item = {"signal": evidence.signal, "name": evidence.name}
                if item not in entry["evidence"]:
                    entry["evidence"].append(item)
    detections = list(grouped.values())
    for entry in detections:
        entry["paths"].sort()
        entry["evidence"] = entry["evidence"][:12]
    detections.sort(key=lambda d: (d["vendor"] is None, d["vendor"] or "", d["measure"], d["product"]))
    return detections


def _differs(base: Observation, other: Observation) -> bool:
    if base.body_sha256 is not None and base.body_sha256 == other.body_sha256:
        return False
    if other.hidden_nofollow_links >= max(LABYRINTH_HIDDEN_LINKS, base.hidden_nofollow_links * 2 + 1):
        return True
    if min(len(base.text_shingles), len(other.text_shingles)) >= MIN_SHINGLES:
        return shingle_similarity(base.text_shingles, other.text_shingles) < DIFFERENTIAL_SIMILARITY
    # too little text to compare (an app shell, a short message): only a large size change counts
    if base.body_size and other.body_size:
        ratio = other.body_size / base.body_size
        return ratio < 0.5 or ratio > 2.0
    return False


def _declared(allowed: bool | None, robots_unreachable: bool) -> Declared:
    if allowed is None:
        # RFC 9309: crawlers treat an unreachable robots.txt as disallowing everything, but the site
        # declared nothing
        return "unreachable" if robots_unreachable else "unspecified"
    return "allowed" if allowed else "disallowed"


def _verdict(
    profile: str, declared: Declared, base: Observation | None, other: Observation
) -> tuple[Observed, Verdict]:
    """What ``other`` (the profile's run) observed on a page path, and the verdict of comparing it
    with the browser's run ``base`` and with the declaration."""
    if base is None or base.outcome in NO_ANSWER_OUTCOMES or other.outcome == "timed_out":
        # a stall is reported by its own finding (``stalls``), not as a verdict
        return other.outcome, "inconclusive"
    if base.outcome in STOPPED_OUTCOMES:
        return other.outcome, "browser_challenged"
    if other.outcome in STOPPED_OUTCOMES:
        return other.outcome, "enforced" if declared == "disallowed" else "undeclared_block"
    if other.outcome == "served" and base.outcome == "served" and _differs(base, other):
        return "served_different", "differential_content"
    if declared == "disallowed" and other.outcome == "served" and profile in AI_PROFILE_IDS:
        # robots.txt is a crawler's contract; a plain HTTP client served a path the `*` group
        # disallows is not a broken declaration
        return other.outcome, "declared_not_enforced"
    return other.outcome, "consistent"


def enforcement(
    observations: list[Observation], robots_text: str | None, *, robots_unreachable: bool = False
) -> list[dict[str, Any]]:
    tokens = robots_tokens()
    by_path: OrderedDict[str, dict[str, Observation]] = OrderedDict()
    for obs in observations:
        if obs.spec.kind != "page":
            continue
        by_path.setdefault(obs.spec.path, {})[obs.spec.profile] = obs
    entries: list[dict[str, Any]] = []
    for path, runs in by_path.items():
        base = runs.get("browser")
        # signed_agent runs exist only in scans that sign (Web Bot Auth); compared with ai_agent's
        # verdict on the same path they show whether a verified agent is treated differently.
        for profile in ("ai_crawler", "ai_agent", "http_client", "signed_agent"):
            other = runs.get(profile)
            if other is None or other.outcome == "error":
                continue
            token = tokens[profile]
            declared = _declared(path_allowed(robots_text, token, path), robots_unreachable)
            observed, verdict = _verdict(profile, declared, base, other)
            entries.append(
                {
                    "agent_profile": profile,
                    "robots_token": token,
                    "path": path,
                    "declared": declared,
                    "observed": observed,
                    "baseline": base.outcome if base else None,
                    "verdict": verdict,
                    "basis": get_profile(profile).basis,
                }
            )
    return entries


def coverage(observations: list[Observation]) -> dict[str, Any]:
    """Which critical paths (the target and discovered login/signup/…) carry which measures."""
    paths: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for obs in observations:
        spec = obs.spec
        if spec.kind != "page" or not (spec.critical or spec.category == TARGET_CATEGORY):
            continue
        entry = paths.setdefault(
            spec.path,
            {
                "path": spec.path,
                "category": spec.category,
                "measures": [],
                "vendors": [],
                "stopped_profiles": [],
            },
        )
        for match in obs.matches:
            if match.measure != "cdn":
                _add(entry["measures"], match.measure)
                _add(entry["vendors"], match.vendor)
        if obs.outcome in STOPPED_OUTCOMES:
            _add(entry["stopped_profiles"], spec.profile)
    items = list(paths.values())
    for entry in items:
        entry["measures"].sort()
        entry["vendors"].sort()
    return {
        "critical_paths": items,
        "unprotected_paths": [e["path"] for e in items if not e["measures"] and not e["stopped_profiles"]],
    }


def robots_text_of(observations: list[Observation]) -> str | None:
    for obs in sorted(observations, key=lambda o: o.spec.profile != "browser"):
        if obs.spec.path == ROBOTS_TXT.path and obs.policy_text is not None:
            return obs.policy_text
    return None


def stalls(observations: list[Observation]) -> list[dict[str, Any]]:
    """Page paths where AI profiles timed out while the browser was answered in full: an answer
    held open for AI clients only (a tarpit)."""
    by_path: OrderedDict[str, dict[str, Observation]] = OrderedDict()
    for obs in observations:
        if obs.spec.kind == "page":
            by_path.setdefault(obs.spec.path, {})[obs.spec.profile] = obs
    found = []
    for path, runs in by_path.items():
        base = runs.get("browser")
        stalled = sorted(
            p for p in AI_PROFILE_IDS if runs.get(p) is not None and runs[p].outcome == "timed_out"
        )
        if stalled and base is not None and base.outcome not in NO_ANSWER_OUTCOMES:
            found.append({"path": path, "profiles": stalled, "baseline": base.outcome})
    return found


def labyrinth_signals(observations: list[Observation]) -> list[Observation]:
    """Served AI-profile pages with many hidden nofollow links (AI Labyrinth style)."""
    return [
        o
        for o in observations
        if o.spec.profile in AI_PROFILE_IDS
        and o.outcome == "served"
        and o.hidden_nofollow_links >= LABYRINTH_HIDDEN_LINKS
    ]


# --- rendered profile (a real browser, ``botscope.scanner.probe.browser``) --------------------------

FINGERPRINTING_APIS = (
    "canvas_readback",
    "webgl_parameters",
    "audio_context",
    "font_enumeration",
    "navigator_webdriver",
)
MIN_FINGERPRINTING_APIS = 2  # one API alone is common in ordinary pages (a chart reading a canvas)
_CAPTCHA_MEASURES = frozenset({"captcha"})


def rendered_verdicts(observations: list[Observation], robots_text: str | None) -> list[dict[str, Any]]:
    """One entry per rendered path run: what the real browser saw, and the verdicts only a browser
    can support.

    - ``challenge_clears_for_browser``: a challenge was shown and cleared by itself within the page
      budget, while the declared AI profiles were stopped on the same path (``enforcement`` is
      ``enforced`` when robots.txt disallows them, else ``undeclared_block``; None when they were
      not stopped)
    - ``challenge_blocks_browser``: a challenge never cleared even for the real browser (strict
      protection; the comparison with the other profiles is inconclusive)
    - ``served_but_fingerprinted``: served, and the page read at least two fingerprinting APIs
    - ``captcha_after_js``: a login form shows a CAPTCHA that is not in the HTML the server sent
      (``http_only_saw_captcha`` says whether the HTTP-only browser profile found any trace of it)
    """
    by_path: dict[str, dict[str, Observation]] = {}
    for obs in observations:
        if obs.spec.kind == "page":
            by_path.setdefault(obs.spec.path, {})[obs.spec.profile] = obs
    entries: list[dict[str, Any]] = []
    for path, runs in by_path.items():
        rendered_obs = runs.get("rendered")
        if rendered_obs is None:
            continue
        entry: dict[str, Any] = {
            "path": path,
            "category": rendered_obs.spec.category,
            "outcome": rendered_obs.outcome,
            "verdicts": [],
        }
        entries.append(entry)
        rendered = rendered_obs.rendered
        if rendered is None or rendered_obs.outcome == "error":
            entry["verdicts"].append({"verdict": "inconclusive", "detail": "the rendered run failed"})
            continue
        entry.update(_rendered_evidence(rendered))
        entry["verdicts"] = _challenge_verdicts(rendered, runs, robots_text, path)
        entry["verdicts"] += _fingerprinting_verdicts(rendered_obs, rendered)
        entry["verdicts"] += _captcha_verdicts(rendered_obs, rendered, runs.get("browser"))
    return entries


def _rendered_evidence(rendered: RenderedObservation) -> dict[str, Any]:
    """The public facts of a rendered run: hosts, names and counts."""
    return {
        "final_status": rendered.final_status,
        "challenge": {
            "shown": rendered.challenge_shown,
            "cleared": rendered.challenge_cleared,
            "cleared_after_ms": rendered.cleared_after_ms,
        },
        "third_party_script_hosts": rendered.script_hosts,
        "third_party_frame_hosts": rendered.frame_hosts,
        "js_cookie_names": rendered.js_cookie_names,
        "widgets": [w.model_dump() for w in rendered.widgets],
        "fingerprinting_apis": {k: v for k, v in rendered.api_probes.items() if k in FINGERPRINTING_APIS},
        "storage": rendered.storage,
        "requests": rendered.requests,
        "refused_requests": rendered.refused_requests,
    }


def _challenge_verdicts(
    rendered: RenderedObservation, runs: dict[str, Observation], robots_text: str | None, path: str
) -> list[dict[str, Any]]:
    """``challenge_clears_for_browser`` or ``challenge_blocks_browser`` when a challenge was shown."""
    if not rendered.challenge_shown:
        return []
    if not rendered.challenge_cleared:
        return [{"verdict": "challenge_blocks_browser", "status": "inconclusive"}]
    tokens = robots_tokens()
    stopped = [p for p in AI_PROFILE_IDS if (o := runs.get(p)) is not None and o.outcome in STOPPED_OUTCOMES]
    declared = {p: path_allowed(robots_text, tokens[p], path) for p in stopped}
    enforcement_state: Verdict | None = None
    if stopped:
        enforcement_state = "enforced" if all(v is False for v in declared.values()) else "undeclared_block"
    return [
        {
            "verdict": "challenge_clears_for_browser",
            "status": enforcement_state,
            "stopped_profiles": stopped,
            "cleared_after_ms": rendered.cleared_after_ms,
        }
    ]


def _fingerprinting_verdicts(
    rendered_obs: Observation, rendered: RenderedObservation
) -> list[dict[str, Any]]:
    fingerprinting = sorted(k for k in rendered.api_probes if k in FINGERPRINTING_APIS)
    if rendered_obs.outcome == "served" and len(fingerprinting) >= MIN_FINGERPRINTING_APIS:
        return [{"verdict": "served_but_fingerprinted", "apis": fingerprinting}]
    return []


def _captcha_verdicts(
    rendered_obs: Observation, rendered: RenderedObservation, http_browser: Observation | None
) -> list[dict[str, Any]]:
    """``captcha_after_js`` for the first widget injected by script on a login page or form."""
    http_saw_captcha = http_browser is not None and any(
        m.measure in _CAPTCHA_MEASURES for m in http_browser.matches
    )
    for widget in rendered.widgets:
        on_login = rendered_obs.spec.category == LOGIN_CATEGORY or _is_login(widget.form)
        if widget.after_load and on_login:
            return [
                {
                    "verdict": "captcha_after_js",
                    "widget": widget.kind,
                    "form": widget.form,
                    "http_only_saw_captcha": http_saw_captcha,
                }
            ]
    return []


def _is_login(form_path: str | None) -> bool:
    return bool(form_path) and classify_path(form_path or "") == LOGIN_CATEGORY
