"""Time as an injected service: the engine never reads the system clock or sleeps by itself.

``ChatApi`` measures deadlines with ``clock.monotonic()``, turns HTTP-date ``Retry-After`` values
into delays with ``clock.time()``, and waits between attempts with ``await clock.sleep(s)``.
:class:`AsyncioClock` is the real one; it works unchanged in Pyodide, where ``asyncio.sleep``
is scheduled with the browser's ``setTimeout`` (so no thread and no blocking). Tests pass a fake
clock whose sleeps end only when the test advances time (``tests/fakes.py``)::

    >>> import asyncio
    >>> clock = AsyncioClock()
    >>> asyncio.run(clock.sleep(0))
    >>> clock.monotonic() >= 0
    True
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["AsyncioClock", "Clock"]


class Clock(Protocol):
    """Monotonic time for deadlines, wall time for HTTP dates, and a cancellable sleep."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes back."""
        ...

    def time(self) -> float:
        """Seconds since the Unix epoch (for ``Retry-After`` HTTP dates)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; cancelling the awaiting task ends the wait at once."""
        ...


class AsyncioClock:
    """The real clock: ``time.monotonic``, ``time.time`` and ``asyncio.sleep``.

    >>> AsyncioClock().time() > 1_600_000_000
    True
    """

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def time(self) -> float:
        """``time.time()``."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep(seconds)`` (a ``setTimeout`` in Pyodide); negative means zero."""
        await asyncio.sleep(max(0.0, seconds))
