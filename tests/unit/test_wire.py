"""The wire of the App Engagement API: the visitor in the path, the session in the query, bodies
without either, and the Domain API's answer turned into a base URL only when it is safe."""

import json

import pytest

from engage_web.core.session import MemorySessionStore, Session, session_from_answer
from engage_web.core.wire import (
    METHOD_OVERRIDE_HEADER,
    VISITOR_PATH,
    VISITORS_PATH,
    base_from_domain_answer,
    create_session_request,
    session_url,
    split_attributes,
    update_session_request,
)


@pytest.mark.parametrize(
    ("base", "session", "expected"),
    [
        ("http://h", None, "http://h/api/account/demo/app/engagement/visitors?v=1.0"),
        ("http://h/", Session("v1"), "http://h/api/account/demo/app/engagement/visitors/v1?v=1.0"),
        (
            "https://h/p",
            Session("v1", "s1"),
            "https://h/p/api/account/demo/app/engagement/visitors/v1?v=1.0&sid=s1",
        ),
        (
            "http://h",
            Session("a b&c", "x/y"),
            "http://h/api/account/demo/app/engagement/visitors/a%20b%26c?v=1.0&sid=x%2Fy",
        ),
    ],
)
def test_session_url_puts_the_visitor_in_the_path_and_the_session_in_the_query(
    base, session, expected
):
    """The create/update URL has v=1.0, the vid as a quoted path segment, the sid in the query."""
    assert session_url(base, "demo", session) == expected


def test_paths_are_the_shared_templates():
    """The emulator routes the same templates the client builds URLs from."""
    assert VISITORS_PATH.format(account_id="a") == "/api/account/a/app/engagement/visitors"
    assert VISITOR_PATH.format(account_id="a", visitor_id="v") == (
        "/api/account/a/app/engagement/visitors/v"
    )


def test_create_session_body_holds_the_request_and_never_the_session():
    """The POST body holds appType (always) and the request keys present; vid and sid never."""
    request = {"vid": "v", "sid": "s", "consumerSections": ["A"], "appDetails": None}
    sent = create_session_request("http://h", "demo", request, Session("v", "s"))
    assert json.loads(sent.body) == {"appType": "EXTERNAL", "consumerSections": ["A"]}
    assert sent.headers == {"Content-Type": "application/json", "Accept": "application/json"}


def test_update_session_puts_the_split_attributes_to_the_session():
    """A report is a PUT to the session's URL with pageId, impAttributes and
    engagementAttributes, each list in the order given."""
    attributes = [{"type": "cart"}, {"type": "impAccept"}, {"type": "lead"}, {"type": "impClose"}]
    sent = update_session_request("http://h", "demo", "p", attributes, Session("v", "s"))
    assert (sent.method, sent.url) == (
        "PUT",
        "http://h/api/account/demo/app/engagement/visitors/v?v=1.0&sid=s",
    )
    assert json.loads(sent.body) == {
        "pageId": "p",
        "impAttributes": [{"type": "impAccept"}, {"type": "impClose"}],
        "engagementAttributes": [{"type": "cart"}, {"type": "lead"}],
    }
    assert METHOD_OVERRIDE_HEADER not in sent.headers


def test_update_session_needs_both_ids():
    """Without a session id there is no session to update."""
    with pytest.raises(ValueError, match="both"):
        update_session_request("http://h", "demo", "p", [], Session("v"))


def test_split_keeps_non_objects_with_the_sdes():
    """Anything that is not an impression event (even junk the validator would refuse) stays in
    engagementAttributes: nothing is dropped on the way."""
    assert split_attributes(["x", {"type": "impDisplay"}]) == ([{"type": "impDisplay"}], ["x"])


@pytest.mark.parametrize(
    ("answer", "domain_api", "expected"),
    [
        ({"baseURI": "va.msdkgw.example"}, "https://api.liveperson.net", "https://va.msdkgw.example"),
        ({"baseURI": "127.0.0.1:8765"}, "http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ({"baseURI": "localhost:9"}, "http://[::1]:1", "http://localhost:9"),
        ({"baseURI": "va.example"}, "http://127.0.0.1:8765", "https://va.example"),
        ({"baseURI": "127.0.0.1:8765"}, "https://api.liveperson.net", "https://127.0.0.1:8765"),
        ({"baseURI": " va.example. "}, "https://d", "https://va.example"),
    ],
)
def test_base_from_domain_answer(answer, domain_api, expected):
    """https://{baseURI}; the Domain API's http:// only when it and the base are on loopback."""
    body = {"service": "msdkgw", "account": "demo", **answer}
    assert base_from_domain_answer(body, domain_api, "demo") == expected


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ([], "not a JSON object"),
        ({"service": "msdkgw"}, "no baseURI"),
        ({"baseURI": "https://va.example"}, "host name"),
        ({"baseURI": "va.example/path"}, "host name"),
        ({"baseURI": "user@va.example"}, "host name"),
        ({"baseURI": "va.example:99999999"}, "host name"),
        ({"baseURI": "va.example", "service": "other"}, "service 'other'"),
        ({"baseURI": "va.example", "account": "someone"}, "account 'someone'"),
    ],
)
def test_a_domain_answer_that_names_no_usable_host_is_refused(answer, words):
    """A hostile or broken Domain API answer cannot steer requests to a path, a user or a
    scheme of its choosing."""
    with pytest.raises(ValueError, match=words):
        base_from_domain_answer(answer, "https://api.liveperson.net", "demo")


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
