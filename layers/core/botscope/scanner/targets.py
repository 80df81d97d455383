"""Target normalization and the SSRF guard.

Every customer URL goes through ``normalize_target`` (one canonical form, or ``InvalidTarget``)
and every host the scanner is about to contact goes through ``resolve_and_check`` (every address
public, or ``TargetNotPublic``). The fetcher then connects to the addresses returned here and
never resolves the name again, so a DNS answer that changes between check and use (rebinding)
cannot move a request into private space.

Error messages never contain the resolved addresses: a report or an API problem must not leak
origin IPs, and an attacker must not learn what a name resolves to inside our network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import idna

from botscope.errors import InvalidTarget, TargetNotPublic, TargetUnresolvable
from botscope.numbers import ascii_int
from botscope.scanner.model import Target

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Iterable[str]]

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# Characters kept as they are in a path or query; everything else is percent-encoded once.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


@dataclass(frozen=True)
class NetworkPolicy:
    """Which non-public ranges a scan may reach anyway. Default: none (production)."""

    allow_private: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> NetworkPolicy:
        return cls(tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip()))

    def allows(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allow_private)


# --- non-public ranges -------------------------------------------------------------------------
# Listed explicitly rather than trusting ``ipaddress.is_global`` alone: its tables changed between
# Python releases, and multicast counts as "global" there.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", incl. 0.0.0.0 (reaches the local host on Linux)
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # CGNAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, incl. cloud metadata 169.254.169.254
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast 255.255.255.255
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, benchmarking …)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique-local, incl. fd00:ec2::254 (EC2 metadata over IPv6)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPAT = ipaddress.IPv6Network("::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _V4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress, policy: NetworkPolicy | None = None) -> bool:
    """True when the scanner may connect to ``ip``: a public unicast address, or one inside a
    range the policy opts in."""
    policy = policy or NetworkPolicy()
    if policy.allows(ip):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            # An IPv6 form of an IPv4 address is exactly as public as the address it carries.
            return is_public_address(inner, policy)
        if any(ip in net for net in _BLOCKED_V6):
            return False
    elif any(ip in net for net in _BLOCKED_V4):
        return False
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


# --- IP literals -------------------------------------------------------------------------------


def _parse_ipv4_part(part: str) -> int | None:
    if not part:
        return None
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        if digits == "":
            return 0  # inet_aton reads a bare "0x" as zero
        return int(digits, 16) if re.fullmatch(r"[0-9a-fA-F]+", digits) else None
    if len(part) > 1 and part[0] == "0":
        return int(part, 8) if re.fullmatch(r"[0-7]+", part) else None
    return ascii_int(part, max_digits=32)


def _looks_numeric(label: str) -> bool:
    return bool(re.fullmatch(r"(0[xX][0-9a-fA-F]*|[0-9]+)", label))


def parse_ip_literal_loose(host: str) -> IPAddress | None:
    """Read ``host`` as an IP address the way resolvers and URL parsers do.

    ``inet_aton`` (and the WHATWG URL parser) accept IPv4 in one to four parts, each decimal,
    octal (leading 0) or hex (0x), the last part filling the remaining bytes: ``2130706433``,
    ``0x7f.1``, ``0177.0.0.1``, ``127.1`` and ``0x7f000001`` are all 127.0.0.1. Returns None when
    ``host`` is a name. Raises ``InvalidTarget`` for a host that is numeric but not a valid
    address (``1.2.3.4.5``, ``256.1.1.1``): a resolver might still answer for it.
    """
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise InvalidTarget("IPv6 zone identifiers are not accepted")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidTarget("the host is not a valid IPv6 address") from None
    parts = host.split(".")
    if not parts or not _looks_numeric(parts[-1]):
        return None  # a name: the last label is not a number (WHATWG "ends in a number")
    if len(parts) > 4:
        raise InvalidTarget("the host is not a valid IPv4 address")
    parsed = [_parse_ipv4_part(p) for p in parts]
    values = [v for v in parsed if v is not None]
    if len(values) != len(parsed):
        raise InvalidTarget("the host is not a valid IPv4 address")
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        raise InvalidTarget("the host is not a valid IPv4 address")
    number = 0
    for v in head:
        number = number * 256 + v
    number = (number << (8 * (5 - len(values)))) | last
    return ipaddress.IPv4Address(number)


# --- normalization -----------------------------------------------------------------------------


def _normalize_host(raw: str) -> str:
    """Lower-cased ASCII host: an IP literal in canonical form or an IDNA-encoded name."""
    host = unquote(raw)  # URL parsers percent-decode the host before reading it
    if not host:
        raise InvalidTarget("the URL has no host")
    if any(c in host for c in "\\/@?#% \t\r\n") or any(ord(c) < 0x21 for c in host):
        raise InvalidTarget("the host contains characters that are not allowed")
    if host.startswith("["):
        ip = parse_ip_literal_loose(host)
        if not host.endswith("]") or not isinstance(ip, ipaddress.IPv6Address):
            # "[foo]" (also spelt "%5Bfoo%5D") or "[1.2.3.4]": brackets hold an IPv6 address only.
            raise InvalidTarget("the host in brackets is not an IPv6 address")
        return str(ip)
    if not host.isascii():
        # UTS 46 maps full-width digits and dots too, so "１２７．０．０．１" becomes an IP literal below.
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidTarget("the host is not a valid internationalized domain name") from exc
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]  # a fully qualified name: same host
    ip = parse_ip_literal_loose(host)
    if ip is not None:
        return str(ip)
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise InvalidTarget("the host is not a valid domain name")
    return host


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` (brackets allowed) is an IP address written as such, not a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def normalize_target(url: str) -> Target:
    """One canonical form of a customer URL, or ``InvalidTarget`` saying what is wrong."""
    url = _screened(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidTarget("the target URL cannot be parsed") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidTarget("only http and https URLs can be scanned")
    host_part, port_text = _split_authority(parts.netloc)
    port = _port(port_text, _DEFAULT_PORTS[scheme])
    host = _normalize_host(host_part)
    path = _path_and_query(parts.path, parts.query)
    origin = f"{scheme}://{_host_for_url(host)}"
    if port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    return Target(
        url=origin + path,
        scheme="https" if scheme == "https" else "http",
        host=host,
        port=port,
        path=path,
        origin=origin,
    )


def _screened(url: str) -> str:
    """The URL without surrounding blanks, refused when empty, too long, or when it holds a
    character that parsers read differently."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidTarget("the target URL is empty")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidTarget(f"the target URL is longer than {MAX_URL_LENGTH} characters")
    # Rejected before parsing: urlsplit silently drops tabs and newlines, and browsers read a
    # backslash as a slash, so either could make us check one host and contact another.
    if any(ord(c) < 0x20 or c in "\x7f\\" for c in url):
        raise InvalidTarget("the target URL contains control characters or backslashes")
    return url


def _split_authority(netloc: str) -> tuple[str, str]:
    """``(host as written, port text)`` of an authority without user information."""
    if not netloc:
        raise InvalidTarget("the URL has no host")
    if "@" in netloc:
        raise InvalidTarget("URLs with user information (user:password@) are not accepted")
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidTarget("the IPv6 address in the URL is not closed with ]")
        host_part, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidTarget("the URL authority is malformed")
        return host_part, rest[1:]
    if ":" in netloc:
        host_part, _, port_text = netloc.rpartition(":")
        if ":" in host_part:
            raise InvalidTarget("an IPv6 address must be written in brackets")
        return host_part, port_text
    return netloc, ""


def _port(port_text: str, default: int) -> int:
    if port_text == "":  # an empty port ("host:/") means the default one, as in browsers
        return default
    # ASCII digits only: "²" and "①" pass isdigit() but break int(), and a fullwidth "１０"
    # (which WHATWG would read as 10) is a URL the customer did not literally write.
    number = ascii_int(port_text, max_digits=5)
    if number is None or not 1 <= number <= 65535:
        raise InvalidTarget("the port must be written in ASCII digits, between 1 and 65535")
    return number


def _path_and_query(path: str, query: str) -> str:
    """The request target, percent-encoded once."""
    encoded = quote(path or "/", safe=_PATH_SAFE)
    if not encoded.startswith("/"):
        encoded = "/" + encoded
    if query:
        encoded += "?" + quote(query, safe=_QUERY_SAFE)
    return encoded


# --- resolution + guard ------------------------------------------------------------------------


def system_resolver(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_and_check(
    host: str, port: int, policy: NetworkPolicy | None = None, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Every address ``host`` resolves to, each one checked; ``TargetNotPublic`` if any is not
    public, ``TargetUnresolvable`` (a ``TargetNotPublic``) if the name does not resolve. ``port`` is accepted for symmetry with the connect
    step (no port is forbidden: the host decides)."""
    del port
    policy = policy or NetworkPolicy()
    literal = parse_ip_literal_loose(host)
    if literal is not None:
        candidates: list[IPAddress] = [literal]
    else:
        try:
            answers = list((resolver or system_resolver)(host))
        except (OSError, UnicodeError) as exc:
            raise TargetUnresolvable("the host name does not resolve") from exc
        candidates = []
        for answer in answers:
            try:
                candidates.append(ipaddress.ip_address(str(answer)))
            except ValueError:
                # A scoped link-local answer ("fe80::1%eth0") is non-public anyway.
                raise TargetNotPublic("the host resolves to a non-public address") from None
    if not candidates:
        raise TargetUnresolvable("the host name does not resolve")
    if not all(is_public_address(ip, policy) for ip in candidates):
        raise TargetNotPublic("the host resolves to a non-public address")
    return list(dict.fromkeys(candidates))


def guard_target(
    url: str, policy: NetworkPolicy | None = None, resolver: Resolver | None = None
) -> tuple[Target, list[IPAddress]]:
    target = normalize_target(url)
    return target, resolve_and_check(target.host, target.port, policy, resolver)
