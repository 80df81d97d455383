"""The whole local stack (moto server, scan workflow with the seam, SQS poller, uvicorn) for tests
that go end to end, always on 127.0.0.1 and allowed to scan fixture sites on 127.0.0.0/8."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def running_local_stack(state_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Any]:
    from botscope.local import LocalStack

    with LocalStack(
        port=0,
        allow_private_targets="127.0.0.0/8",
        run_schedules=False,
        state_dir=state_dir,
        extra_env=extra_env,
    ) as running:
        yield running
