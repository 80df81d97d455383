"""``python -m botscope.local`` (what ``make run`` runs): the whole stack until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from botscope.local.stack import LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m botscope.local", description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="API port (default: BOTSCOPE_PORT or 8000)")
    parser.add_argument(
        "--sample-reports-now",
        action="store_true",
        help="refresh the public sample reports at start (scans their real target sites)",
    )
    parser.add_argument("--no-schedules", action="store_true", help="do not run the monitoring scheduler")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where dev.env and stack.json go (default: .botscope at the repository root)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)

    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    stack = LocalStack(
        port=args.port,
        sample_reports_at_start=args.sample_reports_now,
        run_schedules=not args.no_schedules,
        state_dir=args.state_dir,
    )
    stack.start()
    try:
        creds = stack.credentials
        assert creds is not None
        print(
            f"""
BotScope local stack is up.

  API              {stack.base_url}/api/v1   (OpenAPI: {stack.base_url}/api/v1/openapi.json)
  AWS (moto)       {stack.moto_endpoint}
  growth key       {creds.growth_api_key}
  enterprise key   {creds.enterprise_api_key}
  session cookie   botscope_session={creds.session_token}
  written to       {stack.env_file}   (source it: set -a; . {stack.env_file}; set +a)

Try:  curl -s -H "Authorization: Bearer $BOTSCOPE_API_KEY" {stack.base_url}/api/v1/scans
Ctrl-C stops everything.
""",
            flush=True,
        )
        stopping.wait()
    finally:
        print("stopping…", file=sys.stderr, flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
