"""``botscope scan --format … --output … --fail-on …`` against the fixture site: SARIF validated
against the official SARIF 2.1.0 schema (a verbatim copy of the OASIS file beside this test),
JUnit XML that parses, Markdown, HTML, and the exit code of every --fail-on condition."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from botscope.cli import EXIT_CONDITION_MET, EXIT_OK, EXIT_REJECTED, main
from botscope.reporting.formats import rule_id

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())


def run(site: Any, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["scan", site.url("/"), "--allow-private", "127.0.0.0/8", "-q", *args], stdout=out, stderr=err
    )
    return code, out.getvalue(), err.getvalue()


def test_sarif_validates_against_the_official_schema(site: Any, tmp_path: Path) -> None:
    site.set_scenario("tarpit")
    target = tmp_path / "botscope.sarif"
    code, stdout, _ = run(site, "--mode", "quick", "--format", "sarif", "--output", str(target))
    assert code == EXIT_OK and stdout == ""
    sarif = json.loads(target.read_text())
    jsonschema.Draft4Validator.check_schema(SARIF_SCHEMA)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    _, json_out, _ = run(site, "--mode", "quick", "--format", "json")
    findings = json.loads(json_out)["findings"]
    assert len(results) == len(findings) > 0
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    for result, finding in zip(results, findings, strict=True):
        assert result["ruleId"] == rule_id(finding) and result["ruleId"] in rules
        assert result["partialFingerprints"]["botscopeFingerprint/v1"] == finding["fingerprint"]
    assert {"warning", "note"} <= {r["level"] for r in results}  # medium → warning, info/low → note


def test_rule_ids_are_stable_across_sites_and_scans() -> None:
    one = {
        "category": "detection",
        "measure": "bot_management",
        "vendor": "datadome",
        "fingerprint": "a" * 64,
    }
    two = {**one, "fingerprint": "b" * 64, "paths": ["/other"]}
    assert rule_id(one) == rule_id(two) == "detection/bot_management/datadome"
    assert rule_id({"category": "policy", "measure": "policy", "vendor": None}) == "policy/policy"


def test_junit_parses_and_fails_medium_findings(site: Any) -> None:
    site.set_scenario("tarpit")
    code, stdout, _ = run(site, "--mode", "quick", "--format", "junit", "--fail-on", "ai-blocked")
    assert code == EXIT_OK
    root = ET.fromstring(stdout)
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "0")) == len(cases) > 0
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", "0")) == len(failures) > 0
    assert all(c.get("classname", "").startswith("botscope.findings.") for c in failures)
    fail_on = [c for c in cases if c.get("classname") == "botscope.fail_on"]
    assert [c.get("name") for c in fail_on] == ["ai-blocked"] and fail_on[0].find("failure") is None


def test_markdown_summary_escapes_site_text(site: Any) -> None:
    from tests.integration.reports import support

    site.set_scenario(support.hostile_scenario())
    code, stdout, _ = run(site, "--mode", "quick", "--format", "markdown", "--fail-on", "ai-blocked")
    assert code == EXIT_CONDITION_MET
    assert stdout.startswith("## BotScope: ")
    assert "| path |" in stdout and "AI crawler" in stdout
    assert "<script" not in stdout and "❌" in stdout


def test_html_format_is_the_report_page(site: Any) -> None:
    site.set_scenario("kitchen_sink")
    code, stdout, _ = run(site, "--mode", "quick", "--format", "html")
    assert code == EXIT_OK and stdout.startswith("<!doctype html>") and 'class="matrix-table"' in stdout


@pytest.mark.parametrize(
    ("condition", "met_on", "not_met_on"),
    [
        ("ai-blocked", "ai_blocked", "clean"),
        ("policy-not-enforced", "ai_declared_only", "ai_blocked"),
        ("posture>=layered", "cloudflare_block", "ai_blocked"),
        ("finding-severity>=medium", "tarpit", "kitchen_sink"),
    ],
)
def test_fail_on_exit_codes(site: Any, condition: str, met_on: str, not_met_on: str) -> None:
    site.set_scenario(met_on)
    code, stdout, stderr = run(site, "--mode", "quick", "--fail-on", condition, "--format", "json")
    assert code == EXIT_CONDITION_MET, stderr
    assert json.loads(stdout)["status"] == "completed"  # the report is written all the same
    assert f"--fail-on {condition}:" in stderr
    site.set_scenario(not_met_on)
    code, _, stderr = run(site, "--mode", "quick", "--fail-on", condition)
    assert code == EXIT_OK, stderr


def test_repeated_fail_on_and_bad_conditions(site: Any) -> None:
    site.set_scenario("ai_blocked")
    code, _, stderr = run(
        site, "--mode", "quick", "--fail-on", "posture>=hardened", "--fail-on", "ai-blocked"
    )
    assert code == EXIT_CONDITION_MET and "ai-blocked" in stderr and "posture>=hardened" not in stderr
    with pytest.raises(SystemExit) as bad:
        run(site, "--fail-on", "posture>=fortress")
    assert bad.value.code == EXIT_REJECTED


def test_mode_help_names_its_default() -> None:
    from botscope.cli import build_parser

    scan = build_parser()._subparsers._group_actions[0].choices["scan"]  # type: ignore[union-attr]
    mode = next(a for a in scan._actions if a.dest == "mode")
    assert mode.default == "full" and "default: full" in (mode.help or "")
    assert "exit codes" in scan.format_help() and "3    a --fail-on condition was met" in scan.format_help()


def test_render_a_saved_report_in_every_format(site: Any, tmp_path: Path) -> None:
    site.set_scenario("ai_blocked")
    saved = tmp_path / "report.json"
    assert run(site, "--mode", "quick", "--format", "json", "--output", str(saved))[0] == EXIT_OK
    for fmt in ("text", "markdown", "html", "sarif", "junit", "json"):
        out, err = io.StringIO(), io.StringIO()
        assert main(["render", str(saved), "--format", fmt], stdout=out, stderr=err) == EXIT_OK, (
            err.getvalue()
        )
        assert out.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert (
        main(["render", str(saved), "--fail-on", "ai-blocked", "-f", "sarif"], stdout=out, stderr=err)
        == EXIT_CONDITION_MET
    )
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(out.getvalue()))
    (tmp_path / "junk.json").write_text("[1, 2]")
    assert main(["render", str(tmp_path / "junk.json")], stdout=io.StringIO(), stderr=err) == EXIT_REJECTED


def test_the_documented_github_actions_step_runs(site: Any, tmp_path: Path) -> None:
    """The scan step of docs/github-actions.md, run as written (bash) against the fixture site."""
    import os
    import re as regex
    import subprocess
    import sys

    import yaml

    doc = (Path(__file__).resolve().parents[3] / "docs" / "github-actions.md").read_text()
    workflow = yaml.safe_load(regex.search(r"```yaml\n(.*?)```", doc, regex.S).group(1))
    step = next(s for s in workflow["jobs"]["botscope"]["steps"] if s.get("id") == "scan")
    site.set_scenario("ai_declared_only")  # robots.txt disallows AI agents, the site serves them
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    env = {
        **os.environ,
        "SITE": site.url("/"),
        "BOTSCOPE_ALLOW_PRIVATE_TARGETS": "127.0.0.0/8",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert outputs.read_text().strip() == "status=3"  # policy-not-enforced was met
    assert summary.read_text().startswith("## BotScope: ")
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads((tmp_path / "botscope.sarif").read_text()))
    assert ET.parse(tmp_path / "botscope.xml").getroot().tag == "testsuites"
