"""Hostile-input fuzzing of ``validate_request``/``validate_report``, light in CI, deep on demand.

The properties: whatever a page or a Python caller passes (huge numbers, NaN, lone surrogates,
megabyte strings, thousands of nesting levels, JSON text of any of these), validation returns a
normalised dict or raises ``RequestError`` naming the field, the allowed values and what it got,
in a message of bounded size; a normalised request is strict JSON that the emulator accepts; and
the client and the emulator agree on every request (same verdict, same status, same field).

CI runs each property with the "ci" profile (``tests/conftest.py``). The tests marked ``deep``
run the same properties with at least 10,000 examples each::

    python3 build.py test --deep tests/unit/test_validation_deep.py
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

from engage_web.core.errors import RequestError
from engage_web.core.sde import SDE_TYPES
from engage_web.core.validation import validate_report, validate_request
from engage_web.core.wire import session_url
from engage_web.cpython.emulator.app import create_app
from tests.strategies import REAL_KEYS, json_values, valid_requests

with warnings.catch_warnings():  # starlette 1.10 nudges towards httpx2; httpx is what we pin
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

DEEP_EXAMPLES = 10_000
#: Bounds on what an error may echo back: a pasted megabyte must not become a megabyte message.
MAX_MESSAGE = 2_000
MAX_FIELD = 300


def _nest(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


_HOSTILE_SCALARS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([2**53, -(2**53) - 1, 10**400]),
    st.sampled_from([4299, 4301, 5000]).map(lambda digits: -(10**digits)),  # past str() limits
    st.floats(),  # NaN, infinities, -0.0, subnormals
    st.sampled_from([1e308, -1e308, 5e-324, float("nan"), float("inf")]),
    st.text(max_size=20),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u202e", "\ufeff", "\U0001f600"]),
    st.integers(1, 200_000).map(lambda n: "x" * n),
    st.sampled_from([*SDE_TYPES, "impDisplay", "EXTERNAL", "MAC_OSX", "DESKTOP"]),
)
_HOSTILE_KEYS = st.one_of(
    st.sampled_from(REAL_KEYS),
    st.text(max_size=12),
    st.sampled_from(["\ud800", "x" * 100_000, "__proto__", "constructor", "type "]),
)
_HOSTILE_VALUES = st.recursive(
    _HOSTILE_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_HOSTILE_KEYS, inner, max_size=5),
        st.builds(_nest, st.integers(1, 5_000), inner),
    ),
    max_leaves=25,
)


def _as_json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):
        return "[" * 10_000


_SDE_SHAPED = st.builds(
    lambda sde_type, payload: {"type": sde_type, **payload},
    st.sampled_from(list(SDE_TYPES)),
    st.dictionaries(
        st.sampled_from(
            [
                "info",
                "personal",
                "lead",
                "service",
                "error",
                "total",
                "numItems",
                "products",
                "cart",
                "keywords",
                "campaign",
                "engId",
                "revision",
                "contacts",
            ]
        ),
        _HOSTILE_VALUES,
        max_size=4,
    ),
)
HOSTILE_REQUESTS = st.one_of(
    _HOSTILE_VALUES,
    st.dictionaries(st.sampled_from(REAL_KEYS), _HOSTILE_VALUES, max_size=6),
    st.lists(_SDE_SHAPED, max_size=3).map(lambda items: {"engagementAttributes": items}),
    st.lists(_SDE_SHAPED, max_size=3).map(
        lambda items: {"engagementAttributes": _as_json_text(items)}
    ),
    _HOSTILE_VALUES.map(lambda v: {"appDetails": _as_json_text(v)}),
    _HOSTILE_VALUES.map(_as_json_text),
)


def _result(validate: Any, value: Any) -> dict[str, Any] | RequestError:
    try:
        return validate(value)
    except RequestError as exc:
        return exc


# -- the properties (plain functions, run by a light and a deep test each) -----------------------


def prop_total_and_clear(value: Any) -> None:
    """A dict or a RequestError (400/401) whose every problem names field, allowed and got."""
    for validate in (validate_request, validate_report):
        result = _result(validate, value)
        assert isinstance(result, dict | RequestError)
        if isinstance(result, RequestError):
            assert result.status in (400, 401)
            assert isinstance(result.field, str)  # "" only for an empty key, which it names
            for problem in result.errors:
                assert "allowed: " in problem.message
                assert "; got " in problem.message


def prop_bounded_errors(value: Any) -> None:
    """Error messages and field paths stay short whatever the size of the input."""
    for validate in (validate_request, validate_report):
        result = _result(validate, value)
        if isinstance(result, RequestError):
            for problem in result.errors:
                assert len(problem.message) <= MAX_MESSAGE, problem.message[:200]
                assert len(problem.field) <= MAX_FIELD, problem.field[:200]


def prop_strict_json(value: Any) -> None:
    """A normalised request is strict JSON: no NaN/Infinity, every string valid UTF-8."""
    for validate in (validate_request, validate_report):
        result = _result(validate, value)
        if isinstance(result, dict):
            json.dumps(result, allow_nan=False, ensure_ascii=False).encode("utf-8")


_client: TestClient | None = None


def _emulator() -> TestClient:
    global _client
    if _client is None:
        _client = TestClient(create_app(), raise_server_exceptions=False)
    return _client


def prop_client_and_emulator_agree(value: Any) -> None:
    """Sent as JSON to the emulator, a request gets the verdict the client's validator gives:
    accepted (200) when it validates, else the same status (and the same first field when the
    emulator's own validator refused it, rather than its stricter JSON parser). The client
    always sends ``appType`` (the REST API requires it), so it is added when absent."""
    if not isinstance(value, dict) or "vid" in value or "sid" in value:
        return
    if value.get("appType") is None:
        value = {**value, "appType": "EXTERNAL"}
    try:
        body = json.dumps(value, allow_nan=False).encode("ascii")
    except (ValueError, RecursionError):
        return  # not JSON: a page cannot send it
    if len(body) > 60_000:
        return  # the emulator's size limit (413) is a transport rule, not validation
    local = _result(validate_request, value)
    answer = _emulator().post(
        session_url("", "demo", None),
        content=body,
        headers={"content-type": "application/json"},
    )
    if isinstance(local, dict):
        assert answer.status_code == 200, answer.text[:300]
    else:
        assert answer.status_code == local.status, (local, answer.text[:300])
        refusal = answer.json()
        if "errors" in refusal:  # refused by validation, not already by the JSON parser
            assert refusal["field"] == local.field


# -- light (CI profile) ----------------------------------------------------------------------


@given(HOSTILE_REQUESTS)
def test_hostile_input_gives_a_dict_or_a_clear_request_error(value):
    """Hostile input never escapes as another exception: a dict, or a RequestError naming the
    field, the allowed values and what was received."""
    prop_total_and_clear(value)


@given(HOSTILE_REQUESTS)
@example({"x" * 100_000: 1})
@example({"appDetails": {"os": "y" * 100_000}})
def test_error_messages_stay_bounded_for_huge_input(value):
    """An error about a 100,000-character key or value has a message of at most 2,000 characters."""
    prop_bounded_errors(value)


@given(HOSTILE_REQUESTS)
@example({"consumerSections": ["\ud800"]})
@example({"engagementAttributes": [{"type": "searchInfo", "keywords": ["a\udfffb"]}]})
def test_a_normalised_request_is_strict_json(value):
    """Whatever validates serialises as strict JSON in valid UTF-8 (no NaN, no lone surrogate)."""
    prop_strict_json(value)


@given(valid_requests())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_client_and_emulator_accept_the_same_valid_requests(value):
    """Every catalogue-built request the client accepts, the emulator accepts too."""
    prop_client_and_emulator_agree(value)


@given(HOSTILE_REQUESTS)
@example({"consumerSections": ["\ud800"]})
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_client_and_emulator_give_the_same_verdict_on_hostile_requests(value):
    """On hostile requests the emulator's answer matches the validator's verdict and field."""
    prop_client_and_emulator_agree(value)


# -- deep (python3 build.py test --deep) --------------------------------------------------------

_DEEP = settings(
    max_examples=DEEP_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.deep
@_DEEP
@given(HOSTILE_REQUESTS)
def test_deep_hostile_input_gives_a_dict_or_a_clear_request_error(value):
    """Deep profile: at least 10,000 hostile inputs, each a dict or a clear RequestError."""
    prop_total_and_clear(value)
    prop_bounded_errors(value)
    prop_strict_json(value)


@pytest.mark.deep
@_DEEP
@given(st.one_of(valid_requests(), HOSTILE_REQUESTS, json_values()))
def test_deep_client_and_emulator_agree(value):
    """Deep profile: at least 10,000 requests on which client and emulator agree."""
    prop_client_and_emulator_agree(value)


def test_the_deep_profile_is_loaded_when_asked_for():
    """ENGAGE_WEB_DEEP=1 (python3 build.py test --deep) loads the 10,000-example profile."""
    expected = DEEP_EXAMPLES if os.environ.get("ENGAGE_WEB_DEEP") == "1" else None
    current = settings.default.max_examples
    if expected is None:
        assert current < DEEP_EXAMPLES
    else:
        assert current >= expected
