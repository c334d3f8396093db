"""Control routes steer the emulator; injected faults hit the next public requests as promised."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from engage_web.core.errors import NetworkError
from engage_web.core.transport import HttpRequest
from engage_web.cpython.emulator import limits
from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.stdlib_transport import stdlib_transport
from tests.emulator.conftest import (
    DOMAIN,
    VISITORS,
    Emulator,
    TestClient,
    impression_of,
    query,
    seed_body,
    visitor_path,
)

BODY = json.dumps(seed_body())


def add_fault(client, **fault) -> None:
    answer = client.post("/_emulator/faults", json=fault)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_faults_carry_retry_after(emulator: Emulator, status):
    """429 and 503 faults answer the JSON error body with the Retry-After given."""
    add_fault(emulator.client, status=status, retryAfter=7)
    answer = emulator.check()
    assert answer.status_code == status
    assert answer.headers["retry-after"] == "7"
    assert set(answer.json()) >= {"time", "message", "internalCode"}


def test_a_503_without_retry_after_still_sends_one(emulator: Emulator):
    """The contract promises Retry-After with 503: it defaults to 1 second."""
    add_fault(emulator.client, status=503)
    assert emulator.check().headers["retry-after"] == "1"


def test_faults_apply_to_exactly_count_public_requests(emulator: Emulator):
    """A fault with count n fails the next n public requests, then answers return to normal."""
    add_fault(emulator.client, count=2, status=500)
    statuses = [emulator.check().status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_faults_are_used_in_order_and_ignore_control_requests(emulator: Emulator):
    """Queued faults are taken oldest first; control routes never consume them."""
    add_fault(emulator.client, status=502)
    add_fault(emulator.client, status=504)
    emulator.client.get("/_emulator/state")
    assert [emulator.check().status_code for _ in range(3)] == [502, 504, 200]


@pytest.mark.parametrize(
    ("mode", "content_type", "parses_as_json"),
    [
        ("malformed", "application/json", False),
        ("html", "text/html", False),
        ("wrong-type", "text/plain", True),
    ],
)
def test_success_status_faults_break_the_body_or_its_type(
    emulator: Emulator, mode, content_type, parses_as_json
):
    """malformed, html and wrong-type answer 2xx with a body a careful client must refuse."""
    add_fault(emulator.client, mode=mode)
    answer = emulator.check()
    assert 200 <= answer.status_code < 300
    assert answer.headers["content-type"].startswith(content_type)
    try:
        json.loads(answer.text)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed is parses_as_json


def test_wrong_type_fault_keeps_the_real_answer(emulator: Emulator):
    """A wrong-type answer is the real engagement answer (a real session), mislabelled."""
    add_fault(emulator.client, mode="wrong-type")
    answer = json.loads(emulator.check().text)
    assert emulator.client.get(f"/_emulator/sessions/{answer['sessionId']}").status_code == 200


def test_a_delay_alone_answers_normally_afterwards(emulator: Emulator):
    """A delayMs fault without status or mode delays the answer, which is otherwise normal."""
    add_fault(emulator.client, delayMs=1)
    assert emulator.check().status_code == 200
    assert emulator.client.get("/_emulator/state").json()["faults"] == []


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"count": 0, "status": 503}, "count", "from 1 to"),
        ({"status": 200}, "status", "from 400 to 599; got 200"),
        ({"status": "503"}, "status", "got '503'"),
        ({"mode": "explode"}, "mode", "drop, malformed, html, wrong-type; got 'explode'"),
        ({"status": 503, "mode": "drop"}, "mode", "not both"),
        ({}, "status", "needs a status, a mode or a delayMs"),
        ({"mode": "drop", "retryAfter": 1}, "retryAfter", "goes with a status"),
        ({"status": 503, "delay": 5}, "delay", "unknown key"),
        ({"delayMs": -1}, "delayMs", "got -1"),
        ({"status": 503, "route": "report"}, "route", "check, update, domain"),
    ],
)
def test_fault_bodies_are_validated(client, body, field, words):
    """A bad fault is refused with 400 naming the field, the allowed values and what was sent."""
    answer = client.post("/_emulator/faults", json=body)
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert words in answer.json()["message"]
    assert client.get("/_emulator/state").json()["faults"] == []


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/_emulator/skills/23", {"agentsOnline": -1}, 400, "agentsOnline"),
        ("/_emulator/skills/23", {"agentsOnline": "2"}, 400, "agentsOnline"),
        ("/_emulator/skills/23", {"agents": 2}, 400, "agents"),
        ("/_emulator/skills/abc", {"agentsOnline": 2}, 400, "skillId"),
        ("/_emulator/skills/99", {"agentsOnline": 2}, 404, "skillId"),
    ],
)
def test_skill_changes_are_validated(client, path, body, status, field):
    """Bad skill updates answer 400 (or 404 for an unknown skill) naming the field."""
    answer = client.post(path, json=body)
    assert answer.status_code == status
    assert answer.json()["field"] == field


def test_skills_come_online_at_run_time(emulator: Emulator):
    """Setting agentsOnline on the sales skill turns its NotAvailable into Available."""
    sales = {"appType": "EXTERNAL", "consumerSections": ["Sales"]}
    ids = emulator.check(sales).json()
    assert emulator.check(sales, ids["visitorId"], ids["sessionId"]).json()["status"] == (
        "NotAvailable"
    )
    changed = emulator.client.post("/_emulator/skills/24", json={"agentsOnline": 1})
    assert changed.json() == {"id": 24, "name": "Sales", "agentsOnline": 1}
    answer = emulator.check(sales, ids["visitorId"], ids["sessionId"]).json()
    assert answer["status"] == "Available"
    assert answer["engagementDetails"]["skillId"] == 24


def test_state_and_reset(emulator: Emulator):
    """State shows skills, faults and sessions; reset returns to the scenario and clears all."""
    emulator.check()
    emulator.client.post("/_emulator/skills/23", json={"agentsOnline": 0})
    add_fault(emulator.client, count=3, status=503)
    assert emulator.check().status_code == 503
    state = emulator.client.get("/_emulator/state").json()
    assert state["skills"]["23"]["agentsOnline"] == 0
    assert [f["count"] for f in state["faults"]] == [2]
    assert state["sessions"] == 1
    reset = emulator.client.post("/_emulator/reset").json()
    assert reset["skills"]["23"]["agentsOnline"] == 2
    assert reset["faults"] == []
    assert reset["sessions"] == 0
    assert emulator.requests() == []
    assert emulator.check().status_code == 200


def test_sessions_can_be_read_back_and_reset_forgets_them(emulator: Emulator):
    """GET /_emulator/sessions/{id} shows a session until reset; unknown ids answer 404."""
    sid = emulator.check().json()["sessionId"]
    session = emulator.session(sid)
    assert session["sessionId"] == sid
    assert session["live"] is True
    assert session["checks"] == 1
    emulator.client.post("/_emulator/reset")
    missing = emulator.client.get(f"/_emulator/sessions/{sid}")
    assert missing.status_code == 404
    assert missing.json()["field"] == "sessionId"


# -- faults narrowed to one route ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "failing"),
    [("domain", "domain"), ("check", "check"), ("update", "update"), (None, "domain")],
)
def test_a_fault_can_be_narrowed_to_one_route(emulator: Emulator, route, failing):
    """A fault with a route fails only requests on that route (the others pass it by); without
    a route it fails the next public request, whatever it is."""
    answer = emulator.warm()
    fault = {"status": 503} if route is None else {"status": 503, "route": route}
    add_fault(emulator.client, **fault)
    calls = {
        "domain": lambda: emulator.client.get(DOMAIN + "?version=1.0"),
        "check": lambda: emulator.check(vid=answer["visitorId"], sid=answer["sessionId"]),
        "update": lambda: emulator.update(answer, impressions=[impression_of(answer)]),
    }
    statuses = {name: call().status_code for name, call in calls.items()}
    assert statuses == {name: 503 if name == failing else 200 for name in calls}


def test_the_update_route_includes_the_method_override(emulator: Emulator):
    """A POST overridden to PUT is an update for faults too; a plain POST is a check."""
    answer = emulator.warm()
    add_fault(emulator.client, status=500, route="update")
    assert emulator.check(vid=answer["visitorId"], sid=answer["sessionId"]).status_code == 200
    overridden = emulator.update(answer, sdes=[], override=True)
    assert overridden.status_code == 500


def test_pending_faults_are_bounded(client, monkeypatch):
    """The fault queue holds a bounded number of faults; one more is refused with 400."""
    monkeypatch.setattr(limits, "MAX_PENDING_FAULTS", 3)
    for _ in range(3):
        assert client.post("/_emulator/faults", json={"status": 503}).status_code == 200
    refused = client.post("/_emulator/faults", json={"status": 503})
    assert refused.status_code == 400
    assert "DELETE /_emulator/faults" in refused.json()["message"]
    assert client.delete("/_emulator/faults").json() == {"pending": []}


# -- the request log -------------------------------------------------------------------------------


def test_request_log_shows_what_liveperson_would_receive(emulator: Emulator):
    """Each public request is logged with its method, request line (path with query), route,
    method override and status; control requests are not logged."""
    add_fault(emulator.client, status=503)
    emulator.check()
    first = emulator.check().json()
    answer = emulator.check(vid=first["visitorId"], sid=first["sessionId"]).json()
    emulator.update(answer, impressions=[impression_of(answer)], override=True)
    emulator.client.get(DOMAIN + "?version=1.0")
    emulator.client.get("/_emulator/state")
    log = emulator.requests()
    vid, sid = first["visitorId"], first["sessionId"]
    assert [(r["requestLine"], r["route"], r["status"]) for r in log] == [
        (f"POST {VISITORS}?v=1.0", "check", 503),
        (f"POST {VISITORS}?v=1.0", "check", 200),
        (f"POST {visitor_path(vid)}?v=1.0&sid={sid}", "check", 200),
        (f"POST {visitor_path(vid)}?v=1.0&sid={sid}", "update", 200),
        (f"GET {DOMAIN}?version=1.0", "domain", 200),
    ]
    assert [r.get("methodOverride") for r in log] == [None, None, None, "PUT", None]
    assert log[0]["fault"] == 503
    assert (log[2]["method"], log[2]["path"], log[2]["query"]) == (
        "POST",
        visitor_path(vid),
        f"v=1.0&sid={sid}",
    )


def test_the_request_line_is_the_raw_target(client):
    """The logged request line keeps the percent-encoding the client sent."""
    client.post(visitor_path("a%20b") + query(), json=seed_body())
    entry = client.get("/_emulator/requests").json()["requests"][-1]
    assert entry["target"] == visitor_path("a%20b") + "?v=1.0"
    assert entry["path"] == visitor_path("a b")
    assert entry["status"] == 401  # a space is no visitor id


def test_request_log_is_bounded(monkeypatch, clock):
    """The request log keeps only the most recent requests, each request line shortened."""
    monkeypatch.setattr(limits, "REQUEST_LOG_SIZE", 3)
    monkeypatch.setattr(limits, "REQUEST_TARGET_SHOWN", 80)
    client = TestClient(create_app(clock=clock))
    for version in ("a", "b", "c", "d", "e" * 200):
        client.post(f"{VISITORS}?v={version}")
    log = client.get("/_emulator/requests").json()["requests"]
    assert [r["query"][:3] for r in log] == ["v=c", "v=d", "v=e"]
    assert log[-1]["target"].endswith(f"...({len(VISITORS) + 203} characters)")
    assert len(log[-1]["target"]) < 120


# -- over a real socket ------------------------------------------------------------------------


def test_drop_closes_the_connection_without_an_answer(live_server: str):
    """A drop fault leaves a real HTTP client with a transport error, not a status."""
    httpx.post(f"{live_server}/_emulator/faults", json={"mode": "drop"}).raise_for_status()
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{live_server}{VISITORS}{query()}", json=seed_body())
    assert httpx.post(f"{live_server}{VISITORS}{query()}", json=seed_body()).status_code == 200


def test_drop_is_a_network_error_for_the_stdlib_transport(live_server: str):
    """The CPython transport reports a dropped connection as NetworkError."""
    httpx.post(f"{live_server}/_emulator/faults", json={"mode": "drop"}).raise_for_status()
    request = HttpRequest(
        "POST", f"{live_server}{VISITORS}{query()}", {"Content-Type": "application/json"}, BODY
    )
    with pytest.raises(NetworkError):  # "closed mid-answer", or a reset if the close races
        asyncio.run(stdlib_transport(request, 5.0))


def test_oversized_chunked_body_is_refused_by_a_real_server(live_server: str):
    """Over a real socket, a chunked body past 64 KiB answers 413."""

    def chunks():
        for _ in range(100):
            yield b" " * 1024

    answer = httpx.post(
        f"{live_server}{VISITORS}{query()}",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413
