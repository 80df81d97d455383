"""The local stack's state is ephemeral, as the README says: a restart starts from nothing, with
fresh credentials in dev.env, and the old credentials no longer work."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.local_stack import running_local_stack

pytestmark = pytest.mark.e2e


def test_a_restarted_stack_starts_empty_with_new_credentials(tmp_path: Path) -> None:
    with running_local_stack(tmp_path) as first:
        old_key = first.credentials.enterprise_api_key
        headers = {"Authorization": f"Bearer {old_key}"}
        created = httpx.post(
            f"{first.base_url}/api/v1/api-keys", json={"label": "before restart"}, headers=headers, timeout=30
        )
        assert created.status_code == 201, created.text
        old_env = (tmp_path / "dev.env").read_text()
    with running_local_stack(tmp_path) as second:
        new_key = second.credentials.enterprise_api_key
        assert new_key != old_key and (tmp_path / "dev.env").read_text() != old_env
        assert (
            httpx.get(
                f"{second.base_url}/api/v1/api-keys",
                headers={"Authorization": f"Bearer {old_key}"},
                timeout=30,
            ).status_code
            == 401
        )
        listed = httpx.get(
            f"{second.base_url}/api/v1/api-keys", headers={"Authorization": f"Bearer {new_key}"}, timeout=30
        ).json()["data"]
        assert "before restart" not in {k.get("label") for k in listed}
