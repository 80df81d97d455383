"""The base of the typed entities a repository in ``botscope.store`` returns (docs/data-model.md).

A repository reads an item, drops its storage keys (``pk``, ``sk``, index keys, ``expires_at``),
turns DynamoDB numbers into plain ``int``/``float`` and hands back an immutable entity. Callers
above the store read attributes, never item dicts, and change an entity only through the
repository's conditional writes; ``model_copy(update=...)`` gives a changed copy for a caller's own
bookkeeping. Times stay ISO 8601 strings, as they are stored (``botscope.isotime``).

Unknown attributes are ignored so an item written by a newer release still reads; each
repository's tests check that its entity declares every attribute the repository writes.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from botscope.store.table import plain_item


class Entity(BaseModel):
    # ``defer_build``: an entity's validator is built when it is first used, so a function's cold
    # start pays only for the entities that function reads.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        """The entity of a raw DynamoDB item (as ``Table.get_item`` / ``query`` return it)."""
        return cls.model_validate(plain_item(item))

    def to_dict(self) -> dict[str, Any]:
        """The entity's attributes as plain JSON values, for views and payloads."""
        return self.model_dump(mode="json")
