"""Conformance: LivePerson's documented App Engagement API exchanges, replayed verbatim against
the emulator (the texts live in ``tests/liveperson_docs.py``, shared with the client's tests)."""

from __future__ import annotations

import json
import re

import pytest

from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.emulator.scenario import parse_scenario
from tests import liveperson_docs as docs
from tests.emulator.conftest import Emulator, TestClient, visitor_path

ACCOUNT = "le12345678"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
#: Keys the emulator may add to LivePerson's error body (extensions a client must not rely on).
ERROR_EXTENSIONS = {"field", "errors", "errorCount"}


def documented_url(vid: str, sid: str) -> str:
    """The documented create/update URL, placeholders filled, without its scheme and host."""
    url = docs.CREATE_SESSION_URL_TEXT.replace("{accountId}", ACCOUNT)
    url = url.replace("{visitor-id}", vid).replace("{session-id}", sid)
    return url.removeprefix("https://domainToLiveperson")


@pytest.fixture
def lp(clock) -> Emulator:
    """The emulator serving the documented account (see ``docs.DOCS_SCENARIO``)."""
    app = create_app(parse_scenario(docs.DOCS_SCENARIO), clock=clock)
    return Emulator(TestClient(app, raise_server_exceptions=False), clock)


def post_documented_request(lp: Emulator, vid: str = "xyz", sid: str = "abc"):
    body = json.dumps(docs.create_session_request())
    return lp.client.post(documented_url(vid, sid), content=body, headers=JSON)


def assert_error_like(body: dict, documented: dict) -> None:
    """An emulator error body is the documented one: the same keys and values but ``time`` (an
    epoch ms integer), plus at most the emulator's extensions."""
    assert isinstance(body["time"], int)
    assert body["time"] > 1_400_000_000_000
    assert set(documented) <= set(body) <= set(documented) | ERROR_EXTENSIONS
    assert {k: body[k] for k in documented if k != "time"} == {
        k: v for k, v in documented.items() if k != "time"
    }


def test_the_documented_urls_are_the_wires():
    """The documented create/update URL is the path the wire builds (``engage_web.core.wire``)."""
    assert documented_url("xyz", "abc") == visitor_path("xyz", ACCOUNT) + "?v=1.0&sid=abc"


def test_the_documented_create_session_gets_the_documented_available_answer(lp: Emulator):
    """The create-session example (appType EXTERNAL) gets 200 and exactly the documented
    Available answer, connectorId included; the unknown sid "abc" starts a new session, as the
    docs say ("a new session will be generated and sent by the server")."""
    answer = post_documented_request(lp)
    assert answer.status_code == 200
    body = answer.json()
    assert body["sessionId"] != "abc"
    assert body == {**docs.AVAILABLE_RESPONSE, "sessionId": body["sessionId"]}


def test_the_documented_create_session_gets_the_documented_not_available_answer(lp: Emulator):
    """With every agent offline the same request gets exactly the documented NotAvailable."""
    for skill in (23, 24):
        lp.client.post(f"/_emulator/skills/{skill}", json={"agentsOnline": 0})
    body = post_documented_request(lp).json()
    assert body == {**docs.NOT_AVAILABLE_RESPONSE, "sessionId": body["sessionId"]}


def test_the_documented_create_session_records_its_sdes(lp: Emulator):
    """The documented personal SDE is recorded on the session as sent."""
    sid = post_documented_request(lp).json()["sessionId"]
    sdes = lp.session(sid)["engagementAttributes"]
    assert sdes == docs.create_session_request()["engagementAttributes"]


@pytest.mark.parametrize(
    "text", [docs.UPDATE_SESSION_REQUEST_TEXT, docs.IMPRESSION_EVENTS_TEXT], ids=["update", "imp"]
)
@pytest.mark.parametrize("override", [False, True], ids=["PUT", "POST-override"])
def test_the_documented_update_session_is_accepted_and_recorded(lp: Emulator, text, override):
    """The update-session example (impAccept and impDisplay with eContext) and the impression
    example, sent verbatim to a session that was offered their engagement (campaign
    3115242510), answer 200 with an empty body; the impressions and SDEs are recorded in order."""
    lp.client.post("/_emulator/skills/23", json={"agentsOnline": 0})  # the 3115242510 one wins
    answer = post_documented_request(lp).json()
    assert answer["engagementDetails"]["campaignId"] == "3115242510"
    assert answer["pageId"] == "4743822558"
    url = documented_url(answer["visitorId"], answer["sessionId"])
    if override:
        reply = lp.client.post(url, content=text, headers={**JSON, "X-HTTP-Method-Override": "PUT"})
    else:
        reply = lp.client.put(url, content=text, headers=JSON)
    assert reply.status_code == 200, reply.text
    assert reply.content == b""
    documented = json.loads(text)
    session = lp.session(answer["sessionId"])
    assert session["impressions"] == documented["impAttributes"]
    assert session["engagementAttributes"][1:] == documented.get("engagementAttributes", [])
    assert session["updates"][-1]["pageId"] == "4743822558"


def test_the_documented_update_is_refused_in_a_session_not_offered_its_engagement(lp: Emulator):
    """The same update in a session that was offered another engagement is refused (400) and
    nothing of it is recorded."""
    answer = post_documented_request(lp).json()  # offered campaign 3346848610
    url = documented_url(answer["visitorId"], answer["sessionId"])
    reply = lp.client.put(url, content=docs.UPDATE_SESSION_REQUEST_TEXT, headers=JSON)
    assert reply.status_code == 400
    assert reply.json()["field"] == "impAttributes[0].engId"
    assert lp.session(answer["sessionId"])["impressions"] == []


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_an_illegal_version_gets_the_documented_error(lp: Emulator, method):
    """A v other than 1.0, on either method, gets the documented "Illegal Version" body."""
    url = documented_url("xyz", "abc").replace("v=1.0", "v=2.0")
    body = docs.UPDATE_SESSION_REQUEST_TEXT if method == "PUT" else docs.CREATE_SESSION_REQUEST_TEXT
    answer = lp.client.request(method, url, content=body, headers=JSON)
    assert answer.status_code == 400
    assert_error_like(answer.json(), docs.ILLEGAL_VERSION_ERROR)


def test_a_cold_account_gets_the_documented_loading_error_and_the_vid_continues(lp: Emulator):
    """A cold account answers the documented create session with the documented 500 "Loading
    account" body; the retry with that vid in the path continues as that visitor."""
    lp.client.post(f"/_emulator/accounts/{ACCOUNT}/cold", json={"checks": 1})
    url = documented_url("xyz", "abc").replace("/visitors/xyz", "/visitors")
    url = url.replace("&sid=abc", "")
    first = lp.client.post(url, content=json.dumps(docs.create_session_request()), headers=JSON)
    assert first.status_code == 500
    vid = re.fullmatch(r"Loading account: le12345678, vid: (\S+)", first.json()["message"])
    assert vid is not None, first.json()
    assert_error_like(first.json(), docs.loading_account_error(ACCOUNT, vid.group(1)))
    retry = post_documented_request(lp, vid=vid.group(1))
    assert retry.status_code == 200
    assert retry.json()["visitorId"] == vid.group(1)


def test_a_cold_account_names_the_vid_of_the_path(lp: Emulator):
    """Given a vid in the path, the "Loading account" body names it."""
    lp.client.post(f"/_emulator/accounts/{ACCOUNT}/cold", json={"checks": 1})
    answer = post_documented_request(lp)
    assert_error_like(answer.json(), docs.loading_account_error(ACCOUNT, "xyz"))


def test_the_domain_api_answers_for_the_documented_service(lp: Emulator):
    """The Domain API look-up of service msdkgw names a host, as the App Engagement API's
    overview says to use it."""
    answer = lp.client.get(f"/api/account/{ACCOUNT}/service/msdkgw/baseURI.json?version=1.0")
    assert answer.json() == {"service": "msdkgw", "account": ACCOUNT, "baseURI": "testserver"}
