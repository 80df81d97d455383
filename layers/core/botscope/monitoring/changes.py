"""Change detection for monitored URLs: which differences between scans are defense changes, and
when one is confirmed enough to notify the customer. Pure functions over report dicts (no I/O).

The rules (documented for customers in docs/monitoring.md):

- Every completed scan of a monitored URL is compared with the URL's **baseline**: the last state
  the customer was told about (at first, the first completed scan). Findings are matched by their
  stable ``fingerprint``; the report's ``policy`` and ``enforcement`` sections are compared key by
  key. A difference is ``added``, ``removed`` or ``changed`` (status, measure moved to or from a
  path, vendor swapped, policy value changed, enforcement verdict changed).
- **Scan mode:** a quick scan probes fewer paths than a full one, so scans are only compared with a
  baseline of the same mode. Rescans are full: the first full scan after a quick enrollment
  becomes the baseline silently, and a quick scan in between is not compared.
- **Ruleset upgrade:** when the scan ran a different ``ruleset_version`` than the baseline, its
  differences are the rules', not the site's: nothing is reported and the scan becomes the new
  baseline.
- **Transient error:** a difference that touches a path whose run failed (status ``failed`` or
  outcome ``error``) in this scan, or a path this scan did not probe at all, is not a change: the
  baseline keeps what it knew, and a pending candidate for it waits for a scan that can see it.
  A path that was unobservable when the baseline was taken is learned silently when it is first
  observed. A finding whose status is ``inconclusive`` on either side is treated the same way.
- **Like with like:** findings are compared on the paths both scans probed. A finding seen only
  on paths one of the two scans did not probe, or whose paths differ only there, is not a change:
  the baseline learns it silently (a full scan after a quick one, a discovery that found one more
  critical path).
- **New paths are learned, not reported:** a difference on a path the baseline never probed (the
  URL was enrolled with a quick scan and rescans are full, or the site's sitemap grew) is added to
  the baseline silently.
- **Confirmation:** a change must be seen by two consecutive scans (the same difference against
  the same baseline) before ``monitoring.findings_changed`` fires. A change that a second scan
  does not see again (it flapped back, or moved on) is dropped.
- **Critical-path disappearance fires at once:** a measure that was present on a critical path
  (login, signup, password reset, checkout, account, API, …) and is gone from it is reported by
  the first scan that sees it. That event also carries the other differences the scan saw, marked
  ``confirmed: false``, so one change of the site is one event.
- Fired changes are folded into the baseline, so the same change is never reported twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botscope.scanner.critical_paths import is_critical_path
from botscope.scanner.vocabulary import (
    AI_TXT,
    FINDING_CATEGORIES,
    LLMS_FULL_TXT,
    LLMS_TXT,
    ROBOTS_TXT,
    TDMREP_JSON,
    WEB_BOT_AUTH_DIRECTORY,
)

# Which probed path a policy key is read from, so a failed fetch of that file is not read as
# "the policy changed". Keys not listed come from the target page itself.
POLICY_SOURCE_PATHS: dict[str, str] = {
    "robots_txt": ROBOTS_TXT.path,
    "content_signals": ROBOTS_TXT.path,
    "content_usage": ROBOTS_TXT.path,
    "content_usage_detail": ROBOTS_TXT.path,
    "content_signals_invalid": ROBOTS_TXT.path,
    "llms_txt": LLMS_TXT.path,
    "llms_full_txt": LLMS_FULL_TXT.path,
    "ai_txt": AI_TXT.path,
    "tdmrep": TDMREP_JSON.path,
    "web_bot_auth": WEB_BOT_AUTH_DIRECTORY.path,
}
TARGET_PATH = "<target>"  # stands for the scanned page's own path in policy keys

# Findings that describe a defense measure (the scanner's "detection" findings). Policy, enforcement,
# coverage and scan findings are compared too, but only these can "move" or have a "vendor swapped".
NON_DEFENSE_CATEGORIES = FINDING_CATEGORIES - {"detection"}
# Measures whose disappearance from a critical path fires at once. CDN presence, rate limits (they
# depend on request order) and tarpits are too noisy to skip confirmation.
IMMEDIATE_MEASURES = frozenset(
    {
        "challenge",
        "captcha",
        "proof_of_work",
        "bot_management",
        "waf",
        "waiting_room",
        "fingerprinting",
        "agent_auth",
    }
)
# Policy attributes that describe the fetch, not the declared policy (compared through path runs).
POLICY_IGNORED_SUFFIXES = (".outcome", ".http_status", ".checked", ".soft_404")
POLICY_IGNORED_PREFIXES = (
    "robots_txt.named_agents",
    "llms_txt.format",
    "pay_per_crawl.paths",
    "pay_per_crawl.profiles",
    "web_bot_auth.key_count",
)

FINDING_FIELDS = ("category", "measure", "status", "severity", "vendor", "layer", "paths", "title")
# The fields of a finding whose change is a defense change (title and severity are prose/derived).
COMPARED_FIELDS = ("status", "vendor", "paths")
MAX_EVENT_ITEMS = 20


# --- snapshots ---------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """The comparable state of one scan (or of the baseline)."""

    scan_job_id: str | None
    ruleset_version: str | None
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)  # fingerprint → compact finding
    policy: dict[str, Any] = field(default_factory=dict)  # dotted key → scalar
    enforcement: dict[str, str] = field(default_factory=dict)  # "<profile> <path>" → verdict
    unknown_paths: set[str] = field(default_factory=set)  # failed / error path runs
    probed_paths: set[str] = field(default_factory=set)  # every path with a run
    critical_paths: set[str] = field(default_factory=set)
    target_path: str = "/"
    scan_mode: str | None = None

    def to_item(self) -> dict[str, Any]:
        """The baseline as stored on the monitored URL item (plain JSON types)."""
        return {
            "scan_job_id": self.scan_job_id,
            "ruleset_version": self.ruleset_version,
            "findings": self.findings,
            "policy": self.policy,
            "enforcement": self.enforcement,
            "unknown_paths": sorted(self.unknown_paths),
            "probed_paths": sorted(self.probed_paths),
            "target_path": self.target_path,
            "scan_mode": self.scan_mode,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> Snapshot | None:
        if not item:
            return None
        return cls(
            scan_job_id=item.get("scan_job_id"),
            ruleset_version=item.get("ruleset_version"),
            findings={k: dict(v) for k, v in (item.get("findings") or {}).items()},
            policy=dict(item.get("policy") or {}),
            enforcement=dict(item.get("enforcement") or {}),
            unknown_paths=set(item.get("unknown_paths") or []),
            probed_paths=set(item.get("probed_paths") or []),
            target_path=item.get("target_path") or "/",
            scan_mode=item.get("scan_mode"),
        )


def _path_of(url_or_path: str | None) -> str:
    if not url_or_path:
        return "/"
    match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*(?P<path>[^?#]*)", url_or_path)
    path = match.group("path") if match else url_or_path.split("?", 1)[0].split("#", 1)[0]
    return path or "/"


def _compact_finding(finding: dict[str, Any]) -> dict[str, Any]:
    compact = {k: finding.get(k) for k in FINDING_FIELDS}
    compact["paths"] = sorted({str(p) for p in finding.get("paths") or []})
    return compact


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            _flatten(f"{prefix}.{key}" if prefix else str(key), value[key], out)
    elif isinstance(value, list):
        out[prefix] = sorted(str(v) for v in value)
    else:
        out[prefix] = value


def snapshot_from_report(report: dict[str, Any], *, critical_paths: Iterable[str] = ()) -> Snapshot:
    """What change detection compares, taken from a public report (docs/report.md)."""
    findings = {}
    for finding in report.get("findings") or []:
        fingerprint = finding.get("fingerprint")
        if fingerprint:
            findings[str(fingerprint)] = _compact_finding(finding)
    policy: dict[str, Any] = {}
    _flatten("", report.get("policy") or {}, policy)
    # named_agents repeats what ai_agents says per agent; fetch details are not policy.
    policy = {
        k: v
        for k, v in policy.items()
        if not k.endswith(POLICY_IGNORED_SUFFIXES) and not k.startswith(POLICY_IGNORED_PREFIXES)
    }
    enforcement = {}
    for entry in report.get("enforcement") or []:
        key = f"{entry.get('agent_profile')} {entry.get('path')}"
        enforcement[key] = str(entry.get("verdict"))
    unknown, probed = set(), set()
    for run in report.get("path_runs") or []:
        if run.get("kind") == "probe":
            continue  # the scan's random never-existing path: a fresh one each scan, not a page of the site
        path = str(run.get("path") or "/")
        probed.add(path)
        if run.get("status") == "failed" or run.get("outcome") == "error":
            unknown.add(path)
    return Snapshot(
        scan_job_id=report.get("scan_job_id"),
        ruleset_version=report.get("ruleset_version"),
        findings=findings,
        policy=policy,
        enforcement=enforcement,
        unknown_paths=unknown,
        probed_paths=probed,
        critical_paths=set(critical_paths),
        target_path=_path_of(report.get("target_url")),
        scan_mode=report.get("scan_mode"),
    )


# --- differences -------------------------------------------------------------------------------


@dataclass
class Change:
    """One difference between the baseline and a scan."""

    kind: str  # added | removed | changed
    subject: str  # finding | policy | enforcement
    key: str  # fingerprint(s), policy key or enforcement key
    change: str  # appeared | disappeared | status | moved | vendor_swapped | policy | verdict
    before: Any
    after: Any
    paths: frozenset[str]  # the paths this difference is about (before ∪ after)
    refs: tuple[tuple[str, str], ...]  # (section, key) pairs to copy from the scan into the baseline
    measure: str | None = None
    vendor: str | None = None
    critical_disappearance: bool = False
    confirmed: bool = False  # seen by two consecutive scans (set by evaluate)

    @property
    def signature(self) -> str:
        """Identity of "the same difference": two scans confirm each other when they produce it."""
        raw = json.dumps(
            [self.kind, self.subject, self.key, self.change, self.after], sort_keys=True, default=str
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    def public(self) -> dict[str, Any]:
        """Public-safe description for the event and the MON item (names and states, nothing raw)."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "change": self.change,
            "key": self.key,
            "measure": self.measure,
            "vendor": self.vendor,
            "paths": sorted(self.paths),
            "confirmed": self.confirmed or self.critical_disappearance,
            "before": self.before,
            "after": self.after,
        }


def _finding_view(f: dict[str, Any] | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"status": f.get("status"), "vendor": f.get("vendor"), "paths": f.get("paths") or []}


def _is_present(f: dict[str, Any] | None) -> bool:
    return f is not None and f.get("status") == "present"


def _is_defense(f: dict[str, Any]) -> bool:
    return f.get("category") not in NON_DEFENSE_CATEGORIES


def _lost_critical(old: dict[str, Any], lost: set[str], critical: set[str]) -> bool:
    """A present defense measure left a critical path."""
    return (
        _is_present(old)
        and _is_defense(old)
        and old.get("measure") in IMMEDIATE_MEASURES
        and any(is_critical_path(p, critical) for p in lost)
    )


def _finding_changes(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], critical: set[str]
) -> list[Change]:
    removed = {fp: f for fp, f in before.items() if fp not in after}
    added = {fp: f for fp, f in after.items() if fp not in before}
    paired = _paired_changes(removed, added, critical)  # takes the pairs out of removed and added
    return (
        paired
        + [_removed_change(fp, old, critical) for fp, old in sorted(removed.items())]
        + [_added_change(fp, new) for fp, new in sorted(added.items())]
        + [
            change
            for fp in sorted(set(before) & set(after))
            if (change := _changed_finding(fp, before[fp], after[fp], critical)) is not None
        ]
    )


def _paired_changes(
    removed: dict[str, dict[str, Any]], added: dict[str, dict[str, Any]], critical: set[str]
) -> list[Change]:
    """Pairs a removed and an added finding of the same measure: "moved" (same vendor, other paths)
    or "vendor_swapped" (other vendor). Fingerprints that include the path or vendor would
    otherwise report one move as two unrelated changes. The paired findings leave ``removed`` and
    ``added``."""
    changes = []
    for old_fp, old in sorted(removed.items()):
        partner = _partner(old, added) if _is_defense(old) else None
        if partner is None:
            continue
        new = added.pop(partner)
        del removed[old_fp]
        kind = "vendor_swapped" if new.get("vendor") != old.get("vendor") else "moved"
        lost = set(old["paths"]) - set(new["paths"])
        changes.append(
            Change(
                kind="changed",
                subject="finding",
                key=f"{old_fp}>{partner}",
                change=kind,
                before=_finding_view(old),
                after=_finding_view(new),
                paths=frozenset(old["paths"]) | set(new["paths"]),
                refs=(("findings", old_fp), ("findings", partner)),
                measure=new.get("measure"),
                vendor=new.get("vendor"),
                critical_disappearance=kind == "moved" and _lost_critical(old, lost, critical),
            )
        )
    return changes


def _partner(old: dict[str, Any], added: dict[str, dict[str, Any]]) -> str | None:
    """The first added finding of the same category, measure and status as ``old`` that shares its
    vendor or one of its paths."""
    for new_fp, new in sorted(added.items()):
        same_kind = (new.get("category"), new.get("measure"), new.get("status")) == (
            old.get("category"),
            old.get("measure"),
            old.get("status"),
        )
        if same_kind and (new.get("vendor") == old.get("vendor") or set(new["paths"]) & set(old["paths"])):
            return new_fp
    return None


def _removed_change(fp: str, old: dict[str, Any], critical: set[str]) -> Change:
    return Change(
        kind="removed",
        subject="finding",
        key=fp,
        change="disappeared",
        before=_finding_view(old),
        after=None,
        paths=frozenset(old["paths"]),
        refs=(("findings", fp),),
        measure=old.get("measure"),
        vendor=old.get("vendor"),
        critical_disappearance=_lost_critical(old, set(old["paths"]), critical),
    )


def _added_change(fp: str, new: dict[str, Any]) -> Change:
    return Change(
        kind="added",
        subject="finding",
        key=fp,
        change="appeared",
        before=None,
        after=_finding_view(new),
        paths=frozenset(new["paths"]),
        refs=(("findings", fp),),
        measure=new.get("measure"),
        vendor=new.get("vendor"),
    )


def _changed_finding(fp: str, old: dict[str, Any], new: dict[str, Any], critical: set[str]) -> Change | None:
    """The change of a finding both sides have (status, vendor or paths); None when unchanged."""
    diffs = [name for name in COMPARED_FIELDS if old.get(name) != new.get(name)]
    if not diffs:
        return None
    if "status" in diffs:
        what = "status"
    elif "vendor" in diffs:
        what = "vendor_swapped"
    else:
        what = "moved"
    lost = set(old["paths"]) - (set(new["paths"]) if _is_present(new) else set())
    return Change(
        kind="changed",
        subject="finding",
        key=fp,
        change=what,
        before=_finding_view(old),
        after=_finding_view(new),
        paths=frozenset(old["paths"]) | set(new["paths"]),
        refs=(("findings", fp),),
        measure=new.get("measure"),
        vendor=new.get("vendor"),
        critical_disappearance=_lost_critical(old, lost, critical),
    )


def _policy_path(key: str) -> str:
    return POLICY_SOURCE_PATHS.get(key.split(".", 1)[0], TARGET_PATH)


def _keyed_changes(
    subject: str, before: dict[str, Any], after: dict[str, Any], target_path: str
) -> list[Change]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if subject == "policy":
            path = _policy_path(key)
            path = target_path if path == TARGET_PATH else path
        else:
            path = key.split(" ", 1)[1] if " " in key else target_path
        kind = "added" if key not in before else ("removed" if key not in after else "changed")
        changes.append(
            Change(
                kind=kind,
                subject=subject,
                key=key,
                change="policy" if subject == "policy" else "verdict",
                before=old,
                after=new,
                paths=frozenset({path}),
                refs=((subject, key),),
            )
        )
    return changes


def _common_paths(baseline: Snapshot, current: Snapshot) -> set[str] | None:
    if not baseline.probed_paths or not current.probed_paths:
        return None
    return baseline.probed_paths & current.probed_paths


def _projected(findings: dict[str, dict[str, Any]], common: set[str] | None) -> dict[str, dict[str, Any]]:
    """The findings restricted to the paths both scans probed; a finding with paths but none of
    them in common is left out (there is nothing to compare it with)."""
    if common is None:
        return findings
    out = {}
    for fp, finding in findings.items():
        paths = finding.get("paths") or []
        if not paths:
            out[fp] = finding
            continue
        kept = sorted(set(paths) & common)
        if kept:
            out[fp] = {**finding, "paths": kept}
    return out


def diff(baseline: Snapshot, current: Snapshot) -> list[Change]:
    """Every difference between the baseline and the scan on the paths both probed, before any
    other filtering."""
    critical = current.critical_paths
    common = _common_paths(baseline, current)
    return (
        _finding_changes(
            _projected(baseline.findings, common), _projected(current.findings, common), critical
        )
        + _keyed_changes("policy", baseline.policy, current.policy, current.target_path)
        + _keyed_changes("enforcement", baseline.enforcement, current.enforcement, current.target_path)
    )


# --- confirmation ------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What one completed scan does to a monitored URL's change state."""

    baseline: Snapshot
    pending: list[dict[str, Any]]  # candidates waiting for a confirming scan
    fired: list[Change]  # changes to notify now
    immediate: bool  # True when a critical-path disappearance fired unconfirmed
    confirmed_since: str | None  # scan that first saw the confirmed changes
    suppressed: dict[str, int]  # reason → number of differences not reported
    reason: str  # first_scan | ruleset_upgrade | unchanged | pending | fired

    def event_summary(self) -> dict[str, Any]:
        counts = {"added": 0, "removed": 0, "changed": 0}
        for change in self.fired:
            counts[change.kind] += 1
        items = grouped_for_event(self.fired)
        return {
            **counts,
            "immediate": self.immediate,
            "changes": items[:MAX_EVENT_ITEMS],
            "truncated": len(items) > MAX_EVENT_ITEMS,
        }


MAX_GROUP_NAMES = 30


def grouped_for_event(fired: list[Change]) -> list[dict[str, Any]]:
    """The fired changes as the customer reads them: findings one by one, then enforcement verdicts
    grouped per (profile, before, after) with their paths, then policy values grouped per (field,
    before, after) — one robots.txt edit can change the treatment of a hundred AI agents."""
    findings = [c.public() for c in fired if c.subject == "finding"]
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for change in fired:
        if change.subject == "enforcement":
            profile, _, path = change.key.partition(" ")
            group_key = ("enforcement", profile, str(change.before), str(change.after), str(change.confirmed))
            entry = groups.setdefault(
                group_key,
                {
                    "kind": change.kind,
                    "subject": "enforcement",
                    "change": "verdict",
                    "key": profile,
                    "measure": None,
                    "vendor": None,
                    "paths": [],
                    "confirmed": change.confirmed,
                    "before": change.before,
                    "after": change.after,
                },
            )
            entry["paths"].append(path)
        elif change.subject == "policy":
            field_name, _, name = (
                change.key.rpartition(".")
                if change.key.startswith("robots_txt.ai_agents.")
                else (change.key, "", "")
            )
            group_key = ("policy", field_name, str(change.before), str(change.after), str(change.confirmed))
            entry = groups.setdefault(
                group_key,
                {
                    "kind": change.kind,
                    "subject": "policy",
                    "change": "policy",
                    "key": field_name,
                    "measure": "policy",
                    "vendor": None,
                    "paths": sorted(change.paths),
                    "confirmed": change.confirmed,
                    "before": change.before,
                    "after": change.after,
                    "count": 0,
                },
            )
            entry["count"] += 1
            if name:
                names = entry.setdefault("names", [])
                if len(names) < MAX_GROUP_NAMES:
                    names.append(name)
    for entry in groups.values():
        entry["paths"] = sorted(set(entry["paths"]))
    ordered = sorted(groups.values(), key=lambda e: (e["subject"] != "enforcement", e["key"]))
    return findings + ordered


def _apply(baseline: Snapshot, current: Snapshot, refs: Iterable[tuple[str, str]]) -> None:
    """Copies the scan's state for ``refs`` into the baseline (absent in the scan → absent)."""
    for section, key in refs:
        target: dict[str, Any] = getattr(baseline, section)
        source: dict[str, Any] = getattr(current, section)
        if key in source:
            target[key] = source[key]
        else:
            target.pop(key, None)


def _unobservable(change: Change, current: Snapshot) -> bool:
    """The scan could not see the paths this difference is about (failed run, or not probed)."""
    if change.paths & current.unknown_paths:
        return True
    if current.probed_paths and change.paths and not change.paths & current.probed_paths:
        return True
    if current.probed_paths and change.subject == "finding":
        # A finding that vanished from paths this scan never probed is a plan difference.
        gone = set((change.before or {}).get("paths") or []) - set((change.after or {}).get("paths") or [])
        if gone and not gone & current.probed_paths:
            return True
    return False


def _never_seen_by(baseline: Snapshot, change: Change) -> bool:
    """The baseline never probed any path of this difference (e.g. the URL was enrolled with a quick
    scan and rescans are full): it is news to us, not a change of the site."""
    if not baseline.probed_paths or not change.paths:
        return False
    return not change.paths & (baseline.probed_paths - baseline.unknown_paths)


def _inconclusive(change: Change) -> bool:
    return any(
        (side or {}).get("status") == "inconclusive"
        for side in (change.before, change.after)
        if isinstance(side, dict)
    )


def evaluate(
    baseline: Snapshot | None, pending: list[dict[str, Any]] | None, current: Snapshot
) -> Evaluation:
    """Applies the rules of this module's docstring to one completed scan."""
    pending = list(pending or [])
    if baseline is None:
        return _restart(current, "first_scan")
    if baseline.ruleset_version != current.ruleset_version:
        count = len(diff(baseline, current))
        return _restart(current, "ruleset_upgrade", {"ruleset_upgrade": count} if count else {})
    if baseline.scan_mode and current.scan_mode and baseline.scan_mode != current.scan_mode:
        # A quick scan probes fewer paths than a full one: comparing them would report the plan.
        if current.scan_mode == "full":  # rescans are full: the first one becomes the baseline
            return _restart(current, "scan_mode_changed")
        return Evaluation(baseline, pending, [], False, None, {}, "other_scan_mode")

    new_baseline = _copy(baseline)
    triage = _triage(baseline, current, new_baseline)
    _learn_paths(new_baseline, baseline, current)
    candidates = triage.candidates
    pending_by_sig = {p["signature"]: p for p in pending}
    for change in candidates:
        change.confirmed = change.signature in pending_by_sig
    immediate = any(c.critical_disappearance and not c.confirmed for c in candidates)
    # An event that fires at once carries every difference its scan saw (the others marked
    # unconfirmed), so one change of the site is one event, not an urgent one and a late one.
    fired = list(candidates) if immediate else [c for c in candidates if c.confirmed]
    confirmed_since = next(
        (
            pending_by_sig[c.signature]["first_seen_scan_job_id"]
            for c in fired
            if c.signature in pending_by_sig
        ),
        None,
    )
    for change in fired:
        _apply(new_baseline, current, change.refs)
    if fired:
        new_baseline.scan_job_id = current.scan_job_id
    new_pending = _still_pending(pending, candidates, fired, current, triage.waiting_paths)
    if fired:
        reason = "fired"
    elif new_pending:
        reason = "pending"
    else:
        reason = "unchanged"
    return Evaluation(
        baseline=new_baseline,
        pending=new_pending,
        fired=fired,
        immediate=immediate,
        confirmed_since=confirmed_since,
        suppressed=triage.suppressed,
        reason=reason,
    )


def _restart(current: Snapshot, reason: str, suppressed: dict[str, int] | None = None) -> Evaluation:
    """The scan becomes the baseline as it is: nothing fires, nothing waits."""
    return Evaluation(_copy(current), [], [], False, None, suppressed or {}, reason)


@dataclass
class _Triage:
    """The differences of one scan sorted by the rules: candidates for a change, the count of the
    others per reason, and the paths a suppressed difference waits on."""

    candidates: list[Change] = field(default_factory=list)
    suppressed: dict[str, int] = field(default_factory=dict)
    waiting_paths: set[str] = field(default_factory=set)

    def suppress(self, reason: str) -> None:
        self.suppressed[reason] = self.suppressed.get(reason, 0) + 1


def _triage(baseline: Snapshot, current: Snapshot, new_baseline: Snapshot) -> _Triage:
    """Sorts every difference: unobservable or inconclusive ones wait, first looks at a path and
    findings not compared are learned into ``new_baseline``, the rest are candidates."""
    triage = _Triage()
    differences = diff(baseline, current)
    for change in differences:
        if _unobservable(change, current):
            triage.suppress("transient_error")
            triage.waiting_paths |= change.paths
        elif change.paths & baseline.unknown_paths or _never_seen_by(baseline, change):
            _apply(new_baseline, current, change.refs)  # first clear look at a path: learn, don't report
            triage.suppress("first_observation")
        elif _inconclusive(change):
            triage.suppress("inconclusive")
            triage.waiting_paths |= change.paths
        else:
            triage.candidates.append(change)
    # Findings that differ only on paths one of the two scans did not probe: learned, not reported.
    referenced = {key for change in differences for section, key in change.refs if section == "findings"}
    for fp, finding in current.findings.items():
        if fp not in referenced and baseline.findings.get(fp) != finding:
            new_baseline.findings[fp] = finding
            triage.suppress("not_compared")
    return triage


def _learn_paths(new_baseline: Snapshot, baseline: Snapshot, current: Snapshot) -> None:
    """Paths unknown at baseline time stay unknown until a scan observes them; probed paths add up."""
    new_baseline.unknown_paths = (baseline.unknown_paths & current.unknown_paths) | (
        baseline.unknown_paths - current.probed_paths if current.probed_paths else baseline.unknown_paths
    )
    new_baseline.probed_paths = baseline.probed_paths | current.probed_paths


def _still_pending(
    pending: list[dict[str, Any]],
    candidates: list[Change],
    fired: list[Change],
    current: Snapshot,
    waiting_paths: set[str],
) -> list[dict[str, Any]]:
    """The candidates that did not fire, and the old candidates this scan could not observe.
    An old candidate the scan observed and did not see again is dropped."""
    fired_sigs = {c.signature for c in fired}
    new_pending = [
        {"signature": c.signature, "first_seen_scan_job_id": current.scan_job_id, **c.public()}
        for c in candidates
        if c.signature not in fired_sigs
    ]
    new_sigs = {p["signature"] for p in new_pending}
    for old in pending:
        if (
            old["signature"] not in new_sigs
            and old["signature"] not in fired_sigs
            and set(old.get("paths") or []) & (waiting_paths | current.unknown_paths)
        ):
            new_pending.append(old)
    return new_pending


def _copy(snapshot: Snapshot) -> Snapshot:
    """A copy of the snapshot as the baseline stores it."""
    copy = Snapshot.from_item(snapshot.to_item())
    assert copy is not None  # noqa: S101 - to_item of a snapshot is never empty
    return copy
