"""Configured origins may call the emulator cross-origin, preflight and error answers included."""

from __future__ import annotations

import pytest

from engage_web.emulator.app import create_app
from tests.emulator.conftest import ENGAGEMENT, REPORT, TestClient, query

PAGE = "http://page.test:5173"


@pytest.fixture
def cors_client(clock):
    return TestClient(create_app(cors_origins=[PAGE, "http://other.test"], clock=clock))


@pytest.mark.parametrize(("path", "method"), [(ENGAGEMENT, "POST"), (REPORT, "PUT")])
def test_preflight_allows_the_public_routes(cors_client, path, method):
    """A preflight from a configured origin allows the method and the JSON content type."""
    answer = cors_client.options(
        path + query("v1", "s1"),
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert method in answer.headers["access-control-allow-methods"]
    assert "content-type" in answer.headers["access-control-allow-headers"].lower()


def test_preflight_does_not_consume_faults(cors_client):
    """Preflights are answered by CORS before faults: the fault hits the real request."""
    cors_client.post("/_emulator/faults", json={"status": 503})
    cors_client.options(
        ENGAGEMENT + query(), headers={"Origin": PAGE, "Access-Control-Request-Method": "POST"}
    )
    assert cors_client.post(ENGAGEMENT + query(), json={}).status_code == 503


def test_unknown_origins_are_refused(cors_client):
    """An origin that was not configured gets no CORS permission."""
    answer = cors_client.options(
        ENGAGEMENT + query(),
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    simple = cors_client.post(ENGAGEMENT + query(), json={}, headers={"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize(
    "fault", [{"status": 503, "retryAfter": 2}, {"status": 429, "retryAfter": 2}]
)
def test_retry_after_is_readable_cross_origin(cors_client, fault):
    """Throttling answers carry CORS headers and expose Retry-After to the page."""
    cors_client.post("/_emulator/faults", json=fault)
    answer = cors_client.post(ENGAGEMENT + query(), json={}, headers={"Origin": PAGE})
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert "retry-after" in answer.headers["access-control-expose-headers"].lower()
    assert answer.headers["retry-after"] == "2"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", ENGAGEMENT + query(v=None), 400),
        ("PUT", REPORT + query(), 401),
        ("POST", "/api/account/nope/app/engagement?v=1.0", 404),
        ("GET", ENGAGEMENT + query(), 405),
    ],
)
def test_error_answers_carry_cors_headers(cors_client, method, path, expected):
    """Error answers reach a cross-origin page too (else it would see a network error)."""
    answer = cors_client.request(
        method, path, json={} if method != "GET" else None, headers={"Origin": PAGE}
    )
    assert answer.status_code == expected
    assert answer.headers["access-control-allow-origin"] == PAGE


def test_bug_answers_carry_cors_headers(cors_client, monkeypatch):
    """Even the JSON 500 of an emulator bug is readable cross-origin."""

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(cors_client.app.state.model, "check", broken)
    no_raise = TestClient(cors_client.app, raise_server_exceptions=False)
    answer = no_raise.post(ENGAGEMENT + query(), json={}, headers={"Origin": PAGE})
    assert answer.status_code == 500
    assert answer.headers["access-control-allow-origin"] == PAGE


def test_wildcard_origin(clock):
    """'*' allows any origin."""
    client = TestClient(create_app(cors_origins=["*"], clock=clock))
    answer = client.post(ENGAGEMENT + query(), json={}, headers={"Origin": "http://any.test"})
    assert answer.headers["access-control-allow-origin"] == "*"
