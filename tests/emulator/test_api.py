"""The public routes answer like LivePerson's App Engagement API: statuses, bodies, sessions."""

from __future__ import annotations

import pytest

from engage_web.core.errors import RequestError
from engage_web.core.validation import validate_request
from engage_web.core.wire import METHOD_OVERRIDE_HEADER
from engage_web.cpython.emulator import limits
from engage_web.cpython.emulator.model import IDLE_TIMEOUT, MAX_AGE
from engage_web.cpython.emulator.seed import seed_engagement_details
from tests.emulator.conftest import (
    VISITORS,
    Emulator,
    impression_of,
    query,
    seed_body,
    visitor_path,
)

SEED_DETAILS = seed_engagement_details()
LEAD = {"type": "lead", "lead": {"topic": "loan"}}
CART = {"type": "cart", "total": 10.5, "numItems": 1}
JSON = {"content-type": "application/json"}


# -- create session ----------------------------------------------------------------------------


def test_seed_example_is_available_once_the_session_is_warm(emulator: Emulator):
    """The seed's request gets NotAvailable (200) on a new session, then the seed's Available."""
    first = emulator.check()
    assert first.status_code == 200
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
    """pageId is new for every create session, even within one session."""
    ids = emulator.check().json()
    pages = {ids["pageId"]}
    for _ in range(3):
        pages.add(emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()["pageId"])
    assert len(pages) == 4


@pytest.mark.parametrize(
    ("use_vid", "sid", "same_visitor", "same_session"),
    [
        (False, None, False, False),  # no ids: a new visitor and session
        (True, None, True, False),  # vid alone: same visitor, new visit
        (True, "unknownSession1", True, False),  # unknown sid: new session, never an error
        (True, "LIVE", True, True),  # the live pair: the same session continues
    ],
)
def test_session_rules(emulator: Emulator, use_vid, sid, same_visitor, same_session):
    """Only the exact live vid/sid pair continues a session; all else starts one; always 200."""
    ids = emulator.check().json()
    vid = ids["visitorId"] if use_vid else None
    sid = ids["sessionId"] if sid == "LIVE" else sid
    answer = emulator.check(vid=vid, sid=sid)
    assert answer.status_code == 200
    assert (answer.json()["visitorId"] == ids["visitorId"]) is same_visitor
    assert (answer.json()["sessionId"] == ids["sessionId"]) is same_session


def test_a_visitor_id_the_emulator_never_gave_is_kept(emulator: Emulator):
    """A well-formed vid in the path names the visitor, even one this emulator never saw."""
    answer = emulator.check(vid="device-42")
    assert answer.status_code == 200
    assert answer.json()["visitorId"] == "device-42"


def test_a_session_id_of_another_visitor_starts_a_new_session(emulator: Emulator):
    """A sid paired with the wrong vid is not that session: a new one starts for the given vid."""
    mine, theirs = emulator.check().json(), emulator.check().json()
    answer = emulator.check(vid=mine["visitorId"], sid=theirs["sessionId"])
    assert answer.status_code == 200
    assert answer.json()["visitorId"] == mine["visitorId"]
    assert answer.json()["sessionId"] not in (mine["sessionId"], theirs["sessionId"])


@pytest.mark.parametrize(
    ("idle_seconds", "continues"),
    [(IDLE_TIMEOUT - 1, True), (IDLE_TIMEOUT, False), (IDLE_TIMEOUT + 3600, False)],
)
def test_sessions_expire_after_30_minutes_idle(emulator: Emulator, idle_seconds, continues):
    """A session idle for 30 minutes is over: its ids start a new session (same visitor)."""
    ids = emulator.check().json()
    emulator.clock.advance(idle_seconds)
    answer = emulator.check(vid=ids["visitorId"], sid=ids["sessionId"])
    assert answer.status_code == 200
    assert answer.json()["visitorId"] == ids["visitorId"]
    assert (answer.json()["sessionId"] == ids["sessionId"]) is continues


def test_sessions_end_after_6_hours_however_active(emulator: Emulator):
    """A session checked every 20 minutes still ends 6 hours after it began."""
    ids = emulator.check().json()
    step = 20 * 60
    for _ in range(MAX_AGE // step - 1):
        emulator.clock.advance(step)
        answer = emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()
        assert answer["sessionId"] == ids["sessionId"]
    emulator.clock.advance(step)
    assert (
        emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()["sessionId"]
        != (ids["sessionId"])
    )


def test_a_new_session_warms_up_again(emulator: Emulator):
    """Warm-up counts per session: the first check of a replacement session is NotAvailable."""
    ids = emulator.check().json()
    emulator.clock.advance(IDLE_TIMEOUT)
    assert emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).json()["status"] == (
        "NotAvailable"
    )


def test_a_check_refuses_impression_events_with_a_hint(emulator: Emulator):
    """Impression events belong in an update session: the check answers 400 and says so."""
    answer = emulator.check(
        {
            "appType": "EXTERNAL",
            "engagementAttributes": [
                {"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}
            ],
        }
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["field"].startswith("engagementAttributes[0]")
    assert "report" in body["message"]


@pytest.mark.parametrize("body", [{}, {"consumerSections": ["Support"]}, {"appType": None}])
def test_app_type_is_required_on_the_wire(emulator: Emulator, body):
    """The REST API needs appType: a body without it answers 400 naming appType."""
    answer = emulator.check(body)
    assert answer.status_code == 400
    assert answer.json()["field"] == "appType"
    assert answer.json()["internalCode"] == 5
    assert "EXTERNAL" in answer.json()["message"]


def test_an_empty_body_is_a_body_without_app_type(client):
    """No body at all is an empty object, so it lacks appType too."""
    answer = client.post(VISITORS + query())
    assert answer.status_code == 400
    assert answer.json()["field"] == "appType"


@pytest.mark.parametrize("name", ["vid", "sid"])
def test_ids_in_the_body_are_refused(emulator: Emulator, name):
    """vid and sid travel in the URL only: in the body they answer 400 naming them."""
    answer = emulator.check({**seed_body(), name: "abc"})
    assert answer.status_code == 400
    assert answer.json()["field"] == name
    assert ("path" if name == "vid" else "query") in answer.json()["message"]


def test_validation_errors_use_the_engines_messages(emulator: Emulator):
    """The emulator's 400 carries the validator's field, message and full list of problems."""
    bad = {"appType": "EXTERNAL", "appDetails": {"os": "mac", "deviceFamily": "PHONE"}}
    answer = emulator.check(bad)
    with pytest.raises(RequestError) as expected:
        validate_request(bad)
    body = answer.json()
    assert answer.status_code == 400
    assert body["internalCode"] == 5
    assert body["field"] == expected.value.field == "appDetails.os"
    assert expected.value.message in body["message"]
    assert "MAC_OSX" in body["message"]
    assert body["errors"] == [e.to_dict() for e in expected.value.errors]


def test_session_problems_win_over_body_problems(client):
    """A request with a sid but no vid and a bad body answers 401 (session first), listing both."""
    answer = client.post(VISITORS + query("s1"), json={"appType": "MOBILE"})
    assert answer.status_code == 401
    assert answer.json()["field"] == "sid"
    assert answer.json()["internalCode"] == 39
    assert {e["field"] for e in answer.json()["errors"]} == {"sid", "appType"}


@pytest.mark.parametrize(
    ("vid", "sid", "field", "code"),
    [
        ("bad!id", None, "vid", 37),
        ("v" * 65, None, "vid", 37),
        ("v1", "bad sid", "sid", 39),
        (None, "s1", "sid", 39),  # a session belongs to a visitor
    ],
)
def test_malformed_ids_answer_401(emulator: Emulator, vid, sid, field, code):
    """A malformed vid (37) or sid (39), or a sid without a vid in the path, answers 401."""
    answer = emulator.check(vid=vid, sid=sid)
    assert answer.status_code == 401
    assert (answer.json()["field"], answer.json()["internalCode"]) == (field, code)


def test_unavailable_skill_makes_the_engagement_not_available(emulator: Emulator):
    """With no agents online for the matching engagement's skill, the answer is NotAvailable."""
    emulator.client.post("/_emulator/skills/23", json={"agentsOnline": 0})
    answer = emulator.warm()
    assert answer["status"] == "NotAvailable"
    assert "engagementDetails" not in answer


# -- update session ----------------------------------------------------------------------------


@pytest.mark.parametrize("override", [False, True], ids=["PUT", "POST-override"])
def test_an_update_answers_200_with_an_empty_body(emulator: Emulator, override):
    """An update session of a live session answers 200 and nothing else, by PUT or by POST with
    X-HTTP-Method-Override: PUT."""
    answer = emulator.warm()
    reply = emulator.update(answer, impressions=[impression_of(answer)], override=override)
    assert reply.status_code == 200
    assert reply.content == b""
    session = emulator.session(answer["sessionId"])
    assert session["impressions"] == [
        impression_of(answer) | {"campaign": 3346848610, "engId": 3562981110}
    ]
    assert session["updates"][0]["method"] == ("POST+override" if override else "PUT")


def test_sdes_and_impressions_are_recorded_in_arrival_order(emulator: Emulator):
    """The session keeps every SDE it received, from checks and updates alike, in order, and
    the impressions apart, in order."""
    support = {"appType": "EXTERNAL", "consumerSections": ["Support"]}
    first = emulator.check({**support, "engagementAttributes": [CART]}).json()
    vid, sid = first["visitorId"], first["sessionId"]
    answer = emulator.check({**support, "engagementAttributes": [LEAD]}, vid=vid, sid=sid).json()
    accept, display = impression_of(answer, "impAccept"), impression_of(answer, "impDisplay")
    assert emulator.update(answer, impressions=[display], sdes=[CART]).status_code == 200
    assert emulator.update(answer, impressions=[accept], sdes=[LEAD]).status_code == 200
    session = emulator.session(sid)
    assert [a["type"] for a in session["engagementAttributes"]] == ["cart", "lead", "cart", "lead"]
    assert [i["type"] for i in session["impressions"]] == ["impDisplay", "impAccept"]
    assert [
        (u["pageId"], u["impAttributes"], u["engagementAttributes"]) for u in session["updates"]
    ] == [(answer["pageId"], 1, 1)] * 2
    assert session["counts"] == {
        "checks": 2,
        "engagementAttributes": 4,
        "impressions": 2,
        "offered": 1,
        "updates": 2,
    }


def test_recorded_sdes_are_the_normalised_ones(emulator: Emulator):
    """SDEs are stored as the validator normalised them (numeric strings become ints)."""
    info = {"type": "mrktInfo", "info": {"channel": "2", "campaignID": "spring"}}
    sid = emulator.check({"appType": "EXTERNAL", "engagementAttributes": [info]}).json()[
        "sessionId"
    ]
    stored = emulator.session(sid)["engagementAttributes"]
    assert stored == [{"type": "mrktInfo", "info": {"channel": 2, "campaignId": "spring"}}]


def _case_ids(emulator: Emulator, case: str, answer: dict) -> tuple[str, str | None]:
    vid, sid = answer["visitorId"], answer["sessionId"]
    if case == "no sid":
        sid = None
    elif case == "unknown sid":
        sid = "nope"
    elif case == "expired":
        emulator.clock.advance(IDLE_TIMEOUT)
    elif case == "other visitor":
        vid = emulator.check().json()["visitorId"]
    elif case == "malformed vid":
        vid = "bad!id"
    elif case == "malformed sid":
        sid = "bad sid"
    return vid, sid


@pytest.mark.parametrize(
    ("case", "expected_field", "expected_code"),
    [
        ("no sid", "sid", 39),
        ("unknown sid", "sid", 39),
        ("expired", "sid", 39),
        ("other visitor", "sid", 39),
        ("malformed vid", "vid", 37),
        ("malformed sid", "sid", 39),
    ],
)
def test_an_update_needs_a_live_session(emulator: Emulator, case, expected_field, expected_code):
    """An update without the ids of a live session answers 401 naming the id at fault, and
    records nothing."""
    answer = emulator.check().json()
    vid, sid = _case_ids(emulator, case, answer)
    url = visitor_path(vid) + query(sid)
    reply = emulator.client.put(
        url, json={"pageId": answer["pageId"], "engagementAttributes": [LEAD]}
    )
    assert reply.status_code == 401
    assert reply.json()["field"] == expected_field
    assert reply.json()["internalCode"] == expected_code
    stored = emulator.session(answer["sessionId"])
    assert stored["engagementAttributes"] == seed_body()["engagementAttributes"]
    assert stored["updates"] == []


def test_an_update_must_name_a_page_of_its_session(emulator: Emulator):
    """pageId must be one this session was answered with: another session's is refused (400)."""
    mine, theirs = emulator.check().json(), emulator.check().json()
    reply = emulator.update(mine, sdes=[LEAD], page_id=theirs["pageId"])
    assert reply.status_code == 400
    assert reply.json()["field"] == "pageId"
    assert mine["pageId"] in reply.json()["message"]
    assert emulator.update(mine, sdes=[LEAD]).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "pageId"),
        ({"pageId": "PAGE", "impAttributes": [LEAD]}, "impAttributes[0].type"),
        (
            {
                "pageId": "PAGE",
                "engagementAttributes": [
                    {"type": "impClose", "campaign": 1, "engId": 2, "revision": 3}
                ],
            },
            "engagementAttributes[0].type",
        ),
        ({"pageId": "PAGE", "sid": "s"}, "sid"),
        ({"pageId": "PAGE", "sdes": []}, "sdes"),
    ],
)
def test_update_bodies_are_validated(emulator: Emulator, body, field):
    """An update body is checked by the client's own validator: pageId required, impressions
    only in impAttributes, no impressions in engagementAttributes, no unknown keys."""
    answer = emulator.check().json()
    body = {k: (answer["pageId"] if v == "PAGE" else v) for k, v in body.items()}
    url = visitor_path(answer["visitorId"]) + query(answer["sessionId"])
    reply = emulator.client.put(url, json=body)
    assert reply.status_code == 400
    assert reply.json()["field"] == field
    assert reply.json()["internalCode"] == 5


def test_an_update_keeps_the_session_alive(emulator: Emulator):
    """Updates count as activity: a session updated every 20 minutes does not idle out."""
    answer = emulator.check().json()
    emulator.clock.advance(20 * 60)
    emulator.update(answer, sdes=[LEAD])
    emulator.clock.advance(20 * 60)
    again = emulator.check(vid=answer["visitorId"], sid=answer["sessionId"]).json()
    assert again["sessionId"] == answer["sessionId"]


@pytest.mark.parametrize(
    ("offered", "change", "expected"),
    [
        (True, {}, 200),
        (True, {"campaign": "3346848610", "engId": "3562981110"}, 200),  # numeric strings
        (True, {"engId": 1}, 400),  # another engagement
        (False, {}, 400),  # the session was never offered anything
    ],
)
def test_impressions_must_name_an_engagement_the_session_was_offered(
    emulator: Emulator, offered, change, expected
):
    """An impression event counts only in the session that was offered its engagement, and a
    refused update records nothing."""
    available = emulator.warm()
    answer = available if offered else emulator.check().json()
    impression = {**impression_of(available), **change}
    reply = emulator.update(answer, impressions=[impression], sdes=[LEAD])
    assert reply.status_code == expected
    session = emulator.session(answer["sessionId"])
    if expected == 400:
        assert reply.json()["field"] == "impAttributes[0].engId"
        assert session["impressions"] == []
        assert LEAD not in session["engagementAttributes"]
    else:
        assert [i["type"] for i in session["impressions"]] == ["impDisplay"]


def test_a_method_override_other_than_put_is_refused(emulator: Emulator):
    """X-HTTP-Method-Override may only turn a POST into a PUT."""
    answer = emulator.check(headers={METHOD_OVERRIDE_HEADER: "DELETE"}, vid="v1")
    assert answer.status_code == 400
    assert answer.json()["field"] == METHOD_OVERRIDE_HEADER


def test_an_update_needs_a_visitor_in_the_path(client):
    """PUT (or POST overridden to PUT) on .../visitors, with no visitor, answers 405: POST only."""
    for answer in (
        client.put(VISITORS + query("s1"), json={"pageId": "p"}),
        client.post(
            VISITORS + query("s1"), json={"pageId": "p"}, headers={METHOD_OVERRIDE_HEADER: "PUT"}
        ),
    ):
        assert answer.status_code == 405
        assert answer.headers["allow"] == "POST"


# -- the Domain API ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["msdkgw", "accountConfigReadOnly", "asyncMessagingEnt"])
def test_the_domain_api_answers_its_own_address_for_any_service(client, service):
    """The Domain API route names the host:port the request reached, for any service name."""
    answer = client.get(
        f"/api/account/demo/service/{service}/baseURI.json?version=1.0",
        headers={"host": "127.0.0.1:8765"},
    )
    assert answer.status_code == 200
    assert answer.json() == {"service": service, "account": "demo", "baseURI": "127.0.0.1:8765"}


def test_the_domain_api_falls_back_to_the_servers_address(client):
    """A Host header that cannot be a base (junk) gives way to the server's own address."""
    answer = client.get(
        "/api/account/demo/service/msdkgw/baseURI.json?version=1.0",
        headers={"host": "evil/../x"},
    )
    assert answer.json()["baseURI"] == "testserver:80"


@pytest.mark.parametrize(
    ("path", "status", "code", "field", "message"),
    [
        ("/api/account/demo/service/msdkgw/baseURI.json", 400, 33, "version", "Illegal Version"),
        (
            "/api/account/demo/service/msdkgw/baseURI.json?version=2.0",
            400,
            33,
            "version",
            "Illegal Version",
        ),
        ("/api/account/acme/service/msdkgw/baseURI.json?version=1.0", 404, 18, "accountId", "demo"),
        ("/api/account/demo/service/a%20b/baseURI.json?version=1.0", 404, 18, "service", "service"),
    ],
)
def test_domain_api_errors(client, path, status, code, field, message):
    """The Domain API route refuses a bad version, an unknown account or a bad service name."""
    answer = client.get(path)
    assert answer.status_code == status
    body = answer.json()
    assert (body["internalCode"], body["field"]) == (code, field)
    assert message in body["message"]


# -- errors ------------------------------------------------------------------------------------


BIG = b'{"appType": "EXTERNAL", "consumerSections": "' + b"x" * (64 * 1024) + b'"}'
OK_BODY = b'{"appType": "EXTERNAL"}'
V1 = visitor_path("v1")


@pytest.mark.parametrize(
    ("method", "path", "content", "headers", "status", "code", "field"),
    [
        ("POST", VISITORS + "?v=1.0", OK_BODY, JSON, 200, None, None),
        ("POST", V1 + "?v=1.0&sid=s1", OK_BODY, JSON, 200, None, None),
        ("POST", VISITORS + "?v=2.0", OK_BODY, JSON, 400, 33, "v"),
        ("POST", VISITORS, OK_BODY, JSON, 400, 33, "v"),
        ("POST", VISITORS + "?v=1.0&v=1.0", OK_BODY, JSON, 400, 33, "v"),
        ("PUT", V1 + "?v=1.1&sid=s1", b"{}", JSON, 400, 33, "v"),
        (
            "POST",
            "/api/account/acme/app/engagement/visitors?v=1.0",
            OK_BODY,
            JSON,
            404,
            18,
            "accountId",
        ),
        (
            "POST",
            "/api/account/no-dash/app/engagement/visitors?v=1.0",
            OK_BODY,
            JSON,
            404,
            18,
            "accountId",
        ),
        (
            "PUT",
            "/api/account/acme/app/engagement/visitors/v1?v=1.0&sid=s",
            b"{}",
            JSON,
            404,
            18,
            "accountId",
        ),
        ("POST", VISITORS + "?v=1.0", b"{bad json", JSON, 400, 5, None),
        ("POST", VISITORS + "?v=1.0", b'{"appType": "\xff"}', JSON, 400, 5, None),
        ("POST", VISITORS + "?v=1.0", b'{"appType": 1, "appType": 2}', JSON, 400, 5, "appType"),
        ("POST", VISITORS + "?v=1.0", b"[1, 2]", JSON, 400, 5, None),
        ("POST", VISITORS + "?v=1.0", b'{"x": NaN}', JSON, 400, 5, None),
        (
            "POST",
            VISITORS + "?v=1.0",
            b'{"appType": "EXTERNAL", "appTyp": 1}',
            JSON,
            400,
            5,
            "appTyp",
        ),
        ("POST", V1 + "?v=1.0&sid=a&sid=b", OK_BODY, JSON, 401, 39, "sid"),
        (
            "POST",
            VISITORS + "?v=1.0",
            OK_BODY,
            {"content-type": "text/plain"},
            415,
            5,
            "Content-Type",
        ),
        (
            "POST",
            VISITORS + "?v=1.0",
            OK_BODY,
            {"content-type": "application/json; charset=latin-1"},
            415,
            5,
            "Content-Type",
        ),
        (
            "POST",
            VISITORS + "?v=1.0",
            OK_BODY,
            {"content-type": "application/json; charset=UTF-8"},
            200,
            None,
            None,
        ),
        ("POST", VISITORS + "?v=1.0", BIG, JSON, 413, 5, None),
        ("PUT", V1 + "?v=1.0&sid=s1", b"{}", JSON, 401, 39, "sid"),
        ("GET", V1 + "?v=1.0", b"", {}, 405, 18, None),
        ("PUT", VISITORS + "?v=1.0", b"{}", JSON, 405, 18, None),
        ("GET", "/api/nothing/here", b"", {}, 404, 18, None),
        ("POST", "/not-an-api", b"", {}, 404, 18, None),
    ],
)
def test_status_codes_and_error_bodies(
    client, clock, method, path, content, headers, status, code, field
):
    """Each failure answers its documented status with the JSON error body, never cached."""
    answer = client.request(method, path, content=content, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    if status < 300:
        return
    assert set(body) >= {"time", "message", "internalCode"}
    assert body["time"] == int(clock.time() * 1000)
    assert body["internalCode"] == code
    assert body.get("field") == field
    assert body["message"]


def test_illegal_version_is_livepersons_exact_message(emulator: Emulator):
    """A v other than 1.0 answers LivePerson's own words: "Illegal Version", internalCode 33."""
    answer = emulator.client.post(VISITORS + query(v="2.0"), json=seed_body())
    assert answer.status_code == 400
    assert answer.json()["message"] == "Illegal Version"


def test_method_not_allowed_names_the_allowed_methods(client):
    """A 405 says which methods the route takes, in the message and the Allow header."""
    answer = client.get(V1 + query())
    allowed = answer.headers["allow"]
    assert set(allowed.split(", ")) == {"POST", "PUT"}
    assert allowed in answer.json()["message"]


def test_oversized_body_without_content_length_is_refused_while_reading(client):
    """A chunked body is counted as it arrives: past 64 KiB it is refused with 413."""

    def chunks():
        for _ in range(80):
            yield b" " * 1024

    answer = client.post(VISITORS + query(), content=chunks(), headers=JSON)
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413


def test_a_bug_in_the_emulator_answers_the_documented_500(client, monkeypatch):
    """An exception inside a route becomes the JSON 500 body, not a traceback."""

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.app.state.model, "check", broken)
    answer = client.post(VISITORS + query(), json=seed_body())
    assert answer.status_code == 500
    body = answer.json()
    assert body["internalCode"] == 18
    assert "field" not in body
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text
    assert answer.headers["cache-control"] == "no-store"


def test_session_storage_is_bounded_and_drops_expired_sessions_first(emulator, monkeypatch):
    """At capacity, expired sessions are forgotten before live ones; the store is bounded."""
    monkeypatch.setattr(limits, "MAX_SESSIONS", 4)
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
    """A body with hundreds of bad keys gets a short list of problems and their total count."""
    from engage_web.cpython.emulator.app import MAX_LISTED_ERRORS

    body = {"appType": "EXTERNAL", **{f"k{i}": i for i in range(500)}}
    answer = client.post(VISITORS + query(), json=body)
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
    answer = client.post(VISITORS + query(), content=content, headers=JSON)
    assert answer.status_code == 400
    assert words in answer.json()["message"]
    assert answer.json().get("field") == field
