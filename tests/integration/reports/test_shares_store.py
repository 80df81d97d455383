"""botscope.store.shares against moto: the three items of a share, replaced and revoked together."""

from __future__ import annotations

from typing import Any

from botscope.auth import tokens
from botscope.store import shares
from botscope.store.table import table

from tests.helpers.entities import undeclared_attributes

BADGE = {"posture": "strict", "ai_access": "blocked"}


def _raw(pk: str) -> dict[str, Any] | None:
    return table().get_item(Key={"pk": pk, "sk": "SHARE"}, ConsistentRead=True).get("Item")


def test_a_share_is_readable_by_scan_token_and_id_and_declares_every_attribute(aws: Any) -> None:
    share, token = shares.create("ws_a", "scan_1", BADGE)
    current = shares.get_current("scan_1")
    by_token = shares.get_by_token(token)
    by_id = shares.get_by_id(share.share_id)
    assert current is not None and by_token is not None and by_id is not None
    assert current.token_hash == tokens.hash_token(token) == share.token_hash
    assert {current.share_id, by_token.share_id, by_id.share_id} == {share.share_id}
    assert (by_id.posture, by_id.ai_access) == ("strict", "blocked") and by_token.posture is None
    assert by_token.scan_job_id == "scan_1" and by_token.workspace_id == "ws_a"
    for pk in ("SCAN#scan_1", f"SHARE#{tokens.hash_token(token)}", f"SHAREID#{share.share_id}"):
        raw = _raw(pk)
        assert raw is not None and undeclared_attributes(shares.Share, raw) == set()
    assert token not in str(_raw("SCAN#scan_1")), "the token itself is never stored"


def test_a_new_share_revokes_the_previous_one_and_revoke_removes_all_three_items(aws: Any) -> None:
    first, first_token = shares.create("ws_a", "scan_1", BADGE)
    second, second_token = shares.create("ws_a", "scan_1", BADGE)
    assert shares.get_by_token(first_token) is None and shares.get_by_id(first.share_id) is None
    assert shares.get_by_token(second_token) is not None
    assert shares.revoke("scan_1") is True and shares.revoke("scan_1") is False
    assert shares.get_current("scan_1") is None and shares.get_by_token(second_token) is None
    assert shares.get_by_id(second.share_id) is None


def test_malformed_tokens_and_ids_are_not_looked_up(aws: Any) -> None:
    assert shares.get_by_token("shr_not-a-token") is None and shares.get_by_id("nope") is None
