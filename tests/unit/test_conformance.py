"""The client against LivePerson's documented exchanges, replayed verbatim
(``tests/liveperson_docs.py``): what the docs show LivePerson sending back is taken as documented,
and what the docs show a client sending is what this client sends."""

import json

import pytest

from engage_web.core.outcome import AnswerKind, classify_engagement, classify_report
from engage_web.core.retry import RetryPolicy
from engage_web.core.session import MemorySessionStore, Session
from engage_web.core.transport import HttpResponse
from engage_web.core.validation import validate_update
from engage_web.core.wire import update_session_body
from engage_web.driver.api import ChatApi
from tests import liveperson_docs as docs
from tests.fakes import FakeClock, ScriptedTransport, run

JSON = {"content-type": "application/json"}


def api(*script, **kwargs):
    transport = ScriptedTransport(*script)
    chat = ChatApi("https://va.msdkgw.test", "le123", transport=transport,
                   clock=FakeClock(auto_advance=True), random=lambda: 0.5, **kwargs)
    return chat, transport


def test_the_documented_available_answer_is_handed_over_as_received():
    """The docs' Available example (ids as strings, skillId a number, connectorId present) is
    the outcome, key for key and value for value."""
    chat, _ = api(HttpResponse(200, JSON, docs.AVAILABLE_RESPONSE_TEXT))
    outcome = run(chat.get_engagement())
    assert outcome == docs.AVAILABLE_RESPONSE
    assert outcome["engagementDetails"]["connectorId"] == "568046210"


def test_the_documented_not_available_answer_is_handed_over_as_received():
    """The docs' NotAvailable example, after the default re-checks, is the outcome as sent."""
    chat, _ = api(*[HttpResponse(200, JSON, docs.NOT_AVAILABLE_RESPONSE_TEXT)] * 3)
    assert run(chat.get_engagement()) == docs.NOT_AVAILABLE_RESPONSE


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain", None])
def test_a_success_body_is_read_as_json_whatever_its_label(content_type):
    """LivePerson's sibling API documents a JSON success body labelled octet-stream: taken."""
    headers = {"content-type": content_type} if content_type else {}
    answer = classify_engagement(HttpResponse(200, headers, docs.AVAILABLE_RESPONSE_TEXT))
    assert answer.kind is AnswerKind.AVAILABLE


def test_ids_sent_as_numbers_as_the_entity_table_types_them_are_taken_and_kept():
    """campaignId/engagementId "number" per the entity table: taken, and kept as numbers."""
    body = json.loads(docs.AVAILABLE_RESPONSE_TEXT)
    details = body["engagementDetails"]
    details.update(campaignId=3346848610, engagementId=3562981110, connectorId=568046210,
                   skillId="23", futureKey={"x": 1})
    answer = classify_engagement(HttpResponse(200, JSON, json.dumps(body)))
    assert answer.kind is AnswerKind.AVAILABLE
    assert answer.outcome == body


def test_the_documented_illegal_version_error_is_final_and_keeps_its_code():
    """400 {"time", "message": "Illegal Version", "internalCode": 33}: not retried; the Error
    outcome carries LivePerson's message and internal code."""
    chat, transport = api(HttpResponse(400, JSON, docs.ILLEGAL_VERSION_ERROR_TEXT))
    outcome = run(chat.get_engagement())
    assert transport.calls == 1
    assert outcome["error"]["code"] == 400
    assert outcome["error"]["internalCode"] == 33
    assert outcome["error"]["message"].startswith("Illegal Version")


def test_an_error_body_without_a_message_still_gives_its_internal_code():
    """"message" is optional in the error entity: the outcome says HTTP 404 and keeps the code."""
    chat, _ = api(HttpResponse(404, JSON, '{"time": 1469543282471, "internalCode": 37}'))
    error = run(chat.get_engagement())["error"]
    assert (error["code"], error["internalCode"]) == (404, 37)
    assert error["message"].startswith("HTTP 404 Not Found")


def test_the_documented_loading_account_answer_is_ridden_out_with_its_vid():
    """The docs' 500 "Loading account: {acc}, vid: {vid}" is retried with that vid in the path
    (LivePerson's advice), reported to onRetry as account-loading, until the answer comes."""
    loading = json.dumps(docs.loading_account_error("le123", "vid-77"))
    retries = []
    chat, transport = api(
        HttpResponse(500, JSON, loading),
        HttpResponse(500, JSON, loading),
        HttpResponse(200, JSON, docs.AVAILABLE_RESPONSE_TEXT),
        on_retry=retries.append,
        retry=RetryPolicy(jitter=0.0),
    )
    assert run(chat.get_engagement())["status"] == "Available"
    paths = [r.url.split("/app/engagement/")[1] for r in transport.requests]
    assert paths == ["visitors?v=1.0", "visitors/vid-77?v=1.0", "visitors/vid-77?v=1.0"]
    assert [r["reason"] for r in retries] == ["account-loading", "account-loading"]


def test_the_liveperson_preset_follows_the_documented_advice_on_a_cold_account():
    """"Retry 3 times with 5, 10, 15 second pause between retries, setting the 'visitorId'
    path parameter with the value of the 'vid'"."""
    loading = HttpResponse(500, JSON, json.dumps(docs.loading_account_error("le123", "v9")))
    clock = FakeClock(auto_advance=True)
    transport = ScriptedTransport(*[loading] * 4)
    chat = ChatApi("https://va.msdkgw.test", "le123", transport=transport, clock=clock,
                   retry="liveperson")
    outcome = run(chat.get_engagement())
    assert clock.sleeps == [5.0, 10.0, 15.0]
    assert [r.url.split("/visitors")[1] for r in transport.requests] == [
        "?v=1.0", "/v9?v=1.0", "/v9?v=1.0", "/v9?v=1.0"
    ]
    assert (outcome["error"]["code"], outcome["error"]["internalCode"]) == (500, 20)


def test_a_report_sends_the_documented_update_body():
    """The docs' update example (impAccept and impDisplay with eContext, a personal SDE) goes
    out as that body: the impressions in impAttributes, the SDE in engagementAttributes."""
    documented = docs.UPDATE_SESSION_REQUEST
    given = documented["impAttributes"] + documented["engagementAttributes"]
    chat, transport = api(HttpResponse(200, {}, ""),
                          session_store=MemorySessionStore(Session("xyz", "abc")))
    outcome = run(chat.report(given, page_id=documented["pageId"]))
    assert outcome == {"status": "Reported", "delivered": True}
    sent = transport.requests[0]
    assert (sent.method, sent.url) == (
        "PUT", "https://va.msdkgw.test/api/account/le123/app/engagement/visitors/xyz?v=1.0&sid=abc"
    )
    assert json.loads(sent.body) == documented


def test_the_documented_bodies_pass_the_shared_validator():
    """The update example and the examples page's impression body validate as they are."""
    assert validate_update(docs.UPDATE_SESSION_REQUEST)["pageId"] == "4743822558"
    imps = validate_update(json.loads(docs.IMPRESSION_EVENTS_TEXT))["impAttributes"]
    assert [i["type"] for i in imps] == ["impAccept", "impDisplay"]


def test_the_documented_empty_update_answer_is_success():
    """"Response empty entity": an empty 200 is a delivered report."""
    assert classify_report(HttpResponse(200, {}, "")).outcome == {
        "status": "Reported",
        "delivered": True,
    }


def test_the_update_body_builder_matches_the_documented_key_order():
    """pageId, impAttributes, engagementAttributes: the order the docs print them in."""
    body = json.loads(update_session_body("p", []))
    assert list(body) == ["pageId", "impAttributes", "engagementAttributes"]


def test_the_documented_create_session_request_is_sent_as_documented():
    """The docs' create-session example (appType EXTERNAL, as getEngagement allows) is sent as
    that body; the vid goes in the path and the sid in the query, as in the docs' URL."""
    request = docs.create_session_request()
    chat, transport = api(HttpResponse(200, JSON, docs.AVAILABLE_RESPONSE_TEXT))
    run(chat.get_engagement({**request, "vid": "xyz", "sid": "abc"}))
    sent = transport.requests[0]
    assert sent.url.endswith("/api/account/le123/app/engagement/visitors/xyz?v=1.0&sid=abc")
    assert json.loads(sent.body) == request
