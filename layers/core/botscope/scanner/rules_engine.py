"""Signature rules as data: load, validate and match the vendor rule files in ``botscope/rules``.

Each YAML file describes one vendor (its vendor id, docs/report.md "Detections and measures") and its rules; ``rules/schema.json``
validates every file (unknown fields are rejected) and every regex is compiled once at load time.
A rule fires when all its ``required`` matchers matched, none of its ``exclude`` matchers matched
and the summed weights of the matched signals reach ``min_score``. Adding a vendor is one data
file plus fixtures: nothing here knows vendor names.

Speed matters (one 2 MB page should analyse in well under 50 ms), so:
- header, cookie, status and host signals are checked on small sets first;
- body patterns run on a bounded, lower-cased window of the body (head + tail), and each pattern
  is guarded by the literal text it cannot match without (extracted from the regex itself), so
  most patterns cost one substring search and the regex engine runs only on a likely hit.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from botscope.scanner.model import Evidence, RuleMatch

try:  # Python 3.11+: the regex parser lives in re._parser (sre_parse is deprecated)
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older interpreters
    import sre_parse as _sre_parse

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
SCHEMA_FILE = "schema.json"
# The ruleset's human version; the content hash appended to it changes with any rule edit.
RULESET_BASE_VERSION = "2026.11.28-1"

# Body window scanned by body matchers: challenge and block pages are small, and on large normal
# pages the vendor tags sit in the head or right before </body>.
BODY_HEAD_BYTES = 256 * 1024
BODY_TAIL_BYTES = 64 * 1024
# Body markers of active rules (challenge, block and captcha interstitials) only need the start of
# the page: interstitials are small (the largest captured one, Anubis, is ~23 KB), so scanning
# their markers over a large normal page would only cost time and invite false positives.
ACTIVE_BODY_CHARS = 128 * 1024

_MIN_LITERAL = 3


class RuleFileError(ValueError):
    """A rule file is malformed (schema violation, bad regex, duplicate id)."""


@dataclass(slots=True)
class ResponseFeatures:
    """What the rules look at. Built by ``observe`` from one fetch; ``body_text`` is the bounded,
    lower-cased window (``body_window``)."""

    status: int | None = None
    headers: Sequence[tuple[str, str]] = ()  # lower-cased names, every value
    cookie_names: Sequence[str] = ()
    body_text: str = ""
    title: str | None = None
    active_body_text: str = ""  # body_text[:ACTIVE_BODY_CHARS], set by __post_init__
    script_hosts: Sequence[str] = ()
    iframe_hosts: Sequence[str] = ()
    # Rendered evidence (the rendered profile only): cookie names set by script, fingerprinting
    # APIs the page called, CAPTCHA widgets actually rendered.
    js_cookie_names: Sequence[str] = ()
    api_probes: Sequence[str] = ()
    widgets: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.active_body_text:
            self.active_body_text = self.body_text[:ACTIVE_BODY_CHARS]


def body_window(body: bytes) -> str:
    """The lower-cased text the body matchers scan: head and tail of the (already capped) body.

    latin-1 decoding maps bytes 1:1 to code points, which is the fastest decode and keeps every
    ASCII marker intact whatever the page's real charset is."""
    if len(body) > BODY_HEAD_BYTES + BODY_TAIL_BYTES:
        body = body[:BODY_HEAD_BYTES] + b"\n" + body[-BODY_TAIL_BYTES:]
    return body.decode("latin-1").lower()


def _required_literals(pattern: str) -> tuple[str, ...] | None:
    """Literal strings one of which must occur in any text the pattern matches (lower-cased), or
    None when no useful literal can be derived (the regex then always runs)."""
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error:
        return None
    items = list(parsed)
    if len(items) == 1 and items[0][0] is _sre_parse.BRANCH:
        alternatives = []
        for branch in items[0][1][1]:
            literal = _longest_literal(list(branch))
            if literal is None:
                return None
            alternatives.append(literal)
        return tuple(alternatives)
    literal = _longest_literal(items)
    return (literal,) if literal is not None else None


def _longest_literal(items: list[Any]) -> str | None:
    """The longest run of top-level literal characters (groups, classes and repeats end a run:
    only top-level literals are certain to be in every match)."""
    best, run = "", []
    for op, arg in items:
        if op is _sre_parse.LITERAL:
            run.append(chr(arg))
            continue
        candidate = "".join(run)
        if len(candidate) > len(best):
            best = candidate
        run = []
    candidate = "".join(run)
    if len(candidate) > len(best):
        best = candidate
    best = best.lower()
    return best if len(best) >= _MIN_LITERAL else None


@dataclass(slots=True)
class Matcher:
    kind: str  # header, cookie, status, body, title, script_host, iframe_host
    weight: float
    required: bool
    exclude: bool
    name: str | None = None  # header name (exact)
    name_re: re.Pattern[str] | None = None
    value_re: re.Pattern[str] | None = None
    pattern: re.Pattern[str] | None = None
    literals: tuple[str, ...] | None = None
    short_window: bool = False  # body matcher of an active rule: scan ACTIVE_BODY_CHARS only
    codes: frozenset[int] = frozenset()
    label: str | None = None

    def evaluate(self, features: ResponseFeatures) -> Evidence | None:
        """The evidence (signal kind and public-safe name) when this matcher matches, else None."""
        kind = self.kind
        if kind == "header":
            for name, value in features.headers:
                if self.name is not None:
                    if name != self.name:
                        continue
                elif self.name_re is None or not self.name_re.search(name):
                    continue
                if self.value_re is None or self.value_re.search(value):
                    return Evidence(signal="header", name=name)
            return None
        if kind == "cookie":
            assert self.pattern is not None
            for cookie in features.cookie_names:
                if self.pattern.search(cookie):
                    return Evidence(signal="cookie", name=cookie)
            return None
        if kind == "status":
            if features.status is not None and features.status in self.codes:
                return Evidence(signal="status", name=str(features.status))
            return None
        if kind == "body":
            text = features.active_body_text if self.short_window else features.body_text
            if self.literals is not None and not any(lit in text for lit in self.literals):
                return None
            assert self.pattern is not None
            return Evidence(signal="body", name=self.label or "body") if self.pattern.search(text) else None
        if kind == "title":
            if not features.title:
                return None
            assert self.pattern is not None
            return (
                Evidence(signal="title", name=self.label or "title")
                if self.pattern.search(features.title)
                else None
            )
        if kind in _RENDERED_KINDS:
            assert self.pattern is not None
            for value in getattr(features, _RENDERED_KINDS[kind]):
                if self.pattern.search(value):
                    return Evidence(signal=kind, name=value)  # type: ignore[arg-type]
            return None
        hosts = features.script_hosts if kind == "script_host" else features.iframe_hosts
        assert self.pattern is not None
        for host in hosts:
            if self.pattern.search(host):
                return Evidence(signal="script", name=self.label or host)
        return None


@dataclass(slots=True)
class Rule:
    id: str
    vendor: str | None
    product: str
    measure: str
    layer: str
    strength: str
    active: bool
    suppressed_by_active_vendor: bool
    references: list[str]
    min_score: float
    matchers: list[Matcher]
    source_file: str = ""
    max_score: float = 0.0  # summed weights of the non-exclude matchers (set at load)

    def __post_init__(self) -> None:
        self.max_score = sum(m.weight for m in self.matchers if not m.exclude)

    def evaluate(self, features: ResponseFeatures) -> RuleMatch | None:
        score = 0.0
        evidence: list[Evidence] = []
        # Cheap signals first so a rule whose required header/status is missing never scans the body;
        # once the weights still to test cannot reach min_score, the remaining (costlier) matchers
        # are skipped: the rule cannot fire whatever they find.
        remaining = self.max_score
        for matcher in self.matchers:
            if not matcher.exclude:
                if score + remaining + 1e-9 < self.min_score:
                    return None
                remaining -= matcher.weight
            hit = matcher.evaluate(features)
            if hit is None:
                if matcher.required:
                    return None
                continue
            if matcher.exclude:
                return None
            score += matcher.weight
            if all(e.signal != hit.signal or e.name != hit.name for e in evidence):
                evidence.append(hit)
        if score + 1e-9 < self.min_score or not evidence:
            return None
        return RuleMatch(
            rule_id=self.id,
            vendor=self.vendor,
            product=self.product,
            measure=self.measure,  # type: ignore[arg-type]
            layer=self.layer,  # type: ignore[arg-type]
            strength=self.strength,  # type: ignore[arg-type]
            active=self.active,
            score=round(score, 3),
            evidence=evidence,
        )


_COST = {
    "status": 0,
    "header": 1,
    "cookie": 1,
    "script_host": 2,
    "iframe_host": 2,
    "title": 2,
    "body": 3,
    "js_cookie": 1,
    "api_probe": 1,
    "widget": 1,
}
# Matcher kind → the ResponseFeatures field it reads; the evidence name is the matched name itself.
_RENDERED_KINDS = {"js_cookie": "js_cookie_names", "api_probe": "api_probes", "widget": "widgets"}


@dataclass
class Ruleset:
    version: str
    rules: list[Rule]
    vendors: dict[str | None, str] = field(default_factory=dict)  # vendor id → display name

    def match(self, response_features: ResponseFeatures) -> list[RuleMatch]:
        matches = [m for rule in self.rules if (m := rule.evaluate(response_features)) is not None]
        if any(m.active and m.vendor is not None for m in matches):
            suppressed = {r.id for r in self.rules if r.suppressed_by_active_vendor}
            matches = [m for m in matches if m.rule_id not in suppressed]
        return matches

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


_ESCAPE = re.compile(r"\\.")


def _compile(pattern: str, where: str, lowered_input: bool = False) -> re.Pattern[str]:
    """Compile once. Body text is lower-cased before matching, so a body pattern without upper-case
    letters needs no IGNORECASE — which keeps sre's fast literal-prefix search (IGNORECASE turns it
    off and costs ~10 ms per pattern on a 2 MB page)."""
    flags: int = re.IGNORECASE
    if lowered_input and not any(c.isupper() for c in _ESCAPE.sub("", pattern)):
        flags = 0
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise RuleFileError(f"{where}: bad regex {pattern!r}: {exc}") from exc


def _build_matcher(raw: dict[str, Any], where: str) -> Matcher:
    kind = raw["type"]
    matcher = Matcher(
        kind=kind,
        weight=float(raw.get("weight", 1.0)),
        required=bool(raw.get("required", False)),
        exclude=bool(raw.get("exclude", False)),
        label=raw.get("label"),
    )
    if kind == "header":
        matcher.name = raw.get("name")
        if "name_pattern" in raw:
            matcher.name_re = _compile(raw["name_pattern"], where)
        if "value" in raw:
            matcher.value_re = _compile(raw["value"], where)
    elif kind == "status":
        matcher.codes = frozenset(raw["codes"])
    else:
        if kind == "body" and not raw["pattern"].isascii():
            # the body is matched as latin-1 text (one char per byte): a literal "’" would never
            # match its UTF-8 bytes, so non-ASCII must be written as \xNN escapes of those bytes
            raise RuleFileError(f"{where}: body patterns must be ASCII; write UTF-8 bytes as \\xNN escapes")
        matcher.pattern = _compile(raw["pattern"], where, lowered_input=kind in ("body", "title"))
        if kind == "body":
            matcher.literals = _required_literals(raw["pattern"])
    return matcher


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((RULES_DIR / SCHEMA_FILE).read_text(encoding="utf-8"))
    return schema


def load_rule_file(
    path: Path, validator: jsonschema.protocols.Validator | None = None
) -> tuple[dict[str, Any], list[Rule]]:
    """Parse and validate one rule file; returns the raw document and its compiled rules."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{path.name}: not valid YAML: {exc}") from exc
    validator = validator or jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        detail = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:5]
        )
        raise RuleFileError(f"{path.name}: schema violation: {detail}")
    vendor = document["vendor"]
    rules = []
    for raw in document["rules"]:
        where = f"{path.name}:{raw['id']}"
        if vendor is not None and not raw["id"].startswith(f"{vendor}."):
            raise RuleFileError(f"{where}: rule ids must start with the vendor id")
        matchers = [_build_matcher(m, where) for m in raw["matchers"]]
        if raw.get("active", False):
            for matcher in matchers:
                # exclude matchers veto on the whole window (a trap marker anywhere must still count)
                matcher.short_window = matcher.kind == "body" and not matcher.exclude
        # cheapest first; among body matchers, literal-guarded ones (one substring search when absent)
        # before unguarded ones, heavier weights first so a miss prunes the rule early
        matchers.sort(key=lambda m: (_COST[m.kind], m.kind == "body" and m.literals is None, -m.weight))
        rules.append(
            Rule(
                id=raw["id"],
                vendor=vendor,
                product=raw["product"],
                measure=raw["measure"],
                layer=raw["layer"],
                strength=raw["strength"],
                active=bool(raw.get("active", False)),
                suppressed_by_active_vendor=bool(raw.get("suppressed_by_active_vendor", False)),
                references=list(raw["references"]),
                min_score=float(raw["min_score"]),
                matchers=matchers,
                source_file=path.name,
            )
        )
    return document, rules


def rule_files(rules_dir: Path) -> list[Path]:
    return sorted(p for p in rules_dir.iterdir() if p.suffix in (".yaml", ".yml"))


def _build(rules_dir: Path) -> Ruleset:
    validator = jsonschema.Draft202012Validator(
        json.loads((rules_dir / SCHEMA_FILE).read_text(encoding="utf-8"))
        if (rules_dir / SCHEMA_FILE).exists()
        else _schema()
    )
    digest = hashlib.sha256()
    rules: list[Rule] = []
    vendors: dict[str | None, str] = {}
    seen: set[str] = set()
    for path in rule_files(rules_dir):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
        document, file_rules = load_rule_file(path, validator)
        vendors[document["vendor"]] = document["name"]
        for rule in file_rules:
            if rule.id in seen:
                raise RuleFileError(f"{path.name}: duplicate rule id {rule.id}")
            seen.add(rule.id)
            rules.append(rule)
    if not rules:
        raise RuleFileError(f"no rule files in {rules_dir}")
    return Ruleset(version=f"{RULESET_BASE_VERSION}+{digest.hexdigest()[:12]}", rules=rules, vendors=vendors)


@lru_cache(maxsize=1)
def _default_ruleset() -> Ruleset:
    return _build(RULES_DIR)


def load_ruleset(rules_dir: Path | None = None) -> Ruleset:
    """The ruleset of ``rules_dir`` (default: the packaged ``botscope/rules``, loaded once)."""
    if rules_dir is None or Path(rules_dir).resolve() == RULES_DIR:
        return _default_ruleset()
    return _build(Path(rules_dir))
