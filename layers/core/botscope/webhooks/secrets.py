"""Webhook signing secrets at rest.

A signing secret must be usable to sign (HMAC needs the key itself), so it cannot be hashed like
an API key; it is encrypted instead.

* AWS (``BOTSCOPE_WEBHOOK_KMS_KEY_ID`` set): KMS ``Encrypt`` of the secret with an encryption
  context binding it to its workspace and endpoint, so a ciphertext copied onto another item does
  not decrypt (``scheme = "kms"``). Secrets are < 100 bytes, far below KMS's 4 KB direct-encrypt
  limit, so no data key (envelope) is needed. The delivery function decrypts and keeps the
  plaintext in a small in-process cache, so KMS sees one call per endpoint per warm container.
* Local fallback (no key configured, i.e. the one-machine stack and tests that do not set a
  key): the secret is stored base64-encoded, NOT encrypted (``scheme = "local-plaintext"``), and
  a warning is logged when this happens outside local mode. Deployed stacks must set the key
  (template.yaml: ``BOTSCOPE_WEBHOOK_KMS_KEY_ID``).

The scheme is stored with the ciphertext so a stack can move from the fallback to KMS without
rewriting old items.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING

from botscope import isotime
from botscope.config import get_settings
from botscope.store.table import kms_client

if TYPE_CHECKING:
    from botscope.store.webhooks import Webhook

KMS = "kms"
LOCAL_PLAINTEXT = "local-plaintext"
_CACHE_SIZE = 512

_cache: OrderedDict[str, str] = OrderedDict()
_cache_lock = Lock()


def reset() -> None:
    """Forget every cached plaintext (the KMS client is reset with the others:
    ``botscope.store.table.reset_clients``)."""
    with _cache_lock:
        _cache.clear()


def _context(workspace_id: str, webhook_id: str) -> dict[str, str]:
    return {"botscope:workspace_id": workspace_id, "botscope:webhook_id": webhook_id}


def encrypt(secret: str, *, workspace_id: str, webhook_id: str) -> dict[str, str]:
    """Returns ``{"secret_scheme", "secret_ciphertext"}`` to store on the endpoint item."""
    settings = get_settings()
    if settings.webhook_kms_key_id:
        blob = kms_client().encrypt(
            KeyId=settings.webhook_kms_key_id,
            Plaintext=secret.encode(),
            EncryptionContext=_context(workspace_id, webhook_id),
        )["CiphertextBlob"]
        return {"secret_scheme": KMS, "secret_ciphertext": base64.b64encode(blob).decode("ascii")}
    if not settings.local_mode:
        from botscope.observability import logger

        logger.warning("BOTSCOPE_WEBHOOK_KMS_KEY_ID is not set: webhook secret stored without encryption")
    return {
        "secret_scheme": LOCAL_PLAINTEXT,
        "secret_ciphertext": base64.b64encode(secret.encode()).decode("ascii"),
    }


def decrypt(endpoint: Webhook) -> str:
    """The plaintext ``whsec_`` secret of an endpoint."""
    return _decrypt(
        endpoint.secret_scheme,
        endpoint.secret_ciphertext,
        workspace_id=endpoint.workspace_id,
        webhook_id=endpoint.webhook_id,
    )


def _decrypt(scheme: str, ciphertext: str, *, workspace_id: str, webhook_id: str) -> str:
    if scheme == LOCAL_PLAINTEXT:
        return base64.b64decode(ciphertext).decode()
    if scheme != KMS:
        raise ValueError(f"unknown secret scheme {scheme!r}")
    with _cache_lock:
        if ciphertext in _cache:
            _cache.move_to_end(ciphertext)
            return _cache[ciphertext]
    plaintext: str = (
        kms_client()
        .decrypt(
            CiphertextBlob=base64.b64decode(ciphertext),
            EncryptionContext=_context(workspace_id, webhook_id),
        )["Plaintext"]
        .decode()
    )
    with _cache_lock:
        _cache[ciphertext] = plaintext
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return plaintext


def signing_secrets(endpoint: Webhook, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with, newest first: the current one, plus the one it
    replaced while the rotation's overlap lasts (``previous_secret_*`` fields until
    ``rotation_overlap_until``), so receivers holding either secret verify every delivery."""
    current = decrypt(endpoint)
    expires = endpoint.rotation_overlap_until
    if not expires or not endpoint.previous_secret_scheme or not endpoint.previous_secret_ciphertext:
        return [current]
    if isotime.parse_iso(expires) <= (now or isotime.utcnow()):
        return [current]
    previous = _decrypt(
        endpoint.previous_secret_scheme,
        endpoint.previous_secret_ciphertext,
        workspace_id=endpoint.workspace_id,
        webhook_id=endpoint.webhook_id,
    )
    return [current, previous]
