"""The wire recorder's ClientHello parser and JA4 (FoxIO spec) against known values."""

from __future__ import annotations

import ssl

from tests.helpers.wire_recorder import ja4, ja4_from_raw, ja4_parts, parse_client_hello

# A published Chrome 143 hello in JA4's raw form (ja4_r) with its JA4: the hashing must agree.
CHROME_JA4_R = (
    "t13d1516h2",
    "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9",
    "0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_"
    "0403,0804,0401,0503,0805,0501,0806,0601",
)


def test_ja4_hashes_the_raw_parts_as_the_spec_does():
    assert ja4_from_raw(*CHROME_JA4_R) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"


def _python_client_hello(server_name: str | None, alpn: list[str]) -> bytes:
    context = ssl.create_default_context()
    context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def test_a_python_hello_parses_into_its_parts():
    hello = parse_client_hello(_python_client_hello("wire.test", ["http/1.1"]))
    assert hello.server_name == "wire.test" and hello.alpn == ["http/1.1"]
    assert 0x0304 in hello.supported_versions and hello.signature_algorithms
    a, ciphers, rest = ja4_parts(hello)
    assert a.startswith("t13d") and a.endswith("h1")
    assert int(a[4:6]) == len(ciphers.split(",")) == len([c for c in hello.ciphers])
    assert "0000" not in rest.split("_")[0].split(",") and "0010" not in rest.split("_")[0].split(",")
    assert ja4(hello).startswith(a + "_")


def test_no_sni_and_no_alpn_are_marked():
    hello = parse_client_hello(_python_client_hello(None, []))
    context_hello = ja4(hello)
    assert context_hello[3] == "i" and context_hello[8:10] == "00"
