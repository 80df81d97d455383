"""Powertools Logger, Metrics and Tracer, created once per process.

Logs are JSON with a correlation id (the API request id, or the scan id in workflow stages).
Metrics go out as EMF in the ``BotScope`` namespace.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="botscope")
metrics = Metrics(namespace="BotScope", service="botscope")


class _LazyTracer:
    """The Tracer, created on first use. Creating it in Lambda imports the X-Ray SDK, whose recorder
    builds a botocore client (~150-250 ms here): a module that merely imports ``logger`` must not
    pay that at cold-import time (docs/benchmarks.md, bench_cold_import)."""

    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._tracer is None:
            self._tracer = Tracer(service="botscope", auto_patch=False)
        return getattr(self._tracer, name)


tracer: Any = _LazyTracer()
