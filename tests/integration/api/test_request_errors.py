"""Request-level errors named precisely: a non-JSON body is 415, malformed JSON names ``body``, and a
host that does not resolve is ``target_unresolvable`` (not ``target_not_public``)."""

from __future__ import annotations

import pytest

from tests.integration.api._support import bearer

SCANS = "/api/v1/scans"
BODY = b'{"target_url": "https://example.com/"}'


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_gets_415(scan_api, workspace_factory, content_type):
    _, key = workspace_factory("enterprise")
    headers = bearer(key) | ({"content-type": content_type} if content_type else {})
    response = scan_api.post(SCANS, content=BODY, headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unsupported_media_type"


def test_a_json_media_type_with_parameters_or_suffix_is_accepted(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = scan_api.post(SCANS, content=BODY, headers=bearer(key) | {"content-type": content_type})
        assert response.status_code in (200, 202), (content_type, response.text)


def test_credentials_come_before_the_media_type(scan_api):
    response = scan_api.post(SCANS, content=BODY, headers={"content-type": "text/plain"})
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_malformed_json_names_the_body(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    response = scan_api.post(
        SCANS, content=b'{"target_url": ', headers=bearer(key) | {"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "message": "JSON decode error"}]


def test_an_unresolvable_host_has_its_own_code(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    response = scan_api.post(SCANS, json={"target_url": "https://nowhere.invalid/"}, headers=bearer(key))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "target_unresolvable"
    assert body["errors"] == [{"field": "target_url", "message": "the host name does not resolve"}]
    private = scan_api.post(SCANS, json={"target_url": "http://db.internal.test/"}, headers=bearer(key))
    assert private.json()["code"] == "target_not_public"
