"""The local stack as a whole: schedules fire, the environment is restored, Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from botscope.aws.template import REPO_ROOT


def test_stack_runs_schedules_and_restores_the_process_on_stop(tmp_path: Path) -> None:
    from botscope.local.seam import PATCH_TARGET, _patch_owner
    from botscope.local.stack import LocalStack

    before = os.environ.get("AWS_ENDPOINT_URL")
    original_invoke = getattr(_patch_owner(), PATCH_TARGET[2])
    stack = LocalStack(serve_api=False, run_schedules=True, schedule_seconds=0.2, state_dir=tmp_path)
    stack.start()
    try:
        assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_endpoint
        assert (tmp_path / "dev.env").exists() and (tmp_path / "stack.json").exists()
        monitor = next(loop for loop in stack._loops if loop.name == "botscope-schedule-monitor")
        deadline = time.monotonic() + 60  # liveness bound only
        while monitor.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert monitor.runs >= 2  # the monitoring scheduler was invoked on its cadence
    finally:
        stack.stop()
    assert os.environ.get("AWS_ENDPOINT_URL") == before
    assert getattr(_patch_owner(), PATCH_TARGET[2]) is original_invoke
    assert not (tmp_path / "stack.json").exists()


def test_ctrl_c_stops_the_stack_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "BOTSCOPE_PORT": "0"}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "botscope.local", "--no-schedules", "--state-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        assert any("growth key" in line and "dxk_" in line for line in lines), "".join(lines)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "BOTSCOPE_API_KEY=dxk_" in (tmp_path / "dev.env").read_text()
    assert not (tmp_path / "stack.json").exists()
