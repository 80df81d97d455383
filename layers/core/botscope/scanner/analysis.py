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

from botscope.scanner.model import Observation
from botscope.scanner.observe import shingle_similarity
from botscope.scanner.policy import ROBOTS_PATH, path_allowed
from botscope.scanner.profiles import get_profile

STOPPED = frozenset({"challenged", "blocked", "rate_limited"})
AI_PROFILES = ("ai_crawler", "ai_agent")
_STRENGTH_CONFIDENCE = {"strong": 0.95, "medium": 0.8, "weak": 0.5}
# Fallback robots tokens when the profile data cannot be read (kept in sync with profiles.json).
_DEFAULT_ROBOTS_TOKENS = {
    "browser": "*",
    "ai_crawler": "GPTBot",
    "ai_agent": "ChatGPT-User",
    "http_client": "*",
}
DIFFERENTIAL_SIMILARITY = 0.5
MIN_SHINGLES = 8
LABYRINTH_HIDDEN_LINKS = 5


def robots_tokens() -> dict[str, str]:
    try:
        from botscope.scanner.profiles import load_profiles

        return {pid: profile.robots_token for pid, profile in load_profiles().items()}
    except Exception:  # profile data belongs to another stage; fall back to the documented tokens
        return dict(_DEFAULT_ROBOTS_TOKENS)


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
            token = tokens.get(profile, "*")
            allowed = path_allowed(robots_text, token, path)
            declared = "unspecified" if allowed is None else ("allowed" if allowed else "disallowed")
            if allowed is None and robots_unreachable:
                # RFC 9309: crawlers treat the site as disallowed, but the site declared nothing
                declared = "unreachable"
            observed: str = other.outcome
            if base is None or base.outcome in ("error", "timed_out") or other.outcome == "timed_out":
                # a stall is reported by its own finding (``stalls``), not as a verdict
                verdict = "inconclusive"
            elif base.outcome in STOPPED:
                verdict = "browser_challenged"
            elif other.outcome in STOPPED:
                verdict = "enforced" if declared == "disallowed" else "undeclared_block"
            elif other.outcome == "served" and base.outcome == "served" and _differs(base, other):
                observed = "served_different"
                verdict = "differential_content"
            elif declared == "disallowed" and other.outcome == "served" and profile in AI_PROFILES:
                # robots.txt is a crawler's contract; a plain HTTP client served a path the `*` group
                # disallows is not a broken declaration
                verdict = "declared_not_enforced"
            else:
                verdict = "consistent"
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
        if spec.kind != "page" or not (spec.critical or spec.category == "target"):
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
        if obs.outcome in STOPPED:
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
        if obs.spec.path == ROBOTS_PATH and obs.policy_text is not None:
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
        stalled = sorted(p for p in AI_PROFILES if runs.get(p) is not None and runs[p].outcome == "timed_out")
        if stalled and base is not None and base.outcome not in ("timed_out", "error"):
            found.append({"path": path, "profiles": stalled, "baseline": base.outcome})
    return found


def labyrinth_signals(observations: list[Observation]) -> list[Observation]:
    """Served AI-profile pages with many hidden nofollow links (AI Labyrinth style)."""
    return [
        o
        for o in observations
        if o.spec.profile in ("ai_crawler", "ai_agent")
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
    tokens = robots_tokens()
    by_path: dict[str, dict[str, Observation]] = {}
    for obs in observations:
        if obs.spec.kind == "page":
            by_path.setdefault(obs.spec.path, {})[obs.spec.profile] = obs
    entries: list[dict[str, Any]] = []
    for path, runs in by_path.items():
        rendered_obs = runs.get("rendered")
        if rendered_obs is None:
            continue
        rendered = rendered_obs.rendered
        entry: dict[str, Any] = {
            "path": path,
            "category": rendered_obs.spec.category,
            "outcome": rendered_obs.outcome,
            "verdicts": [],
        }
        entries.append(entry)
        if rendered is None or rendered_obs.outcome == "error":
            entry["verdicts"].append({"verdict": "inconclusive", "detail": "the rendered run failed"})
            continue
        entry.update(
            {
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
                "fingerprinting_apis": {
                    k: v for k, v in rendered.api_probes.items() if k in FINGERPRINTING_APIS
                },
                "storage": rendered.storage,
                "requests": rendered.requests,
                "refused_requests": rendered.refused_requests,
            }
        )
        if rendered.challenge_shown and rendered.challenge_cleared:
            stopped = [p for p in AI_PROFILES if (o := runs.get(p)) is not None and o.outcome in STOPPED]
            declared = {p: path_allowed(robots_text, tokens.get(p, "*"), path) for p in stopped}
            enforcement_state = None
            if stopped:
                enforcement_state = (
                    "enforced" if all(v is False for v in declared.values()) else "undeclared_block"
                )
            entry["verdicts"].append(
                {
                    "verdict": "challenge_clears_for_browser",
                    "status": enforcement_state,
                    "stopped_profiles": stopped,
                    "cleared_after_ms": rendered.cleared_after_ms,
                }
            )
        elif rendered.challenge_shown:
            entry["verdicts"].append({"verdict": "challenge_blocks_browser", "status": "inconclusive"})
        fingerprinting = sorted(k for k in rendered.api_probes if k in FINGERPRINTING_APIS)
        if rendered_obs.outcome == "served" and len(fingerprinting) >= MIN_FINGERPRINTING_APIS:
            entry["verdicts"].append({"verdict": "served_but_fingerprinted", "apis": fingerprinting})
        http_browser = runs.get("browser")
        http_saw_captcha = http_browser is not None and any(
            m.measure in _CAPTCHA_MEASURES for m in http_browser.matches
        )
        for widget in rendered.widgets:
            on_login = rendered_obs.spec.category == "login" or _is_login(widget.form)
            if widget.after_load and on_login:
                entry["verdicts"].append(
                    {
                        "verdict": "captcha_after_js",
                        "widget": widget.kind,
                        "form": widget.form,
                        "http_only_saw_captcha": http_saw_captcha,
                    }
                )
                break
    return entries


def _is_login(form_path: str | None) -> bool:
    if not form_path:
        return False
    from botscope.scanner.critical_paths import classify_path

    return classify_path(form_path) == "login"
