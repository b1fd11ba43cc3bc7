"""The emulator base: request log, injected faults, the controlled clock, over real HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from channels.emulators.base import Emulator, Response, running


class Echo(Emulator):
    name = "echo"

    def reset_state(self):
        self.hits = 0

    def handle(self, request):
        self.hits += 1
        return Response.json({"path": request.path, "hits": self.hits, "now": self.now().isoformat()})


@pytest.fixture
def echo():
    with running(Echo()) as emulator:
        yield emulator


def call(emulator, path, method="GET", data=None, timeout=5):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(emulator.base_url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def test_requests_are_logged_and_control_routes_are_not(echo):
    call(echo, "/api/a?x=1", "POST", {"k": 1})
    status, log, _ = call(echo, "/_emulator/requests")
    assert status == 200
    assert [(r["method"], r["path"], r["query"], json.loads(r["body"]), r["status"]) for r in log] == [
        ("POST", "/api/a", {"x": ["1"]}, {"k": 1}, 200)]
    call(echo, "/_emulator/requests", "DELETE")
    assert call(echo, "/_emulator/requests")[1] == []


def test_a_status_fault_answers_the_next_matching_requests_then_stops(echo):
    call(echo, "/_emulator/faults", "POST", {"path": "/api/b", "times": 2, "status": 429, "retry_after": 3})
    assert call(echo, "/api/a")[0] == 200  # another path: untouched
    first, second, third = (call(echo, "/api/b") for _ in range(3))
    assert (first[0], first[2]["Retry-After"], second[0], third[0]) == (429, "3", 429, 200)
    assert echo.hits == 2  # the faulted requests never reached the platform


def test_a_dropped_connection_and_a_timeout_reach_the_client_as_errors(echo):
    call(echo, "/_emulator/faults", "POST", [{"kind": "drop"}, {"kind": "timeout", "delay": 1}])
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(echo, "/api/a")
    started = time.monotonic()
    with pytest.raises((urllib.error.URLError, ConnectionError, TimeoutError)):
        call(echo, "/api/a", timeout=0.3)
    assert time.monotonic() - started < 1
    assert echo.hits == 0


def test_the_clock_can_be_frozen_and_advanced(echo):
    call(echo, "/_emulator/clock", "POST", {"now": "2027-01-01T12:00:00+00:00"})
    call(echo, "/_emulator/clock", "POST", {"advance": 1800})
    assert call(echo, "/api/a")[1]["now"] == "2027-01-01T12:30:00+00:00"
    call(echo, "/_emulator/reset", "POST")
    assert call(echo, "/api/a")[1]["hits"] == 1 and not call(echo, "/api/a")[1]["now"].startswith("2027-01-01")
