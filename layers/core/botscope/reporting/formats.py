"""Pipeline renderings of a report: Markdown (job summary / pull-request comment), SARIF 2.1.0
(code scanning), JUnit XML (test reports) — and the ``--fail-on`` conditions of the CLI.

Each SARIF result is one finding; its ``ruleId`` is the finding's fingerprint family
(``category/measure[/vendor]``): the parts of the fingerprint that do not depend on the site or
the paths, so the same kind of finding has the same rule on every site and every scan, and the
finding's own fingerprint goes in ``partialFingerprints``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - we only build XML here, never parse input
from dataclasses import dataclass, field
from typing import Any

from botscope import __version__
from botscope.reporting.view import (
    AI_PROFILES,
    POSTURE_ORDER,
    SEVERITY_ORDER,
    STOPPING_OUTCOMES,
    build_view,
    profile_label,
)

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_SARIF_LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
_SECURITY_SEVERITY = {"high": "8.0", "medium": "5.0", "low": "3.0", "info": "0.0"}
_RULE_PART = re.compile(r"[^a-z0-9_.-]+")


# --- fail-on conditions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One ``--fail-on`` condition: ``ai-blocked``, ``policy-not-enforced``, ``posture>=LEVEL`` or
    ``finding-severity>=LEVEL``."""

    text: str
    kind: str
    level: str | None = None

    def met_by(self, report: dict[str, Any]) -> str | None:
        """Why the report meets the condition (a sentence), or None."""
        if self.kind == "ai-blocked":
            stopped = sorted(
                {
                    f"{r.get('path')} [{r.get('profile')}]"
                    for r in report.get("path_runs") or []
                    if r.get("kind", "page") == "page"
                    and r.get("profile") in AI_PROFILES
                    and r.get("outcome") in STOPPING_OUTCOMES
                }
            )
            return f"AI clients were stopped on {', '.join(stopped)}" if stopped else None
        if self.kind == "policy-not-enforced":
            missed = sorted(
                {
                    f"{e.get('path')} [{e.get('agent_profile')}]"
                    for e in report.get("enforcement") or []
                    if e.get("verdict") == "declared_not_enforced"
                }
            )
            return f"declared but not enforced on {', '.join(missed)}" if missed else None
        if self.kind == "posture":
            posture = str((report.get("summary") or {}).get("posture") or "")
            if posture in POSTURE_ORDER and POSTURE_ORDER.index(posture) >= POSTURE_ORDER.index(
                str(self.level)
            ):
                return f"posture is {posture}"
            return None
        if self.kind == "finding-severity":
            threshold = SEVERITY_ORDER.index(str(self.level))
            hits = [
                f
                for f in report.get("findings") or []
                if f.get("severity") in SEVERITY_ORDER and SEVERITY_ORDER.index(f["severity"]) <= threshold
            ]
            return f"{len(hits)} finding(s) of severity {self.level} or higher" if hits else None
        raise ValueError(self.kind)


CONDITION_HELP = (
    "ai-blocked | policy-not-enforced | posture>=none|basic|layered|hardened | "
    "finding-severity>=info|low|medium|high"
)


def parse_condition(text: str) -> Condition:
    value = text.strip().lower().replace(" ", "")
    if value in ("ai-blocked", "policy-not-enforced"):
        return Condition(text, value)
    for kind, levels in (("posture", POSTURE_ORDER), ("finding-severity", SEVERITY_ORDER)):
        if value.startswith(kind + ">="):
            level = value[len(kind) + 2 :]
            if level in levels:
                return Condition(text, kind, level)
            raise ValueError(f"{kind} level must be one of: {', '.join(levels)}")
    raise ValueError(f"unknown condition {text!r}; use {CONDITION_HELP}")


# --- SARIF -----------------------------------------------------------------------------------------


def rule_id(finding: dict[str, Any]) -> str:
    parts = [finding.get("category") or "finding", finding.get("measure") or "unknown"]
    if finding.get("vendor"):
        parts.append(finding["vendor"])
    return "/".join(_RULE_PART.sub("-", str(p).lower()).strip("-") or "unknown" for p in parts)


def _sarif_rule(rid: str, finding: dict[str, Any]) -> dict[str, Any]:
    """The rule a finding's family stands for: described by its first finding."""
    severity = str(finding.get("severity") or "info")
    return {
        "id": rid,
        "name": rid.replace("/", "-"),
        "shortDescription": {
            "text": f"{finding.get('category')}: {finding.get('measure')}"
            + (f" ({finding['vendor']})" if finding.get("vendor") else "")
        },
        "help": {"text": str(finding.get("recommendation") or "No recommendation.")},
        "properties": {
            "tags": list(
                dict.fromkeys(["botscope", str(finding.get("category")), str(finding.get("measure"))])
            ),
            "security-severity": _SECURITY_SEVERITY.get(severity, "0.0"),
        },
    }


def _sarif_result(rid: str, finding: dict[str, Any], target: str) -> dict[str, Any]:
    """One finding as a SARIF result, located at (up to ten of) its paths on the target."""
    severity = str(finding.get("severity") or "info")
    paths = finding.get("paths") or ["/"]
    message = str(finding.get("title") or rid)
    if finding.get("summary"):
        message += ". " + str(finding["summary"])
    if finding.get("recommendation"):
        message += " Recommendation: " + str(finding["recommendation"])
    return {
        "ruleId": rid,
        "level": _SARIF_LEVELS.get(severity, "note"),
        "kind": "fail" if severity in ("high", "medium", "low") else "informational",
        "message": {"text": message},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": _join(target, str(p))}}} for p in paths[:10]
        ],
        "partialFingerprints": {"botscopeFingerprint/v1": str(finding.get("fingerprint") or "")},
        "properties": {
            "severity": severity,
            "status": finding.get("status"),
            "confidence": finding.get("confidence"),
            "layer": finding.get("layer"),
            "profiles": list(finding.get("profiles") or []),
        },
    }


def to_sarif(report: dict[str, Any]) -> dict[str, Any]:
    target = str(report.get("target_url") or "")
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in report.get("findings") or []:
        rid = rule_id(finding)
        if rid not in rules:
            rules[rid] = _sarif_rule(rid, finding)
        results.append(_sarif_result(rid, finding, target))
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "BotScope",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://github.com/botscope",
                "rules": list(rules.values()),
            }
        },
        "results": results,
        "automationDetails": {"id": f"botscope/{report.get('scan_job_id') or 'cli'}"},
        "properties": {
            "target_url": target,
            "ruleset_version": report.get("ruleset_version"),
            "posture": (report.get("summary") or {}).get("posture"),
            "score": (report.get("summary") or {}).get("score"),
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _join(target: str, path: str) -> str:
    return target.rstrip("/") + (path if path.startswith("/") else "/" + path)


# --- JUnit -----------------------------------------------------------------------------------------


@dataclass
class _JUnitSuite:
    """A ``testsuite`` element being filled, with the counts its attributes report."""

    element: ET.Element
    counts: dict[str, int] = field(default_factory=lambda: {"tests": 0, "failures": 0, "skipped": 0})

    def case(
        self,
        classname: str,
        name: str,
        failure: str | None = None,
        skipped: str | None = None,
        out: str | None = None,
    ) -> None:
        element = ET.SubElement(self.element, "testcase", classname=classname, name=name, time="0")
        self.counts["tests"] += 1
        if failure is not None:
            self.counts["failures"] += 1
            ET.SubElement(element, "failure", message=failure[:500], type="botscope").text = failure
        elif skipped is not None:
            self.counts["skipped"] += 1
            ET.SubElement(element, "skipped", message=skipped[:500])
        if out:
            ET.SubElement(element, "system-out").text = out


def _junit_finding(suite: _JUnitSuite, finding: dict[str, Any]) -> None:
    """Failed from severity medium up, so CI shows it; info and low pass with their text."""
    severity = str(finding.get("severity") or "info")
    text = f"[{severity}] {finding.get('title')}: {finding.get('summary')}"
    if finding.get("recommendation"):
        text += f"\nRecommendation: {finding['recommendation']}"
    failing = severity in ("high", "medium")
    suite.case(
        f"botscope.findings.{rule_id(finding).replace('/', '.')}",
        str(finding.get("title") or rule_id(finding)),
        failure=text if failing else None,
        out=None if failing else text,
    )


def _junit_probe(suite: _JUnitSuite, run: dict[str, Any]) -> None:
    """A probe that errored is skipped: nothing was observed."""
    outcome = run.get("outcome") or "unknown"
    status = run.get("http_status")
    detail = f"{outcome} ({status})" if status is not None else str(outcome)
    error = run.get("error") or {}
    suite.case(
        "botscope.probes",
        f"{run.get('path')} [{run.get('profile')}]",
        skipped=f"not observed: {error.get('code')}" if outcome == "error" else None,
        out=detail,
    )


def to_junit(report: dict[str, Any], conditions: list[Condition] | None = None) -> str:
    """One test suite per report: a test case per ``--fail-on`` condition (failed when met), per
    finding and per page probe."""
    suites = ET.Element("testsuites", name="BotScope")
    suite = _JUnitSuite(
        ET.SubElement(
            suites,
            "testsuite",
            name=f"BotScope {report.get('target_url')}",
            timestamp=str(report.get("completed_at") or ""),
        )
    )
    for condition in conditions or []:
        suite.case("botscope.fail_on", condition.text, failure=condition.met_by(report))
    for finding in report.get("findings") or []:
        _junit_finding(suite, finding)
    for run in report.get("path_runs") or []:
        _junit_probe(suite, run)
    for key, value in suite.counts.items():
        suite.element.set(key, str(value))
        suites.set(key, str(value))
    suite.element.set("errors", "0")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# --- Markdown --------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md(value: Any) -> str:
    """Text from a scanned site, made inert in Markdown (and in the HTML a Markdown renderer makes)."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def to_markdown(report: dict[str, Any], conditions: list[Condition] | None = None) -> str:
    view = build_view(report)
    lines = [
        f"## BotScope: {md(view.target_url)}",
        "",
        f"**Posture:** {md(view.posture_style.icon)} {md(view.posture)} · **Score:** "
        f"{view.score if view.score is not None else 'unknown'}/100 · **AI crawlers:** {md(view.ai_access)} · "
        f"{md(view.scan_mode)} scan, ruleset `{md(view.ruleset_version)}`",
        "",
    ]
    met = [(c, c.met_by(report)) for c in conditions or []]
    if met:
        lines += ["| fail-on | result |", "|---|---|"]
        lines += [f"| `{md(c.text)}` | {'❌ ' + md(why) if why else '✅ not met'} |" for c, why in met]
        lines.append("")
    if view.matrix.rows:
        lines += [
            "| path | " + " | ".join(md(profile_label(p)) for p in view.matrix.profiles) + " |",
            "|---|" + "---|" * len(view.matrix.profiles),
        ]
        for row in view.matrix.rows:
            cells = [f"{c.style.icon} {md(c.label)}" for c in row.cells]
            lines.append(f"| `{md(row.path)}` | " + " | ".join(cells) + " |")
        lines.append("")
    vendors = [
        f"{md(label)}: " + ", ".join(sorted({md(d.get("vendor") or "unidentified") for d in ds}))
        for _layer, label, ds in view.vendors_by_layer
    ]
    lines += [f"**Vendors:** {'; '.join(vendors) if vendors else 'none identified'}", ""]
    if view.findings_by_severity:
        lines += [
            "<details><summary>Findings ("
            + ", ".join(f"{len(items)} {sev}" for sev, _s, items in view.findings_by_severity)
            + ")</summary>",
            "",
        ]
        for sev, _style, items in view.findings_by_severity:
            for finding in items:
                rec = f" — {md(finding['recommendation'])}" if finding.get("recommendation") else ""
                lines.append(f"- **{md(sev)}** {md(finding.get('title'))}{rec}")
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
