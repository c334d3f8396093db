"""Bounded JSON: text past the size, depth or number bounds is refused before it is parsed, so
a hostile answer can never overflow the interpreter's stack; what is within them parses as usual."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_web.core import jsontext
from engage_web.core.outcome import AnswerKind, classify_engagement
from engage_web.core.transport import HttpResponse

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                  max_size=3),
    max_leaves=20,
)


def nesting(value) -> int:
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


@given(JSON_VALUES)
def test_the_depth_scan_agrees_with_the_real_nesting(value):
    """Brackets and escaped quotes inside strings never count; real nesting always does."""
    text = json.dumps(value)
    depth = nesting(value)
    assert jsontext.depth_within(text, depth)
    assert not jsontext.depth_within(text, depth - 1) or depth == 0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 7000 + "]" * 7000, "nested deeper than 64 levels"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "nested deeper than 64 levels"),
        ("[" + "9" * 5000 + "]", "a number longer than 400 digits"),
        (" " * (jsontext.MAX_CHARS + 1), "longer than"),
    ],
)
def test_text_past_a_bound_is_refused_before_parsing(text, words):
    """Nested 7,000 deep (a 14 KB answer), a 5,000-digit number, a megabyte of padding."""
    with pytest.raises(jsontext.JsonBoundsError, match=words):
        jsontext.loads(text)


def test_long_digit_runs_inside_strings_are_text():
    """A long run of digits inside a string (an id, a phone number list) is not a number."""
    assert jsontext.loads(json.dumps({"id": "7" * 5000})) == {"id": "7" * 5000}


def test_a_hostile_deep_answer_is_a_malformed_answer_not_a_crash():
    """An engagement answer nested 10,000 deep is classified malformed (retried, then an Error
    outcome saying why), never parsed."""
    body = '{"status": "Available", "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    answer = classify_engagement(HttpResponse(200, {}, body))
    assert answer.kind is AnswerKind.MALFORMED
    assert "nested deeper than 64 levels" in answer.outcome["error"]["message"]
