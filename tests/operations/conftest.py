"""Operations (docs/operations.md): metrics, health checks, the operations page, dashboards and alerts."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

# The emulator and feed-server fixtures of the channel tests, for "a sync moves the metrics".
from tests.channels.api.conftest import channex, channex_connection, channex_server  # noqa: F401
from tests.channels.conftest import server  # noqa: F401


def sample(name: str, **labels) -> float:
    """The value of one sample of this process's registry (0 when it has not been recorded yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_open(settings):
    """/metrics answering the test client (a token, sent by ``scrape``)."""
    settings.METRICS_TOKEN = "test-metrics-token"
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings.METRICS_TOKEN


@pytest.fixture
def scrape(client, metrics_open):
    """GET /metrics with the token; returns the exposition text."""

    def _scrape() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_open}")
        assert response.status_code == 200, response.content
        return response.content.decode()

    return _scrape


def scraped_value(text: str, name: str, **labels) -> float | None:
    """A sample's value in an exposition text (labels in any order), None when absent."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None
