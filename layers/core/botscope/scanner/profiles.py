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

PROFILE_IDS: tuple[ProfileId, ...] = get_args(ProfileId)
AI_PROFILE_IDS: tuple[ProfileId, ...] = ("ai_crawler", "ai_agent")


@dataclass(frozen=True)
class Profile:
    id: ProfileId
    version: str
    description: str
    robots_token: str              # the robots.txt user-agent token whose group governs this client
    agent_token: str | None        # the product token a site's user-agent rules would key on
    headers: tuple[tuple[str, str], ...]

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
        if item["id"] not in PROFILE_IDS:
            raise ValueError(f"profiles.json: unknown profile id {item['id']!r}")
        profiles[item["id"]] = Profile(
            id=item["id"], version=item["version"], description=item["description"],
            robots_token=item["robots_token"], agent_token=item.get("agent_token"),
            headers=tuple((str(n), str(v)) for n, v in item["headers"]),
        )
    missing = set(PROFILE_IDS) - set(profiles)
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
