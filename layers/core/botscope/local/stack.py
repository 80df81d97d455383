"""The one-machine stack (``make run``), also startable from tests (``LocalStack().start()``).

One process: moto in server mode on 127.0.0.1 (DynamoDB, S3, SQS, KMS, Lambda registry, Step
Functions with its ASL interpreter), resources created from template.yaml and the ASL file, the
Lambda seam running our handlers for Task states, an SQS poller for webhook delivery, schedule
loops for monitoring and sample reports, and the FastAPI app under uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from botscope.aws.template import REPO_ROOT
from botscope.config import get_settings, reset_settings
from botscope.local import atomic_dynamodb
from botscope.local.bootstrap import DevCredentials, bootstrap, write_env_file
from botscope.local.resources import LocalResources, create_resources
from botscope.local.seam import LambdaSeam
from botscope.local.workers import LazyHandler, ScheduleLoop, SqsPoller, scheduled_event
from botscope.scanner.probe.web_bot_auth import generate_seed
from botscope.store.table import reset_clients

log = logging.getLogger("botscope.local")

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# Functions whose code the state machine's Task states run through the seam.
STAGE_FUNCTIONS = (
    "ScanPrepareFunction",
    "ScanProbeFunction",
    "ScanRenderFunction",
    "ScanAnalyzeFunction",
    "ScanFinalizeFunction",
    "ScanMarkFailedFunction",
)
DAY_SECONDS = 86400
DEFAULT_SCHEDULE_SECONDS = 60
# How long the local API keeps an idle keep-alive connection open. Longer than clients pool one
# (httpx: 5 s): with uvicorn's default, also 5 s, a request sent on a pooled connection just as the
# server closes it is reset (ECONNRESET) instead of answered.
API_KEEP_ALIVE_SECONDS = 75


def api_server_config(app: Any) -> Any:
    """uvicorn's configuration for the local API. The socket's peer is the source IP the audit log
    records: X-Forwarded-For is believed only from the proxies ``BOTSCOPE_TRUSTED_PROXIES`` names
    (uvicorn's default believes it from 127.0.0.1, i.e. from every local caller). Idle connections
    stay open ``API_KEEP_ALIVE_SECONDS``."""
    import uvicorn

    trusted = get_settings().trusted_proxy_list
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_keep_alive=API_KEEP_ALIVE_SECONDS,
    )


class LocalStack:
    """Start with ``start()``, stop with ``stop()`` (or use it as a context manager).

    ``port``: the API port (None = ``BOTSCOPE_PORT``, 0 = any free port). ``allow_private_targets``:
    CIDRs the scans may reach (None = ``BOTSCOPE_ALLOW_PRIVATE_TARGETS``). ``state_dir``: where
    dev.env goes (default ``.botscope`` at the repository root).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        allow_private_targets: str | None = None,
        state_dir: Path | None = None,
        serve_api: bool = True,
        run_schedules: bool = True,
        sample_reports_at_start: bool = False,
        schedule_seconds: float | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.requested_port = port
        self.allow_private_targets = allow_private_targets
        self.state_dir = state_dir or REPO_ROOT / ".botscope"
        self.serve_api = serve_api
        self.run_schedules = run_schedules
        self.sample_reports_at_start = sample_reports_at_start
        self.schedule_seconds = schedule_seconds
        self.extra_env = extra_env or {}
        self.seam = LambdaSeam()
        self.resources: LocalResources | None = None
        self.credentials: DevCredentials | None = None
        self.env_file: Path | None = None
        self.stack_file: Path | None = None
        self.api_port: int | None = None
        self.moto_endpoint: str | None = None
        self._moto: Any = None
        self._uvicorn: Any = None
        self._uvicorn_thread: threading.Thread | None = None
        self._loops: list[Any] = []
        self._saved_env: dict[str, str | None] = {}
        self._saved_moto_config: dict[str, Any] | None = None

    # --- public --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the API lives under ``/api/v1``)."""
        if self.api_port is None:
            raise RuntimeError("the stack is not started")
        return f"http://127.0.0.1:{self.api_port}"

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for loop in reversed(self._loops):
            loop.stop()
        self._loops.clear()
        if self.stack_file is not None:
            self.stack_file.unlink(missing_ok=True)
            self.stack_file = None
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            if self._uvicorn_thread is not None:
                self._uvicorn_thread.join(10)
            self._uvicorn = None
        self.seam.uninstall()
        if self._moto is not None:
            if self._saved_moto_config is not None:
                # GET /moto-api/config does not report stepfunctions; its default is "echo only".
                self._post_moto_config(
                    {**self._saved_moto_config, "stepfunctions": {"execute_state_machine": False}}
                )
            self._reset_moto()  # moto's backends are process-global: leave nothing for the next user
            self._moto.stop()
            self._moto = None
        self._restore_env()
        atomic_dynamodb.uninstall()
        reset_settings()
        reset_clients()

    # --- steps ---------------------------------------------------------------------------------

    def _start(self) -> None:
        # moto's werkzeug server logs every AWS call, httpx every request: keep the console readable.
        for noisy in ("werkzeug", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        moto_endpoint, moto_port = self._start_moto()
        api_socket = self._claim_api_port()
        self._point_at_moto(moto_endpoint, moto_port)
        self.seam.install()
        self.resources = create_resources()
        self._set_env({**self.resources.env(), **self.extra_env})
        reset_settings()
        reset_clients()
        self._register_stage_handlers()

        self.credentials = bootstrap(f"http://127.0.0.1:{self.api_port}/api/v1")
        self.env_file = write_env_file(self.credentials, self.state_dir)
        self._write_stack_file()

        self._start_loops()
        if api_socket is not None:
            self._start_api(api_socket)

    def _start_moto(self) -> tuple[str, int]:
        """moto in server mode on 127.0.0.1, configured to run state machines: (endpoint, port)."""
        from moto.server import ThreadedMotoServer

        # moto's DynamoDB is not atomic under threads; the real service is (see atomic_dynamodb).
        atomic_dynamodb.install()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, moto_port = self._moto.get_host_and_port()
        self.moto_endpoint = f"http://{host}:{moto_port}"
        self._saved_moto_config = self._get_moto_config()
        self._post_moto_config(MOTO_CONFIG)
        return self.moto_endpoint, int(moto_port)

    def _claim_api_port(self) -> socket.socket | None:
        """The API's listening socket (bound now, so the port is known before anything is
        configured with it), or ``None`` when the API is not served."""
        if not self.serve_api:
            self.api_port = self.requested_port or get_settings().port
            return None
        api_socket = _bind(self.requested_port if self.requested_port is not None else get_settings().port)
        self.api_port = api_socket.getsockname()[1]
        return api_socket

    def _point_at_moto(self, moto_endpoint: str, moto_port: int) -> None:
        """The environment every AWS client and the settings read, aimed at this stack's moto."""
        allow_private = (
            self.allow_private_targets
            if self.allow_private_targets is not None
            else get_settings().allow_private_targets
        )
        self._set_env(
            {
                # boto3 reads these itself; moto's interpreter invokes Lambda at localhost:MOTO_PORT.
                "AWS_ENDPOINT_URL": moto_endpoint,
                "MOTO_PORT": str(moto_port),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - moto's fake credentials
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                # No X-Ray daemon and no CloudWatch here: EMF lines would only clutter the console.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "botscope",
                "BOTSCOPE_LOCAL_MODE": "true",
                "BOTSCOPE_ALLOW_PRIVATE_TARGETS": allow_private,
                "BOTSCOPE_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.api_port}",
                # Webhook retries compressed from about a day to seconds, unless the caller chose.
                "BOTSCOPE_WEBHOOK_RETRY_SCHEDULE": os.environ.get("BOTSCOPE_WEBHOOK_RETRY_SCHEDULE")
                or "1,2,4,8",
                # A development Web Bot Auth key for this run, unless the caller brought one.
                "BOTSCOPE_WEB_BOT_AUTH_KEY": os.environ.get("BOTSCOPE_WEB_BOT_AUTH_KEY") or generate_seed(),
            }
        )
        reset_settings()
        reset_clients()

    def _register_stage_handlers(self) -> None:
        assert self.resources is not None
        for logical_id in STAGE_FUNCTIONS:
            name, directory = self.resources.functions[logical_id]
            lazy = LazyHandler(directory.name)

            def run(event: dict[str, Any], context: Any, lazy: LazyHandler = lazy) -> Any:
                handler = lazy.get()
                if handler is None:
                    raise RuntimeError(f"functions/{lazy.function_dir}/app.py is missing")
                return handler(event, context)

            self.seam.register(name, run)

    def _start_loops(self) -> None:
        assert self.resources is not None
        functions = self.resources.functions
        if "WebhookDeliverFunction" in functions:
            name, directory = functions["WebhookDeliverFunction"]
            self._loops.append(
                SqsPoller(
                    self.resources.webhook_queue_url,
                    LazyHandler(directory.name),
                    region=self.resources.region,
                    function_name=name,
                )
            )
        if self.run_schedules:
            interval = (
                self.schedule_seconds or get_settings().monitor_interval_seconds or DEFAULT_SCHEDULE_SECONDS
            )
            region = self.resources.region
            if "MonitorSchedulerFunction" in functions:
                name, directory = functions["MonitorSchedulerFunction"]
                self._loops.append(
                    ScheduleLoop(
                        "monitor",
                        LazyHandler(directory.name),
                        interval=interval,
                        first_delay=interval,
                        event_factory=lambda: scheduled_event("MonitorSchedule", region),
                        function_name=name,
                    )
                )
            if "SampleReportsFunction" in functions:
                name, directory = functions["SampleReportsFunction"]
                self._loops.append(
                    ScheduleLoop(
                        "sample-reports",
                        LazyHandler(directory.name),
                        interval=DAY_SECONDS,
                        first_delay=1.0 if self.sample_reports_at_start else DAY_SECONDS,
                        event_factory=lambda: scheduled_event("DailySampleReports", region),
                        function_name=name,
                    )
                )
        for loop in self._loops:
            loop.start()

    def _start_api(self, api_socket: socket.socket) -> None:
        import uvicorn

        from botscope.api.app import create_app

        config = api_server_config(create_app())
        self._uvicorn = uvicorn.Server(config)
        self._uvicorn_thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [api_socket]}, name="botscope-uvicorn", daemon=True
        )
        self._uvicorn_thread.start()
        for _ in range(200):
            if self._uvicorn.started or not self._uvicorn_thread.is_alive():
                break
            threading.Event().wait(0.05)
        if not self._uvicorn.started:
            raise RuntimeError("the API server did not start")

    # --- moto config and environment -----------------------------------------------------------

    def _get_moto_config(self) -> dict[str, Any]:
        import httpx

        return dict(httpx.get(f"{self.moto_endpoint}/moto-api/config", timeout=5).raise_for_status().json())

    def _post_moto_config(self, config: dict[str, Any]) -> None:
        import httpx

        httpx.post(f"{self.moto_endpoint}/moto-api/config", json=config, timeout=5).raise_for_status()

    def _reset_moto(self) -> None:
        import httpx

        try:
            httpx.post(f"{self.moto_endpoint}/moto-api/reset", timeout=10)
        except httpx.HTTPError:
            log.warning("could not reset moto's state")

    def _write_stack_file(self) -> None:
        """``.botscope/stack.json``: how to reach this running stack (``make invoke-<fn>`` attaches)."""
        assert self.resources is not None
        self.stack_file = self.state_dir / "stack.json"
        self.stack_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "api_url": self.base_url if self.serve_api else None,
                    "aws_endpoint_url": self.moto_endpoint,
                    "env": self.resources.env(),
                    "functions": {k: v[0] for k, v in self.resources.functions.items()},
                },
                indent=2,
            )
        )

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
