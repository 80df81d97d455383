"""Public-safe ABAAM findings (docs/report.md "Findings") with stable fingerprints.

A fingerprint is ``sha256(origin | category | measure | vendor | scope)`` where the scope is what
makes the finding distinct (an enforcement verdict and profile, a sorted path list for coverage,
a policy signal name). It never depends on ids, times or evidence ordering, so the same site with
the same measure yields the same fingerprint scan after scan — that drives change detection.

Severity (how much the finding matters for the site's ABAAM posture) and confidence (how sure
the scanner is) are separate: an inconclusive high-severity gap is possible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from botscope.scanner.critical_paths import HIGH_VALUE_CATEGORIES
from botscope.scanner.model import Observation, ScanPlan
from botscope.scanner.profiles import AI_PROFILE_IDS
from botscope.scanner.vocabulary import (
    AI_TXT,
    LLMS_FULL_TXT,
    LLMS_TXT,
    QUIET_VERDICTS,
    ROBOTS_TXT,
    STOPPING_VERDICTS,
    WEB_BOT_AUTH_DIRECTORY,
    FindingCategory,
    FindingStatus,
    Severity,
    Verdict,
)

RECOMMENDATIONS = {
    "detection_active": "Confirm the rule is intended for this client type; verified AI agents and "
    "legitimate clients may need an allow path (e.g. Web Bot Auth or a verified-bot list).",
    "detection_present": "Presence only: make sure its bot rules actually act on the paths you care about.",
    "cdn": "CDN presence is informational; bot and WAF features are configured separately.",
    "declared_not_enforced": "robots.txt disallows this agent but it was served like a browser: enforce the "
    "declaration at the edge (bot management rule or AI-crawler block) if it matters.",
    "undeclared_block": "This client is blocked without a robots.txt declaration: declare the policy so "
    "well-behaved agents can comply without hitting the block.",
    "differential_content": "AI clients received different content than a browser (possible tarpit or "
    "labyrinth): confirm this is intended and not a misconfiguration.",
    "browser_challenged": "A regular browser was challenged: real visitors may see friction; review the "
    "challenge sensitivity for this path.",
    "enforced": "Declared and enforced: keep the declaration and the rule in sync.",
    "unprotected_critical": "No anti-bot measure was observed on this critical path: consider bot "
    "management, rate limiting or a CAPTCHA on sensitive forms.",
    "policy_blocked": "A policy file is behind a challenge or block: agents cannot read your declared "
    "preferences; exempt policy files from challenges.",
    "robots_ai": "Review which AI agents your robots.txt names and whether the edge enforces it.",
    "robots_conflict": "The managed robots.txt section and your own rules disagree for some agents: "
    "decide on one policy.",
    "policy_info": "Informational: declared AI preference signal.",
    "web_bot_auth_placeholder": "The Web Bot Auth directory lists no keys: publishing it does not mean "
    "signed agents are verified.",
    "robots_generic": "Generic rules apply to every crawler alike; name the AI agents you mean in their own "
    "groups if the policy is about them.",
    "robots_unreachable": "robots.txt answered a server error or did not answer: by RFC 9309 crawlers must "
    "then treat the whole site as disallowed. Serve it with 200 (or 404 for no rules).",
    "robots_unavailable": "robots.txt is unavailable (4xx): by RFC 9309 crawlers may fetch everything.",
    "robots_not_a_file": "The answer at /robots.txt is a page, not a robots.txt: crawlers find no rules in it.",
    "signal_invalid": "Use the published vocabulary (search, ai-input, ai-train with yes/no) so agents can read it.",
    "usage_unknown": "The Content-Usage statement is not a valid structured dictionary: agents cannot read it.",
    "web_bot_auth_invalid": "Fix the key directory so agents and verifiers can rely on it.",
    "user_agent_block": "Clients are told apart by their User-Agent alone, which any client can change: "
    "pair it with verification (Web Bot Auth, verified-bot lists) where it matters.",
    "tarpit": "AI clients were held open without a complete answer while a browser was served: confirm the "
    "stall is intended.",
    "labyrinth": "Many hidden nofollow links were served to AI clients (AI Labyrinth style).",
    "rate_limit": "Rate limiting observed: make sure limits for verified agents are intended.",
}


def fingerprint(
    origin: str, category: str, measure: str, vendor: str | None, scope: list[str] | str = ""
) -> str:
    scope_text = "|".join(sorted(scope)) if isinstance(scope, list) else scope
    raw = "\x1f".join([origin.lower(), category, measure, vendor or "", scope_text])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def finding_id(scan_job_id: str | None, fp: str) -> str:
    # Deterministic per scan: the same finding in the same scan always has the same id.
    return "fnd_" + hashlib.sha256(f"{scan_job_id or 'local'}|{fp}".encode()).hexdigest()[:24]


def _finding(
    origin: str,
    scan_job_id: str | None,
    *,
    category: FindingCategory,
    measure: str,
    status: FindingStatus,
    severity: Severity,
    confidence: float,
    title: str,
    summary: str,
    vendor: str | None,
    layer: str,
    paths: list[str],
    profiles: list[str],
    evidence: list[dict[str, str]],
    recommendation: str,
    scope: list[str] | str = "",
) -> dict[str, Any]:
    fp = fingerprint(origin, category, measure, vendor, scope)
    return {
        "finding_id": finding_id(scan_job_id, fp),
        "fingerprint": fp,
        "category": category,
        "measure": measure,
        "status": status,
        "severity": severity,
        "confidence": round(confidence, 2),
        "title": title,
        "summary": summary,
        "vendor": vendor,
        "layer": layer,
        "paths": sorted(paths),
        "profiles": sorted(profiles),
        "evidence": evidence,
        "recommendation": recommendation,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def build_findings(
    plan: ScanPlan,
    detections: list[dict[str, Any]],
    policy: dict[str, Any],
    enforcement: list[dict[str, Any]],
    coverage: dict[str, Any],
    policy_outcomes: dict[str, dict[str, Any]],
    labyrinth: list[Observation],
    scan_job_id: str | None,
    *,
    stalls: list[dict[str, Any]],
    stopped_runs: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    origin = plan.target.origin
    return [
        *_detection_findings(origin, scan_job_id, detections),
        *_enforcement_findings(origin, scan_job_id, enforcement),
        *_coverage_findings(origin, scan_job_id, coverage, plan.target.path),
        *_policy_findings(origin, scan_job_id, policy, policy_outcomes),
        *_user_agent_block_findings(origin, scan_job_id, enforcement, detections, stopped_runs),
        *_stall_findings(origin, scan_job_id, stalls),
        *_labyrinth_findings(origin, scan_job_id, labyrinth),
    ]


# --- detections ---------------------------------------------------------------------------------------


def _merge_detections(detections: list[dict[str, Any]]) -> dict[tuple[str | None, str], dict[str, Any]]:
    """The detections merged per vendor and measure: paths, profiles, evidence and products
    united, active and confidence the strongest of them."""
    merged: dict[tuple[str | None, str], dict[str, Any]] = {}
    for det in detections:
        key = (det["vendor"], det["measure"])
        if key in merged:
            base = merged[key]
            base["active"] = base["active"] or det["active"]
            base["confidence"] = max(base["confidence"], det["confidence"])
            base["paths"] = sorted(set(base["paths"]) | set(det["paths"]))
            base["profiles"] = sorted(set(base["profiles"]) | set(det["profiles"]))
            base["evidence"] += [e for e in det["evidence"] if e not in base["evidence"]]
            if det["product"] not in base["products"]:
                base["products"].append(det["product"])
        else:
            merged[key] = {**det, "products": [det["product"]], "evidence": list(det["evidence"])}
    return merged


def _detection_findings(
    origin: str, scan_job_id: str | None, detections: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One finding per vendor and measure (paths/profiles vary between scans; the fingerprint does
    not include them)."""
    out = []
    for (vendor, measure), det in _merge_detections(detections).items():
        products = ", ".join(det["products"])
        where = f"on {_plural(len(det['paths']), 'path')} for {', '.join(sorted(det['profiles']))}"
        if measure == "cdn":
            rec = RECOMMENDATIONS["cdn"]
            summary = f"{products} serves this site ({where})."
        elif det["active"]:
            rec = RECOMMENDATIONS["detection_active"]
            summary = f"{products} actively stopped requests ({measure}) {where}."
        else:
            rec = RECOMMENDATIONS["rate_limit" if measure == "rate_limit" else "detection_present"]
            summary = f"{products} is present ({measure}) {where}; no active challenge or block from it."
        words = measure.replace("_", " ")
        out.append(
            _finding(
                origin,
                scan_job_id,
                category="detection",
                measure=measure,
                status="present",
                severity="info",
                confidence=det["confidence"],
                title=f"{products}: {words}" if vendor else f"Site-native {words}",
                summary=summary,
                vendor=vendor,
                layer=det["layer"],
                paths=det["paths"],
                profiles=det["profiles"],
                evidence=det["evidence"][:12],
                recommendation=rec,
            )
        )
    return out


# --- enforcement --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VerdictFinding:
    """How an enforcement verdict reads as a finding."""

    measure: str
    status: FindingStatus
    severity: Severity
    confidence: float
    title: str
    summary: str


def _verdict_finding(verdict: Verdict, profile: str, token: str, paths: int) -> _VerdictFinding:
    on_paths = _plural(paths, "path")
    if verdict == "enforced":
        return _VerdictFinding(
            "policy",
            "present",
            "info",
            0.85,
            f"robots.txt policy for {token} is enforced",
            f"The {profile} profile ({token}) is disallowed by robots.txt and was stopped on {on_paths}.",
        )
    if verdict == "declared_not_enforced":
        return _VerdictFinding(
            "policy",
            "present",
            "medium",
            0.8,
            f"robots.txt disallows {token} but it is served",
            f"The {profile} profile ({token}) is disallowed by robots.txt yet received the same content "
            f"as a browser on {on_paths}.",
        )
    if verdict == "undeclared_block":
        return _VerdictFinding(
            "bot_management",
            "present",
            "low",
            0.8,
            f"{profile} blocked without a declaration",
            f"The {profile} profile was challenged or blocked on {on_paths} while robots.txt does not "
            "disallow it.",
        )
    if verdict == "differential_content":
        return _VerdictFinding(
            "tarpit",
            "inconclusive",
            "medium",
            0.6,
            f"Different content served to {profile}",
            f"The {profile} profile received content that differs from the browser's on {on_paths} "
            "(possible tarpit or labyrinth).",
        )
    if verdict == "browser_challenged":
        return _VerdictFinding(
            "challenge",
            "inconclusive",
            "low",
            0.7,
            "The scanner's browser profile was challenged",
            f"The browser baseline itself was challenged or blocked on {on_paths}: protection is "
            "strict, and the comparison with the other profiles is inconclusive.",
        )
    raise ValueError(f"the verdict {verdict!r} raises no finding")


def _enforcement_findings(
    origin: str, scan_job_id: str | None, enforcement: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One finding per verdict and profile, paths listed (not part of the fingerprint)."""
    grouped: dict[tuple[Verdict, str], list[dict[str, Any]]] = {}
    for entry in enforcement:
        if entry["verdict"] in QUIET_VERDICTS:
            continue
        # "the browser was challenged" is about the baseline, not about the profile compared with it
        profile = "browser" if entry["verdict"] == "browser_challenged" else entry["agent_profile"]
        grouped.setdefault((entry["verdict"], profile), []).append(entry)
    out = []
    for (verdict, profile), entries in sorted(grouped.items()):
        paths = sorted({e["path"] for e in entries})
        token = entries[0]["robots_token"]
        text = _verdict_finding(verdict, profile, token, len(paths))
        evidence = [{"signal": "status", "name": f"outcome {entries[0]['observed']}"}]
        if verdict == "differential_content":
            evidence.append({"signal": "body", "name": "content differs from the browser's"})
        if entries[0]["declared"] != "unspecified":
            evidence.append({"signal": "policy", "name": f"{ROBOTS_TXT.name} {token}"})
        out.append(
            _finding(
                origin,
                scan_job_id,
                category="scan" if verdict == "browser_challenged" else "enforcement",
                measure=text.measure,
                status=text.status,
                severity=text.severity,
                confidence=text.confidence,
                title=text.title,
                summary=text.summary,
                vendor=None,
                layer="policy" if text.measure == "policy" else "edge",
                paths=paths,
                profiles=[profile],
                evidence=evidence,
                recommendation=RECOMMENDATIONS[verdict],
                scope=f"{verdict}|{profile}",
            )
        )
    return out


def _user_agent_block_findings(
    origin: str,
    scan_job_id: str | None,
    enforcement: list[dict[str, Any]],
    detections: list[dict[str, Any]],
    stopped_runs: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The site stops some client types while the browser is served: say what was seen (which
    statuses, which profiles) and whether any vendor was identified on those answers."""
    stopped = [e for e in enforcement if e["verdict"] in STOPPING_VERDICTS]
    if not stopped:
        return []
    keys = {(e["agent_profile"], e["path"]) for e in stopped}
    runs = [r for r in stopped_runs if (r["profile"], r["path"]) in keys]
    statuses = sorted({str(r["http_status"]) for r in runs if r.get("http_status") is not None})
    profiles = sorted({e["agent_profile"] for e in stopped})
    paths = sorted({e["path"] for e in stopped})
    vendors = sorted(
        {
            d["vendor"]
            for d in detections
            if d["vendor"]
            and d["active"]
            and set(d["profiles"]) & set(profiles)
            and set(d["paths"]) & set(paths)
        }
    )
    ai = [p for p in profiles if p in AI_PROFILE_IDS]
    who = "AI clients" if ai and len(ai) == len(profiles) else ", ".join(profiles)
    answered = f"answered {'/'.join(statuses)}" if statuses else "were stopped"
    by_whom = f"identified vendor: {', '.join(vendors)}" if vendors else "no vendor identified"
    return [
        _finding(
            origin,
            scan_job_id,
            category="enforcement",
            measure="bot_management",
            status="present",
            severity="info",
            confidence=0.8,
            title="Client types stopped by User-Agent",
            summary=f"{who} {answered} by User-Agent while the browser profile was served, on "
            f"{_plural(len(paths), 'path')} ({by_whom}).",
            vendor=None,
            layer="application",
            paths=paths,
            profiles=profiles,
            evidence=[{"signal": "status", "name": f"status {code}"} for code in statuses][:6]
            + [{"signal": "header", "name": "user-agent differential"}],
            recommendation=RECOMMENDATIONS["user_agent_block"],
            scope="user_agent_block",
        )
    ]


# --- coverage and tarpits -----------------------------------------------------------------------------


def _coverage_findings(
    origin: str, scan_job_id: str | None, coverage: dict[str, Any], target_path: str
) -> list[dict[str, Any]]:
    """Critical paths without any measure (once the scan probed a critical path besides the target)."""
    unprotected = coverage["unprotected_paths"]
    if not unprotected or all(e["path"] == target_path for e in coverage["critical_paths"]):
        return []
    categories = {e["path"]: e["category"] for e in coverage["critical_paths"]}
    high_value = [p for p in unprotected if categories.get(p) in HIGH_VALUE_CATEGORIES]
    return [
        _finding(
            origin,
            scan_job_id,
            category="coverage",
            measure="bot_management",
            status="absent",
            severity="medium" if high_value else "low",
            confidence=0.6,
            title="Critical paths without anti-bot measures",
            summary=f"No anti-bot measure was observed on {_plural(len(unprotected), 'critical path')}.",
            vendor=None,
            layer="application",
            paths=unprotected,
            profiles=[],
            evidence=[],
            recommendation=RECOMMENDATIONS["unprotected_critical"],
            scope=unprotected,
        )
    ]


def _stall_findings(
    origin: str, scan_job_id: str | None, stalls: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if not stalls:
        return []
    paths = sorted({s["path"] for s in stalls})
    profiles = sorted({p for s in stalls for p in s["profiles"]})
    return [
        _finding(
            origin,
            scan_job_id,
            category="detection",
            measure="tarpit",
            status="present",
            severity="medium",
            confidence=0.7,
            title="AI clients stalled, browser served",
            summary=f"{', '.join(profiles)} got no complete answer within the time budget on "
            f"{_plural(len(paths), 'path')} while the browser profile was answered.",
            vendor=None,
            layer="edge",
            paths=paths,
            profiles=profiles,
            evidence=[
                {"signal": "status", "name": "outcome timed_out"},
                {"signal": "status", "name": "browser answered"},
            ],
            recommendation=RECOMMENDATIONS["tarpit"],
            scope="stall",
        )
    ]


def _labyrinth_findings(
    origin: str, scan_job_id: str | None, labyrinth: list[Observation]
) -> list[dict[str, Any]]:
    if not labyrinth:
        return []
    paths = sorted({o.spec.path for o in labyrinth})
    profiles: list[str] = sorted({o.spec.profile for o in labyrinth})
    return [
        _finding(
            origin,
            scan_job_id,
            category="detection",
            measure="tarpit",
            status="inconclusive",
            severity="low",
            confidence=0.4,
            title="Hidden nofollow links served to AI clients",
            summary=f"AI client profiles received pages with many hidden nofollow links on "
            f"{_plural(len(paths), 'path')}.",
            vendor=None,
            layer="edge",
            paths=paths,
            profiles=profiles,
            evidence=[{"signal": "body", "name": "hidden nofollow links"}],
            recommendation=RECOMMENDATIONS["labyrinth"],
            scope="labyrinth",
        )
    ]


# --- declared policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PolicySignal:
    """A declared policy signal, one policy finding: ``signal`` names it (evidence and scope)."""

    signal: str
    title: str
    summary: str
    status: FindingStatus = "present"
    severity: Severity = "info"
    confidence: float = 0.95
    recommendation: str = RECOMMENDATIONS["policy_info"]
    path: str | None = None
    vendor: str | None = None
    measure: str = "policy"


def _policy_findings(
    origin: str, scan_job_id: str | None, policy: dict[str, Any], policy_outcomes: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    signals = [
        *_robots_signals(policy["robots_txt"]),
        *_preference_signals(policy),
        *_published_file_signals(policy),
        *_web_bot_auth_signals(policy["web_bot_auth"]),
    ]
    return [
        *(_policy_signal_finding(origin, scan_job_id, signal) for signal in signals),
        *_pay_per_crawl_findings(origin, scan_job_id, policy["pay_per_crawl"]),
        *_policy_file_stopped_findings(origin, scan_job_id, policy_outcomes),
    ]


def _policy_signal_finding(origin: str, scan_job_id: str | None, signal: _PolicySignal) -> dict[str, Any]:
    return _finding(
        origin,
        scan_job_id,
        category="policy",
        measure=signal.measure,
        status=signal.status,
        severity=signal.severity,
        confidence=signal.confidence,
        title=signal.title,
        summary=signal.summary,
        vendor=signal.vendor,
        layer="policy",
        paths=[signal.path] if signal.path else [],
        profiles=[],
        evidence=[{"signal": "policy", "name": signal.signal}],
        recommendation=signal.recommendation,
        scope=signal.signal,
    )


def _robots_signals(robots: dict[str, Any]) -> list[_PolicySignal]:
    """What robots.txt declares: rules naming AI agents, generic rules, a managed section and its
    conflicts; and how /robots.txt was reached (RFC 9309)."""
    path = ROBOTS_TXT.path
    out = _robots_rule_signals(robots)
    access = robots.get("access")
    status = robots.get("http_status")
    answered = f"answered {status}" if status is not None else "did not answer"
    if access == "unreachable":
        out.append(
            _PolicySignal(
                "robots.txt unreachable",
                "robots.txt unreachable: complete disallow",
                f"{path} {answered}; by RFC 9309 crawlers must treat the whole site as disallowed until it "
                "can be fetched.",
                severity="low",
                recommendation=RECOMMENDATIONS["robots_unreachable"],
                path=path,
            )
        )
    elif access == "unavailable" and status is not None and status not in (404, 410):
        out.append(
            _PolicySignal(
                "robots.txt unavailable",
                "robots.txt unavailable: no restrictions",
                f"{path} {answered}; by RFC 9309 crawlers may then fetch every path.",
                recommendation=RECOMMENDATIONS["robots_unavailable"],
                path=path,
            )
        )
    elif access == "not_a_file":
        out.append(
            _PolicySignal(
                "robots.txt not a file",
                f"{path} is not a robots.txt",
                f"{path} answered with a page (an HTML page or the site's answer to every path), so no rules "
                "were found in it.",
                status="inconclusive",
                confidence=0.7,
                recommendation=RECOMMENDATIONS["robots_not_a_file"],
                path=path,
            )
        )
    return out + _robots_managed_signals(robots)


def _robots_rule_signals(robots: dict[str, Any]) -> list[_PolicySignal]:
    """Rules in groups naming known AI agents, and generic (``User-agent: *``) rules."""
    if not robots["present"]:
        return []
    out = []
    treatments = robots["ai_agents"]
    named = set(robots.get("ai_agents_named") or [])
    disallowed = sorted(t for t, v in treatments.items() if v == "disallowed" and t in named)
    partial = sorted(t for t, v in treatments.items() if v == "partial" and t in named)
    if disallowed or partial:
        out.append(
            _PolicySignal(
                "robots.txt ai agents",
                "robots.txt restricts AI agents by name",
                f"robots.txt names and disallows {_plural(len(disallowed), 'known AI agent')} entirely and "
                f"{len(partial)} partially.",
                recommendation=RECOMMENDATIONS["robots_ai"],
                path=ROBOTS_TXT.path,
            )
        )
    generic = robots.get("generic_rules")
    if generic and (generic["disallow_all"] or generic["disallow_rules"]):
        covered = sum(1 for t, v in treatments.items() if t not in named and v in ("disallowed", "partial"))
        what = (
            "disallow the whole site"
            if generic["disallow_all"]
            else f"disallow {_plural(generic['disallow_rules'], 'path rule')}"
        )
        out.append(
            _PolicySignal(
                "robots.txt generic rules",
                "robots.txt has generic crawler rules",
                f"Generic rules (User-agent: *) {what} for every crawler; they are not aimed at AI agents "
                f"({_plural(covered, 'known AI agent')} without a group of their own fall under them).",
                recommendation=RECOMMENDATIONS["robots_generic"],
                path=ROBOTS_TXT.path,
            )
        )
    return out


def _robots_managed_signals(robots: dict[str, Any]) -> list[_PolicySignal]:
    """A managed section (Cloudflare's) and the site's own rules contradicting it."""
    out = []
    if robots.get("managed_by"):
        out.append(
            _PolicySignal(
                f"robots.txt managed by {robots['managed_by']}",
                "robots.txt has a managed AI section",
                f"robots.txt contains a section managed by {robots['managed_by']}.",
                path=ROBOTS_TXT.path,
                vendor=robots["managed_by"],
            )
        )
    if robots.get("conflicts"):
        out.append(
            _PolicySignal(
                "robots.txt conflicts",
                "robots.txt rules conflict for some AI agents",
                f"{_plural(len(robots['conflicts']), 'agent')} disallowed by the managed section are allowed "
                "by the site's own rules.",
                severity="low",
                recommendation=RECOMMENDATIONS["robots_conflict"],
                path=ROBOTS_TXT.path,
            )
        )
    return out


def _preference_signals(policy: dict[str, Any]) -> list[_PolicySignal]:
    """Content-Signal (in robots.txt) and Content-Usage (aipref) preferences."""
    out = []
    if policy.get("content_signals"):
        out.append(
            _PolicySignal(
                "content-signal",
                "Content signals declared",
                "robots.txt declares Content-Signal preferences: "
                + ", ".join(sorted(policy["content_signals"]))
                + ".",
                path=ROBOTS_TXT.path,
            )
        )
    if policy.get("content_signals_invalid"):
        out.append(
            _PolicySignal(
                "content-signal invalid",
                "Content-Signal values outside the vocabulary",
                f"robots.txt has {_plural(len(policy['content_signals_invalid']), 'Content-Signal entry')} "
                "that the published vocabulary does not define.",
                severity="low",
                confidence=0.9,
                recommendation=RECOMMENDATIONS["signal_invalid"],
                path=ROBOTS_TXT.path,
            )
        )
    if policy.get("content_usage"):
        prefs = policy["content_usage"]
        out.append(
            _PolicySignal(
                "content-usage",
                "AI usage preferences declared (aipref)",
                "Content-Usage preferences (most restrictive wins): "
                + ", ".join(f"{label}={prefs[label]}" for label in sorted(prefs))
                + ".",
            )
        )
    elif (policy.get("content_usage_detail") or {}).get("status") == "unknown":
        out.append(
            _PolicySignal(
                "content-usage unparseable",
                "Content-Usage present but unreadable",
                "A Content-Usage statement is not a valid structured dictionary; its preferences are unknown.",
                status="inconclusive",
                severity="low",
                confidence=0.8,
                recommendation=RECOMMENDATIONS["usage_unknown"],
            )
        )
    return out


def _published_file_signals(policy: dict[str, Any]) -> list[_PolicySignal]:
    """llms.txt, llms-full.txt, ai.txt, TDMRep and the noai page directives."""
    out = []
    if policy["llms_txt"].get("present"):
        out.append(
            _published(
                LLMS_TXT.name, f"The site publishes {LLMS_TXT.path} for language models.", LLMS_TXT.path
            )
        )
    if (policy.get("llms_full_txt") or {}).get("present"):
        out.append(
            _published(
                LLMS_FULL_TXT.name,
                f"The site publishes {LLMS_FULL_TXT.path} for language models.",
                LLMS_FULL_TXT.path,
            )
        )
    if policy["ai_txt"].get("present"):
        out.append(
            _published(AI_TXT.name, f"The site publishes a Spawning-style {AI_TXT.path}.", AI_TXT.path)
        )
    tdmrep = policy["tdmrep"]
    if tdmrep.get("present"):
        reserved = tdmrep.get("reserved")
        channels = [name for name, c in (tdmrep.get("channels") or {}).items() if c.get("present")]
        via = f" via {', '.join(channels)}" if channels else ""
        out.append(
            _PolicySignal(
                "tdmrep",
                "TDM rights reserved" if reserved else "TDMRep declared",
                f"Text-and-data-mining rights are reserved (TDMRep{via})."
                if reserved
                else f"TDMRep is declared without a reservation{via}.",
            )
        )
    noai = policy["noai_meta"]
    if noai.get("noai") or noai.get("noimageai"):
        tokens = [t for t in ("noai", "noimageai") if noai.get(t)]
        out.append(
            _PolicySignal(
                "noai meta",
                "noai directives on pages",
                f"Pages carry {', '.join(tokens)} in robots meta or X-Robots-Tag.",
            )
        )
    return out


def _published(name: str, summary: str, path: str) -> _PolicySignal:
    return _PolicySignal(name, f"{name} published", summary, path=path)


def _web_bot_auth_signals(wba: dict[str, Any]) -> list[_PolicySignal]:
    """The Web Bot Auth key directory: published (and its problems), or published without keys."""
    path = WEB_BOT_AUTH_DIRECTORY.path
    if wba.get("placeholder") and not wba.get("directory_present"):
        return [
            _PolicySignal(
                "web bot auth directory",
                "Empty Web Bot Auth directory",
                "The key directory is published without keys.",
                status="inconclusive",
                confidence=0.7,
                recommendation=RECOMMENDATIONS["web_bot_auth_placeholder"],
                measure="agent_auth",
                path=path,
            )
        ]
    if not wba.get("directory_present"):
        return []
    out = [
        _PolicySignal(
            "web bot auth directory",
            "Web Bot Auth key directory published",
            f"The site publishes an HTTP message signatures directory with "
            f"{_plural(wba.get('key_count', 0), 'key')} ({wba.get('valid_keys', 0)} valid Ed25519 with "
            f"thumbprint kid); directory signature: {wba.get('signature', 'absent')}.",
            measure="agent_auth",
            path=path,
        )
    ]
    problems = list(wba.get("issues") or [])
    if wba.get("signature") not in (None, "valid", "absent"):
        problems.append(f"signature {wba['signature']}")
    if problems:
        out.append(
            _PolicySignal(
                "web bot auth directory issues",
                "Web Bot Auth key directory has problems",
                "The key directory does not validate: " + ", ".join(problems[:6]) + ".",
                severity="low",
                confidence=0.9,
                recommendation=RECOMMENDATIONS["web_bot_auth_invalid"],
                measure="agent_auth",
                path=path,
            )
        )
    return out


def _pay_per_crawl_findings(
    origin: str, scan_job_id: str | None, ppc: dict[str, Any]
) -> list[dict[str, Any]]:
    if not ppc.get("detected"):
        return []
    return [
        _finding(
            origin,
            scan_job_id,
            category="policy",
            measure="agent_auth",
            status="present",
            severity="info",
            confidence=0.9,
            title="Pay per crawl (HTTP 402)",
            summary="Crawlers are asked to pay (HTTP 402 with a crawler price).",
            vendor="cloudflare",
            layer="edge",
            paths=ppc["paths"],
            profiles=ppc["profiles"],
            evidence=[{"signal": "status", "name": "402"}, {"signal": "header", "name": "crawler-price"}],
            recommendation=RECOMMENDATIONS["policy_info"],
            scope="pay_per_crawl",
        )
    ]


def _policy_file_stopped_findings(
    origin: str, scan_job_id: str | None, policy_outcomes: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Policy files behind a challenge or block: agents cannot read what the site declares."""
    out = []
    for path, info in sorted(policy_outcomes.items()):
        outcome = info.get("outcome")
        if outcome not in ("challenged", "blocked"):
            continue  # a rate limit is transient and reported by its own detection
        profiles = sorted(info.get("profiles") or [])
        out.append(
            _finding(
                origin,
                scan_job_id,
                category="policy",
                measure="challenge" if outcome == "challenged" else "bot_management",
                status="present",
                severity="low",
                confidence=0.9,
                title=f"Policy file {path} is {outcome}",
                summary=f"{path} answered {outcome} instead of the file for "
                f"{', '.join(profiles) or 'the scanner'}, so agents cannot read it.",
                vendor=None,
                layer="policy",
                paths=[path],
                profiles=profiles,
                evidence=[{"signal": "policy", "name": f"{path} {outcome}"}],
                recommendation=RECOMMENDATIONS["policy_blocked"],
                scope=f"policy_file_stopped|{path}",
            )
        )
    return out
