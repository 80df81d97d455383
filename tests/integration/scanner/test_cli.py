"""``botscope scan`` end to end (a subprocess) against the fixture site."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from botscope.cli import Progress, main, render_summary
from botscope.scanner.model import Observation, PathRunSpec

from tests.fixtures.site import CANARY_COOKIE_VALUE

BOTSCOPE = Path(sys.executable).parent / "botscope"


def run_cli(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BOTSCOPE_")}
    full_env.update(env or {})
    return subprocess.run([str(BOTSCOPE), *args], capture_output=True, text=True, timeout=120, env=full_env)


def test_quick_scan_json_report(fixture_site):
    fixture_site.set_scenario("cloudflare_challenge")
    result = run_cli(
        "scan", fixture_site.url("/"), "--mode", "quick", "--allow-private", "127.0.0.0/8", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema_version"] == "1" and report["scan_mode"] == "quick"
    assert report["scan_job_id"].startswith("scan_")
    assert "cloudflare" in report["summary"]["vendors"]
    assert CANARY_COOKIE_VALUE not in result.stdout
    # progress: one plain line per finished path run when stderr is not a terminal
    finished = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(finished) == len(report["path_runs"])


def test_full_scan_readable_summary(fixture_site):
    fixture_site.set_scenario("kitchen_sink")
    result = run_cli(
        "scan", fixture_site.url("/"), "--mode", "full", "--allow-private", "10.0.0.0/8,127.0.0.0/8"
    )
    assert result.returncode == 0, result.stderr
    assert "Posture:" in result.stdout and "Path runs" in result.stdout
    assert "turnstile" in result.stdout and "/checkout" in result.stdout
    assert "Enforcement" in result.stdout and "enforced" in result.stdout


def test_allow_private_from_the_environment(fixture_site):
    fixture_site.set_scenario("clean")
    result = run_cli(
        "scan", fixture_site.url("/"), "--json", "-q", env={"BOTSCOPE_ALLOW_PRIVATE_TARGETS": "127.0.0.0/8"}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    assert result.stderr == ""


def test_rejected_target_exits_2_with_its_code_and_sends_nothing(fixture_site):
    before = len(fixture_site.requests)
    result = run_cli("scan", fixture_site.url("/"), "--json")
    assert result.returncode == 2
    first, hint = result.stderr.strip().splitlines()[-2:]
    assert first.endswith("target_not_public: the host resolves to a non-public address")
    assert "--allow-private" in hint
    assert result.stdout == "" and len(fixture_site.requests) == before


def test_invalid_target_and_bad_usage_exit_2():
    invalid = run_cli("scan", "ftp://example.com/")
    assert invalid.returncode == 2 and "invalid_target" in invalid.stderr
    bad_cidr = run_cli("scan", "http://example.com/", "--allow-private", "not-a-cidr")
    assert bad_cidr.returncode == 2 and "not a CIDR range" in bad_cidr.stderr
    no_command = run_cli()
    assert no_command.returncode == 2


def test_main_in_process_writes_report_to_the_given_streams(fixture_site):
    fixture_site.set_scenario("ai_blocked")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["scan", fixture_site.url("/"), "--allow-private", "127.0.0.0/8", "--json"], stdout=out, stderr=err
    )
    assert code == 0
    assert json.loads(out.getvalue())["policy"]["robots_txt"]["ai_agents"]["GPTBot"] == "disallowed"


class FakeTty(io.StringIO):
    def isatty(self):
        return True


def test_progress_rewrites_one_line_on_a_terminal():
    stream = FakeTty()
    progress = Progress(stream)
    spec = PathRunSpec(path="/login", profile="ai_crawler")
    progress(SimpleNamespace(kind="planned", total=2))
    progress(SimpleNamespace(kind="started", total=2, index=0, spec=spec, completed=0))
    progress(
        SimpleNamespace(
            kind="finished",
            total=2,
            index=0,
            spec=spec,
            completed=1,
            observation=Observation(spec=spec, outcome="blocked", http_status=403, duration_ms=12),
        )
    )
    text = stream.getvalue()
    assert "\r\x1b[2K[0/2] running /login [ai_crawler]" in text
    assert "[1/2] blocked" in text and "403" in text


def test_summary_tolerates_a_minimal_report():
    text = render_summary({"target_url": "https://x.test/", "summary": {}, "path_runs": [], "policy": {}})
    assert "none detected" in text and "robots.txt: absent" in text


def test_invalid_allow_list_in_the_environment_is_a_clear_error():
    result = run_cli("scan", "http://example.com/", env={"BOTSCOPE_ALLOW_PRIVATE_TARGETS": "nope"})
    assert result.returncode == 2 and "BOTSCOPE_ALLOW_PRIVATE_TARGETS" in result.stderr
    assert "Traceback" not in result.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bound then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_target_exits_non_zero_with_target_unreachable():
    result = run_cli(
        "scan", f"http://127.0.0.1:{_closed_port()}/", "--allow-private", "127.0.0.0/8", "--json"
    )
    # not a report of "no defenses": the scan failed, and says why
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert "target_unreachable: No path run got an HTTP response" in result.stderr


def test_robots_txt_503_through_the_cli(fixture_site):
    fixture_site.set_scenario("robots_503")
    result = run_cli("scan", fixture_site.url("/"), "--allow-private", "127.0.0.0/8", "--json", "-q")
    assert result.returncode == 0, result.stderr
    robots = json.loads(result.stdout)["policy"]["robots_txt"]
    assert (robots["access"], robots["effect"], robots["http_status"]) == ("unreachable", "disallow_all", 503)


def test_every_profile_challenged_through_the_cli(fixture_site):
    fixture_site.set_scenario("cloudflare_challenge")
    result = run_cli("scan", fixture_site.url("/"), "--allow-private", "127.0.0.0/8", "--json", "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # the report says its comparison is inconclusive instead of claiming enforcement
    assert report["summary"]["baseline"] == "stopped"
    assert {e["verdict"] for e in report["enforcement"]} == {"browser_challenged"}


@pytest.mark.slow
def test_cli_renders_full_scans_unless_told_not_to(fixture_site):
    fixture_site.set_scenario("js_fingerprint")
    base = [
        str(BOTSCOPE),
        "scan",
        fixture_site.url("/"),
        "--json",
        "--quiet",
        "--allow-private",
        "127.0.0.0/8",
    ]
    rendered = json.loads(
        subprocess.run(
            [*base, "--mode", "full"], capture_output=True, text=True, timeout=300, check=True
        ).stdout
    )
    assert {r["profile"] for r in rendered["path_runs"]} >= {"browser", "rendered"}
    assert any(
        v["verdict"] == "served_but_fingerprinted" for e in rendered["rendered"] for v in e["verdicts"]
    )
    plain = json.loads(
        subprocess.run(
            [*base, "--mode", "full", "--no-render"], capture_output=True, text=True, timeout=300, check=True
        ).stdout
    )
    assert "rendered" not in {r["profile"] for r in plain["path_runs"]} and plain["rendered"] == []
