"""What a site declares about automation: robots.txt (RFC 9309, via protego) and the AI-policy
signals — Content-Signal, Content-Usage (IETF aipref), llms.txt and llms-full.txt, ai.txt, TDMRep,
noai/noimageai, the Web Bot Auth key directory and 402 pay-per-crawl (docs/policy.md).

A file counts as published only when it is one: its content type and format fit, and its body is
not the site's answer to every path (the plan fetches a never-existing path to compare with).

Pure functions over texts and observations; no I/O besides reading the packaged agent list.
Malformed input is skipped, never fatal (protego does the same for robots.txt lines).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from protego import Protego

from botscope.scanner.model import Observation
from botscope.scanner.observe import shingle_similarity
from botscope.scanner.sanitize import KEY_LIMIT, MAX_SIGNAL_KEYS, VALUE_LIMIT, site_text
from botscope.scanner.vocabulary import (
    AI_TXT,
    LLMS_FULL_TXT,
    LLMS_TXT,
    POLICY_PATHS,
    ROBOTS_TXT,
    TDMREP_JSON,
    TOO_MANY_REDIRECTS,
    WEB_BOT_AUTH_DIRECTORY,
)

DATA_DIR = Path(__file__).resolve().parent / "data"


_MANAGED_BEGIN = re.compile(r"^\s*#\s*BEGIN\s+Cloudflare\s+Managed\s+content", re.IGNORECASE | re.MULTILINE)
_MANAGED_END = re.compile(r"^\s*#\s*END\s+Cloudflare\s+Managed\s+content", re.IGNORECASE | re.MULTILINE)
_LINE_KEY = re.compile(r"^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")
_MAX_ROBOTS_PROBES = 40


@lru_cache(maxsize=1)
def ai_agents() -> list[dict[str, str]]:
    """The known AI agent tokens (ai.robots.txt list) with operator, function and respect."""
    agents: list[dict[str, str]] = json.loads((DATA_DIR / "ai_agents.json").read_text(encoding="utf-8"))[
        "agents"
    ]
    return agents


def ai_agent_tokens() -> list[str]:
    return [agent["token"] for agent in ai_agents()]


# ---------------------------------------------------------------- robots.txt


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _groups(text: str) -> list[tuple[list[str], list[tuple[str, str]]]]:
    """(user-agents, rules) groups as RFC 9309 forms them: consecutive user-agent lines start a
    group; allow/disallow lines belong to the current group. Used only for naming and for
    picking representative paths — protego decides what is allowed."""
    groups: list[tuple[list[str], list[tuple[str, str]]]] = []
    agents: list[str] = []
    rules: list[tuple[str, str]] = []
    last_was_agent = False
    for raw in text.splitlines():
        line = _strip_comment(raw)
        found = _LINE_KEY.match(line)
        if not found:
            continue
        key, value = found.group(1).lower(), found.group(2)
        if key in ("user-agent", "useragent", "user agent"):
            if not last_was_agent and (agents or rules):
                groups.append((agents, rules))
                agents, rules = [], []
            agents.append(value)
            last_was_agent = True
        elif key in ("allow", "disallow"):
            if agents:
                rules.append((key, value))
            last_was_agent = False
        else:
            last_was_agent = False
    if agents or rules:
        groups.append((agents, rules))
    return groups


# A report must stay small whatever a site serves: a robots.txt may name thousands of agents.
MAX_NAMED_AGENTS = 200
MAX_AGENT_TOKEN_CHARS = 100


def named_agents(text: str) -> list[str]:
    """Tokens the file names in its own user-agent lines (``*`` excluded), in file order, bounded
    in count and length."""
    names: list[str] = []
    seen: set[str] = set()
    for agents, _ in _groups(text):
        for agent in agents:
            agent = agent[:MAX_AGENT_TOKEN_CHARS]
            if agent and agent != "*" and agent not in seen:
                seen.add(agent)
                names.append(agent)
                if len(names) >= MAX_NAMED_AGENTS:
                    return names
    return names


def _probe_path(pattern: str) -> str | None:
    """A concrete path a Disallow pattern covers (wildcards dropped), or None for an empty rule."""
    if not pattern:
        return None
    path = pattern.split("*", 1)[0].rstrip("$")
    if not path.startswith("/"):
        path = "/" + path
    return path


def agent_treatment(parser: Protego, token: str, probe_paths: list[str]) -> str:
    """allowed / disallowed / partial for one token, by RFC 9309 (its own group, else ``*``)."""
    if not parser.can_fetch("/", token):
        return "disallowed"
    for path in probe_paths:
        if not parser.can_fetch(path, token):
            return "partial"
    return "allowed"


# ---------------------------------------------------------------- vocabularies and structured fields


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    """The Content-Usage / Content-Signal / Web Bot Auth vocabularies (``data/policy_vocabulary.json``)."""
    data: dict[str, Any] = json.loads((DATA_DIR / "policy_vocabulary.json").read_text(encoding="utf-8"))
    return data


MAX_INVALID_SIGNALS = 10
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._=-]")


def _bounded(text: str, limit: int) -> str:
    """A site-controlled token reduced to a short, inert string for the public report."""
    return _UNSAFE_CHARS.sub("?", text)[:limit]


def _split_path(value: str) -> tuple[str | None, str]:
    """A robots.txt rule value that may start with a path (aipref attachment): (path, rest)."""
    value = value.strip()
    if value.startswith("/"):
        path, _, rest = value.partition(" ")
        if not rest:
            path, _, rest = value.partition("\t")
        return path, rest.strip()
    return None, value


def parse_content_usage(value: str) -> dict[str, str] | None:
    """One Content-Usage statement as an RFC 9651 dictionary (``http_sf``): the known aipref labels
    with a ``y``/``n`` token; unknown labels and other values are ignored. None when the statement
    is not a valid dictionary (its preferences are unknown)."""
    try:
        parsed = http_sf.parse(value.encode("latin-1", "replace"), tltype="dictionary")
    except Exception:  # noqa: BLE001 - any parse error of site-controlled text means "unknown"
        return None
    if not isinstance(parsed, dict):
        return None
    known = vocabulary()["content_usage"]
    preferences: dict[str, str] = {}
    for label, member in parsed.items():
        item = member[0] if isinstance(member, tuple) else member
        if label in known["labels"] and isinstance(item, http_sf.Token) and str(item) in known["values"]:
            preferences[label] = str(item)
    return preferences


def merge_content_usage(statements: Iterable[dict[str, str]]) -> dict[str, str] | None:
    """IETF aipref: when statements conflict, the most restrictive (``n``) wins."""
    merged: dict[str, str] = {}
    for statement in statements:
        for key, value in statement.items():
            if merged.get(key) == "n":
                continue
            merged[key] = value
    return merged or None


def _robots_rule_values(text: str, name: str) -> list[str]:
    values = []
    for raw in text.splitlines():
        match = _LINE_KEY.match(_strip_comment(raw))
        if match and match.group(1).lower() == name:
            values.append(match.group(2))
    return values


def content_usage_rules(text: str) -> list[tuple[str | None, str]]:
    """(path, statement) of every Content-Usage rule of a robots.txt."""
    return [_split_path(value) for value in _robots_rule_values(text, "content-usage")]


def content_signals(text: str) -> dict[str, Any]:
    """Content-Signal rules of a robots.txt checked against the published vocabulary: the valid
    ``key=value`` pairs (later rules win on a key) and the invalid ones, bounded for the report."""
    vocab = vocabulary()["content_signal"]
    valid: dict[str, str] = {}
    invalid: list[str] = []
    for value in _robots_rule_values(text, "content-signal"):
        _, statement = _split_path(value)
        for key, val in _key_values(statement).items():
            if key.lower() in vocab["keys"] and val.lower() in vocab["values"]:
                valid[key.lower()] = val.lower()
            elif len(invalid) < MAX_INVALID_SIGNALS:
                entry = f"{_bounded(key, 40)}={_bounded(val, 20)}"
                if entry not in invalid:
                    invalid.append(entry)
    return {"valid": valid, "invalid": invalid}


def _key_values(value: str) -> dict[str, str]:
    # Keys and values are the site's own text: bounded and stripped of control characters
    # (scanner/sanitize.py) before they reach findings and the report.
    pairs: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        key = site_text(key, KEY_LIMIT)
        if not key or (key not in pairs and len(pairs) >= MAX_SIGNAL_KEYS):
            continue
        pairs[key] = site_text(val.split(";", 1)[0].strip().strip('"'), VALUE_LIMIT) if sep else "?1"
    return pairs


# ---------------------------------------------------------------- robots.txt

# RFC 9309 2.3.1: what the fetch of /robots.txt means for a crawler.
ROBOTS_ACCESS_EFFECT = {
    "parsed": "rules",  # 2xx: the file's rules apply
    "unavailable": "allow_all",  # 4xx (or > 5 redirects): no restrictions
    "unreachable": "disallow_all",  # 5xx or no answer: complete disallow
    "not_a_file": "allow_all",  # 2xx whose body is a page, not a robots.txt: no rules in it
    "not_checked": "unknown",
}
ROBOTS_PARSE_LIMIT = 500 * 1024  # RFC 9309 2.5: crawlers parse at least the first 500 KiB


def robots_access(obs: Observation | None, soft_404: bool = False) -> str:
    """How /robots.txt was reached, in RFC 9309 terms (see ``ROBOTS_ACCESS_EFFECT``)."""
    if obs is None:
        return "not_checked"
    if obs.policy_text is not None and not soft_404:
        return "parsed"
    status = obs.http_status
    if obs.outcome == "timed_out" or status is None:
        if obs.error is not None and obs.error.code == TOO_MANY_REDIRECTS:
            return "unavailable"  # RFC 9309 2.3.1.2: not reached within five redirects
        return "unreachable"
    if status >= 500:
        return "unreachable"
    if 400 <= status < 500:
        return "unavailable"
    if 200 <= status < 300:
        return "not_a_file"
    return "unavailable"  # a redirect that was not followed to a file


def analyze_robots(
    text: str | None, tokens: list[str] | None = None, *, access: str | None = None
) -> dict[str, Any]:
    """The ``policy.robots_txt`` object plus content signals/usage found in the file.

    Per agent token the treatment (allowed / disallowed / partial / unspecified) and whether it
    comes from a group that names the agent (``ai_agents_named``) or only from the generic
    ``User-agent: *`` group: generic rules apply to every crawler, they do not aim at AI agents."""
    tokens = tokens if tokens is not None else ai_agent_tokens()
    access = access or ("parsed" if text is not None else "not_checked")
    base = {"access": access, "effect": ROBOTS_ACCESS_EFFECT[access]}
    if text is None:
        return {**base, **_no_robots(tokens)}
    truncated = len(text.encode("utf-8")) > ROBOTS_PARSE_LIMIT
    if truncated:
        text = text.encode("utf-8")[:ROBOTS_PARSE_LIMIT].decode("utf-8", "ignore")
    parser = _parsed(text)
    groups = _groups(text)
    probes = _robots_probe_paths(groups)
    named_lower = {agent.lower() for agents, _ in groups for agent in agents if agent != "*"}
    managed_by, managed_disallowed, conflicts = _managed_section(text)
    signals = content_signals(text)
    return {
        **base,
        "present": True,
        "ai_agents": {token: agent_treatment(parser, token, probes) for token in tokens},
        "ai_agents_named": [token for token in tokens if token.lower() in named_lower],
        "generic_rules": _generic_rules(parser, groups),
        "named_agents": named_agents(text),
        "managed_by": managed_by,
        "managed_disallowed": managed_disallowed,
        "conflicts": conflicts,
        "truncated": truncated,
        "content_signals": signals["valid"] or None,
        "content_signals_invalid": signals["invalid"],
        "content_usage": content_usage_rules(text),
    }


def _no_robots(tokens: list[str]) -> dict[str, Any]:
    """The robots.txt object when there is no file to read: every agent unspecified."""
    return {
        "present": False,
        "ai_agents": dict.fromkeys(tokens, "unspecified"),
        "ai_agents_named": [],
        "generic_rules": None,
        "named_agents": [],
        "managed_by": None,
        "managed_disallowed": [],
        "conflicts": [],
        "truncated": False,
        "content_signals": None,
        "content_signals_invalid": [],
        "content_usage": [],
    }


def _robots_probe_paths(groups: list[tuple[list[str], list[tuple[str, str]]]]) -> list[str]:
    """Representative paths of the file's disallow rules, to ask protego about per agent."""
    probes: list[str] = []
    for _, rules in groups:
        for kind, value in rules:
            path = _probe_path(value) if kind == "disallow" else None
            if path and path not in probes and len(probes) < _MAX_ROBOTS_PROBES:
                probes.append(path)
    return probes


def _generic_rules(
    parser: Protego, groups: list[tuple[list[str], list[tuple[str, str]]]]
) -> dict[str, Any] | None:
    """What the ``User-agent: *`` groups disallow; None when the file has none."""
    generic = [rules for agents, rules in groups if "*" in agents]
    if not generic:
        return None
    disallows = [value for rules in generic for kind, value in rules if kind == "disallow" and value]
    return {"disallow_all": not parser.can_fetch("/", "*"), "disallow_rules": len(disallows)}


def _managed_section(text: str) -> tuple[str | None, list[str], list[str]]:
    """(managed_by, agents the managed section disallows, agents the site's own groups allow
    against it) for Cloudflare's managed robots.txt section; (None, [], []) without one."""
    begin, end = _MANAGED_BEGIN.search(text), _MANAGED_END.search(text)
    if not begin:
        return None, [], []
    closed = end is not None and end.start() > begin.end()
    section = text[begin.end() : end.start() if end and closed else len(text)]
    rest = text[: begin.start()] + (text[end.end() :] if end and closed else "")
    managed_disallowed: list[str] = []
    for agents, rules in _groups(section):
        if ("disallow", "/") in rules:
            managed_disallowed += [a for a in agents if a != "*" and a not in managed_disallowed]
    # A site's own group that allows a token the managed block disallows contradicts it.
    conflicts: list[str] = []
    for agents, rules in _groups(rest):
        allows_root = any(kind == "allow" and value in ("/", "") for kind, value in rules) or any(
            kind == "disallow" and value == "" for kind, value in rules
        )
        for agent in agents:
            if allows_root and agent in managed_disallowed and agent not in conflicts:
                conflicts.append(agent)
    return "cloudflare", managed_disallowed, conflicts


@lru_cache(maxsize=8)
def _parsed(text: str) -> Protego:
    return Protego.parse(text)


def path_allowed(text: str | None, token: str, path: str) -> bool | None:
    """RFC 9309 answer for one token and path; None when there is no robots.txt."""
    if text is None:
        return None
    return _parsed(text).can_fetch(path or "/", token)


# ---------------------------------------------------------------- soft 404

SOFT_404_SIMILARITY = 0.8
_MIN_SHINGLES = 8


def is_soft_404(obs: Observation | None, probe: Observation | None) -> bool:
    """The answer at a policy path is the site's answer to every path: its body matches the body
    served at the never-existing path the plan probes (same bytes, or near-identical text)."""
    if obs is None or probe is None or probe.http_status is None or not 200 <= probe.http_status < 300:
        return False
    if obs.body_sha256 is not None and obs.body_sha256 == probe.body_sha256:
        return True
    if min(len(obs.text_shingles), len(probe.text_shingles)) >= _MIN_SHINGLES:
        return shingle_similarity(obs.text_shingles, probe.text_shingles) >= SOFT_404_SIMILARITY
    return False


def _media_type(obs: Observation | None) -> str:
    return (obs.content_type or "").split(";", 1)[0].strip().lower() if obs is not None else ""


# A response without a Content-Type does not contradict the file's format (RFC 9110 8.3 lets the
# recipient look at the data); a declared type of another kind does.
def _text_type(media_type: str) -> bool:
    return not media_type or media_type.startswith("text/")


def _json_type(media_type: str) -> bool:
    return not media_type or "json" in media_type


# ---------------------------------------------------------------- llms.txt, ai.txt

_LINK_LINE = re.compile(r"^\s*[-*]\s*\[[^\]]+\]\([^)]+\)")
MAX_SECTIONS = 50


def analyze_llms_txt(
    text: str | None, media_type: str = "text/plain", soft_404: bool = False
) -> dict[str, Any]:
    """llms.txt (llmstxt.org): published only as text whose first line is a ``# `` title. Then its
    structure: the H1, the blockquote summary, the ``##`` sections with their link counts, the
    Optional section."""
    if text is None or not text.strip():
        return {"present": False}
    if soft_404:
        return {"present": False, "rejected": "soft_404"}
    if not _text_type(media_type):
        return {"present": False, "rejected": "content_type"}
    lines = [line.rstrip() for line in text.splitlines()]
    first = next((line for line in lines if line.strip()), "")
    if not first.startswith("# "):
        return {"present": False, "rejected": "no_title"}
    sections: list[dict[str, Any]] = []
    links = 0
    for line in lines:
        if re.match(r"^##\s+\S", line) and len(sections) < MAX_SECTIONS:
            sections.append({"name": line[3:].strip()[:200], "links": 0})
        elif _LINK_LINE.match(line):
            links += 1
            if sections:
                sections[-1]["links"] += 1
    h1_count = sum(1 for line in lines if re.match(r"^#\s+\S", line))
    return {
        "present": True,
        "format": {
            "h1": h1_count == 1,
            "title": first[2:].strip()[:200],
            "blockquote": any(line.startswith(">") for line in lines),
            "sections": [section["name"] for section in sections],
            "section_links": [section["links"] for section in sections],
            "links": links,
            "optional_section": any(section["name"].lower() == "optional" for section in sections),
        },
    }


def analyze_llms_full_txt(
    text: str | None, media_type: str = "text/plain", soft_404: bool = False, size: int = 0
) -> dict[str, Any]:
    """llms-full.txt: the full documentation in one text file, published under the same rule as
    llms.txt (text with a leading ``# `` title)."""
    checked = analyze_llms_txt(text, media_type, soft_404)
    if not checked["present"]:
        return checked
    return {
        "present": True,
        "title": checked["format"]["title"],
        "size_bytes": size,
        "sections": len(checked["format"]["sections"]),
    }


_AI_TXT_SECTION = re.compile(r"^\[[A-Za-z0-9 _.-]{1,40}\]\s*$", re.M)
_AI_TXT_PROSE = re.compile(r"\b(AI|artificial intelligence|LLMs?|machine learning|training data)\b", re.I)
_AI_TXT_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,40}:\s*\S", re.M)


def analyze_ai_txt(
    text: str | None, media_type: str = "text/plain", soft_404: bool = False
) -> dict[str, Any]:
    """ai.txt in either published form: Spawning's robots.txt-like text (at least one user-agent /
    allow / disallow group; reports whether everything or some file types are reserved), or the
    sectioned form (``[permissions]``-style headers with ``key: value`` lines), or plain prose
    guidance addressed to AI systems. The last two are present, with no machine-readable
    reservation (``disallow_all`` None: unknown)."""
    if text is None or not text.strip():
        return {"present": False}
    if soft_404:
        return {"present": False, "rejected": "soft_404"}
    if not _text_type(media_type):
        return {"present": False, "rejected": "content_type"}
    groups = _groups(text)
    if not groups:
        if _AI_TXT_SECTION.search(text) and _AI_TXT_FIELD.search(text):
            return {"present": True, "format": "sectioned", "disallow_all": None, "disallow_rules": 0}
        if _AI_TXT_PROSE.search(text[:4096]):
            return {"present": True, "format": "prose", "disallow_all": None, "disallow_rules": 0}
        return {"present": False, "rejected": "format"}
    parser = Protego.parse(text)
    disallows = [value for agents, rules in groups for kind, value in rules if kind == "disallow" and value]
    return {
        "present": True,
        "format": "robots",
        "disallow_all": not parser.can_fetch("/", "*"),
        "disallow_rules": len(disallows),
    }


# ---------------------------------------------------------------- TDMRep


def _tdm_rules(text: str) -> list[dict[str, Any]] | None:
    """The rules of a tdmrep.json that follow the W3C TDMRep schema (an array of objects with a
    ``location`` string and ``tdm-reservation`` 0 or 1), or None when the file is not that."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parsed, list):
        return None
    rules = [
        rule
        for rule in parsed
        if isinstance(rule, dict)
        and isinstance(rule.get("location"), str)
        and rule.get("tdm-reservation") in (0, 1)
        and not isinstance(rule.get("tdm-reservation"), bool)
    ]
    return rules or None


def analyze_tdmrep(
    text: str | None,
    header_reservations: Iterable[str],
    *,
    media_type: str = "application/json",
    soft_404: bool = False,
    header_policies: Iterable[str] = (),
    meta: Iterable[dict[str, str]] = (),
) -> dict[str, Any]:
    """W3C TDMRep from its three channels: the well-known file, the ``tdm-reservation`` /
    ``tdm-policy`` response headers and the HTML meta tags. Reserved when any channel reserves."""
    rejected = None
    rules: list[dict[str, Any]] = []
    if text:
        if soft_404:
            rejected = "soft_404"
        elif not _json_type(media_type):
            rejected = "content_type"
        else:
            rules = _tdm_rules(text) or []
            rejected = None if rules else "schema"
    headers = [value.strip() for value in header_reservations if value is not None]
    policies = [value for value in header_policies if value]
    metas = [m for m in meta if m]
    file_channel: dict[str, Any] = {
        "present": bool(rules),
        "rules": len(rules),
        "reserved": any(rule["tdm-reservation"] == 1 for rule in rules),
        "policy": any(isinstance(rule.get("tdm-policy"), str) for rule in rules),
    }
    header_channel: dict[str, Any] = {
        "present": bool(headers) or bool(policies),
        "reserved": any(value.split(",")[0].strip() == "1" for value in headers),
        "policy": bool(policies),
    }
    meta_channel: dict[str, Any] = {
        "present": bool(metas),
        "reserved": any(m.get("tdm-reservation", "").strip() == "1" for m in metas),
        "policy": any(m.get("tdm-policy") for m in metas),
    }
    channels: dict[str, dict[str, Any]] = {
        "file": file_channel,
        "header": header_channel,
        "meta": meta_channel,
    }
    result: dict[str, Any] = {
        "present": any(c["present"] for c in channels.values()),
        "reserved": any(c["reserved"] for c in channels.values()),
        "file_present": file_channel["present"],
        "header_present": header_channel["present"],
        "meta_present": meta_channel["present"],
        "policy_present": any(c["policy"] for c in channels.values()),
        "channels": channels,
    }
    if rejected:
        result["file_rejected"] = rejected
    return result


# ---------------------------------------------------------------- Web Bot Auth key directory


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an OKP key: SHA-256 over its required members in lexicographic order."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"), sort_keys=True
    )
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _ed25519_key(jwk: Any, now: float) -> tuple[Ed25519PublicKey | None, list[str]]:
    """The key of one JWK if it is a valid Ed25519 key whose ``kid`` is its thumbprint, with the
    issues found."""
    issues: list[str] = []
    if (
        not isinstance(jwk, dict)
        or jwk.get("kty") != "OKP"
        or jwk.get("crv") != "Ed25519"
        or not isinstance(jwk.get("x"), str)
    ):
        return None, ["key_not_ed25519"]
    try:
        raw = _b64url(jwk["x"])
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError):
        return None, ["key_invalid"]
    if jwk.get("kid") != jwk_thumbprint(jwk):
        issues.append("kid_not_thumbprint")
    nbf, exp = jwk.get("nbf"), jwk.get("exp")
    if isinstance(nbf, (int, float)) and now < nbf:
        issues.append("key_not_yet_valid")
    if isinstance(exp, (int, float)) and now >= exp:
        issues.append("key_expired")
    return key, issues


def _signature_base(
    components: list[Any], params_text: str, headers: dict[str, str], authority: str
) -> str | None:
    lines = []
    for component in components:
        name = str(component[0]) if isinstance(component, tuple) else str(component)
        params = component[1] if isinstance(component, tuple) else {}
        label = http_sf.ser((name, params))
        if name == "@authority":
            value = authority.lower()
        elif name.startswith("@"):
            return None  # another derived component: not part of a directory response
        elif name in headers:
            value = headers[name].strip()
        else:
            return None
        lines.append(f"{label}: {value}")
    lines.append(f'"@signature-params": {params_text}')
    return "\n".join(lines)


def verify_directory_signature(
    keys: dict[str, Ed25519PublicKey], headers: dict[str, str], body: bytes, authority: str | None, now: float
) -> str:
    """The directory response's own HTTP message signature (RFC 9421, tag
    ``http-message-signatures-directory``): ``valid``, ``absent``, ``expired``, ``unknown_key``,
    ``digest_mismatch``, ``unverifiable`` or ``invalid``."""
    tag = vocabulary()["web_bot_auth"]["signature_tag"]
    if "signature-input" not in headers or "signature" not in headers:
        return "absent"
    if authority is None:
        return "unverifiable"
    try:
        # http_sf returns a loosely typed tree; its shape is checked below, member by member
        inputs: Any = http_sf.parse(
            headers["signature-input"].encode("latin-1", "replace"), tltype="dictionary"
        )
        signatures: Any = http_sf.parse(
            headers["signature"].encode("latin-1", "replace"), tltype="dictionary"
        )
    except Exception:  # noqa: BLE001 - malformed site-controlled header
        return "invalid"
    for label, member in inputs.items():
        components, params = member
        if not isinstance(components, list) or params.get("tag") != tag:
            continue
        key = keys.get(str(params.get("keyid")))
        if key is None:
            return "unknown_key"
        created, expires = params.get("created"), params.get("expires")
        if isinstance(expires, int) and now >= expires or isinstance(created, int) and now < created:
            return "expired"
        if "content-digest" in [str(c[0]) for c in components]:
            digest = headers.get("content-digest", "")
            if not digest:
                return "unverifiable"
            expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if f"sha-256=:{expected}:" not in digest.replace(" ", ""):
                return "digest_mismatch"
        params_text = http_sf.ser({label: member}).split("=", 1)[1]
        base = _signature_base(components, params_text, headers, authority)
        signature = signatures.get(label)
        signature_bytes = signature[0] if isinstance(signature, tuple) else None
        if base is None or not isinstance(signature_bytes, bytes):
            return "unverifiable"
        try:
            key.verify(signature_bytes, base.encode())
        except InvalidSignature:
            return "invalid"
        return "valid"
    return "absent"


def analyze_web_bot_auth(
    text: str | None,
    media_type: str = "",
    headers: dict[str, str] | None = None,
    *,
    authority: str | None = None,
    now: float | None = None,
    soft_404: bool = False,
) -> dict[str, Any]:
    """The Web Bot Auth key directory: published only as JSON holding a JWKS. Validated: the media
    type, Ed25519 keys, RFC 7638 thumbprint ``kid``s, key validity times, and the directory's own
    signature. An empty ``keys`` list is a placeholder: publishing it does not mean the site
    verifies signed agents."""
    absent = {"directory_present": False, "key_count": 0, "placeholder": False}
    if not text:
        return absent
    if soft_404:
        return {**absent, "rejected": "soft_404"}
    if not _json_type(media_type):
        return {**absent, "rejected": "content_type"}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {**absent, "rejected": "format"}
    keys = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(keys, list):
        return {**absent, "rejected": "format"}
    moment = time.time() if now is None else now
    issues: list[str] = []
    usable: dict[str, Ed25519PublicKey] = {}
    valid_keys = 0
    for jwk in keys[:50]:
        key, key_issues = _ed25519_key(jwk, moment)
        issues += [issue for issue in key_issues if issue not in issues]
        if key is not None:
            usable[str(jwk.get("kid"))] = key
            if not key_issues:
                valid_keys += 1
    expected_type = vocabulary()["web_bot_auth"]["media_type"]
    if media_type != expected_type:
        issues.append("media_type")
    signature = (
        verify_directory_signature(usable, headers or {}, text.encode("utf-8"), authority, moment)
        if usable
        else "absent"
    )
    listed = [k for k in keys if isinstance(k, dict) and k.get("kty")]
    return {
        "directory_present": bool(listed),
        "key_count": len(listed),
        "placeholder": not listed,
        "valid_keys": valid_keys,
        "media_type_valid": media_type == expected_type,
        "signature": signature,
        "issues": issues[:10],
    }


# ---------------------------------------------------------------- page signals


def noai_tokens(observations: Iterable[Observation]) -> dict[str, bool]:
    """noai / noimageai in <meta name=robots> or X-Robots-Tag of any served page."""
    tokens: set[str] = set()
    for obs in observations:
        if obs.spec.kind != "page" or obs.outcome != "served":
            continue
        tokens.update(obs.meta_robots)
        header = obs.headers.get("x-robots-tag", "")
        for part in header.lower().replace(";", ",").split(","):
            # X-Robots-Tag may carry a user-agent prefix ("otherbot: noai")
            tokens.add(part.rsplit(":", 1)[-1].strip())
    return {"noai": "noai" in tokens, "noimageai": "noimageai" in tokens}


_CRAWLER_PRICE = re.compile(r"^\s*[A-Z]{3}\s+\d+(?:\.\d+)?\s*$")


def pay_per_crawl(observations: Iterable[Observation]) -> dict[str, Any]:
    """Pay per crawl: HTTP 402 with a ``crawler-price`` header (the price is not reported; only
    whether it has the ``<currency> <amount>`` form). A 402 without the header is listed apart."""
    paths: list[str] = []
    profiles: list[str] = []
    without_price: list[str] = []
    well_formed = True
    for obs in observations:
        if obs.http_status != 402:
            continue
        if "crawler-price" in obs.header_names:
            if obs.spec.path not in paths:
                paths.append(obs.spec.path)
            if obs.spec.profile not in profiles:
                profiles.append(obs.spec.profile)
            well_formed = well_formed and bool(_CRAWLER_PRICE.match(obs.headers.get("crawler-price", "")))
        elif obs.spec.path not in without_price:
            without_price.append(obs.spec.path)
    return {
        "detected": bool(paths),
        "paths": paths,
        "profiles": profiles,
        "price_well_formed": well_formed if paths else None,
        "status_402_without_price": without_price[:20],
    }


def _policy_observation(observations: list[Observation], path: str) -> Observation | None:
    """The observation of a policy file: a served one if any profile got it, else the browser's."""
    candidates = [o for o in observations if o.spec.path == path and o.spec.kind == "policy"]
    if not candidates:
        return None
    served = [o for o in candidates if o.policy_text is not None]
    pool = served or candidates
    pool.sort(key=lambda o: (o.spec.profile != "browser", o.spec.profile))
    return pool[0]


def not_found_probe(observations: list[Observation]) -> Observation | None:
    return next((o for o in observations if o.spec.kind == "probe"), None)


class _PolicyFiles:
    """The observation of each policy file of a scan, and whether it is a soft 404."""

    def __init__(self, observations: list[Observation]) -> None:
        self.runs = {path: _policy_observation(observations, path) for path in POLICY_PATHS}
        probe = not_found_probe(observations)
        self.soft = {path: is_soft_404(obs, probe) for path, obs in self.runs.items()}

    def text(self, path: str) -> str | None:
        obs = self.runs[path]
        return obs.policy_text if obs is not None else None

    def media_type(self, path: str) -> str:
        return _media_type(self.runs[path])

    def fetched(self, path: str) -> dict[str, Any]:
        """How the file was fetched, as each policy object reports it."""
        obs = self.runs[path]
        return {
            "checked": obs is not None,
            "outcome": obs.outcome if obs is not None else None,
            "http_status": obs.http_status if obs is not None else None,
            "soft_404": self.soft[path],
        }


def analyze_policy(
    observations: list[Observation], *, authority: str | None = None, now: float | None = None
) -> dict[str, Any]:
    """The report's ``policy`` object from every observation of a scan. ``authority`` (host[:port]
    of the target) is what the key directory's signature covers."""
    files = _PolicyFiles(observations)
    robots_path = ROBOTS_TXT.path
    access = robots_access(files.runs[robots_path], files.soft[robots_path])
    robots = analyze_robots(files.text(robots_path) if access == "parsed" else None, access=access)
    served = [o for o in observations if o.outcome == "served"]
    content_usage, usage_detail = _content_usage(robots.pop("content_usage"), served)
    signals = robots.pop("content_signals")
    signals_invalid = robots.pop("content_signals_invalid")
    return {
        "robots_txt": {**robots, **files.fetched(robots_path)},
        "content_signals": signals,
        "content_signals_invalid": signals_invalid,
        "content_usage": content_usage,
        "content_usage_detail": usage_detail,
        **_published_files(files),
        "tdmrep": _tdmrep(files, [o for o in served if o.spec.kind == "page"]),
        "noai_meta": noai_tokens(observations),
        "web_bot_auth": {
            **analyze_web_bot_auth(
                files.text(WEB_BOT_AUTH_DIRECTORY.path),
                files.media_type(WEB_BOT_AUTH_DIRECTORY.path),
                wba_obs.headers if (wba_obs := files.runs[WEB_BOT_AUTH_DIRECTORY.path]) else {},
                authority=authority,
                now=now,
                soft_404=files.soft[WEB_BOT_AUTH_DIRECTORY.path],
            ),
            **files.fetched(WEB_BOT_AUTH_DIRECTORY.path),
        },
        "pay_per_crawl": pay_per_crawl(observations),
    }


def _content_usage(
    robots_rules: list[tuple[str | None, str]], served: list[Observation]
) -> tuple[dict[str, str] | None, dict[str, Any]]:
    """The merged Content-Usage preferences (site-wide robots.txt rules and response headers) and
    the ``content_usage_detail`` object saying where they came from."""
    statements: list[tuple[str, dict[str, str] | None]] = []
    path_scoped = 0
    for path, statement in robots_rules:
        if path in (None, "", "/"):
            statements.append(("robots_txt", parse_content_usage(statement)))
        else:
            path_scoped += 1
    statements += [
        ("header", parse_content_usage(o.headers["content-usage"]))
        for o in served
        if "content-usage" in o.headers
    ]
    content_usage = merge_content_usage([s for _, s in statements if s is not None])
    unparseable = sum(1 for _, s in statements if s is None)
    if content_usage:
        usage_status = "declared"
    elif unparseable:
        usage_status = "unknown"
    else:
        usage_status = "absent"
    return content_usage, {
        "status": usage_status,
        "sources": sorted({src for src, s in statements if s is not None}),
        "unparseable": unparseable,
        "path_scoped_rules": path_scoped,
    }


def _published_files(files: _PolicyFiles) -> dict[str, Any]:
    """The ``llms_txt``, ``llms_full_txt`` and ``ai_txt`` objects."""
    llms, llms_full, ai_txt = LLMS_TXT.path, LLMS_FULL_TXT.path, AI_TXT.path
    llms_full_obs = files.runs[llms_full]
    return {
        "llms_txt": {
            **analyze_llms_txt(files.text(llms), files.media_type(llms), files.soft[llms]),
            **files.fetched(llms),
        },
        "llms_full_txt": {
            **analyze_llms_full_txt(
                files.text(llms_full),
                files.media_type(llms_full),
                files.soft[llms_full],
                llms_full_obs.body_size if llms_full_obs else 0,
            ),
            **files.fetched(llms_full),
        },
        "ai_txt": {
            **analyze_ai_txt(files.text(ai_txt), files.media_type(ai_txt), files.soft[ai_txt]),
            **files.fetched(ai_txt),
        },
    }


def _tdmrep(files: _PolicyFiles, pages: list[Observation]) -> dict[str, Any]:
    """TDMRep from its three channels: the well-known file, the page headers and the page meta."""
    path = TDMREP_JSON.path
    tdm = analyze_tdmrep(
        files.text(path),
        [o.headers["tdm-reservation"] for o in pages if "tdm-reservation" in o.headers],
        media_type=files.media_type(path),
        soft_404=files.soft[path],
        header_policies=[o.headers["tdm-policy"] for o in pages if "tdm-policy" in o.headers],
        meta=[o.meta_tdm for o in pages],
    )
    return {**tdm, **files.fetched(path)}
