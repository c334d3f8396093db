"""Outcomes are plain data: no key of an answer can act on the page's objects.

An answer is handed to the page "as received", unknown keys kept. Keys named like members of
JavaScript's ``Object.prototype`` are the exception: as own keys of a parsed outcome,
``__proto__`` makes ``Object.assign({}, outcome)`` take a prototype the server chose, and a
``toString`` or ``valueOf`` that is not a function makes ``'' + outcome`` throw. They are
dropped at any depth, in Python, before the outcome crosses to the page (the browser side is
``tests/browser/test_never_stuck.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_web.core.outcome import PROTOTYPE_KEYS, classify_engagement, classify_report, plain_data
from tests.fakes import available, json_answer, not_available

HOSTILE = {
    "__proto__": {"isAdmin": True},
    "constructor": {"prototype": {"polluted": True}},
    "toString": "not a function",
    "valueOf": 42,
    "hasOwnProperty": None,
}


def _keys(value: Any) -> set[str]:
    """Every key of every object in ``value``, at any depth."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(item) for item in value))
    return set()


def test_prototype_keys_are_dropped_at_every_depth_of_an_available_answer():
    """Top level, engagementDetails, and objects inside lists: all cleaned; the rest kept."""
    answer = available(
        **HOSTILE,
        extra={"nested": [{"toString": 1, "kept": 2}, {"__proto__": 3}]},
    )
    body = json.loads(answer.body)
    body["engagementDetails"].update(HOSTILE)
    outcome = classify_engagement(json_answer(200, body)).outcome
    assert outcome["status"] == "Available"
    assert not _keys(outcome) & PROTOTYPE_KEYS
    assert outcome["extra"] == {"nested": [{"kept": 2}, {}]}
    assert outcome["engagementDetails"]["skillName"] == "TestSkill"


def test_a_not_available_answer_and_a_report_answer_are_cleaned_too():
    """Every answer kept for the page passes through the same filter."""
    outcome = classify_engagement(not_available(**HOSTILE)).outcome
    assert outcome["status"] == "NotAvailable"
    assert not set(outcome) & PROTOTYPE_KEYS
    reported = classify_report(json_answer(200, {**HOSTILE, "note": "ok"})).outcome
    assert reported == {"note": "ok", "status": "Reported", "delivered": True}


@pytest.mark.parametrize("key", sorted(PROTOTYPE_KEYS))
def test_each_prototype_member_is_dropped(key):
    """The whole list of Object.prototype members, one by one."""
    assert plain_data({key: 1, "k": {key: 2}}) == {"k": {}}


def test_ordinary_keys_that_only_look_alike_are_kept():
    """Only exact names are dropped: prototype, proto, toJSON, ToString are ordinary data."""
    value = {"prototype": 1, "proto": 2, "toJSON": 3, "ToString": 4, "__proto": 5}
    assert plain_data(value) == value


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from([*sorted(PROTOTYPE_KEYS), "a", "b"]), children, max_size=4),
    max_leaves=20,
)


@given(_json)
def test_plain_data_keeps_everything_else_and_is_idempotent(value):
    """No prototype key survives; cleaning twice changes nothing; scalars pass unchanged."""
    cleaned = plain_data(value)
    assert not _keys(cleaned) & PROTOTYPE_KEYS
    assert plain_data(cleaned) == cleaned
    if not isinstance(value, dict | list):
        assert cleaned == value
