"""``channels.fetch.fetch_feed`` against a real local HTTP server: conditional GET, errors, limits, redirects.

The SSRF guard (URL parsing, address checks, pinned connections, one message for every failed connection) is
tested in ``test_ssrf.py``."""

import http.client
import logging
import socket

import pytest

from channels.fetch import UNREACHABLE, FetchError, fetch_feed, redact_url

ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\n"
       b"BEGIN:VEVENT\r\nUID:a1@airbnb.com\r\nDTSTART;VALUE=DATE:20300101\r\nDTEND;VALUE=DATE:20300104\r\n"
       b"SUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
ETAG = '"feed-v1"'
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"
SECRET = "s3cr3t0123456789abcdef"


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
    assert (error.code, error.reason, error.message) == ("unreachable", "timeout", UNREACHABLE)


def test_a_server_that_dribbles_the_body_is_cut_off_at_the_total_time_cap(server, settings):
    # Each byte comes well within the read timeout; only the cap on the whole fetch stops it.
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 0.5
    server.route("/dribble.ics", ICS[:60], dribble=0.05)  # 60 bytes × 50 ms = 3 s
    error = fetch_error(server.url("/dribble.ics"))
    assert (error.code, error.reason, error.message) == ("unreachable", "timeout", UNREACHABLE)


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
    assert (error.code, error.reason, error.message) == ("unreachable", "connect", UNREACHABLE)
    assert "refused" in error.detail.lower() and SECRET not in error.detail


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


# --- SSRF guard: tests/channels/test_ssrf.py -----------------------------------------------------


# --- secrets --------------------------------------------------------------------------------------


def test_errors_and_logs_never_show_the_path_or_query_of_an_import_url(server, caplog):
    server.route("/calendar/ical/98765.ics", b"oops", status=500)
    url = server.url(f"/calendar/ical/98765.ics?s={SECRET}")
    with caplog.at_level(logging.DEBUG):
        error = fetch_error(url)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            refused = fetch_error(f"http://127.0.0.1:{sock.getsockname()[1]}/calendar/ical/98765.ics?s={SECRET}")
    for message in (error.message, refused.message, refused.detail, caplog.text):
        assert SECRET not in message and "98765" not in message
    assert redact_url(url) == f"http://127.0.0.1:{server.port}/…"
