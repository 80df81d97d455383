"""What a site declares about automation: robots.txt (RFC 9309, via protego) and the AI-policy
signals of docs/report.md "Policy" — Content-Signal, Content-Usage (IETF aipref), llms.txt, ai.txt,
TDMRep, noai/noimageai, the Web Bot Auth key directory and 402 pay-per-crawl.

Pure functions over texts and observations; no I/O besides reading the packaged agent list.
Malformed input is skipped, never fatal (protego does the same for robots.txt lines).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from protego import Protego

from botscope.scanner.model import Observation

DATA_DIR = Path(__file__).resolve().parent / "data"

ROBOTS_PATH = "/robots.txt"
LLMS_PATH = "/llms.txt"
AI_TXT_PATH = "/ai.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"
WEB_BOT_AUTH_PATH = "/.well-known/http-message-signatures-directory"
POLICY_PATHS = (ROBOTS_PATH, LLMS_PATH, AI_TXT_PATH, TDMREP_PATH, WEB_BOT_AUTH_PATH)

_MANAGED_BEGIN = re.compile(r"^\s*#\s*BEGIN\s+Cloudflare\s+Managed\s+content", re.IGNORECASE | re.MULTILINE)
_MANAGED_END = re.compile(r"^\s*#\s*END\s+Cloudflare\s+Managed\s+content", re.IGNORECASE | re.MULTILINE)
_LINE_KEY = re.compile(r"^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")
_MAX_ROBOTS_PROBES = 40


@lru_cache(maxsize=1)
def ai_agents() -> list[dict[str, str]]:
    """The known AI agent tokens (ai.robots.txt list) with operator, function and respect."""
    agents: list[dict[str, str]] = json.loads((DATA_DIR / "ai_agents.json").read_text(encoding="utf-8"))["agents"]
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


def content_signals(text: str) -> dict[str, str] | None:
    """Every key of the Content-Signal lines as written (later lines win on the same key)."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = _strip_comment(raw)
        match = _LINE_KEY.match(line)
        if match and match.group(1).lower() == "content-signal":
            found.update(_key_values(match.group(2)))
    return found or None


def _key_values(value: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        key = key.strip()
        if key and sep:
            pairs[key] = val.split(";", 1)[0].strip().strip('"')
        elif key:
            pairs[key] = "?1"   # a bare structured-field key means true
    return pairs


def merge_content_usage(statements: Iterable[dict[str, str]]) -> dict[str, str] | None:
    """IETF aipref: labels y/n; when statements conflict, disallow (n) wins."""
    merged: dict[str, str] = {}
    for statement in statements:
        for key, value in statement.items():
            if merged.get(key) == "n":
                continue
            merged[key] = value
    return merged or None


def content_usage_lines(text: str) -> list[dict[str, str]]:
    statements = []
    for raw in text.splitlines():
        match = _LINE_KEY.match(_strip_comment(raw))
        if match and match.group(1).lower() == "content-usage":
            statements.append(_key_values(match.group(2)))
    return statements


def analyze_robots(text: str | None, tokens: list[str] | None = None) -> dict[str, Any]:
    """The ``policy.robots_txt`` object plus content signals/usage found in the file."""
    tokens = tokens if tokens is not None else ai_agent_tokens()
    if text is None:
        return {"present": False, "ai_agents": dict.fromkeys(tokens, "unspecified"), "named_agents": [],
                "managed_by": None, "managed_disallowed": [], "conflicts": [],
                "content_signals": None, "content_usage": []}
    parser = _parsed(text)
    groups = _groups(text)
    probes: list[str] = []
    for _, rules in groups:
        for kind, value in rules:
            path = _probe_path(value) if kind == "disallow" else None
            if path and path not in probes and len(probes) < _MAX_ROBOTS_PROBES:
                probes.append(path)
    treatments = {token: agent_treatment(parser, token, probes) for token in tokens}

    managed_by = None
    managed_disallowed: list[str] = []
    conflicts: list[str] = []
    begin, end = _MANAGED_BEGIN.search(text), _MANAGED_END.search(text)
    if begin:
        managed_by = "cloudflare"
        section = text[begin.end(): end.start() if end and end.start() > begin.end() else len(text)]
        rest = text[: begin.start()] + (text[end.end():] if end and end.start() > begin.end() else "")
        for agents, rules in _groups(section):
            if ("disallow", "/") in rules:
                managed_disallowed += [a for a in agents if a != "*" and a not in managed_disallowed]
        # A site's own group that allows a token the managed block disallows contradicts it.
        for agents, rules in _groups(rest):
            allows_root = any(kind == "allow" and value in ("/", "") for kind, value in rules) or \
                any(kind == "disallow" and value == "" for kind, value in rules)
            for agent in agents:
                if allows_root and agent in managed_disallowed and agent not in conflicts:
                    conflicts.append(agent)
    return {
        "present": True,
        "ai_agents": treatments,
        "named_agents": named_agents(text),
        "managed_by": managed_by,
        "managed_disallowed": managed_disallowed,
        "conflicts": conflicts,
        "content_signals": content_signals(text),
        "content_usage": content_usage_lines(text),
    }


@lru_cache(maxsize=8)
def _parsed(text: str) -> Protego:
    return Protego.parse(text)


def path_allowed(text: str | None, token: str, path: str) -> bool | None:
    """RFC 9309 answer for one token and path; None when there is no robots.txt."""
    if text is None:
        return None
    return _parsed(text).can_fetch(path or "/", token)


# ---------------------------------------------------------------- other policy files

def analyze_llms_txt(text: str | None) -> dict[str, Any]:
    """llms.txt presence and how closely it follows the llmstxt.org shape."""
    if text is None or not text.strip():
        return {"present": False}
    lines = [line.rstrip() for line in text.splitlines()]
    h1 = [line for line in lines if re.match(r"^#\s+\S", line)]
    first = next((line for line in lines if line.strip()), "")
    sections = [line[3:].strip()[:200] for line in lines if re.match(r"^##\s+\S", line)]
    links = sum(1 for line in lines if re.match(r"^\s*[-*]\s*\[[^\]]+\]\([^)]+\)", line))
    return {
        "present": True,
        "format": {
            "h1": len(h1) == 1 and first.startswith("# "),
            "blockquote": any(line.startswith(">") for line in lines),
            "sections": sections[:50],
            "links": links,
            "optional_section": any(s.lower() == "optional" for s in sections),
        },
    }


def analyze_ai_txt(text: str | None) -> dict[str, Any]:
    """Spawning ai.txt: robots.txt-like; reports whether everything or some file types are reserved."""
    if text is None or not text.strip():
        return {"present": False}
    parser = Protego.parse(text)
    disallows = [value for agents, rules in _groups(text) for kind, value in rules if kind == "disallow" and value]
    return {"present": True, "disallow_all": not parser.can_fetch("/", "*"), "disallow_rules": len(disallows)}


def analyze_tdmrep(text: str | None, header_values: Iterable[str]) -> dict[str, Any]:
    """W3C TDMRep: the tdm-reservation header (overrides the file) and /.well-known/tdmrep.json."""
    headers = [value.strip() for value in header_values if value is not None]
    file_rules: list[dict[str, Any]] = []
    if text:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            file_rules = [rule for rule in parsed if isinstance(rule, dict)]
    reserved_file = any(str(rule.get("tdm-reservation", rule.get("reservation", ""))).strip() == "1" for rule in file_rules)
    reserved_header = any(value.startswith("1") for value in headers)
    return {
        "present": bool(file_rules) or bool(headers),
        "reserved": reserved_header or reserved_file,
        "file_present": bool(file_rules),
        "header_present": bool(headers),
        "policy_present": any(rule.get("tdm-policy") or rule.get("policy") for rule in file_rules),
    }


def analyze_web_bot_auth(text: str | None) -> dict[str, Any]:
    """The Web Bot Auth key directory (JWKS). An empty ``keys`` list is a placeholder: publishing
    it does not mean the site verifies signed agents."""
    if not text:
        return {"directory_present": False, "key_count": 0, "placeholder": False}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"directory_present": False, "key_count": 0, "placeholder": False}
    keys = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(keys, list):
        return {"directory_present": False, "key_count": 0, "placeholder": False}
    valid = [k for k in keys if isinstance(k, dict) and k.get("kty")]
    return {"directory_present": bool(valid), "key_count": len(valid), "placeholder": not valid}


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


def pay_per_crawl(observations: Iterable[Observation]) -> dict[str, Any]:
    """Cloudflare pay-per-crawl: HTTP 402 with a crawler-price header (the price is not reported)."""
    paths: list[str] = []
    profiles: list[str] = []
    for obs in observations:
        if obs.http_status == 402 and "crawler-price" in obs.header_names:
            if obs.spec.path not in paths:
                paths.append(obs.spec.path)
            if obs.spec.profile not in profiles:
                profiles.append(obs.spec.profile)
    return {"detected": bool(paths), "paths": paths, "profiles": profiles}


def _policy_observation(observations: list[Observation], path: str) -> Observation | None:
    """The observation of a policy file: a served one if any profile got it, else the browser's."""
    candidates = [o for o in observations if o.spec.path == path]
    if not candidates:
        return None
    served = [o for o in candidates if o.policy_text is not None]
    pool = served or candidates
    pool.sort(key=lambda o: (o.spec.profile != "browser", o.spec.profile))
    return pool[0]


def analyze_policy(observations: list[Observation]) -> dict[str, Any]:
    """The report's ``policy`` object from every observation of a scan."""
    files = {path: _policy_observation(observations, path) for path in POLICY_PATHS}

    def text_of(path: str) -> str | None:
        obs = files[path]
        return obs.policy_text if obs is not None else None

    def fetched(path: str) -> dict[str, Any]:
        obs = files[path]
        return {"checked": obs is not None, "outcome": obs.outcome if obs is not None else None,
                "http_status": obs.http_status if obs is not None else None}

    robots = analyze_robots(text_of(ROBOTS_PATH))
    header_usage = [_key_values(o.headers["content-usage"]) for o in observations
                    if o.outcome == "served" and "content-usage" in o.headers]
    content_usage = merge_content_usage([*robots.pop("content_usage"), *header_usage])
    signals = robots.pop("content_signals")
    tdm_headers = [o.headers["tdm-reservation"] for o in observations
                   if o.outcome == "served" and "tdm-reservation" in o.headers]
    return {
        "robots_txt": {**robots, **fetched(ROBOTS_PATH)},
        "content_signals": signals,
        "content_usage": content_usage,
        "llms_txt": {**analyze_llms_txt(text_of(LLMS_PATH)), **fetched(LLMS_PATH)},
        "ai_txt": {**analyze_ai_txt(text_of(AI_TXT_PATH)), **fetched(AI_TXT_PATH)},
        "tdmrep": {**analyze_tdmrep(text_of(TDMREP_PATH), tdm_headers), **fetched(TDMREP_PATH)},
        "noai_meta": noai_tokens(observations),
        "web_bot_auth": {**analyze_web_bot_auth(text_of(WEB_BOT_AUTH_PATH)), **fetched(WEB_BOT_AUTH_PATH)},
        "pay_per_crawl": pay_per_crawl(observations),
    }
