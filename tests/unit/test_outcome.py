"""Server answers become outcomes: contract objects pass through, the rest a precise Error."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_web.core.outcome import (
    AnswerKind,
    classify_engagement,
    classify_report,
    error_outcome,
)
from engage_web.core.session import Session
from engage_web.core.transport import HttpResponse

AVAILABLE = {
    "status": "Available",
    "sessionId": "abc",
    "visitorId": "xyz",
    "pageId": "4743822558",
    "engagementDetails": {
        "campaignId": "3346848610",
        "engagementId": "3562981110",
        "contextId": "1",
        "windowId": "3346847910",
        "language": "en-US",
        "engagementRevision": 44,
        "validForSeconds": 900,
        "skillId": 23,
        "skillName": "TestSkill",
    },
}
NOT_AVAILABLE = {"status": "NotAvailable", "sessionId": "abc", "visitorId": "xyz", "pageId": "47"}


def answer(status, body, headers=None):
    text = body if isinstance(body, str) else json.dumps(body)
    return HttpResponse(status, headers or {"content-type": "application/json"}, text)


def with_details(**changes):
    details = {**AVAILABLE["engagementDetails"], **changes}
    return {**AVAILABLE, "engagementDetails": {k: v for k, v in details.items() if v is not ...}}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, AVAILABLE, AnswerKind.AVAILABLE),
        (201, AVAILABLE, AnswerKind.AVAILABLE),
        (200, NOT_AVAILABLE, AnswerKind.NOT_AVAILABLE),
        (201, NOT_AVAILABLE, AnswerKind.NOT_AVAILABLE),
        (200, {**NOT_AVAILABLE, "futureKey": [1, 2]}, AnswerKind.NOT_AVAILABLE),
        (200, with_details(skillId=..., skillName=...), AnswerKind.AVAILABLE),
    ],
)
def test_contract_answers_pass_through_as_received(status, body, kind):
    """A 200/201 contract object is the outcome itself, unknown keys and all, with its session."""
    result = classify_engagement(answer(status, body))
    assert result.kind is kind
    assert result.outcome == body
    assert result.session == Session(body["visitorId"], body["sessionId"])


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, "<!DOCTYPE html><title>Proxy error</title>", "the body is not JSON"),
        (200, "", "the body is empty"),
        (200, [AVAILABLE], "the body is a JSON array, not an object"),
        (200, "null", "the body is a JSON null, not an object"),
        (200, {"sessionId": "s"}, "the body has no status"),
        (200, {**NOT_AVAILABLE, "status": "Maybe"}, "status must be 'Available' or 'NotAvailable'"),
        (200, {**NOT_AVAILABLE, "status": None}, "got null"),
        (200, {**NOT_AVAILABLE, "sessionId": 5}, "sessionId must be a non-empty string; got 5"),
        (200, {k: v for k, v in NOT_AVAILABLE.items() if k != "pageId"}, "pageId must be"),
        (
            200,
            {**NOT_AVAILABLE, "status": "Available"},
            "Available answer without engagementDetails",
        ),
        (200, {**AVAILABLE, "engagementDetails": []}, "engagementDetails must be an object"),
        (200, with_details(campaignId=None), "engagementDetails.campaignId must be an id"),
        (200, with_details(windowId=3.5), "engagementDetails.windowId must be an id"),
        (
            200,
            with_details(language=...),
            "engagementDetails.language must be a string; got nothing",
        ),
        (200, with_details(validForSeconds="900"), "validForSeconds must be an integer; got '900'"),
        (200, with_details(engagementRevision=True), "engagementRevision must be an integer"),
        (200, with_details(engagementRevision=4.5), "engagementRevision must be an integer"),
        (200, with_details(skillId=[23]), "engagementDetails.skillId must be an id"),
        (200, with_details(connectorId={}), "engagementDetails.connectorId must be an id"),
        (200, with_details(skillName=7), "engagementDetails.skillName must be a string"),
        (204, "", "unexpected HTTP status 204 No Content"),
        (302, "", "unexpected HTTP status 302 Found"),
    ],
)
def test_malformed_success_answers_become_precise_error_outcomes(status, body, message):
    """A success status without the contract's object is a 'malformed' Error naming the problem."""
    result = classify_engagement(answer(status, body))
    assert result.kind is AnswerKind.MALFORMED
    assert result.outcome["status"] == "Error"
    error = result.outcome["error"]
    assert error["code"] == "malformed"
    assert error["httpStatus"] == status
    assert message in error["message"]
    assert result.reason == "malformed"


@pytest.mark.parametrize(
    ("status", "body", "kind", "message", "field"),
    [
        (
            400,
            {
                "time": 1,
                "message": "appType must be EXTERNAL",
                "internalCode": 5,
                "field": "appType",
            },
            AnswerKind.FINAL_STATUS,
            "appType must be EXTERNAL",
            "appType",
        ),
        (
            401,
            {"message": "sid needs vid", "field": "sid"},
            AnswerKind.FINAL_STATUS,
            "sid needs vid",
            "sid",
        ),
        (
            404,
            {"message": "unknown account 'x'"},
            AnswerKind.FINAL_STATUS,
            "unknown account 'x'",
            None,
        ),
        (413, "too big", AnswerKind.FINAL_STATUS, "HTTP 413 Request Entity Too Large", None),
        (429, {"message": "slow down"}, AnswerKind.RETRYABLE_STATUS, "slow down", None),
        (500, {"message": ""}, AnswerKind.RETRYABLE_STATUS, "HTTP 500 Internal Server Error", None),
        (
            502,
            "<html>bad gateway</html>",
            AnswerKind.RETRYABLE_STATUS,
            "HTTP 502 Bad Gateway",
            None,
        ),
        (
            503,
            {"message": "temporarily unavailable"},
            AnswerKind.RETRYABLE_STATUS,
            "temporarily unavailable",
            None,
        ),
        (504, "", AnswerKind.RETRYABLE_STATUS, "HTTP 504 Gateway Timeout", None),
        (599, "", AnswerKind.FINAL_STATUS, "HTTP 599", None),
    ],
)
def test_error_statuses_carry_code_message_and_field(status, body, kind, message, field):
    """An error answer's outcome has the HTTP status as code, the server's message and field."""
    result = classify_engagement(answer(status, body))
    assert result.kind is kind
    assert result.outcome["status"] == "Error"
    assert result.outcome["error"]["code"] == status
    assert result.outcome["error"]["message"] == message
    assert result.outcome["error"]["field"] == field
    assert result.reason == f"http-{status}"


def test_error_answer_keeps_internal_code_and_retry_after():
    """The contract error body's internalCode and the Retry-After header are kept."""
    response = answer(503, {"message": "busy", "internalCode": 20}, {"retry-after": "4"})
    result = classify_engagement(response)
    assert result.outcome["error"]["internalCode"] == 20
    assert result.retry_after == "4"


def test_retry_statuses_are_configurable():
    """Which statuses are retryable is the caller's choice (the retry policy's)."""
    assert classify_engagement(answer(503, ""), frozenset()).kind is AnswerKind.FINAL_STATUS
    assert (
        classify_engagement(answer(408, ""), frozenset({408})).kind is AnswerKind.RETRYABLE_STATUS
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"accepted": 2}, {"status": "Reported", "delivered": True, "accepted": 2}),
        (200, {"status": "ok"}, {"status": "Reported", "delivered": True}),
        (204, "", {"status": "Reported", "delivered": True}),
        (202, "not json", {"status": "Reported", "delivered": True}),
    ],
)
def test_report_success_says_delivered(status, body, expected):
    """Any 2xx to a report means delivered; a JSON object body's keys are kept."""
    result = classify_report(answer(status, body))
    assert result.kind is AnswerKind.ACCEPTED
    assert result.outcome == expected


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AnswerKind.FINAL_STATUS),
        (503, AnswerKind.RETRYABLE_STATUS),
        (302, AnswerKind.MALFORMED),
    ],
)
def test_report_failure_says_not_delivered(status, kind):
    """A report that was not taken says so in its Error outcome."""
    result = classify_report(answer(status, ""))
    assert result.kind is kind
    assert result.outcome["status"] == "Error"
    assert result.outcome["delivered"] is False


def test_error_outcome_adds_known_session_ids():
    """Error outcomes carry the visitor and session ids when they are known."""
    assert error_outcome("timeout", "slow", session=Session("v", "s")) == {
        "status": "Error",
        "error": {"code": "timeout", "message": "slow", "field": None},
        "visitorId": "v",
        "sessionId": "s",
    }
    assert "sessionId" not in error_outcome("network", "x", session=Session("v"))


@settings(max_examples=max(1, settings().max_examples // 3))
@given(
    st.integers(100, 599),
    st.one_of(
        st.text(max_size=50),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "status",
                            "sessionId",
                            "visitorId",
                            "pageId",
                            "engagementDetails",
                            "message",
                            "x",
                        ]
                    ),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=10,
        ).map(json.dumps),
    ),
)
def test_any_answer_classifies_without_raising(status, body):
    """Whatever the server sends, classification gives an outcome dict and never raises."""
    for classify in (classify_engagement, classify_report):
        result = classify(HttpResponse(status, {}, body))
        assert result.outcome["status"] in {"Available", "NotAvailable", "Error", "Reported"}
        if result.outcome["status"] == "Error":
            assert isinstance(result.outcome["error"]["message"], str)
            assert result.outcome["error"]["message"]
