"""The wire format: quoted URLs with the session in the query, and bodies without it."""

import json

import pytest

from engage_web.session import MemorySessionStore, Session, session_from_answer
from engage_web.wire import (
    ENGAGEMENT_PATH,
    REPORT_PATH,
    engagement_request,
    engagement_url,
    report_request,
)


@pytest.mark.parametrize(
    ("endpoint", "session", "expected"),
    [
        ("http://h", None, "http://h/api/account/demo/app/engagement?v=1.0"),
        ("http://h/", Session("v1"), "http://h/api/account/demo/app/engagement?v=1.0&vid=v1"),
        (
            "https://h/p",
            Session("v1", "s1"),
            "https://h/p/api/account/demo/app/engagement?v=1.0&vid=v1&sid=s1",
        ),
        (
            "http://h",
            Session("a b&c", "x/y"),
            "http://h/api/account/demo/app/engagement?v=1.0&vid=a%20b%26c&sid=x%2Fy",
        ),
    ],
)
def test_engagement_url_carries_version_and_session(endpoint, session, expected):
    """The check URL has v=1.0 and, when known, vid and sid, properly quoted."""
    assert engagement_url(endpoint, "demo", session) == expected


def test_paths_are_the_shared_templates():
    """The emulator routes the same templates the client builds URLs from."""
    assert ENGAGEMENT_PATH.format(account_id="a") == "/api/account/a/app/engagement"
    assert REPORT_PATH.format(account_id="a") == "/api/account/a/app/report"


def test_engagement_body_holds_the_request_and_never_the_session():
    """The POST body holds the four request keys present; vid and sid stay in the query."""
    request = {
        "appType": "EXTERNAL",
        "vid": "v",
        "sid": "s",
        "consumerSections": ["A"],
        "appDetails": None,
    }
    sent = engagement_request("http://h", "demo", request, Session("v", "s"))
    assert json.loads(sent.body) == {"appType": "EXTERNAL", "consumerSections": ["A"]}
    assert sent.headers["Content-Type"] == "application/json"


def test_report_request_puts_to_the_session():
    """A report is a PUT to .../report with vid and sid and a body of SDEs and pageId."""
    sent = report_request(
        "http://h",
        "demo",
        {"engagementAttributes": [{"type": "x"}], "pageId": "p"},
        Session("v", "s"),
    )
    assert (sent.method, sent.url) == (
        "PUT",
        "http://h/api/account/demo/app/report?v=1.0&vid=v&sid=s",
    )
    assert json.loads(sent.body) == {"engagementAttributes": [{"type": "x"}], "pageId": "p"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"visitorId": "v", "sessionId": "s"}, Session("v", "s")),
        ({"visitorId": "v"}, Session("v")),
        ({"visitorId": "v", "sessionId": 5}, Session("v")),
        ({"sessionId": "s"}, None),
        ({"visitorId": ""}, None),
    ],
)
def test_session_from_answer_reads_string_ids_only(body, expected):
    """An answer names a session only through a non-empty string visitorId (sessionId optional)."""
    assert session_from_answer(body) == expected


def test_memory_store_keeps_and_forgets():
    """The memory store returns what was saved, and None after saving None."""
    store = MemorySessionStore()
    assert store.load() is None
    store.save(Session("v", "s"))
    assert store.load() == Session("v", "s")
    assert store.load().established
    store.save(None)
    assert store.load() is None
