"""Every report the scanner produces for the fixture site's scenarios (quick and full) matches the
published JSON Schema, docs/report.schema.json (described in docs/report.md)."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from botscope.scanner import engine

from tests.fixtures.site import SCENARIOS

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "report.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def schema_errors(report: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in VALIDATOR.iter_errors(report)
    ]


def test_the_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("mode", ["quick", "full"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_fixture_site_report_matches_the_schema(
    fixture_site: Any, local_policy: Any, scenario: str, mode: str
) -> None:
    fixture_site.set_scenario(scenario)
    report = asyncio.run(engine.run_scan(fixture_site.url("/"), mode, local_policy))
    assert schema_errors(report) == []


def test_a_report_with_changes_against_a_previous_one_matches_the_schema(
    fixture_site: Any, local_policy: Any
) -> None:
    fixture_site.set_scenario("clean")
    before = asyncio.run(engine.run_scan(fixture_site.url("/"), "quick", local_policy))
    fixture_site.set_scenario("cloudflare_challenge")
    after = asyncio.run(engine.run_scan(fixture_site.url("/"), "quick", local_policy, previous_report=before))
    assert after["changes"] is not None and after["changes"]["added"]
    assert schema_errors(after) == []


def test_the_schema_refuses_what_a_public_report_must_not_carry(fixture_site: Any, local_policy: Any) -> None:
    fixture_site.set_scenario("kitchen_sink")
    report = asyncio.run(engine.run_scan(fixture_site.url("/"), "quick", local_policy))
    leaks: list[dict[str, Any]] = []
    for mutate in (
        lambda r: r["path_runs"][0].update(body="<html>…"),
        lambda r: r["path_runs"][0].update(remote_ip="203.0.113.9"),
        lambda r: r["findings"][0].update(cookie_value="secret"),
        lambda r: r.update(raw_headers={"set-cookie": "a=b"}),
        lambda r: r["summary"].update(score=140),
        lambda r: r["findings"][0].update(severity="critical"),
    ):
        leaked = copy.deepcopy(report)
        mutate(leaked)
        leaks.append(leaked)
    assert all(schema_errors(leaked) for leaked in leaks)
