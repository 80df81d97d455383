"""``make invoke-<fn>``: every file in events/ runs as-is against the running local stack, its
placeholders filled from the stack's dev.env; a missing event or function is one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botscope.local import invoke

from tests.fixtures.site.server import FixtureSite

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = sorted(
    (p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()), key=len, reverse=True
)
EVENTS = sorted(p.name for p in (ROOT / "events").glob("*.json"))


def function_of(event_name: str) -> str:
    """The function an event belongs to: the longest function name it starts with."""
    return next(f for f in FUNCTIONS if event_name.startswith(f))


@pytest.fixture(scope="module")
def attached(local_stack: Any) -> Any:
    """invoke pointed at the test's stack (it normally reads .botscope/ at the repository root)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(invoke, "STACK_FILE", Path(local_stack.state_dir) / "stack.json")
    patch.setattr(invoke, "DEV_ENV_FILE", Path(local_stack.env_file))
    yield local_stack
    patch.undo()


@pytest.fixture(scope="module")
def monitored_site(attached: Any) -> Any:
    import httpx

    with FixtureSite(scenario="clean") as site:
        created = httpx.post(
            f"{attached.base_url}/api/v1/scans",
            timeout=30,
            headers={"Authorization": f"Bearer {attached.credentials.growth_api_key}"},
            json={"target_url": site.url("/"), "scan_mode": "quick", "enroll_monitoring": True},
        )
        assert created.status_code == 202, created.text
        yield site


def test_every_event_belongs_to_a_function() -> None:
    assert EVENTS and all(function_of(name) for name in EVENTS)


@pytest.mark.parametrize("event_name", EVENTS)
def test_every_event_runs_as_is(
    attached: Any,
    monitored_site: FixtureSite,
    event_name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("URL", monitored_site.url("/"))  # make invoke-monitor_scheduler … URL=…
    function = function_of(event_name)
    status = invoke.main([function, f"events/{event_name}"])
    out = capsys.readouterr()
    assert status in (0, 1), out.err
    assert "Traceback" not in out.err
    result = json.loads(out.out[out.out.index("{\n") :])  # the result, after any one-line JSON log records
    if function == "api":
        # An HTTP answer, authenticated with the stack's key (the example key was replaced).
        assert result["statusCode"] < 500 and result["statusCode"] != 401, (event_name, result)
    elif status == 1:
        # A stage replayed with the sample ids finds no such scan: a function error, as on Lambda.
        assert result["errorType"] and result["errorMessage"], result
    if event_name == "monitor_scheduler_force.json":
        assert status == 0 and result["forced_monitored_url_id"].startswith("mon_"), result


def test_a_missing_event_or_function_is_one_clear_line(
    attached: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke.main(["scan_prepare", "events/scan_prepare_nope.json"]) == 2
    err = capsys.readouterr().err
    assert "no event file events/scan_prepare_nope.json" in err and "scan_prepare.json" in err
    assert "Traceback" not in err
    assert invoke.main(["no_such_function", "events/api_health.json"]) == 2
    assert "no function 'no_such_function'" in capsys.readouterr().err
    monkeypatch.delenv("URL", raising=False)
    assert invoke.main(["monitor_scheduler", "events/monitor_scheduler_force.json"]) == 2
    assert "needs URL" in capsys.readouterr().err
