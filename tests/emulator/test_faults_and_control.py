"""Control routes steer the emulator; injected faults hit the next public requests as promised."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from engage_web.emulator.app import create_app
from engage_web.errors import NetworkError
from engage_web.stdlib_transport import stdlib_transport
from engage_web.transport import HttpRequest
from tests.emulator.conftest import ENGAGEMENT, Emulator, TestClient, query


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
    assert set(answer.json()) >= {"time", "message", "internalCode", "field"}


def test_a_503_without_retry_after_still_sends_one(emulator: Emulator):
    """The contract promises Retry-After with 503: it defaults to 1 second."""
    add_fault(emulator.client, status=503)
    assert emulator.check().headers["retry-after"] == "1"


def test_faults_apply_to_exactly_count_public_requests(emulator: Emulator):
    """A fault with count n fails the next n public requests, then answers return to normal."""
    add_fault(emulator.client, count=2, status=500)
    statuses = [emulator.check().status_code for _ in range(3)]
    assert statuses == [500, 500, 201]


def test_faults_are_used_in_order_and_ignore_control_requests(emulator: Emulator):
    """Queued faults are taken oldest first; control routes never consume them."""
    add_fault(emulator.client, status=502)
    add_fault(emulator.client, status=504)
    emulator.client.get("/_emulator/state")
    assert [emulator.check().status_code for _ in range(3)] == [502, 504, 201]


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
    assert emulator.check().status_code == 201
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
    sales = {"consumerSections": ["Sales"]}
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
    assert emulator.client.get("/_emulator/requests").json()["requests"] == []
    assert emulator.check().status_code == 201


def test_sessions_can_be_read_back_and_reset_forgets_them(emulator: Emulator):
    """GET /_emulator/sessions/{id} shows a session until reset; unknown ids answer 404."""
    sid = emulator.check().json()["sessionId"]
    session = emulator.client.get(f"/_emulator/sessions/{sid}").json()
    assert session["sessionId"] == sid
    assert session["live"] is True
    assert session["checks"] == 1
    emulator.client.post("/_emulator/reset")
    missing = emulator.client.get(f"/_emulator/sessions/{sid}")
    assert missing.status_code == 404
    assert missing.json()["field"] == "sessionId"


def test_request_log_records_public_requests_only(emulator: Emulator):
    """The request log lists public requests with method, path, query and status."""
    add_fault(emulator.client, status=503)
    emulator.check()
    emulator.check()
    emulator.client.get("/_emulator/state")
    log = emulator.client.get("/_emulator/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", ENGAGEMENT, 503),
        ("POST", ENGAGEMENT, 201),
    ]
    assert log[0]["query"] == "v=1.0"


def test_request_log_is_bounded(monkeypatch, clock):
    """The request log keeps only the most recent requests."""
    from engage_web.emulator import model

    monkeypatch.setattr(model, "REQUEST_LOG_SIZE", 3)
    client = TestClient(create_app(clock=clock))
    for version in ("a", "b", "c", "d", "e"):
        client.post(f"/api/account/demo/app/engagement?v={version}")
    log = client.get("/_emulator/requests").json()["requests"]
    assert [r["query"] for r in log] == ["v=c", "v=d", "v=e"]


# -- over a real socket ------------------------------------------------------------------------


def test_drop_closes_the_connection_without_an_answer(live_server: str):
    """A drop fault leaves a real HTTP client with a transport error, not a status."""
    httpx.post(f"{live_server}/_emulator/faults", json={"mode": "drop"}).raise_for_status()
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{live_server}{ENGAGEMENT}{query()}", json={})
    assert httpx.post(f"{live_server}{ENGAGEMENT}{query()}", json={}).status_code == 201


def test_drop_is_a_network_error_for_the_stdlib_transport(live_server: str):
    """The CPython transport reports a dropped connection as NetworkError."""
    httpx.post(f"{live_server}/_emulator/faults", json={"mode": "drop"}).raise_for_status()
    request = HttpRequest(
        "POST", f"{live_server}{ENGAGEMENT}{query()}", {"Content-Type": "application/json"}, "{}"
    )
    with pytest.raises(NetworkError):  # "closed mid-answer", or a reset if the close races
        asyncio.run(stdlib_transport(request, 5.0))


def test_oversized_chunked_body_is_refused_by_a_real_server(live_server: str):
    """Over a real socket, a chunked body past 64 KiB answers 413."""

    def chunks():
        for _ in range(100):
            yield b" " * 1024

    answer = httpx.post(
        f"{live_server}{ENGAGEMENT}{query()}",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413
