"""Injected faults: make the next public requests fail the way real networks and servers do.

``POST /_emulator/faults`` queues a :class:`Fault`; each public request (``/api/...``) takes one
use from the oldest queued fault that applies to it until its ``count`` is spent. ``route``
narrows a fault to one public route: ``"check"`` (create session), ``"update"`` (update
session, ``PUT`` or ``POST`` with the method override) or ``"domain"`` (the Domain API look-up);
without it a fault applies to any public request. Kinds:

- ``status``: answer that HTTP status with the documented JSON error body; 429 and 503 always
  carry ``Retry-After`` (``retryAfter`` seconds, default 1), other statuses only when given.
- ``mode: "drop"``: the connection is closed without a complete HTTP answer (headers promise a
  body that never comes), so a client sees a network error, not a status.
- ``mode: "malformed"``: 200 ``application/json`` with broken JSON.
- ``mode: "html"``: 200 ``text/html`` error page (a proxy's or captive portal's).
- ``mode: "wrong-type"``: the real answer (JSON text, real status) labelled ``text/plain``.
- ``delayMs`` alone: answer normally, after the delay. With a status or mode: delay, then fail.

Parsing is strict (clear 400s naming the field)::

    >>> parse_fault({"count": 2, "status": 503, "retryAfter": 1, "route": "domain"})
    Fault(count=2, status=503, retry_after=1, delay_ms=0, mode=None, route='domain')
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from engage_web.core.text import cut
from engage_web.cpython.emulator import limits

from .errors import ApiError

__all__ = ["MODES", "ROUTES", "Fault", "FaultQueue", "parse_fault"]

MODES = ("drop", "malformed", "html", "wrong-type")
#: The public routes a fault may be narrowed to.
ROUTES = ("check", "update", "domain")
FAULT_KEYS = ("count", "status", "retryAfter", "delayMs", "mode", "route")
MAX_COUNT = 1000
MAX_DELAY_MS = 60_000
MAX_RETRY_AFTER = 86_400


@dataclass(frozen=True, slots=True)
class Fault:
    """One queued fault and how many more requests it applies to."""

    count: int = 1
    status: int | None = None
    retry_after: int | None = None
    delay_ms: int = 0
    mode: str | None = None
    route: str | None = None

    def applies_to(self, route: str | None) -> bool:
        """True for a request on ``route`` (None: a public path that is no route)."""
        return self.route is None or self.route == route

    def to_dict(self) -> dict[str, object]:
        """The camelCase JSON form (as posted to the control route)."""
        return {
            "count": self.count,
            "status": self.status,
            "retryAfter": self.retry_after,
            "delayMs": self.delay_ms,
            "mode": self.mode,
            "route": self.route,
        }


def _shown(value: object) -> str:
    scalar = isinstance(value, str | int | float | bool | None)
    return cut(repr(value) if scalar else type(value).__name__)


def _int(body: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(
            400, f"{key} must be an integer from {low} to {high}; got {_shown(value)}", field=key
        )
    return value


def parse_fault(body: object) -> Fault:
    """Validate a ``POST /_emulator/faults`` body; ApiError 400 naming the field otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object; got {type(body).__name__}")
    for key in body:
        if key not in FAULT_KEYS:
            raise ApiError(
                400,
                f"unknown key {_shown(key)}; allowed: {', '.join(FAULT_KEYS)}",
                field=key if len(key) <= 60 else None,
            )
    count = _int(body, "count", 1, MAX_COUNT)
    status = _int(body, "status", 400, 599)
    retry_after = _int(body, "retryAfter", 0, MAX_RETRY_AFTER)
    delay_ms = _int(body, "delayMs", 0, MAX_DELAY_MS)
    mode = body.get("mode")
    if mode is not None and mode not in MODES:
        raise ApiError(
            400, f"mode must be one of {', '.join(MODES)}; got {_shown(mode)}", field="mode"
        )
    route = body.get("route")
    if route is not None and route not in ROUTES:
        raise ApiError(
            400,
            f"route must be one of {', '.join(ROUTES)} (or absent: any public route); "
            f"got {_shown(route)}",
            field="route",
        )
    if status is not None and mode is not None:
        raise ApiError(400, "give either status or mode, not both", field="mode")
    if status is None and mode is None and not delay_ms:
        raise ApiError(400, "a fault needs a status, a mode or a delayMs", field="status")
    if retry_after is not None and status is None:
        raise ApiError(400, "retryAfter goes with a status (429, 503, ...)", field="retryAfter")
    if status in (429, 503) and retry_after is None:
        retry_after = 1
    return Fault(
        count=count or 1,
        status=status,
        retry_after=retry_after,
        delay_ms=delay_ms or 0,
        mode=mode,
        route=route,
    )


class FaultQueue:
    """Faults waiting to hit public requests, oldest first (at most ``MAX_PENDING_FAULTS``)."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind the ones already waiting; ApiError 400 when the queue is full."""
        if len(self._queue) >= limits.MAX_PENDING_FAULTS:
            raise ApiError(
                400,
                f"{len(self._queue)} faults are already waiting (at most "
                f"{limits.MAX_PENDING_FAULTS}); use count, or DELETE /_emulator/faults",
            )
        self._queue.append(fault)

    def take(self, route: str | None = None) -> Fault | None:
        """Use the oldest fault that applies to a request on ``route`` once; None when no
        queued fault applies."""
        for index, fault in enumerate(self._queue):
            if not fault.applies_to(route):
                continue
            if fault.count > 1:
                self._queue[index] = replace(fault, count=fault.count - 1)
            else:
                del self._queue[index]
            return replace(fault, count=1)
        return None

    def clear(self) -> None:
        """Drop every queued fault."""
        self._queue.clear()

    def pending(self) -> list[dict[str, object]]:
        """The queued faults as JSON-able dicts, oldest first."""
        return [f.to_dict() for f in self._queue]
