"""The view of a report that every human-facing format shows (HTML page, text, Markdown, JUnit).

Built from the same report object the API returns (``GET /api/v1/scans/{id}/report``); pure, no
I/O. What the report does not carry is shown as "unknown", never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Columns of the path × profile matrix, in this order; a profile the report names that is not
# listed here (a newer scanner) is shown after them, so no probe is hidden.
PROFILE_ORDER = ("browser", "rendered", "ai_crawler", "ai_agent", "signed_agent", "http_client")
PROFILE_LABELS = {
    "browser": "Browser",
    "rendered": "Rendered browser",
    "ai_crawler": "AI crawler",
    "ai_agent": "AI agent",
    "signed_agent": "Signed AI agent",
    "http_client": "HTTP client",
}
# Profiles that stand for AI clients (the "AI crawlers: blocked" badge and --fail-on ai-blocked).
AI_PROFILES = ("ai_crawler", "ai_agent", "signed_agent")
# Outcomes that stop a client from getting the page.
STOPPING_OUTCOMES = ("blocked", "challenged", "rate_limited", "timed_out", "payment_required")

POSTURE_ORDER = ("none", "basic", "layered", "hardened")
SEVERITY_ORDER = ("high", "medium", "low", "info")
LAYER_ORDER = ("edge", "application", "client", "policy")
LAYER_LABELS = {
    "edge": "Edge (CDN / WAF)",
    "application": "Application",
    "client": "Client (in the page)",
    "policy": "Declared policy",
}


@dataclass(frozen=True)
class Style:
    """How an outcome or verdict looks: a CSS tone (colour), an icon and words. Colour is never the
    only carrier: the icon and the text say the same."""

    tone: str
    icon: str
    text: str


OUTCOME_STYLES = {
    "served": Style("ok", "✓", "served"),
    "challenged": Style("warn", "⚠", "challenged"),
    "blocked": Style("bad", "✕", "blocked"),
    "rate_limited": Style("warn", "⏱", "rate limited"),
    "timed_out": Style("warn", "⌛", "timed out"),
    "payment_required": Style("warn", "$", "payment required"),
    "redirected": Style("info", "↪", "redirected"),
    "not_found": Style("muted", "∅", "not found"),
    "error": Style("muted", "!", "error"),
    "cancelled": Style("muted", "–", "cancelled"),
}
UNKNOWN_STYLE = Style("muted", "?", "unknown")
NOT_PROBED_STYLE = Style("none", "·", "not probed")

VERDICT_STYLES = {
    "enforced": Style("ok", "✓", "enforced"),
    "consistent": Style("ok", "=", "consistent"),
    "declared_not_enforced": Style("bad", "✕", "declared, not enforced"),
    "undeclared_block": Style("info", "■", "blocked, not declared"),
    "browser_challenged": Style("warn", "⚠", "browsers challenged too"),
    "differential_content": Style("warn", "≠", "different content served"),
    "inconclusive": Style("muted", "?", "inconclusive"),
}
SEVERITY_STYLES = {
    "high": Style("bad", "▲", "high"),
    "medium": Style("warn", "◆", "medium"),
    "low": Style("info", "▼", "low"),
    "info": Style("muted", "i", "info"),
}
POSTURE_STYLES = {
    "hardened": Style("ok", "■", "hardened"),
    "layered": Style("info", "▣", "layered"),
    "basic": Style("warn", "□", "basic"),
    "none": Style("bad", "○", "none"),
}


def outcome_style(outcome: str | None) -> Style:
    if outcome is None:
        return UNKNOWN_STYLE
    return OUTCOME_STYLES.get(outcome, Style("muted", "?", outcome.replace("_", " ")))


def verdict_style(verdict: str | None) -> Style:
    if not verdict:
        return UNKNOWN_STYLE
    return VERDICT_STYLES.get(verdict, Style("muted", "?", verdict.replace("_", " ")))


def profile_label(profile: str) -> str:
    return PROFILE_LABELS.get(profile, profile.replace("_", " "))


@dataclass(frozen=True)
class Cell:
    profile: str
    outcome: str | None
    http_status: int | None
    style: Style
    error_code: str | None = None

    @property
    def label(self) -> str:
        status = f" ({self.http_status})" if self.http_status is not None else ""
        return f"{self.style.text}{status}"


@dataclass(frozen=True)
class MatrixRow:
    path: str
    cells: list[Cell]

    @property
    def stopped_for_ai_only(self) -> bool:
        """AI clients stopped while the browser was served: "blocks AI, serves browsers"."""
        by = {c.profile: c for c in self.cells}
        browser = by.get("browser")
        return bool(
            browser
            and browser.outcome == "served"
            and any(by[p].outcome in STOPPING_OUTCOMES for p in AI_PROFILES if p in by)
        )


@dataclass(frozen=True)
class Matrix:
    profiles: list[str]
    rows: list[MatrixRow]

    def cell(self, path: str, profile: str) -> Cell | None:
        for row in self.rows:
            if row.path == path:
                return next((c for c in row.cells if c.profile == profile), None)
        return None


@dataclass(frozen=True)
class FamilyEnforcement:
    """One AI agent family (a probe profile): what robots.txt declares for it and what the site did."""

    profile: str
    label: str
    rows: list[dict[str, Any]]
    verdict_counts: dict[str, int]


@dataclass
class ReportView:
    report: dict[str, Any]
    target_url: str
    scan_job_id: str | None
    scan_mode: str
    ruleset_version: str
    completed_at: str
    posture: str
    posture_style: Style
    score: int | None
    measures: list[str]
    vendors: list[str]
    matrix: Matrix
    policy_runs: list[dict[str, Any]]
    vendors_by_layer: list[tuple[str, str, list[dict[str, Any]]]]
    declared: list[tuple[str, str]]
    named_agents: list[tuple[str, str]]
    families: list[FamilyEnforcement]
    findings_by_severity: list[tuple[str, Style, list[dict[str, Any]]]]
    severity_counts: dict[str, int]
    changes: dict[str, Any] | None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ai_access(self) -> str:
        return ai_access(self.report)


def _ordered_profiles(names: set[str]) -> list[str]:
    known = [p for p in PROFILE_ORDER if p in names]
    return known + sorted(names - set(PROFILE_ORDER))


def build_matrix(report: dict[str, Any]) -> Matrix:
    """Rows are the probed page paths (policy files are listed apart), columns the profiles that
    were used; a cell for a (path, profile) that was not probed says so. The never-existing path
    the scan fetches as its soft-404 baseline (kind ``probe``) is not a page of the site."""
    runs = [r for r in report.get("path_runs") or [] if r.get("kind", "page") == "page" and r.get("path")]
    profiles = _ordered_profiles({str(r.get("profile")) for r in runs if r.get("profile")})
    paths: list[str] = []
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        path = str(run["path"])
        if path not in paths:
            paths.append(path)
        by_key.setdefault((path, str(run.get("profile"))), run)
    rows = []
    for path in paths:
        cells = []
        for profile in profiles:
            run = by_key.get((path, profile))
            if run is None:
                cells.append(Cell(profile, None, None, NOT_PROBED_STYLE))
                continue
            error = run.get("error") or {}
            outcome = run.get("outcome")
            cells.append(
                Cell(
                    profile,
                    outcome,
                    run.get("http_status"),
                    outcome_style(outcome),
                    error.get("code") if isinstance(error, dict) else None,
                )
            )
        rows.append(MatrixRow(path, cells))
    return Matrix(profiles, rows)


def _policy_runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for run in report.get("path_runs") or []:
        if run.get("kind") == "policy":
            out.append(
                {
                    "path": run.get("path"),
                    "profile": run.get("profile"),
                    "http_status": run.get("http_status"),
                    "style": outcome_style(run.get("outcome")),
                }
            )
    return out


def _vendors_by_layer(report: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for detection in report.get("detections") or []:
        groups.setdefault(str(detection.get("layer") or "unknown"), []).append(detection)
    order = [layer for layer in LAYER_ORDER if layer in groups] + sorted(set(groups) - set(LAYER_ORDER))
    return [(layer, LAYER_LABELS.get(layer, layer), groups[layer]) for layer in order]


def _declared(policy: dict[str, Any]) -> list[tuple[str, str]]:
    """What the site declares about automation, each as (what, value); absent evidence is "unknown"."""

    def state(section: Any, key: str = "present") -> str:
        if not isinstance(section, dict):
            return "unknown"
        if section.get("checked") is False:
            return "not checked"
        value = section.get(key)
        return "unknown" if value is None else ("published" if value else "not published")

    robots = policy.get("robots_txt") if isinstance(policy.get("robots_txt"), dict) else None
    rows = [("robots.txt", state(robots))]
    if robots and robots.get("managed_by"):
        rows.append(("robots.txt managed by", str(robots["managed_by"])))
    signals = policy.get("content_signals")
    rows.append(("Content Signals", _flat(signals) if signals else "none declared"))
    if policy.get("content_usage"):
        rows.append(("Content usage", _flat(policy["content_usage"])))
    rows += [
        ("llms.txt", state(policy.get("llms_txt"))),
        ("ai.txt", state(policy.get("ai_txt"))),
        ("TDMRep", state(policy.get("tdmrep"))),
        ("Web Bot Auth key directory", state(policy.get("web_bot_auth"), "directory_present")),
    ]
    noai = policy.get("noai_meta")
    if isinstance(noai, dict):
        flags = [name for name in ("noai", "noimageai") if noai.get(name)]
        rows.append(("noai meta", ", ".join(flags) if flags else "none"))
    ppc = policy.get("pay_per_crawl")
    if isinstance(ppc, dict):
        rows.append(("Pay per crawl", "detected" if ppc.get("detected") else "not detected"))
    return rows


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flat(v) for v in value)
    return str(value)


def _named_agents(policy: dict[str, Any]) -> list[tuple[str, str]]:
    section = policy.get("robots_txt")
    robots: dict[str, Any] = section if isinstance(section, dict) else {}
    treatments = robots.get("ai_agents") or {}
    return [(str(name), str(treatments.get(name, "unknown"))) for name in robots.get("named_agents") or []]


def _families(report: dict[str, Any]) -> list[FamilyEnforcement]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in report.get("enforcement") or []:
        groups.setdefault(str(entry.get("agent_profile") or "unknown"), []).append(entry)
    families = []
    for profile in _ordered_profiles(set(groups)):
        rows: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for entry in groups[profile]:
            verdict = str(entry.get("verdict") or "inconclusive")
            counts[verdict] = counts.get(verdict, 0) + 1
            rows.append(
                {
                    "path": entry.get("path"),
                    "declared": entry.get("declared") or "unknown",
                    "observed": outcome_style(entry.get("observed")),
                    "verdict": verdict_style(verdict),
                }
            )
        families.append(FamilyEnforcement(profile, profile_label(profile), rows, counts))
    return families


def _findings(report: dict[str, Any]) -> list[tuple[str, Style, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for finding in report.get("findings") or []:
        groups.setdefault(str(finding.get("severity") or "info"), []).append(finding)
    order = [s for s in SEVERITY_ORDER if s in groups] + sorted(set(groups) - set(SEVERITY_ORDER))
    return [(s, SEVERITY_STYLES.get(s, Style("muted", "?", s)), groups[s]) for s in order]


def build_view(report: dict[str, Any], timeline: list[dict[str, Any]] | None = None) -> ReportView:
    summary = report.get("summary") or {}
    posture = str(summary.get("posture") or "unknown")
    section = report.get("policy")
    policy: dict[str, Any] = section if isinstance(section, dict) else {}
    findings = _findings(report)
    counts = {s: len(items) for s, _style, items in findings}
    score = summary.get("score")
    return ReportView(
        report=report,
        target_url=str(report.get("target_url") or "unknown"),
        scan_job_id=report.get("scan_job_id"),
        scan_mode=str(report.get("scan_mode") or "unknown"),
        ruleset_version=str(report.get("ruleset_version") or "unknown"),
        completed_at=str(report.get("completed_at") or "unknown"),
        posture=posture,
        posture_style=POSTURE_STYLES.get(posture, UNKNOWN_STYLE),
        score=score if isinstance(score, int) else None,
        measures=[str(m) for m in summary.get("measures_present") or []],
        vendors=[str(v) for v in summary.get("vendors") or []],
        matrix=build_matrix(report),
        policy_runs=_policy_runs(report),
        vendors_by_layer=_vendors_by_layer(report),
        declared=_declared(policy),
        named_agents=_named_agents(policy),
        families=_families(report),
        findings_by_severity=findings,
        severity_counts=counts,
        changes=report.get("changes") if isinstance(report.get("changes"), dict) else None,
        timeline=timeline or [],
    )


def ai_access(report: dict[str, Any]) -> str:
    """ "blocked" when every probed page stopped every AI profile, "allowed" when none was stopped on
    any page, "partial" in between, "unknown" without an AI probe."""
    stopped = served = 0
    for run in report.get("path_runs") or []:
        if run.get("kind") == "policy" or run.get("profile") not in AI_PROFILES:
            continue
        outcome = run.get("outcome")
        if outcome in STOPPING_OUTCOMES:
            stopped += 1
        elif outcome in ("served", "redirected", "not_found"):
            served += 1
    if stopped == 0 and served == 0:
        return "unknown"
    if served == 0:
        return "blocked"
    return "allowed" if stopped == 0 else "partial"
