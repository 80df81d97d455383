"""Ctrl-C during a CLI scan: the scan stops cleanly (no traceback) and the exit status is 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from tests.fixtures.site.server import FixtureSite


def test_ctrl_c_stops_the_scan_and_exits_130() -> None:
    with FixtureSite(scenario="clean") as site:
        site.gate = threading.Event()  # every answer is held: the scan is surely still running
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "botscope.cli",
                    "scan",
                    site.url("/"),
                    "--allow-private",
                    "127.0.0.0/8",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ},
            )
            deadline = time.monotonic() + 60  # a liveness bound, not a speed assertion
            while not site.requests and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            assert site.requests, "the scan never reached the site"
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            site.gate.set()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
