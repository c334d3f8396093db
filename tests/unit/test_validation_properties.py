"""Properties of request validation over generated input: total, idempotent, JSON-stable."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_web.core.errors import RequestError
from engage_web.core.sde import SDE_TYPES
from engage_web.core.validation import validate_report, validate_request
from tests.strategies import (
    REAL_KEYS,
    json_values,
    valid_report_bodies,
    valid_requests,
    valid_sdes,
)

# Junk shaped like a request: real top-level keys with junk values, or junk SDE lists.
_request_like = st.dictionaries(st.sampled_from(REAL_KEYS), json_values(), max_size=6)
_sde_like = st.fixed_dictionaries(
    {"type": st.sampled_from(list(SDE_TYPES))},
    optional={k: json_values(10) for k in ("info", "personal", "lead", "total", "products")},
)
_junk = st.one_of(
    json_values(),
    _request_like,
    st.lists(_sde_like, max_size=3).map(lambda items: {"engagementAttributes": items}),
    json_values().map(json.dumps),
)


def _outcome(validate, value):
    try:
        return validate(value)
    except RequestError as exc:
        return exc


@given(_junk)
def test_any_input_gives_a_dict_or_a_request_error(value):
    """Whatever it is given, validation returns a dict or raises RequestError, nothing else."""
    for validate in (validate_request, validate_report):
        result = _outcome(validate, value)
        assert isinstance(result, dict | RequestError)
        if isinstance(result, RequestError):
            assert result.status in (400, 401)
            assert all("allowed: " in e.message and "; got " in e.message for e in result.errors)


@given(_junk)
def test_normalising_twice_changes_nothing(value):
    """Whatever validates once validates again to the same result."""
    for validate in (validate_request, validate_report):
        result = _outcome(validate, value)
        if isinstance(result, dict):
            assert validate(result) == result


@given(_junk)
def test_validation_never_changes_its_input(value):
    """The caller's objects are left untouched."""
    before = copy.deepcopy(value)
    _outcome(validate_request, value)
    _outcome(validate_report, value)
    assert value == before


@given(valid_requests())
def test_catalogue_requests_validate_and_survive_json(req):
    """Requests built from the catalogue validate, idempotently, and survive a JSON round trip."""
    result = validate_request(req)
    assert result["appType"] == "EXTERNAL"
    assert validate_request(result) == result
    assert json.loads(json.dumps(result)) == result
    assert validate_request(json.loads(json.dumps(req))) == result


@given(valid_report_bodies())
def test_catalogue_report_bodies_validate_and_survive_json(body):
    """Report bodies built from the catalogue (impressions included) validate and round-trip."""
    result = validate_report(body)
    assert result["engagementAttributes"]
    assert validate_report(result) == result
    assert json.loads(json.dumps(result)) == result


@given(valid_sdes(), st.sampled_from(["firstName", "Total", "zz_unknown"]))
def test_an_unknown_payload_key_is_refused_never_dropped(sde, key):
    """An extra key in a valid SDE's payload is reported at its path, not silently dropped."""
    spec = SDE_TYPES[sde["type"]]
    sde = copy.deepcopy(sde)
    payload = sde if spec.wrapper is None else sde[spec.wrapper]
    payload[key] = "x"
    with pytest.raises(RequestError) as info:
        validate_request({"engagementAttributes": [sde]})
    base = "engagementAttributes[0]" + ("" if spec.wrapper is None else f".{spec.wrapper}")
    assert f"{base}.{key}" in [e.field for e in info.value.errors]


_BAD_VIDS = st.one_of(
    st.just(""),
    st.just("v" * 65),
    st.integers(),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), st.sampled_from(" /%\né"), st.text()),
)


@given(valid_requests(), _BAD_VIDS)
def test_a_malformed_vid_is_a_401_whatever_else_the_request_holds(req, vid):
    """A bad vid makes the whole request a 401, even when nothing else is wrong."""
    with pytest.raises(RequestError) as info:
        validate_request({**req, "vid": vid})
    assert (info.value.status, info.value.field) == (401, "vid")
