"""Client profiles: how each kind of visitor the scanner plays presents itself.

The profiles are data (``data/profiles.json``), versioned with the rules, because a change in what
the scanner sends changes what a site answers. Every profile lists its request headers in the
order that client sends them; the fetcher adds only ``Host`` (first, as browsers do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, get_args

from botscope.scanner.model import ProfileId

ALL_PROFILE_IDS: tuple[ProfileId, ...] = get_args(ProfileId)
# The profiles every scan plan uses. ``signed_agent`` needs a Web Bot Auth key, so it is fetched
# only when a signer is configured (``Fetcher(signer=…)``).
PROFILE_IDS: tuple[ProfileId, ...] = tuple(p for p in ALL_PROFILE_IDS if p != "signed_agent")
AI_PROFILE_IDS: tuple[ProfileId, ...] = ("ai_crawler", "ai_agent")


@dataclass(frozen=True)
class Profile:
    id: ProfileId
    version: str
    description: str
    robots_token: str  # the robots.txt user-agent token whose group governs this client
    agent_token: str | None  # the product token a site's user-agent rules would key on
    headers: tuple[tuple[str, str], ...]
    # The wire client: "curl_cffi" (libcurl-impersonate: a browser's TLS hello and HTTP/2) or
    # "httpcore" (a plain Python library client with its own fingerprint).
    client: str = "httpcore"
    impersonate: str | None = None  # curl_cffi target ("chrome152") for client "curl_cffi"
    browser_version: str | None = None  # major version the target, User-Agent and client hints name
    http2: bool = False  # offers h2 in ALPN (HTTP/1.1 otherwise)
    # What the profile looks like on the wire, recorded by ``botscope.scanner.probe.refresh``:
    # the JA4 of its ClientHello (no SNI: target by IP) and the Akamai-style HTTP/2 fingerprint
    # (SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order).
    ja4: str | None = None
    http2_fingerprint: str | None = None
    # What an enforcement verdict for this profile rests on (said in every verdict): e.g. that an
    # AI profile's tokens are declared, unverified, and sent from BotScope's own address.
    basis: str | None = None
    signing: str | None = None  # "web-bot-auth": requests carry HTTP Message Signatures

    @property
    def user_agent(self) -> str:
        return next(value for name, value in self.headers if name.lower() == "user-agent")


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    text = resources.files("botscope.scanner").joinpath("data/profiles.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@lru_cache(maxsize=1)
def load_profiles() -> dict[ProfileId, Profile]:
    profiles: dict[ProfileId, Profile] = {}
    for item in _document()["profiles"]:
        if item["id"] not in ALL_PROFILE_IDS:
            raise ValueError(f"profiles.json: unknown profile id {item['id']!r}")
        profiles[item["id"]] = Profile(
            id=item["id"],
            version=item["version"],
            description=item["description"],
            robots_token=item["robots_token"],
            agent_token=item.get("agent_token"),
            headers=tuple((str(n), str(v)) for n, v in item["headers"]),
            client=item.get("client", "httpcore"),
            impersonate=item.get("impersonate"),
            browser_version=item.get("browser_version"),
            http2=bool(item.get("http2", False)),
            ja4=(item.get("wire") or {}).get("ja4"),
            http2_fingerprint=(item.get("wire") or {}).get("http2_fingerprint"),
            basis=item.get("basis"),
            signing=item.get("signing"),
        )
        if item.get("client") == "curl_cffi" and not item.get("impersonate"):
            raise ValueError(
                f"profiles.json: profile {item['id']!r} uses curl_cffi without an impersonate target"
            )
    missing = set(ALL_PROFILE_IDS) - set(profiles)
    if missing:
        raise ValueError(f"profiles.json: missing profiles {sorted(missing)}")
    return profiles


def get_profile(profile: ProfileId | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    try:
        return load_profiles()[profile]
    except KeyError:
        raise ValueError(f"unknown client profile {profile!r}") from None


PROFILES_VERSION: str = _document()["version"]
