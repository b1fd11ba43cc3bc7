import pytest

from tests.channels.feedserver import FeedServer


@pytest.fixture
def server(settings):
    """A feed server on 127.0.0.1 with the SSRF guard off (the server *is* a private address)."""
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 2.0
    with FeedServer() as feed_server:
        yield feed_server
