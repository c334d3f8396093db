"""JSON text read within bounds: size, nesting depth and number length, checked before parsing.

Whatever the engine parses comes from somewhere it does not control: a server's answer, a message
from the page, a file given to the command line. In Pyodide, ``json.loads`` on an answer nested a
few thousand levels deep does not raise ``RecursionError`` as it does in CPython: it overflows the
WebAssembly stack, which is a fatal error that leaves the interpreter unusable. So the depth is
measured first, by a scan that visits only the structural characters and never recurses, and the
text is parsed only when it is within :data:`MAX_DEPTH` and :data:`MAX_CHARS`::

    >>> loads('{"a": [1, 2, {"b": null}]}')
    {'a': [1, 2, {'b': None}]}
    >>> loads("[" * 10_000 + "]" * 10_000)
    Traceback (most recent call last):
    ...
    engage_web.core.jsontext.JsonBoundsError: nested deeper than 64 levels
    >>> loads("1" * 5000)
    Traceback (most recent call last):
    ...
    engage_web.core.jsontext.JsonBoundsError: a number longer than 400 digits

Everything the protocol carries nests a few levels deep (an SDE five at most) and is far smaller
than the bounds, so a value refused here was never a valid answer or request.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_NUMBER_DIGITS",
    "JsonBoundsError",
    "depth_within",
    "loads",
]

#: The longest JSON text parsed (characters): an answer or a message is a few kilobytes.
MAX_CHARS = 1_000_000
#: The deepest nesting of arrays and objects parsed.
MAX_DEPTH = 64
#: The longest run of digits in a number (``int()`` refuses 4,300 and spends time before that).
MAX_NUMBER_DIGITS = 400

_STRUCTURE = re.compile(r'[\[\]{}"\\]')
_LONG_NUMBER = re.compile(f"[0-9]{{{MAX_NUMBER_DIGITS + 1}}}")


class JsonBoundsError(ValueError):
    """JSON text past one of the bounds; the message says which."""


def depth_within(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when arrays and objects in ``text`` nest at most ``limit`` deep (brackets inside
    strings do not count). Linear, iterative, and cheap: it visits structural characters only.

    >>> depth_within('[[["]]]]]]"]]]', 3), depth_within("[[[[]]]]", 3)
    (True, False)
    """
    depth = 0
    in_string = False
    skip_to = -1
    for match in _STRUCTURE.finditer(text):
        at = match.start()
        if at < skip_to:
            continue
        char = match.group()
        if in_string:
            if char == "\\":
                skip_to = at + 2  # the escaped character is not structure
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


def loads(
    text: str, *, max_chars: int = MAX_CHARS, max_depth: int = MAX_DEPTH, **options: Any
) -> Any:
    """``json.loads(text, **options)`` once ``text`` is known to be within the bounds.

    Raises :class:`JsonBoundsError` past a bound and ``json.JSONDecodeError`` (also a
    ``ValueError``) for text that is not JSON.
    """
    if len(text) > max_chars:
        raise JsonBoundsError(f"longer than {max_chars} characters ({len(text)})")
    if not depth_within(text, max_depth):
        raise JsonBoundsError(f"nested deeper than {max_depth} levels")
    if _LONG_NUMBER.search(text) and _has_long_number(text):
        raise JsonBoundsError(f"a number longer than {MAX_NUMBER_DIGITS} digits")
    return json.loads(text, **options)


def _has_long_number(text: str) -> bool:
    """A long digit run outside strings (inside one, it is just text)."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    return _LONG_NUMBER.search(outside) is not None
