"""The SSRF guard applied to webhook endpoint URLs, at creation and again before every attempt
(DNS answers may change between the two).

Built on the scanner's guard (``botscope.scanner.targets``): one canonical URL, every resolved
address checked, the checked addresses returned so the sender connects to them and never
resolves the name again. Webhooks add one rule: https only, except http in local mode when every
address is inside an explicitly allowed private range (``BOTSCOPE_ALLOW_PRIVATE_TARGETS``).
"""

from __future__ import annotations

from botscope.config import Settings, get_settings
from botscope.errors import InvalidTarget
from botscope.scanner.model import Target
from botscope.scanner.targets import IPAddress, NetworkPolicy, Resolver, guard_target

# Tests swap in a resolver whose answers change; None = the system resolver.
DEFAULT_RESOLVER: Resolver | None = None


def network_policy(settings: Settings | None = None) -> NetworkPolicy:
    return NetworkPolicy((settings or get_settings()).allowed_private_networks)


def guard_endpoint(
    url: str, *, settings: Settings | None = None, resolver: Resolver | None = None
) -> tuple[Target, list[IPAddress]]:
    """``(target, checked addresses)`` or ``InvalidTarget`` / ``TargetNotPublic``."""
    settings = settings or get_settings()
    target, addresses = guard_target(url, network_policy(settings), resolver or DEFAULT_RESOLVER)
    require_https(target, addresses, settings)
    return target, addresses


def require_https(target: Target, addresses: list[IPAddress], settings: Settings) -> None:
    """The webhook rule on top of the guard, applied to the addresses it checked: https, or
    ``InvalidTarget`` (http only in local mode, every address inside an allowed private range)."""
    if target.scheme == "https":
        return
    policy = network_policy(settings)
    if not (settings.local_mode and addresses and all(policy.allows(ip) for ip in addresses)):
        raise InvalidTarget(
            "webhook URLs must use https (http is accepted only in local mode "
            "for explicitly allowed private ranges)"
        )
