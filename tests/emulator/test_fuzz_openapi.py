"""Fuzzing the emulator: schema-driven (schemathesis, from its own OpenAPI document) and hostile.

Whatever arrives, the emulator answers with a status it documents and never with a 5xx; every
error answer is the documented JSON body (``time``, ``message``, ``internalCode``, and the
``field`` extension when one field is at fault), encodable as UTF-8 and of bounded size. Three
layers:

1. schemathesis generates valid and invalid requests from ``GET /openapi.json`` and checks each
   answer against the document (status, content type, headers, body schema);
2. hypothesis sends raw hostile bytes (mutated JSON, invalid UTF-8, lone surrogates, huge numbers,
   deep nesting, duplicate keys) to create session and update session;
3. a table pins the answer to each named hostile input class.

``python3 build.py test --deep`` (``ENGAGE_WEB_DEEP=1``) runs the schema-driven and raw-byte
layers with many more examples.

Example::

    .venv/bin/python -m pytest tests/emulator/test_fuzz_openapi.py -q
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # starlette 1.10 nudges towards httpx2; httpx is what we pin
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

import schemathesis
from schemathesis import GenerationMode

from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.emulator.bodies import MAX_BODY_BYTES
from tests.emulator.conftest import VISITORS, visitor_path
from tools.devserver import ServerThread

DEEP = os.environ.get("ENGAGE_WEB_DEEP") == "1"
CREATE = VISITORS + "?v=1.0"
JSON = {"content-type": "application/json"}
#: An error body may quote the input, but never grows without bound: 64 KiB in -> at most this out.
MAX_ERROR_BYTES = 256 * 1024

_app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def assert_well_formed(status: int, body: bytes, content_type: str | None) -> None:
    """Any answer: no 5xx; an error is the documented JSON body, bounded and valid UTF-8."""
    assert status < 500, f"5xx answer {status}: {body[:300]!r}"
    if status < 400:
        return
    assert (content_type or "").startswith("application/json"), content_type
    assert len(body) <= MAX_ERROR_BYTES, f"error body of {len(body)} bytes"
    error = json.loads(body.decode("utf-8"))
    assert isinstance(error, dict)
    assert isinstance(error.get("time"), int)
    assert error["time"] > 0
    assert isinstance(error.get("message"), str)
    assert error["message"]
    assert isinstance(error.get("internalCode"), int)
    assert "field" not in error or isinstance(error["field"], str)


# -- 1. schema-driven ----------------------------------------------------------------------------


@schema.parametrize()
@settings(
    max_examples=1500 if DEEP else 40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not DEEP,
)
def test_generated_requests_get_documented_answers_and_never_a_5xx(case):
    """Requests generated from the OpenAPI document, valid or not, get answers the document
    describes (status, content type, headers, body schema) and never a 5xx."""
    response = case.call_and_validate()
    content_type = response.headers.get("content-type")
    if isinstance(content_type, list):  # schemathesis keeps every value of a header
        content_type = content_type[0] if content_type else None
    assert_well_formed(response.status_code, response.content, content_type)


# -- 2. raw hostile bytes ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live_ids(client: TestClient) -> tuple[str, str]:
    """vid/sid of a live session, so updates reach body parsing."""
    answer = client.post(CREATE, json={"appType": "EXTERNAL"}).json()
    return answer["visitorId"], answer["sessionId"]


_KEYS = st.sampled_from(
    [
        "appType",
        "appDetails",
        "consumerSections",
        "engagementAttributes",
        "type",
        "total",
        "pageId",
        "os",
        "\ud800",
        "a\u0000b",
        "x" * 300,
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["EXTERNAL", "cart", "impDisplay", "\ud83d", "\udc00x", "9" * 5000]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=20,
)


def _fragments() -> st.SearchStrategy[bytes]:
    """Pieces of hostile JSON text, spliced into otherwise plausible bodies."""
    return st.sampled_from(
        [
            b"\xff",
            b"\xc3",
            b"\xed\xa0\x80",
            b"\xef\xbb\xbf",
            b"\x00",
            b'"\\ud800"',
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b"1e400",
            b"9" * 5000,
            b"-" + b"9" * 4301,
            b"[" * 3000,
            b"{" * 3000,
            b'"a": 1, "a": 2',
            b"\\u0000",
            b'"\\',
            b"tru",
            b"",
        ]
    )


def _hostile_bodies() -> st.SearchStrategy[bytes]:
    json_text = _VALUES.map(
        lambda v: json.dumps(v, ensure_ascii=True, allow_nan=True).encode("ascii")
    )

    def splice(text: bytes, at: int, fragment: bytes) -> bytes:
        cut = at % (len(text) + 1)
        return text[:cut] + fragment + text[cut:]

    return st.one_of(
        json_text,
        st.builds(splice, json_text, st.integers(0, 10_000), _fragments()),
        st.binary(max_size=200),
        _fragments(),
        st.builds(
            lambda n: b'{"consumerSections": ' + b"[" * n + b"]" * n + b"}", st.integers(1, 30_000)
        ),
    )


@given(body=_hostile_bodies(), route=st.sampled_from(["create", "update"]))
@settings(
    max_examples=10_000 if DEEP else 300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_hostile_bytes_never_get_a_5xx_and_errors_stay_well_formed(
    client: TestClient, live_ids: tuple[str, str], body: bytes, route: str
):
    """Raw hostile bodies (invalid UTF-8, lone surrogates, huge numbers, deep nesting, duplicate
    keys, truncated JSON) get a documented 2xx/4xx answer, never a 5xx or a malformed error."""
    vid, sid = live_ids
    if route == "create":
        response = client.post(CREATE, content=body, headers=JSON)
        allowed = {200, 400, 401}
    else:
        response = client.put(f"{visitor_path(vid)}?v=1.0&sid={sid}", content=body, headers=JSON)
        allowed = {200, 400}
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    assert_well_formed(response.status_code, response.content, response.headers["content-type"])
    if response.status_code < 300 and route == "create":
        response.content.decode("utf-8")  # a success answer is valid UTF-8 JSON too
        json.loads(response.content)


# -- 3. named input classes ----------------------------------------------------------------------


def _chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


HOSTILE_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    # id, request options, expected status, a fragment the message must hold
    ("oversized-declared", {"content": b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}'}, 413, "64 KiB"),
    ("oversized-chunked", {"content": "chunked"}, 413, "64 KiB"),
    (
        "deep-nesting",
        {"content": b'{"consumerSections": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"},
        400,
        "nested too deeply",
    ),
    ("deep-nesting-objects", {"content": b'{"a":' * 10_000 + b"1" + b"}" * 10_000}, 400, ""),
    ("invalid-utf8", {"content": b'{"appType": "\xff"}'}, 400, "UTF-8"),
    ("overlong-utf8", {"content": b'{"appType": "\xc0\xaf"}'}, 400, "UTF-8"),
    ("lone-surrogate-key", {"content": b'{"\\ud800": 1}'}, 400, "surrogate"),
    ("lone-surrogate-value", {"content": b'{"consumerSections": ["\\udfff"]}'}, 400, "surrogate"),
    ("huge-integer", {"content": b'{"appType": ' + b"9" * 5000 + b"}"}, 400, "number"),
    (
        "huge-integer-in-sde",
        {
            "content": b'{"engagementAttributes": [{"type": "cart", "total": '
            + b"9" * 5000
            + b', "numItems": 1}]}'
        },
        400,
        "number",
    ),
    (
        "big-integer-under-the-digit-limit",
        {
            "content": b'{"engagementAttributes": [{"type": "cart", "total": 1, "numItems": '
            + b"9" * 4000
            + b"}]}"
        },
        400,
        "numItems",
    ),
    (
        "huge-float",
        {"content": b'{"engagementAttributes": [{"type": "cart", "total": 1e400, "numItems": 1}]}'},
        400,
        "finite",
    ),
    (
        "nan-literal",
        {"content": b'{"engagementAttributes": [{"type": "cart", "total": NaN, "numItems": 1}]}'},
        400,
        "NaN",
    ),
    (
        "duplicate-keys",
        {"content": b'{"appType": "EXTERNAL", "appType": "EXTERNAL"}'},
        400,
        "duplicate key",
    ),
    (
        "duplicate-keys-nested",
        {"content": b'{"appDetails": {"os": "LINUX", "os": "IOS"}}'},
        400,
        "duplicate key",
    ),
    ("byte-order-mark", {"content": b'\xef\xbb\xbf{"appType": "EXTERNAL"}'}, 400, "JSON"),
    ("not-an-object", {"content": b"[1, 2, 3]"}, 400, "JSON object"),
    ("truncated", {"content": b'{"consumerSections": ["Supp'}, 400, "not valid JSON"),
    (
        "many-unknown-keys",
        {"content": json.dumps({f"k{i}": i for i in range(4000)}).encode()},
        400,
        "unknown key",
    ),
    (
        "wrong-content-type",
        {"content": b"{}", "headers": {"content-type": "text/plain"}},
        415,
        "application/json",
    ),
    (
        "latin1-charset",
        {"content": b"{}", "headers": {"content-type": "application/json; charset=latin-1"}},
        415,
        "utf-8",
    ),
    (
        "bad-content-length",
        {"content": b"{}", "headers": {"content-length": "12abc"}},
        400,
        "Content-Length",
    ),
]


#: Emulator bugs this file found, waiting for the emulator's owner (xfail strict until fixed).
PENDING_EMULATOR_FIXES: dict[str, str] = {}


def _case(case: tuple[str, dict[str, Any], int, str]) -> Any:
    reason = PENDING_EMULATOR_FIXES.get(case[0])
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(*case[1:], id=case[0], marks=marks)


@pytest.mark.parametrize(("options", "status", "fragment"), [_case(c) for c in HOSTILE_CASES])
def test_each_hostile_input_class_gets_a_clear_4xx(
    client: TestClient, options: dict[str, Any], status: int, fragment: str
):
    """Each hostile input class gets its documented 4xx with a message naming the problem."""
    options = dict(options)
    headers = {**JSON, **options.pop("headers", {})}
    if options.get("content") == "chunked":  # no Content-Length: only the bytes read count
        options["content"] = _chunks(b'{"a": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}')
    response = client.post(CREATE, headers=headers, **options)
    assert response.status_code == status, response.text[:300]
    assert_well_formed(response.status_code, response.content, response.headers["content-type"])
    assert fragment.lower() in response.json()["message"].lower()


@pytest.mark.parametrize(
    ("target", "status", "field"),
    [
        (visitor_path("%ED%A0%80") + "?v=1.0", 401, "vid"),
        (visitor_path("%FF%FE") + "?v=1.0", 401, "vid"),
        (visitor_path("a" * 10_000) + "?v=1.0", 401, "vid"),
        (visitor_path("a") + "?v=1.0&sid=a&sid=b", 401, "sid"),
        (VISITORS + "?v=1.0&sid=abc", 401, "sid"),
        (visitor_path("a") + "?v=1.0&sid=%ED%A0%80", 401, "sid"),
        (VISITORS + "?v=%FF", 400, "v"),
        (VISITORS + "?v=1.0&v=1.0", 400, "v"),
        (VISITORS, 400, "v"),
        ("/api/account/" + "a" * 5000 + "/app/engagement/visitors?v=1.0", 404, "accountId"),
    ],
    ids=[
        "vid-surrogate",
        "vid-invalid-utf8",
        "vid-10k",
        "sid-twice",
        "sid-without-vid",
        "sid-surrogate",
        "v-invalid-utf8",
        "v-twice",
        "v-missing",
        "account-5k",
    ],
)
def test_hostile_paths_and_query_strings_get_a_clear_4xx_naming_the_parameter(
    client: TestClient, target: str, status: int, field: str
):
    """Malformed, repeated or oversized ids and parameters get a 4xx naming them."""
    response = client.post(target, json={"appType": "EXTERNAL"})
    assert response.status_code == status, response.text[:300]
    assert_well_formed(response.status_code, response.content, response.headers["content-type"])
    assert response.json()["field"] == field
    assert len(response.content) < 2000


def test_odd_but_valid_text_is_recorded_and_read_back_intact(client: TestClient):
    """Valid text that is awkward on the wire (NUL, emoji, RTL override, newline) round-trips."""
    odd = ["a\u0000b", "\U0001f600 chat", "\u202eevil", "line\nbreak"]
    sde = {"type": "searchInfo", "keywords": odd}
    answer = client.post(CREATE, json={"appType": "EXTERNAL", "engagementAttributes": [sde]})
    assert answer.status_code == 200, answer.text[:300]
    record = client.get(f"/_emulator/sessions/{answer.json()['sessionId']}")
    assert record.status_code == 200
    assert sde in record.json()["engagementAttributes"]


def test_a_client_that_gives_up_during_a_delay_is_not_treated_as_a_bug(
    caplog: pytest.LogCaptureFixture,
):
    """A client whose own timeout fires during a delay fault leaves no 500 and no traceback:
    the request log marks it as disconnected."""
    with ServerThread(create_app()) as base, httpx.Client(base_url=base, timeout=10) as control:
        control.post("/_emulator/faults", json={"delayMs": 300}).raise_for_status()
        with pytest.raises(httpx.TimeoutException):
            httpx.post(base + CREATE, json={"appType": "EXTERNAL"}, timeout=0.05)
        deadline = time.monotonic() + 10
        entry: dict[str, Any] = {}
        while time.monotonic() < deadline:  # poll the log until the request has finished
            entry = control.get("/_emulator/requests").json()["requests"][0]
            if entry.get("disconnected") or entry.get("status"):
                break
            threading.Event().wait(0.02)
    assert entry.get("disconnected") is True, entry
    assert entry.get("status") is None
    assert not [r for r in caplog.records if "bug in the emulator" in r.getMessage()]
