"""The small text helpers every module's messages share: values shown short, names converted.

A message names what it received, cut so that a pasted megabyte stays out of it; the page's
camelCase names and the engine's snake_case ones convert both ways::

    >>> shown("x" * 100)[-6:], shown([1, True], as_json=True), shown("é" * 300, 10, count=True)
    ('xxx...', '[1, true]', "'ééééééééé... (302 characters)")
    >>> snake("attemptTimeoutMs"), camel("max_retries")
    ('attempt_timeout_ms', 'maxRetries')
"""

from __future__ import annotations

import json
import re

__all__ = ["camel", "cut", "shown", "snake"]

_UPPER = re.compile(r"(?<=[a-z0-9])([A-Z])")


def cut(text: str, limit: int = 60, *, count: bool = False) -> str:
    """``text``, cut to ``limit`` characters with ``...`` (and the full length when ``count``)."""
    if len(text) <= limit:
        return text
    if count:
        return f"{text[:limit]}... ({len(text)} characters)"
    return text[: max(0, limit - 3)] + "..."


def shown(value: object, limit: int = 60, *, as_json: bool = False, count: bool = False) -> str:
    """``value`` as a message shows it: its ``repr``, or (``as_json``) its JSON text for what is
    not a string, as the page would write it (``true``, ``null``), cut by :func:`cut`."""
    text = None
    if as_json and not isinstance(value, str):
        try:
            text = json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            text = None
    return cut(repr(value) if text is None else text, limit, count=count)


def snake(name: str) -> str:
    """A camelCase name in snake_case (``retryAfterMax`` -> ``retry_after_max``)."""
    return _UPPER.sub(lambda m: "_" + m.group(1).lower(), name)


def camel(name: str) -> str:
    """A snake_case name in camelCase (``retry_after_max`` -> ``retryAfterMax``)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
