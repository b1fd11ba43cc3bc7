"""The SSRF guard of the iCal import (``channels.fetch``, the connection form, ``channels.sync``), issue 11 item 5.

A tenant must not be able to reach the server's network, nor map it: the URL is parsed once (the HTTP client's
parser) and anything ambiguous is refused, every address is classified, the connection goes to the very address
that was checked, and every refused or failed connection reads the same to the owner.

Real listeners on this worktree's ports (9160-9179); host names come from a fake resolver (``fake_dns``) and no
test reaches the internet: public-looking addresses are only ever refused or parsed, never connected to.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.channels.conftest_admin and requested by name)

from __future__ import annotations

import datetime
import ipaddress
import re
import select
import socket
import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import fetch
from channels.fetch import FetchError, fetch_feed
from channels.models import ChannelConnection, Platform, SyncRun
from channels.sync import sync_connection
from tests.channels.conftest_admin import a, admin_url, root  # noqa: F401  (fixtures)
from tests.channels.feedserver import FeedServer
from tests.factories import PropertyFactory

ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\n"
       b"BEGIN:VEVENT\r\nUID:a1@airbnb.com\r\nDTSTART;VALUE=DATE:20300101\r\nDTEND;VALUE=DATE:20300104\r\n"
       b"SUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
SECRET = "s3cr3t0123456789abcdef"
OPEN_RAW, CLOSED, OPEN_HTTP, OPEN_TLS = 9160, 9161, 9162, 9163  # this worktree's port range
GENERIC = ("Could not fetch the calendar from this address. Check that the import URL is the platform's current "
           "export link; the sync is retried automatically.")


def fetch_error(url, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch_feed(url, **kwargs)
    return info.value


# --- the address classifier ----------------------------------------------------------------------------------

REFUSED_ADDRESSES = [
    ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"), ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"), ("240.0.0.1", "reserved"), ("255.255.255.255", "broadcast"),
    ("192.0.2.1", "documentation"), ("198.18.0.1", "benchmarking"), ("192.0.0.8", "IETF"),
    ("::1", "loopback"), ("::", "unspecified"),
    ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1: loopback"), ("::ffff:7f00:1", "IPv4-mapped"),
    ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1: private"), ("::ffff:169.254.169.254", "link-local"),
    ("::127.0.0.1", "IPv4-compatible"), ("::7f00:1", "IPv4-compatible"), ("::8.8.8.8", "IPv4-compatible"),
    ("64:ff9b::7f00:1", "NAT64 form of 127.0.0.1: loopback"), ("64:ff9b::10.0.0.1", "NAT64 form of 10.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"), ("64:ff9b:1::808:808", "local-use NAT64"),
    ("2002:7f00:1::", "6to4 form of 127.0.0.1: loopback"), ("2002:a00:1::1", "6to4 form of 10.0.0.1"),
    ("2002:c0a8:101::", "6to4 form of 192.168.1.1"), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:2::1", "IETF"), ("fe80::1", "link-local"), ("fe80::1%eth0", "zone"), ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"), ("fec0::1", "site-local"), ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"), ("2001:db8::1", "documentation"), ("3fff::1", "documentation"),
    ("100::1", "discard"), ("5f00::1", "SRv6"), ("4000::1", "not global unicast"),
]
PUBLIC_ADDRESSES = ["8.8.8.8", "93.184.216.34", "1.1.1.1", "100.128.0.1", "172.32.0.1", "11.0.0.1",
                    "2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
                    "2002:808:808::1"]


@pytest.mark.parametrize("address, why", REFUSED_ADDRESSES)
def test_the_classifier_refuses_every_non_global_address_however_it_is_spelled(address, why):
    ip = ipaddress.ip_address(address)
    assert why in (fetch.refusal_reason(ip) or "")


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_the_classifier_accepts_global_unicast_and_its_nat64_6to4_and_mapped_forms(address):
    assert fetch.refusal_reason(ipaddress.ip_address(address)) is None


def v6(value: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(value)


@given(st.ip_addresses(v=4))
def test_ipv6_forms_carrying_an_ipv4_address_are_judged_by_that_address(ip):
    n = int(ip)
    refused = fetch.refusal_reason(ip) is not None
    for form in (v6(0xFFFF_0000_0000 | n), v6((0x64FF9B << 96) | n), v6((0x2002 << 112) | (n << 80))):
        assert (fetch.refusal_reason(form) is not None) is refused, form
    # Forms we never fetch from, whatever they carry: IPv4-compatible, local-use NAT64, Teredo.
    for form in (v6(n), v6((0x64FF9B0001 << 80) | n), v6((0x20010000 << 96) | ((n ^ 0xFFFF_FFFF) & 0xFFFF_FFFF))):
        assert fetch.refusal_reason(form) is not None, form


@given(st.ip_addresses())
def test_whatever_the_standard_library_calls_non_global_is_refused(ip):
    if ip.version == 6 and (ip in fetch.IPV4_MAPPED or ip in fetch.NAT64):
        return  # judged by the IPv4 address inside (above); the standard library judges the prefix
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global):
        assert fetch.refusal_reason(ip) is not None


# --- the URL validator ----------------------------------------------------------------------------------------

ACCEPTED_URLS = [
    ("https://www.airbnb.com/calendar/ical/123.ics?s=abc", "https", "www.airbnb.com", 443,
     "/calendar/ical/123.ics?s=abc"),
    ("http://Feeds.Example.COM:8080/a.ics", "http", "feeds.example.com", 8080, "/a.ics"),
    ("HTTPS://feeds.example.com", "https", "feeds.example.com", 443, "/"),
    ("https://münchen.example.de/cal.ics", "https", "xn--mnchen-3ya.example.de", 443, "/cal.ics"),
    ("https://feeds.example.com/a%20b.ics?x=1#fragment", "https", "feeds.example.com", 443, "/a%20b.ics?x=1"),
    ("https://feeds.example.com/kalender/é.ics", "https", "feeds.example.com", 443, "/kalender/%C3%A9.ics"),
    ("https://ical_feeds.example.com./x.ics", "https", "ical_feeds.example.com.", 443, "/x.ics"),
    ("https://93.184.216.34/cal.ics", "https", "93.184.216.34", 443, "/cal.ics"),
    ("https://[2606:4700::1111]:8443/cal.ics", "https", "[2606:4700::1111]", 8443, "/cal.ics"),
]


@pytest.mark.parametrize("url, scheme, host, port, target", ACCEPTED_URLS)
def test_the_validator_parses_an_import_url_the_way_the_client_will_use_it(settings, url, scheme, host, port,
                                                                          target):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    feed = fetch.validate_import_url(url)
    assert (feed.scheme, feed.host, feed.port, feed.target) == (scheme, host, port, target)


BAD_URLS = [
    # Two parsers, two hosts: urllib3 connects to 127.0.0.1:9160, urlsplit saw 93.184.216.34.
    "http://127.0.0.1:9160\\@93.184.216.34/", "http://93.184.216.34\\@127.0.0.1/", "https://feeds.example.com\\x.ics",
    "http:\\\\127.0.0.1\\feed.ics",
    # User info, even empty
    "https://user:pass@feeds.example.com/a.ics", "https://user@feeds.example.com/", "https://@feeds.example.com/",
    "https://feeds.example.com:443@127.0.0.1/", "http://127.0.0.1:9160@feeds.example.com/",
    # Whitespace, control and invisible characters anywhere
    "https://feeds.example.com /a.ics", "https://feeds.example.com/a.ics\t", "https://feeds.example.com/a\r\nX: y",
    "https://feeds.example.com/a\x00b", "https://feeds.exa\u200bmple.com/a", "https://feeds.example.com\u3000/a",
    "https://feeds.example.com/\x7f", "https://feeds.example.com/a\u202eb",
    # IPv4 spelled the way inet_aton reads it, not as four decimal numbers
    "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://0x7f000001/", "http://127.1/",
    "http://127.0.1/", "http://0/", "http://127.0.0.1./", "http://1.2.3.4.5/", "http://017700000001/",
    "http://08.8.8.8/", "http://feeds.example.0x1/", "http://１２７.０.０.１/",
    # Not a usable host, port or scheme
    "http://[fe80::1%25eth0]/", "http://[::1/", "http://[not-ipv6]/", "http://feeds..example.com/",
    "http://-feeds.example.com/", "http://feeds.example.com:0/", "http://feeds.example.com:99999/",
    "http://fe!eds.example.com/", "ftp://feeds.example.com/a.ics", "file:///etc/passwd", "gopher://example.com/",
    "webcal://feeds.example.com/a.ics", "javascript:alert(1)", "", "http://", "https:///path-only",
    "https://feeds.example.com/" + "a" * 2000,
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_the_validator_refuses_every_ambiguous_import_url(settings, url):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True  # syntax: refused even when private addresses are allowed
    with pytest.raises(FetchError) as info:
        fetch.validate_import_url(url)
    assert info.value.code == "bad_url"
    assert "127.0.0.1" not in info.value.message and "example" not in info.value.message  # never quotes the URL


LOCAL_URLS = [
    "http://127.0.0.1:9160/", "http://localhost/", "http://localhost./feed.ics", "http://LOCALHOST:8000/",
    "http://feeds.localhost/", "http://db/", "http://redis:6379/", "http://printer.local/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://router.home.arpa/", "http://nas.lan/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://[64:ff9b::7f00:1]/", "http://[64:ff9b:1::a00:1]/", "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/", "http://224.0.0.1/", "http://0.0.0.0/", "http://[::]/", "http://[fe80::1]/",
    "http://%31%32%37.0.0.1/", "http://10.0.0.1/", "http://[fd00::1]/", "https://192.168.1.1:8443/cal.ics",
]


@pytest.mark.parametrize("url", LOCAL_URLS)
def test_the_validator_refuses_local_and_private_destinations_unless_allowed(settings, url):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    with pytest.raises(FetchError) as info:
        fetch.validate_import_url(url)
    assert (info.value.code, info.value.message) == ("bad_url", fetch.PUBLIC_ONLY)
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True  # tests, a feed on the LAN
    assert fetch.validate_import_url(url).host


def ipv4_spellings(n: int) -> list[str]:
    """How inet_aton (and so getaddrinfo) also reads the IPv4 address ``n``."""
    b = n.to_bytes(4, "big")
    return [str(n), hex(n), f"0{n:o}", f"{b[0]}.{n & 0xFFFFFF}", f"{b[0]}.{b[1]}.{n & 0xFFFF}",
            ".".join(f"0{x:o}" for x in b), ".".join(hex(x) for x in b), ".".join(map(str, b)) + "."]


@given(st.integers(0, 2**32 - 1))
def test_no_ipv4_spelling_but_four_decimal_numbers_gets_through(n):
    for spelling in ipv4_spellings(n):
        with pytest.raises(FetchError) as info:
            fetch.parse_import_url(f"http://{spelling}/feed.ics")
        assert info.value.code == "bad_url", spelling
    assert fetch.parse_import_url(f"http://{ipaddress.IPv4Address(n)}/").ip == ipaddress.IPv4Address(n)


AMBIGUOUS = st.sampled_from(["\\", " ", "\t", "\n", "\r", "\x00", "\x0b", "\x1f", "\x7f", "\x85", "\xa0",
                             "\u200b", "\u2028", "\u3000", "\ufeff"])


@given(AMBIGUOUS, st.integers(0, 60), st.text(alphabet="abc:/@.?#%=&-_0123456789", max_size=20))
def test_a_backslash_whitespace_or_control_character_anywhere_is_refused(char, at, path):
    url = f"https://feeds.example.com/{path}"
    at = min(at, len(url))
    with pytest.raises(FetchError) as info:
        fetch.parse_import_url(url[:at] + char + url[at:])
    assert info.value.code == "bad_url"


@given(st.text(alphabet="abcxyz019:.%-_!$&'()*+,;=[]", max_size=20))
def test_user_info_of_any_shape_is_refused(userinfo):
    with pytest.raises(FetchError) as info:
        fetch.parse_import_url(f"https://{userinfo}@feeds.example.com/cal.ics")
    assert info.value.code == "bad_url"


# --- real listeners: an open port and a closed port read the same ---------------------------------------------


class FakeDNS(dict):
    lookups: list[str]


@pytest.fixture
def fake_dns(monkeypatch):
    """Host names for ``socket.getaddrinfo``: ``fake_dns["name"] = "1.2.3.4"`` (or a list: one answer per lookup,
    the last one repeated); ``fake_dns.lookups`` lists the names asked. Any other name fails to resolve, so no
    test sends a DNS query out."""
    names = FakeDNS()
    names.lookups = lookups = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            ipaddress.ip_address(host)
            return real(host, port, *args, **kwargs)
        except ValueError:
            pass
        lookups.append(host)
        answer = names.get(host)
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(answer, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def listeners():
    """A raw TCP listener on OPEN_RAW (think Redis), an HTTP server on OPEN_HTTP, nothing on CLOSED."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    raw.bind(("127.0.0.1", OPEN_RAW))
    raw.listen(8)
    closed = socket.socket()  # bound, never listening: connections to it are refused
    closed.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    closed.bind(("127.0.0.1", CLOSED))
    with FeedServer(port=OPEN_HTTP) as server:
        server.route("/feed.ics", ICS)
        yield raw, server
    raw.close()
    closed.close()


def nobody_connected(raw: socket.socket, server: FeedServer) -> bool:
    return select.select([raw], [], [], 0)[0] == [] and server.requests == []


def url_variants(port: int) -> list[str]:
    return [f"http://127.0.0.1:{port}\\@93.184.216.34/feed.ics?s={SECRET}",  # the URL
            f"http://127.0.0.1:{port}/feed.ics?s={SECRET}", f"http://2130706433:{port}/feed.ics",
            f"http://0x7f.1:{port}/feed.ics", f"http://[::ffff:127.0.0.1]:{port}/feed.ics",
            f"http://[::ffff:7f00:1]:{port}/feed.ics", f"http://[::1]:{port}/feed.ics",
            f"http://[64:ff9b::7f00:1]:{port}/feed.ics", f"http://[2002:7f00:1::]:{port}/feed.ics",
            f"http://localhost.:{port}/feed.ics", f"http://calendar.stayhold-probe.com:{port}/feed.ics",
            f"http://user@127.0.0.1:{port}/feed.ics"]


def without_port(text: str, port: int) -> str:
    return text.replace(str(port), "PORT")  # the owner typed the port: only open vs closed must not show


def test_an_open_port_and_a_closed_port_produce_the_same_error(settings, listeners, fake_dns):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 2.0
    fake_dns["calendar.stayhold-probe.com"] = "127.0.0.1"
    raw, server = listeners
    for index in range(len(url_variants(0))):
        seen, errors = {}, []
        for port in (OPEN_RAW, OPEN_HTTP, CLOSED):
            errors.append(error := fetch_error(url_variants(port)[index]))
            seen[port] = (error.code, without_port(error.message, port), error.http_status)
        assert len(set(seen.values())) == 1, (url_variants(0)[index], seen)
        assert nobody_connected(raw, server)
        assert all(SECRET not in error.message and SECRET not in error.detail for error in errors)


@pytest.mark.django_db
def test_owners_see_one_message_for_open_and_closed_ports_and_operators_see_the_reason(settings, listeners):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    raw, server = listeners
    shown, runs = {}, []
    for port in (OPEN_RAW, OPEN_HTTP, CLOSED):
        for index, url in enumerate(url_variants(port)[:2]):
            conn = ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB,
                                                    import_url=url)
            run = sync_connection(conn.pk, trigger="manual")
            conn.refresh_from_db()
            assert run.outcome == SyncRun.Outcome.ERROR and conn.last_error == run.error
            shown.setdefault(index, set()).add(without_port(run.error, port))
            runs.append((index, run))
    assert len(shown[0]) == 1 and shown[0].pop().startswith("bad_url: "), shown  # the backslash: refused as typed
    assert shown[1] == {f"unreachable: {GENERIC}"}
    assert nobody_connected(raw, server)
    for index, run in runs:
        if index == 1:  # refused before connecting: the owner does not see why, the operator does
            assert run.detail.startswith("refused_address: ") and "loopback" in run.detail
            assert "loopback" not in run.error and "refused" not in run.error


def test_every_refused_or_failed_connection_reads_the_same(settings, fake_dns, listeners, tls_server):
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 0.5
    raw, server = listeners
    server.route("/slow.ics", ICS, delay=1.5)
    fake_dns["private.stayhold-probe.com"] = "10.0.0.1"
    cases = [  # (allow private addresses?, URL, the precise reason operators see)
        (False, f"http://127.0.0.1:{CLOSED}/feed.ics", "refused_address"),
        (False, "https://private.stayhold-probe.com/feed.ics", "refused_address"),
        (False, "https://missing.stayhold-probe.com/feed.ics", "dns"),
        (True, f"http://127.0.0.1:{CLOSED}/feed.ics", "connect"),
        (True, tls_server.url("/feed.ics"), "tls"),  # a certificate we do not trust
        (True, server.url("/slow.ics"), "timeout"),
    ]
    for allow, url, reason in cases:
        settings.CHANNEL_ALLOW_PRIVATE_URLS = allow
        error = fetch_error(url)
        assert (error.code, error.message, error.reason) == ("unreachable", GENERIC, reason), url
        assert error.detail.startswith(f"{reason}: ")


# --- pinned connections: the checked address is the connected address ---------------------------------------


@pytest.fixture
def loopback_is_public(monkeypatch):
    """Pretend 127.0.0.1 (only) is a public address, so a local server can play a public platform."""
    real = fetch.refusal_reason
    monkeypatch.setattr(fetch, "refusal_reason",
                        lambda ip: None if ip == ipaddress.ip_address("127.0.0.1") else real(ip))


def test_a_name_is_resolved_once_and_the_connection_goes_to_that_address(settings, fake_dns, loopback_is_public):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    # DNS rebinding: the first answer is "public", every later one points elsewhere (nothing listens there).
    fake_dns["rebind.stayhold-probe.com"] = ["127.0.0.1", "127.0.0.2"]
    with FeedServer(port=OPEN_HTTP + 2) as server:
        server.route("/feed.ics", ICS)
        result = fetch_feed(f"http://rebind.stayhold-probe.com:{server.port}/feed.ics")
        assert result.body == ICS
        assert fake_dns.lookups == ["rebind.stayhold-probe.com"]
        assert server.requests[0].headers["host"] == f"rebind.stayhold-probe.com:{server.port}"


def test_every_redirect_hop_is_parsed_and_checked_before_connecting(settings, fake_dns, loopback_is_public,
                                                                    listeners):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    raw, closed_server = listeners
    fake_dns["internal.stayhold-probe.com"] = "127.0.0.5"
    with FeedServer(port=OPEN_HTTP + 3) as server:
        targets = {
            "/backslash": (f"http://127.0.0.1:{OPEN_RAW}\\@93.184.216.34/", "bad_url"),
            "/userinfo": (f"http://x@127.0.0.2:{OPEN_RAW}/", "bad_url"),
            "/decimal": (f"http://2130706434:{OPEN_RAW}/", "bad_url"),
            "/mapped": (f"http://[::ffff:7f00:2]:{OPEN_HTTP}/feed.ics", "unreachable"),
            "/nat64": (f"http://[64:ff9b::a9fe:a9fe]:{OPEN_HTTP}/", "unreachable"),
            "/name": (f"http://internal.stayhold-probe.com:{OPEN_HTTP}/feed.ics", "unreachable"),
            "/local": (f"http://localhost:{OPEN_HTTP}/feed.ics", "unreachable"),
        }
        for path, (location, _) in targets.items():
            server.route(path, redirect_to=location)
        for path, (_, code) in targets.items():
            assert fetch_error(server.url(path)).code == code, path
        assert server.paths() == list(targets)
    assert nobody_connected(raw, closed_server)


# --- TLS with the pinned address ------------------------------------------------------------------------------


def make_certificates(tmp_path, name: str):
    """A CA and a server certificate for ``name``, signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, key, signer, *, ca: bool, san=None):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stayhold test CA")])
    ca = build(ca_name, ca_name, ca_key, ca_key, ca=True)
    cert = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), ca_name, key, ca_key, ca=False, san=name)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"


TLS_NAME = "calendar.stayhold-probe.com"


@pytest.fixture
def tls_server(tmp_path):
    ca, cert, key = make_certificates(tmp_path, TLS_NAME)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FeedServer(port=OPEN_TLS, ssl_context=context) as server:
        server.route("/feed.ics", ICS)
        server.ca = str(ca)
        yield server


@pytest.mark.real_clock  # OpenSSL checks the certificate's validity against the real clock, not a shifted one
def test_https_connects_to_the_pinned_address_and_verifies_the_host_name(settings, fake_dns, loopback_is_public,
                                                                        tls_server, monkeypatch):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    fake_dns[TLS_NAME] = "127.0.0.1"
    monkeypatch.setattr(fetch, "CA_BUNDLE", tls_server.ca)
    assert fetch_feed(f"https://{TLS_NAME}:{OPEN_TLS}/feed.ics?s={SECRET}").body == ICS  # SNI + check: the name
    assert tls_server.requests[-1].headers["host"] == f"{TLS_NAME}:{OPEN_TLS}"
    error = fetch_error(f"https://127.0.0.1:{OPEN_TLS}/feed.ics")  # the certificate is not for the address
    assert (error.code, error.reason, error.message) == ("unreachable", "tls", GENERIC)
    assert len(tls_server.requests) == 1


# --- the connection form ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [
    f"http://127.0.0.1:{OPEN_RAW}\\@93.184.216.34/secret-token-123.ics",
    "https://owner:secret-token-123@www.airbnb.com/calendar/ical/1.ics",
    "http://localhost:8000/secret-token-123.ics",
    "http://[::ffff:127.0.0.1]/secret-token-123.ics",
    "http://169.254.169.254/latest/meta-data/secret-token-123",
    "https://www.airbnb.com/calendar/ical/1.ics?s=secret-token-123 x",  # an inner space survives the strip
])
def test_the_connection_form_refuses_ambiguous_and_local_urls_without_echoing_them(a, client, settings, bad):
    from tests.channels.test_admin_connections import connection_post

    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    client.force_login(a.owner)
    before = ChannelConnection.objects.get(pk=a.conn.pk).import_url
    response = client.post(admin_url(ChannelConnection, "change", a.conn.pk),
                           connection_post(a.conn, import_url=bad))
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html and "secret-token-123" not in html
    assert ChannelConnection.objects.get(pk=a.conn.pk).import_url == before


@pytest.mark.django_db
def test_only_operators_see_the_precise_reason_of_a_failed_fetch(a, root, client, settings, listeners):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    ChannelConnection.objects.filter(pk=a.conn.pk).update(import_url=f"http://127.0.0.1:{OPEN_RAW}/feed.ics")
    run = sync_connection(a.conn.pk, trigger="manual")
    assert run.error == f"unreachable: {GENERIC}" and "loopback (127.0.0.0/8)" in run.detail
    pages = [admin_url(SyncRun, "change", run.pk), admin_url(SyncRun, "changelist"),
             admin_url(ChannelConnection, "change", a.conn.pk), "/admin/"]
    for user, sees_detail in ((a.owner, False), (root, True)):
        client.force_login(user)
        html = "".join(client.get(page).content.decode() for page in pages)
        assert "Could not fetch the calendar from this address" in html
        assert ("loopback (127.0.0.0/8)" in html) is sees_detail, user
        assert not re.search(r"refused_address|private or reserved", html) or sees_detail
