"""BotScope's Web Bot Auth identity, built from the settings (docs/web-bot-auth.md): the signer
for the key directory (API) and, when scans are opted in, for the signed_agent path runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botscope.config import Settings, get_settings

if TYPE_CHECKING:
    from botscope.scanner.probe.web_bot_auth import WebBotAuthSigner


def configured_signer(settings: Settings | None = None) -> WebBotAuthSigner | None:
    """The signer for the configured key, or None without one."""
    from botscope.scanner.probe.web_bot_auth import WebBotAuthSigner

    settings = settings or get_settings()
    key = settings.web_bot_auth_key.get_secret_value()
    if not key:
        return None
    return WebBotAuthSigner.from_setting(key, settings.web_bot_auth_agent or settings.public_base_url)


def scan_signer(settings: Settings | None = None) -> WebBotAuthSigner | None:
    """The signer scans use: only when ``BOTSCOPE_WEB_BOT_AUTH_SIGN_SCANS`` opts them in."""
    settings = settings or get_settings()
    return configured_signer(settings) if settings.web_bot_auth_sign_scans else None
