"""The one-machine stack: ``python -m botscope.local`` (``make run``), or ``LocalStack`` from tests.

Imported lazily: moto and uvicorn are development dependencies, never shipped to Lambda.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botscope.local.stack import LocalStack

__all__ = ["LocalStack"]


def __getattr__(name: str) -> Any:
    if name == "LocalStack":
        from botscope.local.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
