"""Powertools Logger, Metrics and Tracer, created once per process.

Logs are JSON with a correlation id (the API request id, or the scan id in workflow stages).
Metrics go out as EMF in the ``BotScope`` namespace.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="botscope")
metrics = Metrics(namespace="BotScope", service="botscope")
tracer = Tracer(service="botscope", auto_patch=False)
