"""Event bindings in the forms of LivePerson's JS Chat SDK: a function, ``{callback, context}``,
or a list of either.

``ChatApi`` emits ``onEngagement`` (the final outcome of each check), ``onRetry``
(``{attempt, delayMs, reason}`` before each timed retry) and ``onAttempt`` (``{attempt, stage,
method, url}`` before each request). The snake_case spellings ``on_engagement`` / ``on_retry`` /
``on_attempt`` name the same events. A binding with a ``context`` is called as
``callback(context, payload)``: the context plays the role JavaScript's ``this`` plays in the SDK
(``callback.call(context, payload)``), made explicit because Python has no ``this``. Async
callbacks are awaited. A callback that raises is logged on the ``engage_web`` logger and the
other callbacks (and the check) carry on. Each callback gets its own copy of the payload, so one
callback editing it cannot change what the next one sees::

    >>> import asyncio
    >>> seen = []
    >>> events = EventBindings()
    >>> events.bind("onEngagement", [seen.append, {"callback": lambda ctx, o: ctx.append(o),
    ...                                             "context": seen}])
    >>> asyncio.run(events.emit("on_engagement", {"status": "NotAvailable"}))
    >>> seen
    [{'status': 'NotAvailable'}, {'status': 'NotAvailable'}]
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigError
from ..core.text import shown as _show

__all__ = ["EVENTS", "Binding", "EventBindings", "event_name", "parse_bindings"]

logger = logging.getLogger("engage_web")

#: The events ``ChatApi`` emits (camelCase, as in the JS SDK).
EVENTS: tuple[str, ...] = ("onEngagement", "onRetry", "onAttempt")
_NO_CONTEXT = object()


@dataclass(frozen=True, eq=False)
class Binding:
    """One callback, and the context it is called with (if any)."""

    callback: Callable[..., Any]
    context: Any = _NO_CONTEXT

    @property
    def has_context(self) -> bool:
        """True when the binding was given a ``context`` (called as ``callback(context, p)``)."""
        return self.context is not _NO_CONTEXT

    def matches(self, other: Binding) -> bool:
        """Same callback and same context (how ``unbind`` finds a binding)."""
        return _same(self.callback, other.callback) and (
            self.has_context == other.has_context
            and (not self.has_context or _same(self.context, other.context))
        )

    async def call(self, payload: Any) -> None:
        """Call the callback (awaiting it if it is async) with the payload."""
        result = (
            self.callback(self.context, payload) if self.has_context else self.callback(payload)
        )
        if inspect.isawaitable(result):
            await result


def _same(a: object, b: object) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


def event_name(event: object, allowed: Iterable[str] = EVENTS) -> str:
    """The camelCase event name for ``event`` (snake_case accepted), or ``ConfigError``.

    >>> event_name("on_retry")
    'onRetry'
    """
    allowed = tuple(allowed)
    if isinstance(event, str):
        camel = event
        if "_" in event:
            head, *rest = event.split("_")
            camel = head + "".join(part[:1].upper() + part[1:] for part in rest)
        if camel in allowed:
            return camel
    names = ", ".join(allowed)
    raise ConfigError("event", f"unknown event; allowed: {names} (or snake_case); got {event!r}")


def parse_bindings(event: str, binding: object) -> list[Binding]:
    """The bindings in ``binding``: a callable, ``{"callback": f, "context": c}``, or a list.

    >>> [b.has_context for b in parse_bindings("onRetry", [print, {"callback": print,
    ...                                                           "context": None}])]
    [False, True]
    """
    if isinstance(binding, list | tuple):
        return [b for item in binding for b in _one(event, item, nested=True)]
    return _one(event, binding, nested=False)


def _one(event: str, binding: object, *, nested: bool) -> list[Binding]:
    if isinstance(binding, Mapping):
        unknown = sorted(str(k) for k in binding if k not in ("callback", "context"))
        if unknown:
            raise ConfigError(
                event, f"a binding object has only 'callback' and 'context'; got key {unknown[0]!r}"
            )
        callback = binding.get("callback")
        if not callable(callback):
            raise ConfigError(
                event, f"a binding object needs a callable 'callback'; got {_show(callback)}"
            )
        return [Binding(callback, binding.get("context", _NO_CONTEXT))]
    if callable(binding):
        return [Binding(binding)]
    where = "each item of a binding list" if nested else "a binding"
    raise ConfigError(
        event,
        f"{where} must be a function, an object {{callback, context}} or a list of those; "
        f"got {_show(binding)}",
    )


class EventBindings:
    """The callbacks bound to each event, called in binding order.

    >>> events = EventBindings()
    >>> events.bind("onRetry", print)
    >>> events.unbind("onRetry", print)
    1
    """

    def __init__(self, events: Iterable[str] = EVENTS) -> None:
        self._events = tuple(events)
        self._bindings: dict[str, list[Binding]] = {name: [] for name in self._events}

    def bind(self, event: str, binding: object) -> None:
        """Add ``binding`` (function, ``{callback, context}`` or list) to ``event``."""
        name = event_name(event, self._events)
        self._bindings[name].extend(parse_bindings(name, binding))

    def unbind(self, event: str, binding: object = None) -> int:
        """Remove ``binding`` from ``event`` (every binding when ``None``); returns how many went.

        A binding is found by the same callback and the same context it was bound with.
        """
        name = event_name(event, self._events)
        if binding is None:
            removed = len(self._bindings[name])
            self._bindings[name] = []
            return removed
        targets = parse_bindings(name, binding)
        kept = [b for b in self._bindings[name] if not any(b.matches(t) for t in targets)]
        removed = len(self._bindings[name]) - len(kept)
        self._bindings[name] = kept
        return removed

    def bindings(self, event: str) -> tuple[Binding, ...]:
        """The bindings of ``event``, in order."""
        return tuple(self._bindings[event_name(event, self._events)])

    async def emit(self, event: str, payload: Any) -> None:
        """Call every binding of ``event`` with its own copy of ``payload``; log, never raise."""
        name = event_name(event, self._events)
        for binding in list(self._bindings[name]):
            try:
                await binding.call(copy.deepcopy(payload))
            except Exception:
                logger.exception("%s callback %r raised", name, binding.callback)
