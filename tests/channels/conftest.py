import pytest

from tests.channels.feedserver import FeedServer


@pytest.fixture
def server(settings):
    """A feed server on 127.0.0.1 with the SSRF guard off (the server *is* a private address)."""
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 2.0
    with FeedServer() as feed_server:
        yield feed_server


@pytest.fixture(autouse=True)
def _plain_reader_checked(monkeypatch):
    """Every feed the plain reader accepts is read by icalendar too and must read the same (plain_check)."""
    from channels import ical_parse
    from tests.channels.plain_check import checked_plain_events

    monkeypatch.setattr(ical_parse, "_plain_events", checked_plain_events(ical_parse._plain_events))
