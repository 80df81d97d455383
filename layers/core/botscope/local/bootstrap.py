"""Seeds a fresh local stack: a growth and an enterprise workspace, an API key for each, a browser
session for the growth one; writes them to ``.botscope/dev.env`` for shell use (``source``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from botscope.store import credentials, workspaces


@dataclass(frozen=True)
class DevCredentials:
    api_url: str
    growth_workspace_id: str
    growth_api_key: str
    enterprise_workspace_id: str
    enterprise_api_key: str
    session_token: str

    def env_lines(self) -> list[str]:
        return [
            f"BOTSCOPE_API_URL={self.api_url}",
            f"BOTSCOPE_API_KEY={self.growth_api_key}",
            f"BOTSCOPE_ENTERPRISE_API_KEY={self.enterprise_api_key}",
            f"BOTSCOPE_SESSION={self.session_token}",
            f"BOTSCOPE_WORKSPACE_ID={self.growth_workspace_id}",
            f"BOTSCOPE_ENTERPRISE_WORKSPACE_ID={self.enterprise_workspace_id}",
        ]


def bootstrap(api_url: str) -> DevCredentials:
    growth = workspaces.create_workspace("Local growth workspace", "growth")
    enterprise = workspaces.create_workspace("Local enterprise workspace", "enterprise")
    growth_key = credentials.create_api_key(growth.workspace_id, "local bootstrap")
    enterprise_key = credentials.create_api_key(enterprise.workspace_id, "local bootstrap")
    session = credentials.create_session(growth.workspace_id, "local-bootstrap")
    return DevCredentials(
        api_url,
        growth.workspace_id,
        growth_key.secret,
        enterprise.workspace_id,
        enterprise_key.secret,
        session.secret,
    )


def write_env_file(creds: DevCredentials, state_dir: Path) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "dev.env"
    path.write_text(
        "# Written by `make run` (python -m botscope.local); valid while it runs.\n"
        + "\n".join(creds.env_lines())
        + "\n"
    )
    path.chmod(0o600)  # holds live credentials
    return path
