"""BotScope's Web Bot Auth key directory at ``/.well-known/http-message-signatures-directory``
(outside /api/v1: the location is fixed by the Web Bot Auth directory draft; docs/web-bot-auth.md).
Public, unauthenticated, signed; 404 when no signing key is configured."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response

from botscope.agent_identity import configured_signer
from botscope.scanner.vocabulary import WEB_BOT_AUTH_DIRECTORY

# Fixed by the directory draft. From the vocabulary, not the signer, so the API's cold start does
# not import the signing code.
DIRECTORY_PATH = WEB_BOT_AUTH_DIRECTORY.path


def key_directory(request: Request) -> Response:
    signer = configured_signer()
    if signer is None:
        return Response(status_code=404)
    authority = request.headers.get("host") or urlsplit(signer.signature_agent).netloc
    body, headers = signer.directory(authority)
    return Response(content=body, headers=dict(headers), media_type=None)


def mount(app: FastAPI) -> None:
    app.add_api_route(DIRECTORY_PATH, key_directory, methods=["GET"], include_in_schema=False)
