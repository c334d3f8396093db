"""The public routes answer like the documented engagement endpoint: statuses, bodies, sessions."""

from __future__ import annotations

import pytest

from engage_web.emulator.model import IDLE_TIMEOUT, MAX_AGE
from engage_web.emulator.seed import seed_engagement_details
from tests.emulator.conftest import ENGAGEMENT, REPORT, Emulator, query, seed_body

SEED_DETAILS = seed_engagement_details()
IMPRESSION = {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": 44}
LEAD = {"type": "lead", "lead": {"topic": "loan"}}


def test_seed_example_is_available_once_the_session_is_warm(emulator: Emulator):
    """The seed's request gets NotAvailable (201) on a new session, then the seed's Available."""
    first = emulator.check()
    assert first.status_code == 201
    assert set(first.json()) == {"status", "sessionId", "visitorId", "pageId"}
    assert first.json()["status"] == "NotAvailable"
    ids = first.json()
    second = emulator.check(vid=ids["visitorId"], sid=ids["sessionId"])
    assert second.status_code == 200
    answer = second.json()
    assert answer["status"] == "Available"
    assert (answer["visitorId"], answer["sessionId"]) == (ids["visitorId"], ids["sessionId"])
    assert answer["engagementDetails"] == SEED_DETAILS


def test_every_check_gets_a_fresh_page_id(emulator: Emulator):
    """pageId is new for every engagement request, even within one session."""
    ids = emulator.check().json()
    pages = {ids["pageId"]}
    for _ in range(3):
        pages.add(emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()["pageId"])
    assert len(pages) == 4


@pytest.mark.parametrize(
    ("use_vid", "sid", "expected_status", "same_visitor", "same_session"),
    [
        (False, None, 201, False, False),  # no ids: a new visitor and session
        (True, None, 201, True, False),  # vid alone: same visitor, new visit
        (True, "unknownSession1", 201, True, False),  # unknown sid: new session, never an error
        (True, "LIVE", 200, True, True),  # the live pair: the same session continues
    ],
)
def test_session_rules(
    emulator: Emulator, use_vid, sid, expected_status, same_visitor, same_session
):
    """Only the exact live vid/sid pair continues a session (200); all else starts one (201)."""
    ids = emulator.check().json()
    vid = ids["visitorId"] if use_vid else None
    sid = ids["sessionId"] if sid == "LIVE" else sid
    answer = emulator.check(vid=vid, sid=sid)
    assert answer.status_code == expected_status
    assert (answer.json()["visitorId"] == ids["visitorId"]) is same_visitor
    assert (answer.json()["sessionId"] == ids["sessionId"]) is same_session


def test_a_session_id_of_another_visitor_starts_a_new_session(emulator: Emulator):
    """A sid paired with the wrong vid is not that session: a new one starts for the given vid."""
    mine, theirs = emulator.check().json(), emulator.check().json()
    answer = emulator.check(vid=mine["visitorId"], sid=theirs["sessionId"])
    assert answer.status_code == 201
    assert answer.json()["visitorId"] == mine["visitorId"]
    assert answer.json()["sessionId"] not in (mine["sessionId"], theirs["sessionId"])


@pytest.mark.parametrize(
    ("idle_seconds", "expected_status"),
    [(IDLE_TIMEOUT - 1, 200), (IDLE_TIMEOUT, 201), (IDLE_TIMEOUT + 3600, 201)],
)
def test_sessions_expire_after_30_minutes_idle(emulator: Emulator, idle_seconds, expected_status):
    """A session idle for 30 minutes is over: its ids start a new session (same visitor)."""
    ids = emulator.check().json()
    emulator.clock.advance(idle_seconds)
    answer = emulator.check(vid=ids["visitorId"], sid=ids["sessionId"])
    assert answer.status_code == expected_status
    assert answer.json()["visitorId"] == ids["visitorId"]
    assert (answer.json()["sessionId"] == ids["sessionId"]) is (expected_status == 200)


def test_sessions_end_after_6_hours_however_active(emulator: Emulator):
    """A session checked every 20 minutes still ends 6 hours after it began."""
    ids = emulator.check().json()
    step = 20 * 60
    for _ in range(MAX_AGE // step - 1):
        emulator.clock.advance(step)
        assert emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).status_code == 200
    emulator.clock.advance(step)
    answer = emulator.check(vid=ids["visitorId"], sid=ids["sessionId"])
    assert answer.status_code == 201
    assert answer.json()["sessionId"] != ids["sessionId"]


def test_a_new_session_warms_up_again(emulator: Emulator):
    """Warm-up counts per session: the first check of a replacement session is NotAvailable."""
    ids = emulator.check().json()
    emulator.clock.advance(IDLE_TIMEOUT)
    assert emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()["status"] == (
        "NotAvailable"
    )


def test_sdes_from_checks_and_reports_are_recorded_in_order(emulator: Emulator):
    """The session keeps every SDE it received, checks and reports alike, in arrival order."""
    cart = {"type": "cart", "total": 10.5, "numItems": 1}
    support = {"consumerSections": ["Support"]}
    first = emulator.check({**support, "engagementAttributes": [cart]}).json()
    vid, sid = first["visitorId"], first["sessionId"]
    emulator.check({**support, "engagementAttributes": [LEAD]}, vid=vid, sid=sid)
    reported = emulator.report([IMPRESSION], vid, sid)
    assert reported.status_code == 200
    session = emulator.client.get(f"/_emulator/sessions/{sid}").json()
    assert [a["type"] for a in session["engagementAttributes"]] == ["cart", "lead", "impDisplay"]
    assert session["engagementAttributes"][0] == cart


def test_recorded_sdes_are_the_normalised_ones(emulator: Emulator):
    """SDEs are stored as the validator normalised them (numeric strings become ints)."""
    info = {"type": "mrktInfo", "info": {"channel": "2", "campaignID": "spring"}}
    sid = emulator.check({"engagementAttributes": [info]}).json()["sessionId"]
    stored = emulator.client.get(f"/_emulator/sessions/{sid}").json()["engagementAttributes"]
    assert stored == [{"type": "mrktInfo", "info": {"channel": 2, "campaignId": "spring"}}]


def test_report_answers_the_session_and_the_count_recorded(emulator: Emulator):
    """A report to a live session answers 200 with its ids, the pageId and the SDEs it added."""
    ids = emulator.check().json()
    answer = emulator.report([LEAD, LEAD], ids["visitorId"], ids["sessionId"], pageId=ids["pageId"])
    assert answer.status_code == 200
    assert answer.json() == {
        "sessionId": ids["sessionId"],
        "visitorId": ids["visitorId"],
        "pageId": ids["pageId"],
        "recorded": 2,
    }


def test_report_without_page_id_names_the_latest_page(emulator: Emulator):
    """Without a pageId, the report answer names the session's latest engagement page."""
    ids = emulator.check().json()
    answer = emulator.report([LEAD], ids["visitorId"], ids["sessionId"])
    assert answer.json()["pageId"] == ids["pageId"]


@pytest.mark.parametrize(
    ("case", "expected_field", "expected_code"),
    [
        ("no ids", "vid", 37),
        ("vid only", "sid", 39),
        ("unknown sid", "sid", 39),
        ("expired", "sid", 39),
        ("other visitor", "sid", 39),
        ("malformed vid", "vid", 37),
    ],
)
def test_report_needs_a_live_session(emulator: Emulator, case, expected_field, expected_code):
    """A report without the ids of a live session answers 401 naming the id at fault."""
    ids = emulator.check().json()
    vid, sid = ids["visitorId"], ids["sessionId"]
    if case == "no ids":
        vid = sid = None
    elif case == "vid only":
        sid = None
    elif case == "unknown sid":
        sid = "nope"
    elif case == "expired":
        emulator.clock.advance(IDLE_TIMEOUT)
    elif case == "other visitor":
        vid = emulator.check().json()["visitorId"]
    elif case == "malformed vid":
        vid = "bad!id"
    answer = emulator.report([LEAD], vid, sid)
    assert answer.status_code == 401
    assert answer.json()["field"] == expected_field
    assert answer.json()["internalCode"] == expected_code
    stored = emulator.client.get(f"/_emulator/sessions/{ids['sessionId']}").json()
    assert stored["engagementAttributes"] == seed_body()["engagementAttributes"]


def test_a_report_keeps_the_session_alive(emulator: Emulator):
    """Reports count as activity: a session reported to every 20 minutes does not idle out."""
    ids = emulator.check().json()
    emulator.clock.advance(20 * 60)
    emulator.report([LEAD], ids["visitorId"], ids["sessionId"])
    emulator.clock.advance(20 * 60)
    assert emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).status_code == 200


def test_a_check_refuses_impression_events_with_a_hint(emulator: Emulator):
    """Impression events belong in a report: the check answers 400 and says so."""
    answer = emulator.check({"engagementAttributes": [IMPRESSION]})
    assert answer.status_code == 400
    body = answer.json()
    assert body["field"].startswith("engagementAttributes[0]")
    assert "report" in body["message"]


def test_validation_errors_use_the_engines_messages(emulator: Emulator):
    """The emulator's 400 carries the validator's field, message and full list of problems."""
    from engage_web.errors import RequestError
    from engage_web.validation import validate_request

    bad = {"appDetails": {"os": "mac", "deviceFamily": "PHONE"}}
    answer = emulator.check(bad)
    with pytest.raises(RequestError) as expected:
        validate_request(bad)
    body = answer.json()
    assert answer.status_code == 400
    assert body["internalCode"] == 5
    assert body["field"] == expected.value.field == "appDetails.os"
    assert expected.value.message in body["message"]
    assert "MAC_OSX" in body["message"]
    assert "'mac'" in body["message"]
    assert body["errors"] == [e.to_dict() for e in expected.value.errors]


def test_session_problems_win_over_body_problems(emulator: Emulator):
    """A request with a bad sid and a bad body answers 401 (session first), listing both."""
    answer = emulator.check({"appType": "MOBILE"}, sid="s1")
    assert answer.status_code == 401
    assert answer.json()["field"] == "sid"
    assert {e["field"] for e in answer.json()["errors"]} == {"sid", "appType"}


JSON = {"content-type": "application/json"}
BIG = b'{"consumerSections": "' + b"x" * (64 * 1024) + b'"}'


@pytest.mark.parametrize(
    ("method", "path", "content", "headers", "status", "code", "field"),
    [
        ("POST", ENGAGEMENT, b"{}", JSON, 201, None, None),
        ("POST", ENGAGEMENT, b"", {}, 201, None, None),  # an empty body counts as {}
        ("POST", ENGAGEMENT + "?v=2.0", b"{}", JSON, 400, 33, "v"),
        ("POST", ENGAGEMENT.split("?")[0] + "?", b"{}", JSON, 400, 33, "v"),
        ("POST", ENGAGEMENT + "?v=1.0&v=1.0", b"{}", JSON, 400, 33, "v"),
        ("POST", "/api/account/acme/app/engagement?v=1.0", b"{}", JSON, 404, 20, "accountId"),
        ("POST", "/api/account/no-dash/app/engagement?v=1.0", b"{}", JSON, 404, 20, "accountId"),
        ("PUT", "/api/account/acme/app/report?v=1.0", b"{}", JSON, 404, 20, "accountId"),
        ("POST", ENGAGEMENT + "?v=1.0", b"{bad json", JSON, 400, 5, None),
        ("POST", ENGAGEMENT + "?v=1.0", b'{"appType": "\xff"}', JSON, 400, 5, None),
        ("POST", ENGAGEMENT + "?v=1.0", b'{"appType": 1, "appType": 2}', JSON, 400, 5, "appType"),
        ("POST", ENGAGEMENT + "?v=1.0", b"[1, 2]", JSON, 400, 5, None),
        ("POST", ENGAGEMENT + "?v=1.0", b'{"x": NaN}', JSON, 400, 5, None),
        ("POST", ENGAGEMENT + "?v=1.0", b'{"appTyp": "EXTERNAL"}', JSON, 400, 5, "appTyp"),
        ("POST", ENGAGEMENT + "?v=1.0", b'{"vid": "v1"}', JSON, 400, 5, "vid"),
        ("POST", ENGAGEMENT + "?v=1.0&vid=bad%21", b"{}", JSON, 401, 37, "vid"),
        ("POST", ENGAGEMENT + "?v=1.0&sid=s1", b"{}", JSON, 401, 39, "sid"),
        ("POST", ENGAGEMENT + "?v=1.0&vid=a&vid=b", b"{}", JSON, 401, 37, "vid"),
        (
            "POST",
            ENGAGEMENT + "?v=1.0",
            b"{}",
            {"content-type": "text/plain"},
            415,
            5,
            "Content-Type",
        ),
        (
            "POST",
            ENGAGEMENT + "?v=1.0",
            b"{}",
            {"content-type": "application/json; charset=latin-1"},
            415,
            5,
            "Content-Type",
        ),
        (
            "POST",
            ENGAGEMENT + "?v=1.0",
            b"{}",
            {"content-type": "application/json; charset=UTF-8"},
            201,
            None,
            None,
        ),
        ("POST", ENGAGEMENT + "?v=1.0", BIG, JSON, 413, 5, None),
        ("PUT", REPORT + "?v=1.0&vid=v1&sid=s1", b"{}", JSON, 401, 39, "sid"),
        ("GET", ENGAGEMENT + "?v=1.0", b"", {}, 405, 18, None),
        ("PUT", ENGAGEMENT + "?v=1.0", b"{}", JSON, 405, 18, None),
        ("POST", REPORT + "?v=1.0", b"{}", JSON, 405, 18, None),
        ("GET", "/api/nothing/here", b"", {}, 404, 18, None),
        ("POST", "/not-an-api", b"", {}, 404, 18, None),
    ],
)
def test_status_codes_and_error_bodies(
    client, clock, method, path, content, headers, status, code, field
):
    """Each failure answers its documented status with the JSON error body, never cached."""
    if "?" not in path and path.startswith(ENGAGEMENT):
        path += "?v=1.0"
    answer = client.request(method, path, content=content, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    if code is None and status < 300:
        return
    assert set(body) >= {"time", "message", "internalCode", "field"}
    assert body["time"] == int(clock.time() * 1000)
    assert body["internalCode"] == code
    assert body["field"] == field
    assert body["message"]


def test_method_not_allowed_names_the_allowed_method(client):
    """A 405 says which method the route takes, in the message and the Allow header."""
    answer = client.get(ENGAGEMENT + query())
    assert answer.headers["allow"] == "POST"
    assert "POST" in answer.json()["message"]


def test_oversized_body_without_content_length_is_refused_while_reading(client):
    """A chunked body is counted as it arrives: past 64 KiB it is refused with 413."""

    def chunks():
        for _ in range(80):
            yield b" " * 1024

    answer = client.post(ENGAGEMENT + query(), content=chunks(), headers=JSON)
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413


def test_a_bug_in_the_emulator_answers_the_documented_500(client, monkeypatch):
    """An exception inside a route becomes the JSON 500 body, not a traceback."""

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.app.state.model, "check", broken)
    answer = client.post(ENGAGEMENT + query(), json={})
    assert answer.status_code == 500
    body = answer.json()
    assert body["internalCode"] == 18
    assert body["field"] is None
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text
    assert answer.headers["cache-control"] == "no-store"


def test_unavailable_skill_makes_the_engagement_not_available(emulator: Emulator):
    """With no agents online for the matching engagement's skill, the answer is NotAvailable."""
    emulator.client.post("/_emulator/skills/23", json={"agentsOnline": 0})
    ids = emulator.check().json()
    answer = emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()
    assert answer["status"] == "NotAvailable"
    assert "engagementDetails" not in answer


@pytest.mark.parametrize(
    ("offered", "impression", "expected"),
    [
        (True, IMPRESSION, 200),
        (True, {**IMPRESSION, "campaign": "3346848610", "engId": "3562981110"}, 200),
        (True, {**IMPRESSION, "engId": 1}, 400),  # another engagement
        (False, IMPRESSION, 400),  # the session was never offered anything
    ],
)
def test_impressions_must_name_an_engagement_the_session_was_offered(
    emulator: Emulator, offered, impression, expected
):
    """An impression event counts only in the session that was offered its engagement."""
    ids = emulator.check().json()
    if offered:
        assert emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()["status"] == (
            "Available"
        )
    session_url = f"/_emulator/sessions/{ids['sessionId']}"
    before = len(emulator.client.get(session_url).json()["engagementAttributes"])
    answer = emulator.report([LEAD, impression], ids["visitorId"], ids["sessionId"])
    assert answer.status_code == expected
    reported = emulator.client.get(session_url).json()["engagementAttributes"][before:]
    if expected == 400:
        assert answer.json()["field"] == "engagementAttributes[1].engId"
        assert "3346848610" in answer.json()["message"] or not offered
        assert reported == []  # nothing of a refused report is recorded
    else:
        assert [a["type"] for a in reported] == ["lead", "impDisplay"]


def test_session_storage_is_bounded_and_drops_expired_sessions_first(emulator, monkeypatch):
    """At capacity, expired sessions are forgotten before older live ones; the store is bounded."""
    from engage_web.emulator import model

    monkeypatch.setattr(model, "MAX_SESSIONS", 4)
    oldest = emulator.check().json()
    idle = emulator.check().json()["sessionId"]  # left to expire; the others are kept alive
    others = [emulator.check().json() for _ in range(2)]
    emulator.clock.advance(IDLE_TIMEOUT - 60)
    for ids in (oldest, *others):
        emulator.check(vid=ids["visitorId"], sid=ids["sessionId"])
    emulator.clock.advance(60)
    newest = emulator.check().json()["sessionId"]  # the store is full: room must be made
    stored = emulator.client.app.state.model.sessions
    assert idle not in stored
    assert {oldest["sessionId"], newest, *(o["sessionId"] for o in others)} <= set(stored)
    for _ in range(6):
        emulator.check()
    assert len(stored) <= 4


def test_validation_errors_list_a_bounded_number_of_problems(client):
    """A body with thousands of bad keys gets a short list of problems and their total count."""
    from engage_web.emulator.app import MAX_LISTED_ERRORS

    answer = client.post(ENGAGEMENT + query(), json={f"k{i}": i for i in range(500)})
    body = answer.json()
    assert answer.status_code == 400
    assert body["errorCount"] == 500
    assert len(body["errors"]) == MAX_LISTED_ERRORS
    assert len(answer.content) < 10_000


@pytest.mark.parametrize(
    ("content", "words", "field"),
    [
        (b'{"consumerSections": ["\\udfff"]}', "lone surrogate", "consumerSections[0]"),
        (b'{"\\ud800": 1}', "lone surrogate", None),
        (b'{"appType": ' + b"9" * 5000 + b"}", "5000 digits", None),
    ],
)
def test_text_and_numbers_python_cannot_hold_are_refused(client, content, words, field):
    """Lone UTF-16 surrogates and integers past CPython's digit limit answer 400, not 500."""
    answer = client.post(ENGAGEMENT + query(), content=content, headers=JSON)
    assert answer.status_code == 400
    assert words in answer.json()["message"]
    assert answer.json()["field"] == field
