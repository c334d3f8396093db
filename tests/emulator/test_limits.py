"""Bounded servers: the emulator's memory stays flat under sustained load, hostile numbers,
bodies and nesting get a 4xx on every route, and slow or oversized clients are cut off."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import time
import tracemalloc
from typing import Any

import pytest

from engage_web.cpython.emulator import limits
from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.emulator.model import Model
from engage_web.cpython.emulator.scenario import load_scenario
from engage_web.cpython.emulator.server import server_config
from tests.emulator.conftest import (
    DOMAIN,
    VISITORS,
    Emulator,
    GuardedServer,
    impression_of,
    query,
    visitor_path,
)

JSON = {"content-type": "application/json"}


def leads(start: int, count: int) -> list[dict[str, Any]]:
    """``count`` distinct lead SDEs, numbered from ``start``."""
    return [{"type": "lead", "lead": {"topic": f"t{i}"}} for i in range(start, start + count)]


def check_body(sdes: list[Any]) -> dict[str, Any]:
    return {"appType": "EXTERNAL", "consumerSections": ["Support"], "engagementAttributes": sdes}


# -- per-session history ----------------------------------------------------------------------


def test_a_session_keeps_its_newest_history_and_counts_everything(emulator: Emulator, monkeypatch):
    """Past HISTORY_ITEMS, the oldest items are dropped; the counts of all ever recorded and of
    the dropped ones are kept."""
    monkeypatch.setattr(limits, "HISTORY_ITEMS", 5)
    first = emulator.check(check_body(leads(0, 3))).json()
    vid, sid = first["visitorId"], first["sessionId"]
    emulator.check(check_body(leads(3, 3)), vid=vid, sid=sid)  # Available: one offer recorded
    session = emulator.session(sid)
    assert session["engagementAttributes"] == leads(2, 4)
    assert len(session["offered"]) == 1
    assert session["counts"] == {
        "checks": 2,
        "engagementAttributes": 6,
        "impressions": 0,
        "offered": 1,
        "updates": 0,
    }
    assert session["dropped"] == 2


def test_a_session_keeps_its_history_within_its_byte_cap(emulator: Emulator, monkeypatch):
    """Past HISTORY_BYTES the oldest items go too; the newest item stays even when it alone is
    over the cap."""
    monkeypatch.setattr(limits, "HISTORY_BYTES", 1000)
    sid = emulator.check(check_body(leads(0, 20))).json()["sessionId"]
    kept = emulator.session(sid)["engagementAttributes"]
    assert 1 < len(kept) < 20
    assert kept == leads(20 - len(kept), len(kept))
    big = [{"type": "searchInfo", "keywords": ["x" * 2000]}]
    sid = emulator.check(check_body(big)).json()["sessionId"]
    assert emulator.session(sid)["engagementAttributes"] == big


def test_impressions_and_updates_share_the_history(emulator: Emulator, monkeypatch):
    """Impressions and update records are history too: oldest first out, whatever the kind."""
    monkeypatch.setattr(limits, "HISTORY_ITEMS", 4)
    answer = emulator.warm()
    for kind in ("impDisplay", "impAccept", "impClose"):
        assert emulator.update(answer, impressions=[impression_of(answer, kind)]).status_code == 200
    session = emulator.session(answer["sessionId"])
    assert [i["type"] for i in session["impressions"]] == ["impAccept", "impClose"]
    assert len(session["updates"]) == 2
    assert session["counts"]["impressions"] == 3
    assert session["counts"]["updates"] == 3


def test_an_update_may_name_one_of_the_latest_page_ids_only(emulator: Emulator, monkeypatch):
    """The session keeps its latest PAGE_IDS_KEPT page ids; an update naming an older page is
    refused (400 pageId)."""
    monkeypatch.setattr(limits, "PAGE_IDS_KEPT", 3)
    first = emulator.check().json()
    vid, sid = first["visitorId"], first["sessionId"]
    answers = [emulator.check(vid=vid, sid=sid).json() for _ in range(3)]
    assert emulator.session(sid)["pageIds"] == [a["pageId"] for a in answers]
    assert emulator.update(answers[0], sdes=leads(0, 1)).status_code == 200
    old = emulator.update(first, sdes=leads(0, 1))
    assert old.status_code == 400
    assert old.json()["field"] == "pageId"


def test_all_histories_together_stay_within_the_store_cap(emulator: Emulator, monkeypatch):
    """When all histories together pass STORE_BYTES, the least recently active sessions are
    forgotten; the active one never is."""
    monkeypatch.setattr(limits, "STORE_BYTES", 20_000)
    sids = [emulator.check(check_body(leads(0, 30))).json()["sessionId"] for _ in range(8)]
    state = emulator.client.get("/_emulator/state").json()
    assert state["historyBytes"] <= 20_000
    assert emulator.client.get(f"/_emulator/sessions/{sids[0]}").status_code == 404
    assert emulator.session(sids[-1])["counts"]["engagementAttributes"] == 30


def test_one_busy_session_stays_bounded(emulator: Emulator):
    """The issue's case: one session checked again and again with 100 SDEs each keeps at most
    HISTORY_ITEMS items (not 100 per check), and counts every SDE."""
    first = emulator.check(check_body(leads(0, 100))).json()
    vid, sid = first["visitorId"], first["sessionId"]
    for n in range(1, 30):
        emulator.check(check_body(leads(100 * n, 100)), vid=vid, sid=sid)
    session = emulator.session(sid)
    kept = session["engagementAttributes"] + session["offered"]
    assert len(kept) <= limits.HISTORY_ITEMS
    assert session["counts"]["engagementAttributes"] == 3000
    assert session["engagementAttributes"][-1] == leads(2999, 1)[0]
    model = emulator.client.app.state.model
    assert model.sessions[sid].history_bytes <= limits.HISTORY_BYTES


def _traced_after(work) -> int:
    work()
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_stays_flat_under_sustained_load(monkeypatch):
    """Thousands of distinct sessions and one session checked thousands of times: once the caps
    are reached, more of the same load adds no memory (smaller caps than the defaults, so the
    plateau comes sooner; the mechanism is the same)."""
    monkeypatch.setattr(limits, "MAX_SESSIONS", 300)
    monkeypatch.setattr(limits, "STORE_BYTES", 300_000)
    now = [1_700_000_000.0]
    model = Model(load_scenario(), clock=lambda: now[0])
    sdes = leads(0, 10)
    first = model.check("demo", None, None, ["Support"], sdes)
    vid, sid = first["visitorId"], first["sessionId"]

    def load() -> None:
        for _ in range(600):
            now[0] += 0.01
            model.check("demo", None, None, ["Support"], sdes)  # a new visitor each time
            model.check("demo", vid, sid, ["Support"], sdes)  # the same session again

    tracemalloc.start()
    try:
        plateau = _traced_after(load)  # fills the caps
        after = _traced_after(load)
        later = _traced_after(load)
    finally:
        tracemalloc.stop()
    assert len(model.sessions) <= 300
    assert model.store_bytes <= 300_000
    assert model.sessions[sid].counts["engagementAttributes"] == 10 * 1801
    assert max(after, later) - plateau < 100_000, (plateau, after, later)


# -- hostile numbers, bodies and nesting on every route ---------------------------------------

DIGITS = "9" * 5000
HOSTILE_BODIES = {
    "5000-digit number": b'{"x": ' + DIGITS.encode() + b"}",
    "4000-digit number": b'{"agentsOnline": ' + b"9" * 4000 + b', "checks": 1}',
    "huge float": b'{"count": 1e400, "checks": 1e400, "agentsOnline": 1e400}',
    "deep lists": b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "70 KB": b'{"x": "' + b"y" * 70_000 + b'"}',
    "nested 900": b'{"status": ' + b"[" * 900 + b"]" * 900 + b"}",
}
BODY_ROUTES = [
    ("POST", VISITORS + query()),
    ("POST", visitor_path("v1") + query("s1")),
    ("PUT", visitor_path("v1") + query("s1")),
    ("POST", "/_emulator/skills/23"),
    ("POST", "/_emulator/faults"),
    ("POST", "/_emulator/accounts/demo/cold"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_get_a_4xx_on_every_route(client, method, path, name):
    """Oversized numbers, deep nesting and oversized bodies answer 4xx, never 500, on every
    route that reads a body, with the JSON error body."""
    answer = client.request(method, path, content=HOSTILE_BODIES[name], headers=JSON)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert answer.json()["message"]
    assert len(answer.content) < 20_000


@pytest.mark.parametrize(
    ("method", "path", "status", "field"),
    [
        ("POST", "/_emulator/skills/" + DIGITS, 400, "skillId"),
        ("POST", "/_emulator/skills/9999999999999999", 400, "skillId"),
        ("POST", "/_emulator/skills/\u0663", 400, "skillId"),  # an Arabic-Indic digit
        ("POST", "/_emulator/skills/-1", 400, "skillId"),
        ("POST", "/_emulator/accounts/" + DIGITS + "/cold", 404, "accountId"),
        ("GET", "/_emulator/sessions/" + "s" * 10_000, 404, "sessionId"),
        ("POST", visitor_path(DIGITS) + query(), 401, "vid"),
        ("POST", visitor_path("v1") + query(DIGITS), 401, "sid"),
        ("POST", VISITORS + query(v=DIGITS), 400, "v"),
        ("GET", DOMAIN.replace("msdkgw", DIGITS) + "?version=1.0", 404, "service"),
        ("GET", DOMAIN + "?version=" + DIGITS, 400, "version"),
    ],
)
def test_oversized_numbers_in_paths_and_queries_get_a_4xx(client, method, path, status, field):
    """A 5000-digit skill id (and every other oversized path or query value) answers 4xx with
    a short message naming the parameter, never 500."""
    body = {"agentsOnline": 1, "checks": 1, "appType": "EXTERNAL"}
    if "/cold" not in path and "skills" not in path:
        body = {"appType": "EXTERNAL"}
    if "/skills/" in path:
        body = {"agentsOnline": 1}
    answer = client.request(method, path, json=body if method == "POST" else None)
    assert answer.status_code == status, answer.text[:300]
    assert answer.json()["field"] == field
    assert len(answer.content) < 2000


@pytest.mark.parametrize(
    "header", ["12" + "0" * 4998, "abc", "-1", "0x10", "\u0661\u0662".encode()]
)
def test_hostile_content_lengths_get_a_4xx(client, header):
    """A Content-Length that is huge or not a number answers 4xx before anything is read."""
    answer = client.post(
        VISITORS + query(), content=b"{}", headers={**JSON, "content-length": header}
    )
    assert answer.status_code in (400, 413)


def test_too_many_header_lines_answer_431(client):
    """A request with more header lines than MAX_HEADER_COUNT answers 431 and closes."""
    headers = [(f"x-h{i}", "1") for i in range(limits.MAX_HEADER_COUNT + 1)]
    answer = client.post(VISITORS + query(), json={"appType": "EXTERNAL"}, headers=headers)
    assert answer.status_code == 431
    assert answer.json()["internalCode"] == 5
    assert answer.headers["connection"] == "close"
    fine = client.post(VISITORS + query(), json={"appType": "EXTERNAL"}, headers=headers[:50])
    assert fine.status_code == 200


def test_an_oversized_head_answers_431_in_process(client):
    """A head over MAX_HEAD_BYTES that arrives whole answers 431 too."""
    answer = client.get(DOMAIN + "?version=1.0", headers={"x-big": "a" * limits.MAX_HEAD_BYTES})
    assert answer.status_code == 431
    assert "request head" in answer.json()["message"]


def test_a_body_that_never_arrives_answers_408():
    """A route whose body does not arrive within the body timeout answers 408 (the client then
    loses its connection), instead of waiting for ever."""
    app = create_app(body_timeout=0.05)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": VISITORS,
        "raw_path": VISITORS.encode(),
        "query_string": b"v=1.0",
        "root_path": "",
        "headers": [
            (b"host", b"t"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never sends its body
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), 5)

    asyncio.run(run())
    start = sent[0]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    body = json.loads(sent[1]["body"])
    assert "did not arrive within 0.05 s" in body["message"]
    log = app.state.model.requests
    assert log[-1]["status"] == 408


# -- slow and oversized clients on a real server ------------------------------------------------

FAST = {"head_timeout": 0.3, "body_timeout": 0.3, "body_grace": 0.2}


@pytest.fixture(scope="module")
def guarded():
    """The emulator under the serve settings, with short deadlines."""
    with GuardedServer(create_app(body_timeout=0.3), **FAST) as server:
        yield server


def connect(server: GuardedServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def read_until_closed(sock: socket.socket, limit: float = 5.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took (seconds)."""
    started = time.monotonic()
    chunks = []
    sock.settimeout(limit)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def status_and_body(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def request_bytes(path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def test_a_head_sent_too_slowly_is_cut_off_with_408(guarded):
    """A client that starts a request head and never finishes it gets 408 and loses the
    connection within the head timeout, instead of holding it for ever."""
    with connect(guarded) as sock:
        sock.sendall(b"POST " + VISITORS.encode() + b"?v=1.0 HTTP/1.1\r\nhost: x\r\n")
        raw, took = read_until_closed(sock)
    status, body = status_and_body(raw)
    assert status == 408
    assert "request head" in body["message"]
    assert 0.2 < took < 3


def test_a_connection_that_sends_nothing_is_closed_silently(guarded):
    """A connection that never sends a byte is closed after the head timeout, without an
    answer."""
    with connect(guarded) as sock:
        raw, took = read_until_closed(sock)
    assert raw == b""
    assert took < 3


def test_an_oversized_head_answers_431_and_closes(guarded):
    """A request head over MAX_HEAD_BYTES answers 431 with the JSON error body, then closes."""
    big = "x-big: " + "a" * (limits.MAX_HEAD_BYTES + 10) + "\r\n"
    with connect(guarded) as sock:
        sock.sendall(request_bytes(VISITORS + "?v=1.0", b"{}", big))
        raw, _ = read_until_closed(sock)
    status, body = status_and_body(raw)
    assert status == 431
    assert str(limits.MAX_HEAD_BYTES) in body["message"]


def test_an_oversized_head_still_arriving_answers_431(guarded):
    """A head that passes MAX_HEAD_BYTES before it is even complete is refused by the server
    with 431 at once, without waiting for the rest."""
    with connect(guarded) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nx-big: " + b"a" * (limits.MAX_HEAD_BYTES + 100))
        raw, took = read_until_closed(sock)
    status, body = status_and_body(raw)
    assert status == 431
    assert body["internalCode"] == 5
    assert took < 0.25  # well before the head timeout


def test_a_garbled_request_line_answers_a_json_400(guarded):
    """A request the HTTP parser refuses answers 400 with the JSON error body, then closes."""
    with connect(guarded) as sock:
        sock.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
        raw, _ = read_until_closed(sock)
    status, body = status_and_body(raw)
    assert status == 400
    assert body["message"].startswith("invalid HTTP request")


def test_too_many_headers_answer_431_on_a_real_server(guarded):
    """The header-count limit holds over a real socket too."""
    many = "".join(f"x-h{i}: 1\r\n" for i in range(limits.MAX_HEADER_COUNT + 5))
    with connect(guarded) as sock:
        sock.sendall(request_bytes(VISITORS + "?v=1.0", b"{}", many))
        raw, _ = read_until_closed(sock)
    assert status_and_body(raw)[0] == 431


def test_a_body_sent_too_slowly_answers_408_and_closes(guarded):
    """A body that stops arriving gets the route's 408 and the connection is closed."""
    with connect(guarded) as sock:
        sock.sendall(request_bytes(VISITORS + "?v=1.0", b'{"appType": "EXTERNAL"}')[:-10])
        raw, took = read_until_closed(sock)
    status, body = status_and_body(raw)
    assert status == 408
    assert "did not arrive" in body["message"]
    assert took < 3


def test_a_body_nobody_reads_still_has_a_deadline(guarded):
    """A route that never reads the body answers at once; a client still trickling a body on
    that connection loses it at the body deadline."""
    head = f"GET {DOMAIN}?version=1.0 HTTP/1.1\r\nhost: 127.0.0.1:1\r\ncontent-length: 1000\r\n\r\n"
    with connect(guarded) as sock:
        sock.sendall(head.encode() + b"x")
        raw, took = read_until_closed(sock)
    status, body = status_and_body(raw)
    assert status == 200
    assert body["baseURI"] == "127.0.0.1:1"
    assert took < 3


def test_keep_alive_and_pipelined_requests_still_work(guarded):
    """The deadlines do not disturb a well-behaved client: two requests on one connection, then
    two pipelined in one write, all answered."""
    one = request_bytes(VISITORS + "?v=1.0", b'{"appType": "EXTERNAL"}')
    with connect(guarded) as sock:
        sock.sendall(one)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # idle, but within the head timeout of the next request
        sock.sendall(one + one)
        raw, _ = read_until_closed(sock)
    assert raw.count(b"HTTP/1.1 200") == 2


def test_the_serve_settings():
    """server_config carries the documented limits (what python3 -m engage_web serve uses)."""
    config = server_config(object(), port=0)
    assert config.h11_max_incomplete_event_size == limits.MAX_HEAD_BYTES
    assert config.timeout_keep_alive == limits.KEEP_ALIVE_TIMEOUT
    assert config.limit_concurrency == limits.MAX_CONNECTIONS
    assert config.http.head_timeout == limits.HEAD_TIMEOUT
    assert config.http.body_timeout == limits.BODY_TIMEOUT
    assert server_config(object(), log_level="info").log_level == "info"


def test_requests_beyond_the_connection_limit_answer_503():
    """With MAX_CONNECTIONS connections open, a request on one more answers 503."""
    with GuardedServer(create_app(), **FAST, limit_concurrency=2) as server:
        held = [connect(server) for _ in range(2)]
        try:
            with connect(server) as sock:
                sock.sendall(request_bytes(VISITORS + "?v=1.0", b'{"appType": "EXTERNAL"}'))
                raw, _ = read_until_closed(sock)
            assert raw.startswith(b"HTTP/1.1 503")
        finally:
            for sock in held:
                sock.close()
