"""Hypothesis strategies for requests and report bodies, built from the SDE catalogue.

Shared by the validation property tests and the emulator's fuzz tests, so they live here and are
driven by ``engage_web.core.sde`` (a field added to the catalogue is generated automatically).

- ``valid_requests()``: ``getEngagement`` request objects that must validate, in every accepted
  input form (JSON-string ``appDetails``/``engagementAttributes``, comma-delimited
  ``consumerSections``, numeric-string ids, integral floats for ints, the ``campaignID`` alias,
  ``null`` for optional keys), with or without a ``vid``/``sid`` pair.
- ``valid_report_bodies()``: report bodies (impression events included) that must validate.
- ``valid_sdes(impressions=...)``: one valid engagement attribute.
- ``json_values()``: arbitrary JSON-like junk (None/bool/int/float/text/lists/dicts), with dicts
  that often use the real key names and SDE type names, for "never crashes" properties.

Example::

    from hypothesis import given
    from tests.strategies import valid_requests

    @given(valid_requests())
    def test_emulator_accepts(request):
        ...
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from hypothesis import strategies as st

from engage_web.core.sde import (
    APP_DETAILS,
    DATE_SPEC,
    JS_SAFE_INT,
    SDE_TYPES,
    Field,
    ObjectSpec,
)

__all__ = [
    "REAL_KEYS",
    "json_values",
    "session_ids",
    "valid_app_details",
    "valid_field_value",
    "valid_object",
    "valid_report_bodies",
    "valid_requests",
    "valid_sdes",
]

#: Every key name a request, a report or an SDE uses, plus the SDE type names: junk built from
#: these reaches deep into the validator instead of failing at the first unknown key.
REAL_KEYS: tuple[str, ...] = tuple(
    sorted(
        {
            "appType",
            "appDetails",
            "consumerSections",
            "engagementAttributes",
            "vid",
            "sid",
            "pageId",
            "type",
            *APP_DETAILS.fields,
            *SDE_TYPES,
            *(s.wrapper for s in SDE_TYPES.values() if s.wrapper),
            *(name for s in SDE_TYPES.values() for name in s.payload.fields),
            *DATE_SPEC.fields,
            "product",
            "quantity",
            "name",
            "price",
            "email",
            "phoneType",
            "campaignID",
        }
    )
)

_SHORT_TEXT = st.text(max_size=12)
_ID_TEXT = st.from_regex(r"[A-Za-z0-9_.\-]{1,64}", fullmatch=True)


def _int_values(f: Field) -> st.SearchStrategy[Any]:
    low = -JS_SAFE_INT if f.minimum is None else f.minimum
    high = JS_SAFE_INT if f.maximum is None else f.maximum
    ints = st.integers(low, high)
    forms = [ints, ints.map(float)]
    if f.numeric_strings:
        forms.append(ints.map(str))
    return st.one_of(forms)


def valid_field_value(f: Field) -> st.SearchStrategy[Any]:
    """Values the validator must accept for field ``f`` (in any accepted input form)."""
    if f.kind == "string":
        if f.pattern:
            return st.from_regex(f.pattern, fullmatch=True)
        return st.text(max_size=20)
    if f.kind == "number":
        return st.integers(-(10**9), 10**9) | st.floats(allow_nan=False, allow_infinity=False)
    if f.kind == "int":
        return _int_values(f)
    if f.kind == "bool":
        return st.booleans()
    if f.kind == "enum":
        return st.sampled_from([*f.values, *f.legacy_values])
    if f.kind == "ip":
        return st.ip_addresses().map(str)
    if f.kind == "date":
        return st.dates(min_value=datetime.date(1, 1, 1)).map(
            lambda d: {"day": d.day, "month": d.month, "year": d.year}
        )
    if f.kind == "strings":
        return st.lists(_SHORT_TEXT, max_size=3)
    assert f.nested is not None
    if f.kind == "object":
        return valid_object(f.nested)
    return st.lists(valid_object(f.nested), max_size=3)


def _use_aliases(spec: ObjectSpec, value: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Sometimes rename a field to its older spelling (``campaignId`` -> ``campaignID``)."""
    renames = [(alias, name) for alias, name in spec.aliases.items() if name in value]
    if not renames:
        return st.just(value)

    def rename(flags: list[bool]) -> dict[str, Any]:
        out = dict(value)
        for (alias, name), flag in zip(renames, flags, strict=True):
            if flag:
                out[alias] = out.pop(name)
        return out

    return st.lists(st.booleans(), min_size=len(renames), max_size=len(renames)).map(rename)


def valid_object(spec: ObjectSpec) -> st.SearchStrategy[dict[str, Any]]:
    """Objects matching ``spec``: every required field, any subset of the optional ones.

    An optional field is sometimes ``None`` (meaning "not given").
    """
    required = {n: valid_field_value(f) for n, f in spec.fields.items() if f.required}
    optional = {
        n: valid_field_value(f) | st.none() for n, f in spec.fields.items() if not f.required
    }
    return st.fixed_dictionaries(required, optional=optional).flatmap(
        lambda value: _use_aliases(spec, value)
    )


def valid_sdes(*, impressions: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """One valid engagement attribute; impression events only when ``impressions`` is true."""
    choices = []
    for spec in SDE_TYPES.values():
        if spec.impression and not impressions:
            continue
        if spec.wrapper is None:
            choices.append(valid_object(spec.payload).map(lambda p, t=spec.type: {"type": t, **p}))
        else:
            choices.append(
                valid_object(spec.payload).map(
                    lambda p, t=spec.type, w=spec.wrapper: {"type": t, w: p}
                )
            )
    return st.one_of(choices)


def valid_app_details() -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``appDetails`` object."""
    return valid_object(APP_DETAILS)


def session_ids() -> st.SearchStrategy[dict[str, str]]:
    """A valid ``vid``/``sid`` combination: none, ``vid`` alone, or both."""
    return st.one_of(
        st.just({}),
        st.builds(lambda v: {"vid": v}, _ID_TEXT),
        st.builds(lambda v, s: {"vid": v, "sid": s}, _ID_TEXT, _ID_TEXT),
    )


def _json_text_sometimes(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy.map(json.dumps))


_SECTIONS = st.one_of(
    st.lists(st.text(max_size=30), max_size=6),
    st.lists(
        st.text(st.characters(exclude_characters=",", exclude_categories=("Cs",)), max_size=20),
        max_size=6,
    ).map(",".join),
)


def valid_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``getEngagement`` request objects, in every accepted input form."""
    body = st.fixed_dictionaries(
        {},
        optional={
            "appType": st.sampled_from(["EXTERNAL", None]),
            "appDetails": _json_text_sometimes(valid_app_details()) | st.none(),
            "consumerSections": _SECTIONS | st.none(),
            "engagementAttributes": _json_text_sometimes(st.lists(valid_sdes(), max_size=4))
            | st.none(),
        },
    )
    return st.builds(lambda b, ids: {**b, **ids}, body, session_ids())


def valid_report_bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Valid report bodies: one to four SDEs (impression events included) and a ``pageId``."""
    return st.fixed_dictionaries(
        {
            "engagementAttributes": _json_text_sometimes(
                st.lists(valid_sdes(impressions=True), min_size=1, max_size=4)
            ),
            "pageId": _ID_TEXT,
        },
    )


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """Arbitrary JSON-like junk; dict keys are often real key names, strings often type names."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=10),
        st.sampled_from(REAL_KEYS),
    )
    keys = st.sampled_from(REAL_KEYS) | st.text(max_size=8)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=max_leaves,
    )
