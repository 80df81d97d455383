"""The posture summary and the 0–100 ABAAM score; every weight and threshold is data
(``data/scoring.json``), in the spirit of mozilla http-observatory's score table."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from botscope.scanner.vocabulary import Posture

DATA_FILE = Path(__file__).resolve().parent / "data" / "scoring.json"


@lru_cache(maxsize=1)
def scoring_table() -> dict[str, Any]:
    table: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return table


def policy_signals(policy: dict[str, Any]) -> list[str]:
    """The declared anti-automation / AI-preference signals present in a report's policy object."""
    signals = []
    robots = policy["robots_txt"]
    named = set(robots.get("ai_agents_named") or [])
    # generic ``User-agent: *`` rules are not an AI policy: only groups that name the agent count
    if any(v in ("disallowed", "partial") for t, v in robots["ai_agents"].items() if t in named):
        signals.append("robots_ai_rules")
    if policy.get("content_signals"):
        signals.append("content_signals")
    if policy.get("content_usage"):
        signals.append("content_usage")
    if policy["llms_txt"].get("present"):
        signals.append("llms_txt")
    if policy["ai_txt"].get("present"):
        signals.append("ai_txt")
    if policy["tdmrep"].get("reserved"):
        signals.append("tdmrep_reserved")
    if policy["noai_meta"].get("noai") or policy["noai_meta"].get("noimageai"):
        signals.append("noai_meta")
    if policy["web_bot_auth"].get("directory_present"):
        signals.append("web_bot_auth")
    if policy["pay_per_crawl"].get("detected"):
        signals.append("pay_per_crawl")
    return signals


def posture(defense_measures: set[str], layers: set[str], enforced: bool) -> Posture:
    rules = scoring_table()["posture"]
    count = len(defense_measures)
    if count >= rules["hardened_min_measures"] or (
        enforced and count >= rules["hardened_min_measures_with_enforcement"]
    ):
        return "hardened"
    if count >= rules["layered_min_measures"] or (count >= 1 and len(layers) >= rules["layered_min_layers"]):
        return "layered"
    if count >= rules["basic_min_measures"]:
        return "basic"
    return "none"


def score(
    measures: set[str],
    active_measures: set[str],
    policy: dict[str, Any],
    verdicts: set[str],
    critical_protected_ratio: float | None,
) -> int:
    table = scoring_table()
    total = 0.0
    total += sum(table["measures"].get(m, 0) for m in measures)
    total += table["active_bonus"] * len(active_measures - {"cdn"})
    total += sum(table["policy"].get(s, 0) for s in policy_signals(policy))
    total += sum(table["enforcement"].get(v, 0) for v in verdicts)
    if critical_protected_ratio is not None:
        total += table["coverage"]["critical_paths_protected"] * critical_protected_ratio
    return max(0, min(100, round(float(total))))
