"""Request validation: decide whether a ``getEngagement`` request (or a report body) is valid, and
normalise it. The client engine runs it before sending, the emulator on receipt: same rules, same
messages (``docs/protocol.md``, "Request validation").

Example::

    >>> from engage_web.core.validation import validate_request
    >>> validate_request({"consumerSections": " Support, English ,,Support", "vid": "v1"})
    {'appType': 'EXTERNAL', 'consumerSections': ['Support', 'English'], 'vid': 'v1'}
    >>> from engage_web.core.errors import RequestError
    >>> try:
    ...     validate_request({"appDetails": {"os": "mac_osx"}})
    ... except RequestError as exc:
    ...     print(exc.status, exc.field, exc.message)
    400 appDetails.os not a supported value; allowed: WINDOWS, MAC_OSX, LINUX, IOS, ANDROID; \
got 'mac_osx'; did you mean 'MAC_OSX'?

Theory of operation. The validator walks the input along the catalogue (``core/sde.py``), never
along the input, so its depth is bounded by the catalogue's (a few levels) however deep the junk
it is given; values are only ever rendered through ``_show``, which is depth- and length-bounded
and never calls a foreign ``__repr__``. Every problem is collected (not just the first) as a
``FieldError`` whose ``field`` is the dotted path with list indices
(``engagementAttributes[0].personal.contacts[1].email``) and whose message reads
``<what is wrong>; allowed: <values>; got <what was received>[; did you mean '<x>'?]``. Session
problems (``vid``/``sid``) carry status 401 and come first; ``RequestError`` then reports 401.

Normalisation (the output is always a fresh dict of plain JSON values, and normalising twice
changes nothing):

- ``appType`` is always present (default ``"EXTERNAL"``); other keys only when given.
- A ``null`` (``None``; JavaScript ``undefined`` arrives as ``None`` too) for an optional key
  means "not given" and is left out; for a required key it is "missing".
- JSON-string forms (``appDetails``, ``engagementAttributes``, the whole request or report body)
  are parsed; tuples become lists.
- ``consumerSections``: a comma-delimited string is split; every section is trimmed, empty
  sections are dropped, and later duplicates are dropped (first occurrence wins, order kept): a
  section list is a set of locations, a repeated one adds nothing. At most ``MAX_SECTIONS``
  sections of at most ``MAX_SECTION_LENGTH`` characters each.
- Ints given as integral floats (``7.0``) or, where the catalogue allows, as numeric strings
  (``mrktInfo.channel``, impression ids) are normalised to ``int``: the wire then always carries
  numbers, and the emulator compares like with like.
- ``mrktInfo.campaignID`` is renamed ``campaignId``; SDE fields come out in catalogue order.
- Unknown keys are refused everywhere (top level, ``appDetails``, SDE payloads), with the closest
  known name as a hint: a typo such as ``firstName`` must not silently lose data.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any

from . import jsontext
from .errors import FieldError, RequestError
from .sde import (
    APP_DETAILS,
    APP_TYPES,
    DATE_SPEC,
    IMPRESSION_TYPES,
    JS_SAFE_INT,
    MAX_LIST_ITEMS,
    MAX_STRING_LENGTH,
    SDE_TYPES,
    Field,
    ObjectSpec,
    SdeSpec,
    nullable_json_schema,
    object_json_schema,
    sde_json_schema,
)
from .text import cut

__all__ = [
    "ACCOUNT_ID_PATTERN",
    "MAX_ATTRIBUTES",
    "MAX_JSON_TEXT",
    "MAX_SECTIONS",
    "MAX_SECTION_LENGTH",
    "REPORT_KEYS",
    "REQUEST_KEYS",
    "SESSION_ID_PATTERN",
    "UPDATE_KEYS",
    "request_json_schema",
    "update_json_schema",
    "validate_account_id",
    "validate_report",
    "validate_request",
    "validate_session_ids",
    "validate_update",
]

#: Top-level keys of a ``getEngagement`` request, in the seed's order.
REQUEST_KEYS: tuple[str, ...] = (
    "appType",
    "appDetails",
    "consumerSections",
    "engagementAttributes",
    "vid",
    "sid",
)
#: Keys of a report as a page gives it (``ChatApi.report``).
REPORT_KEYS: tuple[str, ...] = ("engagementAttributes", "pageId")
#: Keys of an update-session body on the wire (the emulator's ``PUT .../visitors/{vid}``).
UPDATE_KEYS: tuple[str, ...] = ("pageId", "impAttributes", "engagementAttributes")
#: ``vid``, ``sid`` (and a report's ``pageId``): 1-64 characters of ``A-Z a-z 0-9 _ - .``.
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: ``accountId`` in the endpoint path.
ACCOUNT_ID_PATTERN = re.compile(r"[A-Za-z0-9_]{1,20}")
#: Most SDEs in one request or report (none documented upstream; bodies are capped at 64 KiB).
MAX_ATTRIBUTES = 100
#: Most ``consumerSections`` after normalisation, and the longest section.
MAX_SECTIONS = 100
MAX_SECTION_LENGTH = 256
#: Longest JSON text accepted where a value may be given as a JSON string.
MAX_JSON_TEXT = 1_000_000

_SESSION_ID_DOC = "1 to 64 characters of A-Z a-z 0-9 _ - ."
_NUMERIC_STRING = re.compile(r"[+-]?[0-9]{1,16}")
_MISSING: Any = object()
_NOT_UNICODE = "not valid Unicode text (it holds a lone surrogate, which has no UTF-8 form)"
# Hints for top-level names people reach for that difflib would not find.
_KEY_HINTS = {
    "visitorid": "vid",
    "visitor_id": "vid",
    "sessionid": "sid",
    "session_id": "sid",
    "sections": "consumerSections",
    "sdes": "engagementAttributes",
    "attributes": "engagementAttributes",
}


# --- messages -------------------------------------------------------------------------------------


def _render(value: object, depth: int) -> str:
    """A bounded, exception-free rendering of a received value (never a foreign ``__repr__``)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        if value.bit_length() > 128:
            return f"<an integer of {value.bit_length()} bits>"
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, str):
        if len(value) <= 60:
            return str.__repr__(str(value))
        return f"{str.__repr__(str(value[:57]))}... ({len(value)} characters)"
    if isinstance(value, list | tuple):
        if depth <= 0:
            return f"[...{len(value)} items]"
        parts = [_render(item, depth - 1) for item in value[:5]]
        if len(value) > 5:
            parts.append(f"...{len(value) - 5} more")
        return "[" + ", ".join(parts) + "]"
    if isinstance(value, Mapping):
        if depth <= 0:
            return "{...}"
        try:
            items = list(value.items())
        except Exception:  # a foreign Mapping whose items() fails: say what it is
            return f"<{type(value).__name__} object>"
        parts = [f"{_render(k, 0)}: {_render(v, depth - 1)}" for k, v in items[:5]]
        if len(items) > 5:
            parts.append(f"...{len(items) - 5} more")
        return "{" + ", ".join(parts) + "}"
    return f"<{type(value).__name__} object>"


def _show(value: object) -> str:
    """What was received, for a message: ``'mac'``, ``12``, ``[1, 2]``, or ``nothing``."""
    if value is _MISSING:
        return "nothing"
    return cut(_render(value, 2), 120)


def _suggest(word: object, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The closest candidate to ``word`` (case and ``_``/``-`` ignored first, then difflib)."""
    if not isinstance(word, str) or not candidates:
        return None
    word = word[:100]

    def squash(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "").replace(" ", "")

    for cand in candidates:
        if squash(cand) == squash(word) and cand != word:
            return cand
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _message(what: str, allowed: str, value: object, hint: str | None = None) -> str:
    text = f"{what}; allowed: {allowed}; got {_show(value)}"
    return text if hint is None else f"{text}; did you mean {hint!r}?"


def _join(path: str, key: object) -> str:
    """``path.key``; a key that is not a short, valid string is shown bounded, as in messages."""
    short = isinstance(key, str) and len(key) <= 60 and _is_unicode(key)
    name = key if short else _show(key)
    return f"{path}.{name}" if path else name


def _is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate: it has no UTF-8 form, so it is not text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Collector:
    """Collects FieldErrors for one validation run."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(
        self, path: str, what: str, allowed: str, value: object, hint: str | None = None
    ) -> None:
        self.errors.append(FieldError(path, _message(what, allowed, value, hint)))

    def unknown_key(
        self, path: str, key: object, known: list[str], hint: str | None = None
    ) -> None:
        hint = hint or _suggest(key, known)
        self.add(_join(path, key), "unknown key", ", ".join(known), key, hint)


# --- JSON-string forms ----------------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_json(text: str, path: str, want: type, out: _Collector, allowed: str) -> object:
    """Parse a JSON-string form; returns the value or ``_MISSING`` after recording a problem."""
    noun = "an object" if want is dict else "a list"
    if len(text) > MAX_JSON_TEXT:
        out.add(path, f"JSON text too long (over {MAX_JSON_TEXT} characters)", allowed, text)
        return _MISSING
    try:
        value = jsontext.loads(text, max_chars=MAX_JSON_TEXT, parse_constant=_reject_constant)
    except (RecursionError, jsontext.JsonBoundsError) as exc:
        why = str(exc) if isinstance(exc, jsontext.JsonBoundsError) else "nested too deeply"
        out.add(path, f"JSON text {why}", allowed, text)
        return _MISSING
    except ValueError as exc:
        out.add(path, f"not valid JSON ({exc})", allowed, text)
        return _MISSING
    if not isinstance(value, want):
        out.add(path, f"JSON text does not hold {noun}", allowed, value)
        return _MISSING
    return value


# --- fields ---------------------------------------------------------------------------------------


def _is_list(value: object) -> bool:
    return isinstance(value, list | tuple)


_STRING = Field("string")
_DATE = Field("date")


def _describe(allowed: str | Field | ObjectSpec) -> str:
    """The ``allowed:`` text, worked out only when a problem is reported."""
    if isinstance(allowed, str):
        return allowed
    if isinstance(allowed, Field):
        return allowed.describe()
    return f"an object with keys {', '.join(allowed.fields)}"


def _check_int(value: object, spec: Field, path: str, out: _Collector) -> object:
    low = -JS_SAFE_INT if spec.minimum is None else spec.minimum
    high = JS_SAFE_INT if spec.maximum is None else spec.maximum
    number: int
    if isinstance(value, bool):
        out.add(path, "must be an integer, not a boolean", spec.describe(), value)
        return _MISSING
    if isinstance(value, int):
        number = int(value)
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        if abs(value) > JS_SAFE_INT:
            out.add(path, "integer out of range", spec.describe(), value)
            return _MISSING
        number = int(value)
    elif isinstance(value, str) and spec.numeric_strings and _NUMERIC_STRING.fullmatch(value):
        number = int(value)
    else:
        what = "must be an integer" + (" or a numeric string" if spec.numeric_strings else "")
        out.add(path, what, spec.describe(), value)
        return _MISSING
    if not low <= number <= high:
        out.add(path, "integer out of range", spec.describe(), value)
        return _MISSING
    return number


def _check_field(value: object, spec: Field, path: str, out: _Collector) -> object:
    """The normalised value of one field, or ``_MISSING`` after recording its problems."""
    kind = spec.kind
    if kind == "string":
        if not isinstance(value, str):
            out.add(path, "must be a string", spec.describe(), value)
        elif len(value) > MAX_STRING_LENGTH:
            out.add(path, f"string too long ({len(value)} characters)", spec.describe(), value)
        elif not _is_unicode(value):
            out.add(path, _NOT_UNICODE, spec.describe(), value)
        elif spec.pattern and not re.fullmatch(spec.pattern, value):
            out.add(path, "not in the expected format", spec.describe(), value)
        else:
            return str(value)
        return _MISSING
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.add(path, "must be a number", spec.describe(), value)
        elif isinstance(value, float) and not math.isfinite(value):
            out.add(path, "must be a finite number", spec.describe(), value)
        elif isinstance(value, int) and value.bit_length() > 1000:
            out.add(path, "number too large", spec.describe(), value)
        else:
            return int(value) if isinstance(value, int) else float(value)
        return _MISSING
    if kind == "int":
        return _check_int(value, spec, path, out)
    if kind == "bool":
        if isinstance(value, bool):
            return bool(value)
        out.add(path, "must be a boolean", spec.describe(), value)
        return _MISSING
    if kind == "enum":
        if isinstance(value, str) and value in spec.values:
            return str(value)
        if type(value) is int and value in spec.legacy_values:
            return value
        out.add(path, "not a supported value", spec.describe(), value, _suggest(value, spec.values))
        return _MISSING
    if kind == "ip":
        if isinstance(value, str) and len(value) <= 100 and "%" not in value:  # no IPv6 zone
            try:
                ipaddress.ip_address(value)
            except ValueError:
                pass
            else:
                return str(value)
        out.add(path, "not a valid IP address", spec.describe(), value)
        return _MISSING
    if kind == "date":
        return _check_date(value, path, out)
    if kind == "strings":
        if not _is_list(value):
            out.add(path, "must be a list of strings", spec.describe(), value)
            return _MISSING
        assert isinstance(value, list | tuple)
        if len(value) > MAX_LIST_ITEMS:
            out.add(path, f"too many items ({len(value)})", spec.describe(), value)
            return _MISSING
        items = [_check_field(v, _STRING, f"{path}[{i}]", out) for i, v in enumerate(value)]
        return _MISSING if _MISSING in items else items
    assert spec.nested is not None
    if kind == "object":
        return _check_object(value, spec.nested, path, out, spec)
    if not _is_list(value):
        out.add(path, "must be a list of objects", spec.describe(), value)
        return _MISSING
    assert isinstance(value, list | tuple)
    if len(value) > MAX_LIST_ITEMS:
        out.add(path, f"too many items ({len(value)})", spec.describe(), value)
        return _MISSING
    results = [
        _check_object(v, spec.nested, f"{path}[{i}]", out, spec.nested) for i, v in enumerate(value)
    ]
    return _MISSING if _MISSING in results else results


def _check_date(value: object, path: str, out: _Collector) -> object:
    result = _check_object(value, DATE_SPEC, path, out, _DATE)
    if isinstance(result, dict) and len(result) == 3:
        try:
            datetime.date(result["year"], result["month"], result["day"])
        except ValueError:
            out.add(path, "not a real calendar date", _DATE.describe(), value)
            return _MISSING
    return result


def _check_object(
    value: object,
    spec: ObjectSpec,
    path: str,
    out: _Collector,
    allowed: str | Field | ObjectSpec,
    *,
    skip: tuple[str, ...] = (),
) -> object:
    """Check an object against ``spec``; returns the normalised dict or ``_MISSING``.

    ``skip`` names keys the caller checks itself (an SDE's ``type``).
    """
    if not isinstance(value, Mapping):
        out.add(path, "must be an object", _describe(allowed), value)
        return _MISSING
    before = len(out.errors)
    known = [*skip, *spec.fields]
    found: dict[str, object] = {}
    for key, raw in value.items():
        if isinstance(key, str) and key in skip:
            continue
        if isinstance(key, str) and key in spec.fields:
            name = key
        elif isinstance(key, str) and key in spec.aliases:
            name = spec.aliases[key]
            if value.get(name) is not None and raw is not None:
                out.add(
                    _join(path, key),
                    f"given twice, as {key!r} and {name!r}",
                    f"one of {key!r} (older spelling) or {name!r}",
                    raw,
                )
                continue
        else:
            out.unknown_key(path, key, known, _suggest(key, known))
            continue
        if raw is None:
            continue
        result = _check_field(raw, spec.fields[name], _join(path, name), out)
        if result is not _MISSING:
            found[name] = result
    for name in spec.required:
        present = value.get(name) is not None or any(
            value.get(alias) is not None for alias, target in spec.aliases.items() if target == name
        )
        if not present:
            out.add(
                _join(path, name), "required field missing", spec.fields[name].describe(), _MISSING
            )
    if len(out.errors) > before:
        return _MISSING
    return {name: found[name] for name in spec.fields if name in found}


# --- SDEs -----------------------------------------------------------------------------------------


#: Which SDE types a list may hold: every type (a report as the page gives it), no impression
#: events (a check's, or an update's ``engagementAttributes``), impression events only (an
#: update's ``impAttributes``).
_ANY, _CHECK_SDES, _UPDATE_SDES, _ONLY_IMPRESSIONS = "any", "check", "update", "impression"


def _allowed_types(kinds: str) -> tuple[str, ...]:
    if kinds == _ONLY_IMPRESSIONS:
        return tuple(t for t in SDE_TYPES if t in IMPRESSION_TYPES)
    return tuple(t for t in SDE_TYPES if kinds == _ANY or t not in IMPRESSION_TYPES)


def _check_sde(value: object, path: str, out: _Collector, kinds: str) -> object:
    types = _allowed_types(kinds)
    type_list = ", ".join(types)
    if not isinstance(value, Mapping):
        out.add(
            path,
            "an engagement attribute must be an object",
            f"an object whose type is one of {type_list}",
            value,
        )
        return _MISSING
    sde_type = value.get("type")
    type_path = _join(path, "type")
    if sde_type is None:
        out.add(type_path, "required field missing", type_list, _MISSING)
        return _MISSING
    if not isinstance(sde_type, str) or sde_type not in SDE_TYPES:
        out.add(
            type_path,
            "unknown engagement attribute type",
            type_list,
            sde_type,
            _suggest(sde_type, types),
        )
        return _MISSING
    if sde_type not in types:
        if kinds == _ONLY_IMPRESSIONS:
            problem = (
                "only impression events go in impAttributes; other SDEs go in engagementAttributes"
            )
        elif kinds == _UPDATE_SDES:
            problem = "impression events go in impAttributes, not in engagementAttributes"
        else:
            problem = (
                "impression events are not part of an engagement check: send them with "
                "report() (an update of the session the engagement was offered in)"
            )
        out.add(type_path, problem, type_list, sde_type)
        return _MISSING
    spec: SdeSpec = SDE_TYPES[sde_type]
    if spec.wrapper is None:
        allowed = f"an object with keys type, {', '.join(spec.payload.fields)}"
        payload = _check_object(value, spec.payload, path, out, allowed, skip=("type",))
        if not isinstance(payload, dict):
            return _MISSING
        return {"type": sde_type, **payload}
    wrapper = spec.wrapper
    payload_allowed = f"an object with keys {', '.join(spec.payload.fields)}"
    ok = True
    for key in value:
        if key in ("type", wrapper):
            continue
        ok = False
        if isinstance(key, str) and key in spec.payload.fields:
            out.add(
                _join(path, key),
                f"a {sde_type!r} attribute keeps its fields under {wrapper!r}",
                f"type, {wrapper}",
                key,
                f"{wrapper}.{key}",
            )
        else:
            out.unknown_key(path, key, ["type", wrapper])
    inner = value.get(wrapper)
    if inner is None:
        out.add(_join(path, wrapper), "required field missing", payload_allowed, _MISSING)
        return _MISSING
    payload = _check_object(inner, spec.payload, _join(path, wrapper), out, payload_allowed)
    if payload is _MISSING or not ok:
        return _MISSING
    return {"type": sde_type, wrapper: payload}


def _check_attributes(
    value: object, path: str, out: _Collector, *, kinds: str, required: bool
) -> object:
    allowed = (
        f"a list (or a JSON string holding a list) of at most {MAX_ATTRIBUTES} objects whose "
        f"type is one of {', '.join(_allowed_types(kinds))}"
    )
    if isinstance(value, str):
        value = _parse_json(value, path, list, out, allowed)
        if value is _MISSING:
            return _MISSING
    if not _is_list(value):
        out.add(path, "must be a list of engagement attributes", allowed, value)
        return _MISSING
    assert isinstance(value, list | tuple)
    if len(value) > MAX_ATTRIBUTES:
        out.add(path, f"too many engagement attributes ({len(value)})", allowed, value)
        return _MISSING
    if required and not value:
        out.add(path, "must hold at least one engagement attribute", allowed, value)
        return _MISSING
    results = [_check_sde(v, f"{path}[{i}]", out, kinds) for i, v in enumerate(value)]
    return _MISSING if _MISSING in results else results


# --- top level ------------------------------------------------------------------------------------


def _check_sections(value: object, out: _Collector) -> object:
    path = "consumerSections"
    allowed = (
        f"a list of strings or one comma-delimited string; at most {MAX_SECTIONS} sections of at "
        f"most {MAX_SECTION_LENGTH} characters"
    )
    if isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            out.add(path, "string too long", allowed, value)
            return _MISSING
        raw: list[object] = list(value.split(","))
        paths = [path] * len(raw)
    elif _is_list(value):
        assert isinstance(value, list | tuple)
        if len(value) > MAX_SECTIONS * 10:
            out.add(path, f"too many sections ({len(value)})", allowed, value)
            return _MISSING
        raw = list(value)
        paths = [f"{path}[{i}]" for i in range(len(raw))]
    else:
        out.add(path, "must be a list of strings or a comma-delimited string", allowed, value)
        return _MISSING
    sections: list[str] = []
    ok = True
    for item, item_path in zip(raw, paths, strict=True):
        if not isinstance(item, str):
            out.add(item_path, "a section must be a string", allowed, item)
            ok = False
            continue
        section = str(item).strip()
        if len(section) > MAX_SECTION_LENGTH:
            out.add(item_path, f"section too long ({len(section)} characters)", allowed, item)
            ok = False
        elif not _is_unicode(section):
            out.add(item_path, _NOT_UNICODE, allowed, item)
            ok = False
        elif section and section not in sections:
            sections.append(section)
    if ok and len(sections) > MAX_SECTIONS:
        out.add(path, f"too many sections ({len(sections)})", allowed, value)
        ok = False
    return sections if ok else _MISSING


def _as_object(value: object, what: str, allowed: str) -> Mapping[Any, Any]:
    """The input as a mapping (parsing a JSON-object string), or raise RequestError("request")."""
    out = _Collector()
    if isinstance(value, str):
        value = _parse_json(value, "request", dict, out, allowed)
    elif not isinstance(value, Mapping):
        out.add("request", f"{what} must be an object", allowed, value)
    if out.errors:
        raise RequestError(out.errors)
    assert isinstance(value, Mapping)
    return value


def validate_session_ids(vid: object, sid: object) -> list[FieldError]:
    """Problems with a visitor/session id pair (status 401 each); empty when fine.

    Both are optional (``None``); each is 1-64 characters of ``A-Z a-z 0-9 _ - .``; a ``sid``
    needs a ``vid`` (a session belongs to a visitor).

    Example::

        >>> validate_session_ids("v1", "s1")
        []
        >>> [(e.field, e.status) for e in validate_session_ids(None, "s1")]
        [('sid', 401)]
    """
    errors: list[FieldError] = []
    for name, value in (("vid", vid), ("sid", sid)):
        if value is None:
            continue
        if not isinstance(value, str) or not SESSION_ID_PATTERN.fullmatch(value):
            message = _message(f"malformed {name}", _SESSION_ID_DOC, value)
            errors.append(FieldError(name, message, 401))
    if sid is not None and vid is None:
        message = _message(
            "sid given without vid (a session belongs to a visitor)",
            "no ids, vid alone, or vid with sid",
            sid,
        )
        errors.append(FieldError("sid", message, 401))
    return errors


def validate_account_id(account_id: object) -> str:
    """The account id, checked against ``^[A-Za-z0-9_]{1,20}$``; raises RequestError (400).

    Example::

        >>> validate_account_id("le12345678")
        'le12345678'
    """
    if isinstance(account_id, str) and ACCOUNT_ID_PATTERN.fullmatch(account_id):
        return str(account_id)
    message = _message("malformed accountId", "1 to 20 characters of A-Z a-z 0-9 _", account_id)
    raise RequestError([FieldError("accountId", message)])


def validate_request(params: object) -> dict[str, Any]:
    """The normalised ``getEngagement`` request, or RequestError listing every problem.

    ``None`` is an empty request. A string must hold a JSON object. See the module docstring for
    the normalisation rules; the result is a fresh dict of JSON values.

    Example::

        >>> validate_request(None)
        {'appType': 'EXTERNAL'}
        >>> validate_request({"appDetails": '{"deviceFamily": "MOBILE"}'})
        {'appType': 'EXTERNAL', 'appDetails': {'deviceFamily': 'MOBILE'}}
    """
    if params is None:
        return {"appType": APP_TYPES[0]}
    request = _as_object(
        params,
        "the request",
        f"an object (or a string holding a JSON object) with keys {', '.join(REQUEST_KEYS)}; "
        "or null",
    )
    out = _Collector()
    vid, sid = request.get("vid"), request.get("sid")
    out.errors.extend(validate_session_ids(vid, sid))
    known = list(REQUEST_KEYS)
    for key in request:
        if not (isinstance(key, str) and key in REQUEST_KEYS):
            hint = _KEY_HINTS.get(key.lower()) if isinstance(key, str) else None
            out.unknown_key("", key, known, hint)

    result: dict[str, Any] = {"appType": APP_TYPES[0]}
    app_type = request.get("appType")
    if app_type is not None:
        if isinstance(app_type, str) and app_type in APP_TYPES:
            result["appType"] = str(app_type)
        else:
            hint = _suggest(app_type, APP_TYPES)
            out.add("appType", "not a supported appType", ", ".join(APP_TYPES), app_type, hint)

    details = request.get("appDetails")
    if details is not None:
        allowed = (
            f"an object (or a JSON string holding one) with keys {', '.join(APP_DETAILS.fields)}"
        )
        if isinstance(details, str):
            details = _parse_json(details, "appDetails", dict, out, allowed)
        if details is not _MISSING:
            checked = _check_object(details, APP_DETAILS, "appDetails", out, allowed)
            if checked is not _MISSING:
                result["appDetails"] = checked

    sections = request.get("consumerSections")
    if sections is not None:
        checked = _check_sections(sections, out)
        if checked is not _MISSING:
            result["consumerSections"] = checked

    attributes = request.get("engagementAttributes")
    if attributes is not None:
        checked = _check_attributes(
            attributes, "engagementAttributes", out, kinds=_CHECK_SDES, required=False
        )
        if checked is not _MISSING:
            result["engagementAttributes"] = checked

    if out.errors:
        raise RequestError(out.errors)
    if vid is not None:
        result["vid"] = str(vid)
    if sid is not None:
        result["sid"] = str(sid)
    return result


def _check_page_id(page_id: object, out: _Collector, *, required: bool) -> str | None:
    if page_id is None:
        if required:
            out.add(
                "pageId",
                "required field missing: a report belongs to the page of an engagement answer "
                "(its pageId); run getEngagement first or pass the pageId",
                _SESSION_ID_DOC,
                _MISSING,
            )
        return None
    if isinstance(page_id, str) and SESSION_ID_PATTERN.fullmatch(page_id):
        return str(page_id)
    out.add("pageId", "malformed pageId", _SESSION_ID_DOC, page_id)
    return None


def validate_report(body: object) -> dict[str, Any]:
    """A report as a page gives it: ``{"engagementAttributes": [...], "pageId": ...}``, normalised,
    or RequestError listing every problem.

    ``engagementAttributes`` is required and non-empty (a list or a JSON string holding one) and
    may mix impression events and other SDEs: the wire splits them
    (``engage_web.core.wire.update_session_body``). ``pageId`` is required: the ``pageId`` of the
    engagement answer the report belongs to (1-64 characters of ``A-Z a-z 0-9 _ - .``).

    Example::

        >>> imp = {"type": "impDisplay", "campaign": "3346848610", "engId": 35629, "revision": 44}
        >>> validate_report({"engagementAttributes": [imp], "pageId": "4743822558"})["pageId"]
        '4743822558'
    """
    out = _Collector()
    report = (
        {}
        if body is None
        else _as_object(
            body,
            "the report body",
            f"an object (or a string holding a JSON object) with keys {', '.join(REPORT_KEYS)}",
        )
    )
    for key in report:
        if not (isinstance(key, str) and key in REPORT_KEYS):
            out.unknown_key("", key, list(REPORT_KEYS))
    result: dict[str, Any] = {}
    attributes = report.get("engagementAttributes")
    if attributes is None:
        out.add(
            "engagementAttributes",
            "required field missing",
            f"a non-empty list of engagement attributes (types {', '.join(SDE_TYPES)})",
            _MISSING,
        )
    else:
        checked = _check_attributes(
            attributes, "engagementAttributes", out, kinds=_ANY, required=True
        )
        if checked is not _MISSING:
            result["engagementAttributes"] = checked
    page_id = _check_page_id(report.get("pageId"), out, required=True)
    if out.errors:
        raise RequestError(out.errors)
    result["pageId"] = page_id
    return result


def validate_update(body: object) -> dict[str, Any]:
    """An update-session body as it travels (``PUT .../visitors/{vid}``), normalised, or
    RequestError: ``pageId`` required, ``impAttributes`` impression events only,
    ``engagementAttributes`` no impression events; both lists optional (an empty update is
    allowed, as LivePerson documents no minimum).

    Example::

        >>> body = {"pageId": "4743822558", "impAttributes": [{"type": "impClose",
        ...         "campaign": 3115242510, "engId": 3115242810, "revision": 537}]}
        >>> update = validate_update(body)
        >>> update["impAttributes"][0]["type"], update["engagementAttributes"]
        ('impClose', [])
    """
    out = _Collector()
    update = _as_object(
        body,
        "the update body",
        f"an object (or a string holding a JSON object) with keys {', '.join(UPDATE_KEYS)}",
    )
    for key in update:
        if not (isinstance(key, str) and key in UPDATE_KEYS):
            out.unknown_key("", key, list(UPDATE_KEYS))
    result: dict[str, Any] = {"impAttributes": [], "engagementAttributes": []}
    lists = (("impAttributes", _ONLY_IMPRESSIONS), ("engagementAttributes", _UPDATE_SDES))
    for name, kinds in lists:
        value = update.get(name)
        if value is None:
            continue
        checked = _check_attributes(value, name, out, kinds=kinds, required=False)
        if checked is not _MISSING:
            result[name] = checked
    page_id = _check_page_id(update.get("pageId"), out, required=True)
    if out.errors:
        raise RequestError(out.errors)
    return {"pageId": page_id, **result}


# --- JSON Schema of what the validators accept (for the emulator's OpenAPI document) --------------


def _json_text_or(schema: dict[str, Any], holds: str) -> dict[str, Any]:
    text = {"type": "string", "contentMediaType": "application/json", "description": holds}
    return {"anyOf": [schema, text]}


def _attributes_schema(kinds: str, *, min_items: int) -> dict[str, Any]:
    items = sde_json_schema(_allowed_types(kinds))
    schema = {"type": "array", "minItems": min_items, "maxItems": MAX_ATTRIBUTES, "items": items}
    return _json_text_or(schema, "a JSON list of engagement attributes")


def _id_schema() -> dict[str, Any]:
    return {"type": "string", "pattern": f"^{SESSION_ID_PATTERN.pattern}$"}


def request_json_schema() -> dict[str, Any]:
    """JSON Schema (OpenAPI 3.1 style) of the request objects ``validate_request`` accepts.

    It states the shapes; rules a schema cannot say (duplicate sections dropped, ``sid`` needs
    ``vid``, real calendar dates, 401 for session problems) live in the validator only.

    Example::

        >>> schema = request_json_schema()
        >>> schema["properties"]["appType"]["enum"], schema["additionalProperties"]
        (['EXTERNAL', None], False)
    """
    sections = {
        "type": "array",
        "maxItems": MAX_SECTIONS,
        "items": {"type": "string", "maxLength": MAX_SECTION_LENGTH},
    }
    properties = {
        "appType": {"enum": list(APP_TYPES), "default": APP_TYPES[0]},
        "appDetails": _json_text_or(object_json_schema(APP_DETAILS), "a JSON object"),
        "consumerSections": {
            "anyOf": [
                sections,
                {
                    "type": "string",
                    "maxLength": MAX_STRING_LENGTH,
                    "description": "comma-delimited sections",
                },
            ]
        },
        "engagementAttributes": _attributes_schema(_CHECK_SDES, min_items=0),
        "vid": _id_schema(),
        "sid": _id_schema(),
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: nullable_json_schema(s) for name, s in properties.items()},
    }


def update_json_schema() -> dict[str, Any]:
    """JSON Schema of the update-session bodies ``validate_update`` accepts.

    Example::

        >>> update_json_schema()["required"]
        ['pageId']
    """
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["pageId"],
        "properties": {
            "pageId": _id_schema(),
            "impAttributes": nullable_json_schema(
                _attributes_schema(_ONLY_IMPRESSIONS, min_items=0)
            ),
            "engagementAttributes": nullable_json_schema(
                _attributes_schema(_UPDATE_SDES, min_items=0)
            ),
        },
    }
