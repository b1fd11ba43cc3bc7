import io
import json
import logging

import pytest


class LogCapture:
    """The lines the configured handler writes (settings.LOGGING: its formatter, so the real JSON with the real
    redaction), captured from a second handler with that same formatter on the root logger."""

    def __init__(self):
        configured = next(h for h in logging.getLogger().handlers if h.name == "console")
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(configured.formatter)
        self.handler.setLevel(logging.DEBUG)

    def attach(self) -> None:
        """(Again) on the root logger: an embedded Celery worker re-applies settings.LOGGING, which drops it."""
        root = logging.getLogger()
        if self.handler not in root.handlers:
            root.addHandler(self.handler)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def events(self, event: str) -> list[dict]:
        return [line for line in self.lines() if line["event"] == event]


@pytest.fixture
def log_output():
    capture = LogCapture()
    capture.attach()
    try:
        yield capture
    finally:
        logging.getLogger().removeHandler(capture.handler)
