"""Who is calling: the workspace, its plan, and the credential that authenticated the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Plan = Literal["starter", "growth", "enterprise"]
WorkspaceStatus = Literal["active", "cancelled", "past_due"]
ActorType = Literal["api_key", "session", "mcp_token", "system"]


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    plan: Plan
    workspace_status: WorkspaceStatus
    actor_type: ActorType
    actor_id: str  # key_… / ses_… / mcp token id / "scheduler"
    scopes: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None
    source_ip: str | None = None

    @property
    def in_good_standing(self) -> bool:
        return self.workspace_status == "active"

    @property
    def actor(self) -> str:
        return f"{self.actor_type}:{self.actor_id}"
