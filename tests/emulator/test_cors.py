"""Configured origins may call the emulator cross-origin, preflight and error answers included."""

from __future__ import annotations

import pytest

from engage_web.core.wire import METHOD_OVERRIDE_HEADER
from engage_web.cpython.emulator.app import create_app
from tests.emulator.conftest import DOMAIN, VISITORS, TestClient, query, seed_body, visitor_path

PAGE = "http://page.test:5173"


@pytest.fixture
def cors_client(clock):
    return TestClient(create_app(cors_origins=[PAGE, "http://other.test"], clock=clock))


def preflight(client, path: str, method: str, headers: str = "content-type"):
    return client.options(
        path,
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        (VISITORS + query(), "POST", "content-type"),
        (visitor_path("v1") + query("s1"), "POST", "content-type"),
        (visitor_path("v1") + query("s1"), "PUT", "content-type"),
        (visitor_path("v1") + query("s1"), "POST", f"content-type, {METHOD_OVERRIDE_HEADER}"),
        (DOMAIN + "?version=1.0", "GET", "accept"),
    ],
)
def test_preflight_allows_the_public_routes(cors_client, path, method, headers):
    """A preflight from a configured origin allows the method and headers the client sends:
    JSON content, Accept, and the method override."""
    answer = preflight(cors_client, path, method, headers)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert method in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    for header in headers.split(", "):
        assert header.lower() in allowed


def test_the_allowed_methods_are_exactly_the_public_ones(cors_client):
    """CORS allows GET, POST, PUT and OPTIONS; nothing else (DELETE is a control method)."""
    answer = preflight(cors_client, VISITORS + query(), "POST")
    methods = {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST", "PUT", "OPTIONS"}
    assert preflight(cors_client, VISITORS + query(), "DELETE").status_code == 400


def test_preflight_does_not_consume_faults(cors_client):
    """Preflights are answered by CORS before faults: the fault hits the real request."""
    cors_client.post("/_emulator/faults", json={"status": 503})
    preflight(cors_client, VISITORS + query(), "POST")
    assert cors_client.post(VISITORS + query(), json=seed_body()).status_code == 503


def test_private_network_access_is_allowed(cors_client):
    """A page on a public address may call this loopback server (Private Network Access)."""
    answer = cors_client.options(
        VISITORS + query(),
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert answer.headers["access-control-allow-private-network"] == "true"


def test_unknown_origins_are_refused(cors_client):
    """An origin that was not configured gets no CORS permission."""
    answer = cors_client.options(
        VISITORS + query(),
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    simple = cors_client.post(
        VISITORS + query(), json=seed_body(), headers={"Origin": "http://evil.test"}
    )
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize(
    "fault", [{"status": 503, "retryAfter": 2}, {"status": 429, "retryAfter": 2}]
)
def test_retry_after_is_readable_cross_origin(cors_client, fault):
    """Throttling answers carry CORS headers and expose Retry-After to the page."""
    cors_client.post("/_emulator/faults", json=fault)
    answer = cors_client.post(VISITORS + query(), json=seed_body(), headers={"Origin": PAGE})
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert "retry-after" in answer.headers["access-control-expose-headers"].lower()
    assert answer.headers["retry-after"] == "2"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", VISITORS + query(v=None), 400),
        ("PUT", visitor_path("v1") + query("s1"), 401),
        ("POST", "/api/account/nope/app/engagement/visitors?v=1.0", 404),
        ("GET", visitor_path("v1") + query(), 405),
        ("GET", "/api/account/demo/service/msdkgw/baseURI.json", 400),
    ],
)
def test_error_answers_carry_cors_headers(cors_client, method, path, expected):
    """Error answers reach a cross-origin page too (else it would see a network error)."""
    answer = cors_client.request(
        method, path, json=seed_body() if method != "GET" else None, headers={"Origin": PAGE}
    )
    assert answer.status_code == expected
    assert answer.headers["access-control-allow-origin"] == PAGE


def test_bug_answers_carry_cors_headers(cors_client, monkeypatch):
    """Even the JSON 500 of an emulator bug is readable cross-origin."""

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(cors_client.app.state.model, "check", broken)
    no_raise = TestClient(cors_client.app, raise_server_exceptions=False)
    answer = no_raise.post(VISITORS + query(), json=seed_body(), headers={"Origin": PAGE})
    assert answer.status_code == 500
    assert answer.headers["access-control-allow-origin"] == PAGE


def test_wildcard_origin(clock):
    """'*' allows any origin."""
    client = TestClient(create_app(cors_origins=["*"], clock=clock))
    answer = client.post(
        VISITORS + query(), json=seed_body(), headers={"Origin": "http://any.test"}
    )
    assert answer.headers["access-control-allow-origin"] == "*"
