"""The hostile target table: URLs a customer might send as a scan target or a webhook endpoint to
make BotScope fetch something inside private space. Data, not tests: ``test_ssrf_suite.py`` runs
every row against every entry point (scanner fetch, ``POST /api/v1/scans``,
``POST /api/v1/webhooks``, the webhook sender's delivery-time check).

Every row that names a host:port points at the loopback canary (``{port}`` is its port), so a row
the guard let through would show up as a canary request. Names are answered by ``table_resolver``
(no DNS query ever leaves the process); a name it does not know does not resolve.

``code`` is the problem code of docs/api.md the row must be refused with:
- ``invalid_target``: not http/https, user information, unparsable, bad port, bad host syntax;
- ``target_not_public``: the host is (or resolves to) a loopback, private, CGNAT, link-local,
  metadata, multicast, reserved or otherwise non-public address, or does not resolve.
"""

from __future__ import annotations

from dataclasses import dataclass

INVALID = "invalid_target"
NOT_PUBLIC = "target_not_public"
UNRESOLVABLE = "target_unresolvable"  # refused like a non-public target, with its own code


@dataclass(frozen=True)
class Hostile:
    id: str
    url: str  # may contain {port}: the canary's port
    code: str
    why: str

    def render(self, port: int) -> str:
        return self.url.replace("{port}", str(port))


# Names the test resolver answers. Each stands for a real-world trick: a public-looking name that
# points into private space (nip.io-style services, attacker-controlled DNS, split-horizon names).
RESOLVER_TABLE: dict[str, list[str]] = {
    "localhost": ["127.0.0.1", "::1"],
    "sub.localhost": ["127.0.0.1"],  # RFC 6761: *.localhost is loopback
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "loopback.hostile.test": ["127.0.0.1"],
    "private10.hostile.test": ["10.0.0.5"],
    "private172.hostile.test": ["172.16.4.4"],
    "private192.hostile.test": ["192.168.1.20"],
    "cgnat.hostile.test": ["100.64.0.9"],
    "metadata.google.internal": ["169.254.169.254"],  # what it resolves to on GCP
    "metadata": ["169.254.169.254"],
    "instance-data": ["169.254.169.254"],  # EC2 classic name
    "ipv6-loopback.hostile.test": ["::1"],
    "ipv6-mapped.hostile.test": ["::ffff:127.0.0.1"],
    "ipv6-ula.hostile.test": ["fd00::10"],
    "ipv6-scoped.hostile.test": ["fe80::1%eth0"],
    "unspecified.hostile.test": ["0.0.0.0"],
    # One public and one private answer: the guard must refuse the name, not pick the good one.
    "mixed.hostile.test": ["93.184.215.14", "127.0.0.1"],
    "mixed-v6.hostile.test": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::1"],
    "empty.hostile.test": [],  # resolves to nothing
}


def table_resolver(host: str) -> list[str]:
    """The resolver injected everywhere in these suites: answers from RESOLVER_TABLE only."""
    answers = RESOLVER_TABLE.get(host.lower().rstrip("."))
    if answers is None:
        raise OSError(f"{host}: name does not resolve (test resolver)")
    return list(answers)


HOSTILE_TARGETS: tuple[Hostile, ...] = (
    # --- loopback, every spelling -----------------------------------------------------------------
    Hostile("loopback-dotted", "http://127.0.0.1:{port}/", NOT_PUBLIC, "plain loopback"),
    Hostile("loopback-other", "http://127.8.9.10:{port}/", NOT_PUBLIC, "all of 127/8 is loopback"),
    Hostile("loopback-decimal", "http://2130706433:{port}/", NOT_PUBLIC, "one decimal number"),
    Hostile("loopback-octal", "http://0177.0.0.1:{port}/", NOT_PUBLIC, "octal first octet"),
    Hostile("loopback-octal-full", "http://017700000001:{port}/", NOT_PUBLIC, "one octal number"),
    Hostile("loopback-hex-dotted", "http://0x7f.0.0.1:{port}/", NOT_PUBLIC, "hex first octet"),
    Hostile("loopback-hex-full", "http://0x7f000001:{port}/", NOT_PUBLIC, "one hex number"),
    Hostile("loopback-hex-short", "http://0x7f.1:{port}/", NOT_PUBLIC, "hex, two parts"),
    Hostile("loopback-short", "http://127.1:{port}/", NOT_PUBLIC, "two-part short form"),
    Hostile("loopback-short3", "http://127.0.1:{port}/", NOT_PUBLIC, "three-part short form"),
    Hostile(
        "loopback-zero-padded", "http://127.000.000.001:{port}/", NOT_PUBLIC, "zero padding (octal zeros)"
    ),
    Hostile("loopback-trailing-dot", "http://127.0.0.1.:{port}/", NOT_PUBLIC, "fully qualified literal"),
    Hostile("loopback-percent", "http://%31%32%37.0.0.1:{port}/", NOT_PUBLIC, "percent-encoded host"),
    Hostile(
        "loopback-fullwidth", "http://１２７．０．０．１:{port}/", NOT_PUBLIC, "full-width digits and dots"
    ),
    Hostile("loopback-ideographic-dot", "http://127。0。0。1:{port}/", NOT_PUBLIC, "ideographic full stops"),
    Hostile("loopback-circled", "http://①②⑦.0.0.①:{port}/", NOT_PUBLIC, "circled digits (UTS 46 maps them)"),
    Hostile(
        "loopback-fragment-trick",
        "http://127.0.0.1:{port}#@example.com/",
        NOT_PUBLIC,
        "the part after # is a fragment, not the host",
    ),
    Hostile(
        "loopback-query-trick",
        "http://127.0.0.1:{port}?@example.com/",
        NOT_PUBLIC,
        "the part after ? is a query, not the host",
    ),
    Hostile("localhost", "http://localhost:{port}/", NOT_PUBLIC, "the name"),
    Hostile("localhost-upper", "HTTP://LOCALHOST:{port}/", NOT_PUBLIC, "mixed case scheme and host"),
    Hostile("localhost-trailing-dot", "http://localhost.:{port}/", NOT_PUBLIC, "fully qualified name"),
    Hostile("localhost-sub", "http://sub.localhost:{port}/", NOT_PUBLIC, "RFC 6761 subdomain"),
    Hostile("localhost-nip", "http://127.0.0.1.nip.io:{port}/", NOT_PUBLIC, "wildcard DNS to loopback"),
    Hostile("name-to-loopback", "http://loopback.hostile.test:{port}/", NOT_PUBLIC, "attacker DNS"),
    Hostile(
        "name-mixed-answers", "http://mixed.hostile.test:{port}/", NOT_PUBLIC, "one public, one loopback"
    ),
    Hostile("name-mixed-v6", "http://mixed-v6.hostile.test:{port}/", NOT_PUBLIC, "public v6 and ::1"),
    # --- IPv6 forms of loopback and of IPv4 ---------------------------------------------------------
    Hostile("v6-loopback", "http://[::1]:{port}/", NOT_PUBLIC, "IPv6 loopback"),
    Hostile("v6-loopback-long", "http://[0:0:0:0:0:0:0:1]:{port}/", NOT_PUBLIC, "uncompressed"),
    Hostile("v6-mapped-dotted", "http://[::ffff:127.0.0.1]:{port}/", NOT_PUBLIC, "IPv4-mapped"),
    Hostile("v6-mapped-hex", "http://[::ffff:7f00:1]:{port}/", NOT_PUBLIC, "IPv4-mapped, hex"),
    Hostile("v6-compat", "http://[::127.0.0.1]:{port}/", NOT_PUBLIC, "IPv4-compatible (deprecated)"),
    Hostile("v6-nat64", "http://[64:ff9b::7f00:1]:{port}/", NOT_PUBLIC, "NAT64 well-known prefix"),
    Hostile("v6-nat64-metadata", "http://[64:ff9b::a9fe:a9fe]/", NOT_PUBLIC, "NAT64 of 169.254.169.254"),
    Hostile("v6-6to4", "http://[2002:7f00:1::]:{port}/", NOT_PUBLIC, "6to4 carrying 127.0.0.1"),
    Hostile("v6-6to4-private", "http://[2002:a00:1::]/", NOT_PUBLIC, "6to4 carrying 10.0.0.1"),
    Hostile("v6-mapped-private", "http://[::ffff:10.0.0.1]/", NOT_PUBLIC, "IPv4-mapped RFC 1918"),
    Hostile("v6-name-loopback", "http://ipv6-loopback.hostile.test:{port}/", NOT_PUBLIC, "AAAA ::1"),
    Hostile("v6-name-mapped", "http://ipv6-mapped.hostile.test:{port}/", NOT_PUBLIC, "AAAA ::ffff:127.0.0.1"),
    Hostile("v6-zone-id", "http://[fe80::1%25eth0]:{port}/", INVALID, "zone identifiers are refused"),
    # --- the unspecified address (Linux routes it to the local host) --------------------------------
    Hostile("unspecified", "http://0.0.0.0:{port}/", NOT_PUBLIC, "0.0.0.0"),
    Hostile("unspecified-zero", "http://0:{port}/", NOT_PUBLIC, "a single zero"),
    Hostile("unspecified-v6", "http://[::]:{port}/", NOT_PUBLIC, "IPv6 unspecified"),
    Hostile("unspecified-name", "http://unspecified.hostile.test:{port}/", NOT_PUBLIC, "A record 0.0.0.0"),
    # --- private, CGNAT, reserved --------------------------------------------------------------------
    Hostile("rfc1918-10", "http://10.0.0.1/", NOT_PUBLIC, "RFC 1918"),
    Hostile("rfc1918-10-short", "http://10.1/", NOT_PUBLIC, "short form of 10.0.0.1"),
    Hostile("rfc1918-172", "http://172.16.0.1/", NOT_PUBLIC, "RFC 1918"),
    Hostile("rfc1918-172-top", "http://172.31.255.254/", NOT_PUBLIC, "top of 172.16/12"),
    Hostile("rfc1918-192", "http://192.168.0.1/", NOT_PUBLIC, "RFC 1918"),
    Hostile("rfc1918-192-decimal", "http://3232235521/", NOT_PUBLIC, "192.168.0.1 as one number"),
    Hostile("name-to-10", "http://private10.hostile.test/", NOT_PUBLIC, "attacker DNS"),
    Hostile("name-to-172", "http://private172.hostile.test/", NOT_PUBLIC, "attacker DNS"),
    Hostile("name-to-192", "http://private192.hostile.test/", NOT_PUBLIC, "attacker DNS"),
    Hostile("cgnat", "http://100.64.0.1/", NOT_PUBLIC, "CGNAT (RFC 6598)"),
    Hostile("name-to-cgnat", "http://cgnat.hostile.test/", NOT_PUBLIC, "attacker DNS"),
    Hostile("benchmarking", "http://198.18.0.1/", NOT_PUBLIC, "RFC 2544"),
    Hostile("reserved-240", "http://240.0.0.1/", NOT_PUBLIC, "class E"),
    Hostile("broadcast", "http://255.255.255.255/", NOT_PUBLIC, "limited broadcast"),
    Hostile("multicast-v4", "http://224.0.0.1/", NOT_PUBLIC, "multicast"),
    Hostile("multicast-v6", "http://[ff02::1]/", NOT_PUBLIC, "multicast"),
    Hostile("ula", "http://[fd00::1]/", NOT_PUBLIC, "unique-local"),
    Hostile("ula-fc", "http://[fc00::1]/", NOT_PUBLIC, "unique-local"),
    Hostile("name-to-ula", "http://ipv6-ula.hostile.test/", NOT_PUBLIC, "AAAA fd00::10"),
    Hostile("site-local", "http://[fec0::1]/", NOT_PUBLIC, "deprecated site-local"),
    Hostile("documentation-v6", "http://[2001:db8::1]/", NOT_PUBLIC, "documentation range"),
    # --- link-local and cloud metadata ---------------------------------------------------------------
    Hostile("link-local", "http://169.254.1.1/", NOT_PUBLIC, "link-local"),
    Hostile("link-local-v6", "http://[fe80::1]/", NOT_PUBLIC, "link-local"),
    Hostile("name-to-scoped-v6", "http://ipv6-scoped.hostile.test/", NOT_PUBLIC, "scoped link-local answer"),
    Hostile(
        "metadata-aws", "http://169.254.169.254/latest/meta-data/", NOT_PUBLIC, "EC2/ECS/Lambda metadata"
    ),
    Hostile(
        "metadata-decimal", "http://2852039166/latest/meta-data/", NOT_PUBLIC, "169.254.169.254 as a number"
    ),
    Hostile("metadata-hex", "http://0xa9fea9fe/", NOT_PUBLIC, "169.254.169.254 in hex"),
    Hostile("metadata-octal", "http://0251.0376.0251.0376/", NOT_PUBLIC, "169.254.169.254 in octal"),
    Hostile("metadata-mapped", "http://[::ffff:169.254.169.254]/", NOT_PUBLIC, "IPv4-mapped metadata"),
    Hostile("metadata-ecs", "http://169.254.170.2/v2/credentials", NOT_PUBLIC, "ECS task credentials"),
    Hostile("metadata-aws-v6", "http://[fd00:ec2::254]/latest/meta-data/", NOT_PUBLIC, "EC2 IMDS over IPv6"),
    Hostile("metadata-alibaba", "http://100.100.100.200/latest/meta-data/", NOT_PUBLIC, "Alibaba Cloud"),
    Hostile("metadata-gcp-name", "http://metadata.google.internal/computeMetadata/v1/", NOT_PUBLIC, "GCP"),
    Hostile("metadata-short-name", "http://metadata/computeMetadata/v1/", NOT_PUBLIC, "GCP short name"),
    Hostile("metadata-ec2-name", "http://instance-data/latest/meta-data/", NOT_PUBLIC, "EC2 classic name"),
    # --- names that do not resolve ---------------------------------------------------------------------
    Hostile("nxdomain", "http://does-not-exist.hostile.test/", UNRESOLVABLE, "no answer"),
    Hostile("empty-answer", "http://empty.hostile.test/", UNRESOLVABLE, "an empty answer"),
    # --- user information tricks -------------------------------------------------------------------------
    Hostile("userinfo-host", "http://example.com@127.0.0.1:{port}/", INVALID, "real host after @"),
    Hostile("userinfo-password", "http://user:pass@127.0.0.1:{port}/", INVALID, "credentials"),
    Hostile("userinfo-port-trick", "http://127.0.0.1:{port}@example.com/", INVALID, "port-looking user info"),
    Hostile("userinfo-encoded-at", "http://example.com%40127.0.0.1:{port}/", INVALID, "%40 decodes to @"),
    Hostile("backslash-trick", "http://example.com\\@127.0.0.1:{port}/", INVALID, "browsers read \\ as /"),
    Hostile("tab-in-host", "http://127.0.0\t.1:{port}/", INVALID, "urlsplit drops tabs"),
    Hostile("newline-in-url", "http://example.com\n@127.0.0.1:{port}/", INVALID, "urlsplit drops newlines"),
    # --- schemes -------------------------------------------------------------------------------------------
    Hostile("scheme-file", "file:///etc/passwd", INVALID, "local file"),
    Hostile("scheme-file-host", "file://127.0.0.1/etc/passwd", INVALID, "local file with host"),
    Hostile("scheme-gopher", "gopher://127.0.0.1:{port}/_GET%20/%20HTTP/1.0", INVALID, "gopher smuggling"),
    Hostile("scheme-ftp", "ftp://127.0.0.1:{port}/", INVALID, "ftp"),
    Hostile("scheme-dict", "dict://127.0.0.1:{port}/info", INVALID, "dict"),
    Hostile("scheme-ldap", "ldap://127.0.0.1:{port}/", INVALID, "ldap"),
    Hostile("scheme-ws", "ws://127.0.0.1:{port}/", INVALID, "websocket"),
    Hostile("scheme-javascript", "javascript:alert(1)", INVALID, "javascript URL"),
    Hostile("scheme-data", "data:text/html,<h1>hi</h1>", INVALID, "data URL"),
    Hostile("scheme-relative", "//127.0.0.1:{port}/", INVALID, "no scheme"),
    Hostile("scheme-no-slashes", "http:127.0.0.1:{port}/", INVALID, "no authority"),
    Hostile("scheme-three-slashes", "http:///127.0.0.1:{port}/", INVALID, "empty authority"),
    # --- ports and malformed hosts --------------------------------------------------------------------------
    Hostile("port-zero", "http://127.0.0.1:0/", INVALID, "port 0"),
    Hostile("port-too-big", "http://127.0.0.1:65536/", INVALID, "port 65536"),
    Hostile("port-negative", "http://127.0.0.1:-1/", INVALID, "negative port"),
    Hostile("port-letters", "http://127.0.0.1:http/", INVALID, "named port"),
    Hostile("ipv4-five-parts", "http://127.0.0.0.1/", INVALID, "five parts"),
    Hostile("ipv4-octet-overflow", "http://256.0.0.1/", INVALID, "octet above 255"),
    Hostile("ipv4-bad-octal", "http://0128.0.0.1/", INVALID, "8 is not an octal digit"),
    Hostile("v6-unclosed", "http://[::1/", INVALID, "unclosed bracket"),
    Hostile("v6-unbracketed", "http://::1/", INVALID, "IPv6 without brackets"),
    Hostile("empty-host", "http://:{port}/", INVALID, "no host"),
    Hostile("too-long", "http://example.com/" + "a" * 2100, INVALID, "longer than the URL cap"),
)


# Webhook endpoints: the same table with https (webhooks require https outside local mode, so an
# http row could be refused for its scheme alone and hide a guard failure). Rows whose scheme is
# the point of the row keep theirs.
def webhook_url(row: Hostile, port: int) -> str:
    url = row.render(port)
    if url.startswith("http://"):
        return "https://" + url[len("http://") :]
    if url.startswith("HTTP://"):
        return "HTTPS://" + url[len("HTTP://") :]
    return url
