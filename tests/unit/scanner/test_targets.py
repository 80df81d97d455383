"""Target normalization and the SSRF address checks (no network: resolvers are injected)."""

from __future__ import annotations

import ipaddress

import pytest
from botscope.errors import InvalidTarget, TargetNotPublic
from botscope.scanner.targets import (
    NetworkPolicy,
    guard_target,
    is_public_address,
    normalize_target,
    parse_ip_literal_loose,
    resolve_and_check,
)

PUBLIC_RESOLVER = {"example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]}


def resolver_from(table: dict[str, list[str]]):
    def resolve(host: str) -> list[str]:
        return table.get(host, [])

    return resolve


# --- normalization -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "url", "host", "port", "path"),
    [
        ("http://Example.COM", "http://example.com/", "example.com", 80, "/"),
        (
            "HTTPS://example.com:443/a/b?x=1#frag",
            "https://example.com/a/b?x=1",
            "example.com",
            443,
            "/a/b?x=1",
        ),
        ("http://example.com:80/", "http://example.com/", "example.com", 80, "/"),
        ("https://example.com:8443", "https://example.com:8443/", "example.com", 8443, "/"),
        ("http://example.com./x", "http://example.com/x", "example.com", 80, "/x"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example", 443, "/"),
        ("https://BÜCHER.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example", 443, "/"),
        ("http://example.com/a b", "http://example.com/a%20b", "example.com", 80, "/a%20b"),
        ("http://example.com/caf%C3%A9", "http://example.com/caf%C3%A9", "example.com", 80, "/caf%C3%A9"),
        ("http://example.com/é", "http://example.com/%C3%A9", "example.com", 80, "/%C3%A9"),
        ("http://[2606:4700::1]:8080/p", "http://[2606:4700::1]:8080/p", "2606:4700::1", 8080, "/p"),
        ("http://example.com:/", "http://example.com/", "example.com", 80, "/"),
        ("  https://example.com  ", "https://example.com/", "example.com", 443, "/"),
    ],
)
def test_normalize_target_canonical_form(raw, url, host, port, path):
    target = normalize_target(raw)
    assert (target.url, target.host, target.port, target.path) == (url, host, port, path)
    assert target.url == target.origin + target.path


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://example.com/", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com:70/", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("example.com", "only http and https"),
        ("http://user:pass@example.com/", "user information"),
        ("http://user@example.com/", "user information"),
        ("http://example.com@127.0.0.1/", "user information"),
        ("http://example.com:0/", "port"),
        ("http://example.com:65536/", "port"),
        ("http://example.com:99999999999/", "port"),
        ("http://example.com:8o/", "port"),
        ("http:///path", "no host"),
        ("http://", "no host"),
        ("", "empty"),
        ("http://exa mple.com/", "not allowed"),
        ("http://example.com\\@evil.test/", "backslash"),
        ("http://example.com/\nHost: x", "control characters"),
        ("http://exa_mple..com/", "domain name"),
        ("http://-bad-.com/", "domain name"),
        ("http://[fe80::1%25eth0]/", "not allowed"),
        ("http://[::1/", "cannot be parsed"),
        ("http://1.2.3.4.5/", "not a valid IPv4"),
        ("http://256.1.1.1/", "not a valid IPv4"),
        ("http://0x100000000/", "not a valid IPv4"),
        ("http://" + "a" * 2100 + ".com/", "longer than"),
    ],
)
def test_normalize_target_rejects_with_a_clear_message(raw, reason):
    with pytest.raises(InvalidTarget) as info:
        normalize_target(raw)
    assert info.value.code == "invalid_target"
    assert reason in info.value.message


# --- odd IP encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "0x7f000001",
        "0x7F.0.0.1",
        "0x7f.0.0x0.01",
        "017700000001",
        "127.0.1",
        "0177.1",
        "127.000.000.001",
        "127.0.0.1.",
    ],
)
def test_loose_ipv4_encodings_of_loopback(host):
    assert parse_ip_literal_loose(host) == ipaddress.IPv4Address("127.0.0.1")


def test_names_are_not_ip_literals():
    assert parse_ip_literal_loose("example.com") is None
    assert parse_ip_literal_loose("1.2.3.example") is None
    assert parse_ip_literal_loose("0x7f.example") is None


@pytest.mark.parametrize(
    "raw",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://127.0.0.1.:8080/",
        "http://%31%32%37.0.0.1/",
        "http://１２７．０．０．１/",
        "http://0/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[0:0:0:0:0:ffff:7f00:0001]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::127.0.0.1]/",
        "http://[2002:7f00:1::]/",
        "http://[fd00:ec2::254]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://10.0.0.1/",
        "http://10.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://198.18.0.1/",
        "http://192.0.0.8/",
        "http://192.0.2.1/",
        "http://[fe80::1]/",
        "http://[fec0::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[2001:db8::1]/",
    ],
)
def test_guard_rejects_every_non_public_form_without_resolving(raw):
    def no_dns(host):  # an IP literal must never reach the resolver
        raise AssertionError(f"resolver called for {host}")

    with pytest.raises(TargetNotPublic) as info:
        guard_target(raw, NetworkPolicy(), resolver=no_dns)
    assert info.value.code == "target_not_public"
    assert "127.0.0.1" not in info.value.message and "169.254" not in info.value.message


# --- address classification ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "2606:4700::6810:84e5",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_pass(address):
    assert is_public_address(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "198.19.255.1",
        "192.0.0.1",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "::",
        "::1",
        "fe80::1",
        "fec0::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "::10.0.0.1",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "2002:c0a8:101::1",
        "2001:db8::1",
        "2001::1",
        "100::1",
    ],
)
def test_non_public_addresses_fail(address):
    assert is_public_address(ipaddress.ip_address(address)) is False


def test_policy_opts_a_range_in_and_nothing_else():
    policy = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
    assert is_public_address(ipaddress.ip_address("127.0.0.1"), policy)
    assert is_public_address(ipaddress.ip_address("::ffff:127.0.0.1"), policy)
    assert not is_public_address(ipaddress.ip_address("10.0.0.1"), policy)
    assert not is_public_address(ipaddress.ip_address("169.254.169.254"), policy)
    assert not is_public_address(ipaddress.ip_address("0.0.0.0"), policy)
    assert not is_public_address(ipaddress.ip_address("::1"), policy)


# --- resolution ----------------------------------------------------------------------------------


def test_resolve_and_check_returns_every_checked_address():
    addresses = resolve_and_check("example.com", 443, NetworkPolicy(), resolver_from(PUBLIC_RESOLVER))
    assert [str(a) for a in addresses] == PUBLIC_RESOLVER["example.com"]


def test_one_private_answer_rejects_the_host():
    table = {"mixed.test": ["93.184.215.14", "10.0.0.7"]}
    with pytest.raises(TargetNotPublic):
        resolve_and_check("mixed.test", 443, NetworkPolicy(), resolver_from(table))


def test_a_name_that_does_not_resolve_is_rejected():
    with pytest.raises(TargetNotPublic, match="does not resolve"):
        resolve_and_check("nothing.test", 443, NetworkPolicy(), resolver_from({}))

    def failing(host):
        raise OSError("Name or service not known")

    with pytest.raises(TargetNotPublic):
        resolve_and_check("nothing.test", 443, NetworkPolicy(), failing)


def test_scoped_link_local_answer_is_rejected():
    with pytest.raises(TargetNotPublic):
        resolve_and_check(
            "scoped.test", 80, NetworkPolicy(), resolver_from({"scoped.test": ["fe80::1%eth0"]})
        )


def test_localhost_names_resolve_to_loopback_and_are_rejected():
    table = {"localhost": ["127.0.0.1", "::1"], "metadata.google.internal": ["169.254.169.254"]}
    for url in (
        "http://localhost/",
        "http://LOCALHOST./",
        "http://%6c%6fcalhost/",
        "http://metadata.google.internal/",
    ):
        with pytest.raises(TargetNotPublic):
            guard_target(url, NetworkPolicy(), resolver_from(table))


def test_guard_target_returns_target_and_addresses():
    target, addresses = guard_target("https://Example.com/x", NetworkPolicy(), resolver_from(PUBLIC_RESOLVER))
    assert target.url == "https://example.com/x"
    assert len(addresses) == 2
