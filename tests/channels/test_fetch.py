"""``channels.fetch.fetch_feed`` against a real local HTTP server: conditional GET, errors, limits, SSRF guard."""

import http.client
import ipaddress
import logging
import socket

import pytest

from channels import fetch as fetch_module
from channels.fetch import FetchError, fetch_feed, is_public_address, redact_url
from tests.channels.feedserver import FeedServer

ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\n"
       b"BEGIN:VEVENT\r\nUID:a1@airbnb.com\r\nDTSTART;VALUE=DATE:20300101\r\nDTEND;VALUE=DATE:20300104\r\n"
       b"SUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
ETAG = '"feed-v1"'
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"
SECRET = "s3cr3t0123456789abcdef"


@pytest.fixture
def server(settings):
    """A feed server on 127.0.0.1 with the SSRF guard off (the server *is* a private address)."""
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 2.0
    with FeedServer() as feed_server:
        yield feed_server


def fetch_error(url, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch_feed(url, **kwargs)
    return info.value


# --- success and conditional GET ----------------------------------------------------------------


def test_a_feed_is_fetched_with_our_user_agent_and_accept_header(server, settings):
    server.route("/calendar/ical/1.ics", ICS, etag=ETAG, last_modified=LAST_MODIFIED)
    result = fetch_feed(server.url(f"/calendar/ical/1.ics?s={SECRET}"))
    assert (result.status, result.body) == (200, ICS)
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)
    assert result.final_url == server.url(f"/calendar/ical/1.ics?s={SECRET}")
    assert result.duration_ms >= 0
    [seen] = server.requests
    assert seen.headers["user-agent"] == settings.CHANNEL_FETCH_USER_AGENT
    assert seen.headers["accept"] == "text/calendar, */*;q=0.5"
    assert "if-none-match" not in seen.headers and "if-modified-since" not in seen.headers


def test_an_unchanged_feed_answers_304_to_the_etag(server):
    server.route("/feed.ics", ICS, etag=ETAG)
    result = fetch_feed(server.url("/feed.ics"), etag=ETAG)
    assert (result.status, result.body) == (304, b"")
    assert result.etag == ETAG
    assert server.requests[0].headers["if-none-match"] == ETAG


def test_an_unchanged_feed_answers_304_to_last_modified(server):
    server.route("/feed.ics", ICS, last_modified=LAST_MODIFIED)
    result = fetch_feed(server.url("/feed.ics"), last_modified=LAST_MODIFIED)
    assert (result.status, result.body) == (304, b"")
    assert server.requests[0].headers["if-modified-since"] == LAST_MODIFIED


def test_a_304_to_an_unconditional_request_is_an_error(server):
    server.route("/feed.ics", status=304)
    error = fetch_error(server.url("/feed.ics"))
    assert (error.code, error.http_status) == ("http_error", 304)


def test_a_changed_feed_answers_200_with_the_new_etag(server):
    server.route("/feed.ics", ICS, etag='"feed-v2"')
    result = fetch_feed(server.url("/feed.ics"), etag=ETAG)
    assert (result.status, result.body, result.etag) == (200, ICS, '"feed-v2"')


def test_airbnb_answers_403_without_a_user_agent_and_200_with_ours(server, settings):
    server.route("/airbnb.ics", ICS, require_user_agent=True)
    # The server really mimics Airbnb: a request without the header (http.client adds none) is refused.
    bare = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
    bare.request("GET", "/airbnb.ics")
    assert bare.getresponse().status == 403
    bare.close()
    assert fetch_feed(server.url("/airbnb.ics")).body == ICS
    settings.CHANNEL_FETCH_USER_AGENT = ""
    error = fetch_error(server.url("/airbnb.ics"))
    assert (error.code, error.http_status) == ("http_error", 403)


def test_gzip_and_chunked_bodies_are_read(server):
    server.route("/gz.ics", ICS, gzip=True)
    server.route("/chunked.ics", ICS * 50, chunked=True)
    assert fetch_feed(server.url("/gz.ics")).body == ICS
    assert fetch_feed(server.url("/chunked.ics")).body == ICS * 50


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_an_http_error_is_reported_with_its_status(server, status):
    server.route("/feed.ics", b"oops", status=status)
    error = fetch_error(server.url("/feed.ics"))
    assert (error.code, error.http_status) == ("http_error", status)
    assert str(status) in error.message


def test_a_server_that_does_not_answer_times_out(server, settings):
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 0.3
    server.route("/slow.ics", ICS, delay=1.5)
    error = fetch_error(server.url("/slow.ics"))
    assert error.code == "timeout"


def test_a_server_that_dribbles_the_body_is_cut_off_at_the_total_time_cap(server, settings):
    # Each byte comes well within the read timeout; only the cap on the whole fetch stops it.
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 0.5
    server.route("/dribble.ics", ICS[:60], dribble=0.05)  # 60 bytes × 50 ms = 3 s
    error = fetch_error(server.url("/dribble.ics"))
    assert error.code == "timeout"


def test_a_declared_oversized_body_is_refused(server, settings):
    settings.CHANNEL_FETCH_MAX_BYTES = 1000
    server.route("/big.ics", b"X" * 5000)
    error = fetch_error(server.url("/big.ics"))
    assert error.code == "too_large" and "1,000" in error.message


def test_an_undeclared_oversized_body_is_cut_off_while_streaming(server, settings):
    settings.CHANNEL_FETCH_MAX_BYTES = 100_000
    server.route("/big.ics", b"X" * 300_000, chunked=True)
    assert fetch_error(server.url("/big.ics")).code == "too_large"


def test_a_gzip_bomb_is_cut_off_after_decompression(server, settings):
    settings.CHANNEL_FETCH_MAX_BYTES = 100_000
    server.route("/bomb.ics", b"\0" * 5_000_000, gzip=True)  # ~5 KB on the wire
    assert fetch_error(server.url("/bomb.ics")).code == "too_large"


def test_a_body_exactly_at_the_limit_is_accepted(server, settings):
    settings.CHANNEL_FETCH_MAX_BYTES = len(ICS)
    server.route("/feed.ics", ICS, chunked=True)
    assert fetch_feed(server.url("/feed.ics")).body == ICS


@pytest.mark.parametrize("body", [b"", b"  \r\n\r\n"])
def test_an_empty_body_is_an_error(server, body):
    server.route("/empty.ics", body)
    error = fetch_error(server.url("/empty.ics"))
    assert (error.code, error.http_status) == ("empty", 200)


def test_a_refused_connection_is_a_connection_error(settings):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        error = fetch_error(f"http://127.0.0.1:{port}/feed.ics?s={SECRET}")
    assert error.code == "connection"
    assert SECRET not in error.message


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://ftp.example.com/cal.ics", "gopher://example.com/", "webcal://example.com/a.ics",
    "javascript:alert(1)", "", "http://", "https:///path-only", "http://[::1",
])
def test_only_http_and_https_urls_with_a_host_are_fetched(url, settings):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True  # even then
    assert fetch_error(url).code == "bad_url"


# --- redirects ------------------------------------------------------------------------------------


def chain(server, hops: int, target="/feed.ics") -> str:
    """/r<hops> → … → /r1 → target; returns the first path."""
    for i in range(1, hops + 1):
        server.route(f"/r{i}", redirect_to=server.url(f"/r{i - 1}") if i > 1 else target)
    return f"/r{hops}"


@pytest.mark.parametrize("hops", [1, 3])
def test_up_to_three_redirects_are_followed(server, hops):
    server.route("/feed.ics", ICS)
    result = fetch_feed(server.url(chain(server, hops)))
    assert result.body == ICS
    assert result.final_url.endswith("/feed.ics")
    assert len(server.requests) == hops + 1


def test_a_fourth_redirect_is_refused(server):
    server.route("/feed.ics", ICS)
    error = fetch_error(server.url(chain(server, 4)))
    assert error.code == "too_many_redirects"
    assert "/feed.ics" not in server.paths()  # the fourth Location was not followed


def test_a_relative_redirect_is_resolved_against_the_current_url(server):
    server.route("/feed.ics", ICS)
    server.route("/old/cal.ics", redirect_to="/feed.ics")
    assert fetch_feed(server.url("/old/cal.ics")).body == ICS


def test_a_redirect_to_another_scheme_is_refused(server):
    server.route("/r", redirect_to="file:///etc/passwd")
    assert fetch_error(server.url("/r")).code == "bad_url"


def test_the_max_redirects_setting_is_honoured(server, settings):
    settings.CHANNEL_FETCH_MAX_REDIRECTS = 0
    server.route("/feed.ics", ICS)
    assert fetch_error(server.url(chain(server, 1))).code == "too_many_redirects"


# --- SSRF guard -----------------------------------------------------------------------------------


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("::ffff:8.8.8.8", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("239.255.255.250", False), ("240.0.0.1", False), ("255.255.255.255", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("::ffff:169.254.169.254", False),
])
def test_only_public_unicast_addresses_are_public(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.fixture
def guarded_server(settings):
    """The guard on (the default), with a server that must never be reached."""
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 2.0
    with FeedServer() as feed_server:
        feed_server.route("/feed.ics", ICS)
        yield feed_server


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433",  # loopback spelled in several ways
])
def test_the_guard_refuses_loopback_however_it_is_spelled(guarded_server, host):
    error = fetch_error(f"http://{host}:{guarded_server.port}/feed.ics?s={SECRET}")
    assert error.code == "forbidden_address"
    assert SECRET not in error.message
    assert guarded_server.requests == []


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/feed.ics", "http://192.168.0.10/feed.ics", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/feed.ics", "http://[fe80::1]/feed.ics", "http://0.0.0.0/feed.ics",
    "http://[::ffff:10.0.0.1]/feed.ics", "https://100.64.1.1/feed.ics",
])
def test_the_guard_refuses_private_link_local_and_mapped_addresses(settings, url):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = False
    assert fetch_error(url).code == "forbidden_address"


@pytest.fixture
def fake_dns(monkeypatch):
    """Extra host names for ``socket.getaddrinfo``: ``fake_dns["name.test"] = "1.2.3.4"``."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return real(names[host], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def loopback_is_public(monkeypatch):
    """Pretend 127.0.0.1 (only) is a public address, so a local server can play a public platform."""
    real = fetch_module.is_public_address
    monkeypatch.setattr(fetch_module, "is_public_address",
                        lambda ip: ip == ipaddress.ip_address("127.0.0.1") or real(ip))


def test_a_public_feed_redirecting_to_a_private_address_is_refused(guarded_server, loopback_is_public, fake_dns):
    fake_dns["metadata.test"] = "127.0.0.2"
    server = guarded_server
    server.route("/to-literal", redirect_to="http://169.254.169.254/latest/meta-data/")
    server.route("/to-name", redirect_to=f"http://metadata.test:{server.port}/feed.ics")
    server.route("/to-public", redirect_to=server.url("/feed.ics"))
    assert fetch_feed(server.url("/to-public")).body == ICS  # the "public" server itself is reachable
    assert fetch_error(server.url("/to-literal")).code == "forbidden_address"
    assert fetch_error(server.url("/to-name")).code == "forbidden_address"
    assert server.paths() == ["/to-public", "/feed.ics", "/to-literal", "/to-name"]


def test_dns_rebinding_is_caught_on_the_socket_before_the_request_is_sent(guarded_server, fake_dns, monkeypatch):
    # The name looks public when checked, then resolves to loopback when the HTTP client connects.
    fake_dns["rebind.test"] = "127.0.0.1"
    monkeypatch.setattr(fetch_module, "resolve_host", lambda host, port: ["93.184.216.34"])
    error = fetch_error(f"http://rebind.test:{guarded_server.port}/feed.ics")
    assert error.code == "forbidden_address" and "127.0.0.1" in error.message
    assert guarded_server.requests == []  # not a byte of the request was sent


# --- secrets --------------------------------------------------------------------------------------


def test_errors_and_logs_never_show_the_path_or_query_of_an_import_url(server, caplog):
    server.route("/calendar/ical/98765.ics", b"oops", status=500)
    url = server.url(f"/calendar/ical/98765.ics?s={SECRET}")
    with caplog.at_level(logging.DEBUG):
        error = fetch_error(url)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            refused = fetch_error(f"http://127.0.0.1:{sock.getsockname()[1]}/calendar/ical/98765.ics?s={SECRET}")
    for message in (error.message, refused.message, caplog.text):
        assert SECRET not in message and "98765" not in message
    assert redact_url(url) == f"http://127.0.0.1:{server.port}/…"
