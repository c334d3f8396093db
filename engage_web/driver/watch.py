"""Watching availability over time, for pages that stay open for days (kiosks, wallboards).

A single check answers "is chat available now?". A page that stays open needs the answer kept
fresh: an Available engagement expires after ``validForSeconds``, agents come and go, and the
endpoint may vanish and return. A watch re-runs the check on a schedule and tells the page only
when the answer *changes*, so the engagement button is shown and hidden without flicker::

    api = ChatApi("http://127.0.0.1:8000", "demo", on_engagement=show_or_hide_button)
    watch = api.watch({"consumerSections": ["Support"]}, policy=WatchPolicy(interval=30))
    ...
    watch.stop()

Theory of operation. The schedule is a pure function, :meth:`WatchPolicy.next_delay`, of the
last outcome and of how many Error outcomes came in a row:

- Available: re-check ``expiry_margin`` seconds before ``validForSeconds`` runs out, and at
  least every ``interval`` seconds (agents may leave before the engagement expires);
- NotAvailable: re-check every ``interval`` seconds;
- Error that a re-check may cure (network, timeout, 429, 5xx, malformed answers): re-check after
  ``outage_interval`` seconds, doubling with each further error up to ``interval``, so an outage
  costs the endpoint little and a recovery is seen within seconds;
- Error that no re-check can cure (400 and 404: the request or the account is wrong; cancelled):
  the watch stops, after handing that outcome to the page.

:func:`availability_key` reduces an outcome to what the page shows (status and which
engagement), and the watch emits an outcome only when that key differs from the last one
emitted. The driver, :class:`Watcher`, holds no history beyond the last key, so memory stays
flat however long it runs; one ``ChatApi`` runs at most one watch (a new one replaces the old).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..core.errors import ConfigError
from .clock import Clock

__all__ = ["FINAL_ERROR_CODES", "WatchPolicy", "Watcher", "availability_key"]

logger = logging.getLogger("engage_web")

#: Error codes a re-check cannot cure: the watch stops after reporting them.
FINAL_ERROR_CODES = frozenset({400, 404, "cancelled"})


@dataclass(frozen=True, slots=True)
class WatchPolicy:
    """When a watch re-checks, in seconds. An immutable value; see the module docstring.

    Defaults suit a kiosk: a fresh answer at least every minute, a recovery seen within ~5 s.

    Example::

        >>> WatchPolicy(interval=60, expiry_margin=30).next_delay(
        ...     {"status": "Available", "engagementDetails": {"validForSeconds": 45}}, 0)
        15.0
    """

    interval: float = 60.0
    expiry_margin: float = 30.0
    outage_interval: float = 5.0
    min_interval: float = 1.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(
                    f"watch.{item.name}", f"must be a number of seconds >= 0; got {value!r}"
                )
        if self.min_interval <= 0 or self.interval < self.min_interval:
            raise ConfigError(
                "watch.interval",
                f"must be >= min_interval ({self.min_interval:g} s) and min_interval > 0;"
                f" got interval={self.interval!r}",
            )

    @classmethod
    def from_dict(cls, options: Mapping[str, Any]) -> WatchPolicy:
        """Build a policy from options (snake_case keys, seconds), naming any unknown key.

        Example::

            >>> WatchPolicy.from_dict({"interval": 10}).interval
            10
        """
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"watch.{unknown[0]}",
                f"unknown option; allowed: {', '.join(sorted(known))}; got {unknown[0]!r}",
            )
        return cls(**dict(options))

    def next_delay(self, outcome: Mapping[str, Any], consecutive_errors: int) -> float | None:
        """Seconds until the next check after ``outcome``, or None when the watch should stop.

        ``consecutive_errors`` counts the Error outcomes in a row, this one included.
        """
        status = outcome.get("status")
        if status == "Available":
            details = outcome.get("engagementDetails") or {}
            valid_for = details.get("validForSeconds")
            delay = self.interval
            if isinstance(valid_for, int | float) and not isinstance(valid_for, bool):
                delay = min(delay, valid_for - self.expiry_margin)
            return float(max(self.min_interval, delay))
        if status == "NotAvailable":
            return float(self.interval)
        code = (outcome.get("error") or {}).get("code")
        if code in FINAL_ERROR_CODES:
            return None
        backoff = self.outage_interval * 2 ** max(0, consecutive_errors - 1)
        return float(max(self.min_interval, min(self.interval, backoff)))


def availability_key(outcome: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the page shows for ``outcome``: its status and, when Available, which engagement.

    Two outcomes with the same key look the same to a visitor, so a watch does not re-emit.

    Example::

        >>> availability_key({"status": "NotAvailable", "pageId": "1"})
        ('NotAvailable',)
    """
    status = outcome.get("status")
    if status == "Available":
        details = outcome.get("engagementDetails") or {}
        return (
            status,
            details.get("engagementId"),
            details.get("campaignId"),
            details.get("skillId"),
            details.get("engagementRevision"),
        )
    if status == "Error":
        return (status, (outcome.get("error") or {}).get("code"))
    return (status,)


class Watcher:
    """Runs one watch: check, emit on change, sleep per the policy, until stopped.

    ``check`` runs one complete check and returns its outcome (it must not notify the page
    itself); ``emit`` hands a changed outcome to the page. Both are supplied by ``ChatApi.watch``.

    Example::

        watcher = Watcher(check, emit, clock, WatchPolicy())
        watcher.start()      # a task on the running loop
        ...
        watcher.stop()       # cancels the pending sleep or check at once
    """

    def __init__(
        self,
        check: Callable[[], Awaitable[dict[str, Any]]],
        emit: Callable[[dict[str, Any]], Awaitable[None]],
        clock: Clock,
        policy: WatchPolicy,
    ) -> None:
        self._check = check
        self._emit = emit
        self._clock = clock
        self.policy = policy
        self.checks = 0
        self.emitted = 0
        self.last_key: tuple[Any, ...] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """True while the watch loop is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[None]:
        """Start the loop as a task on the running event loop (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self.run())
        return self._task

    def stop(self) -> None:
        """Stop at once: a pending sleep or check is cancelled; nothing more is emitted."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def wait_stopped(self) -> None:
        """Wait until the loop has ended (after ``stop`` or a final error)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> None:
        """The loop itself; ``start`` runs it as a task."""
        errors_in_row = 0
        while True:
            outcome = await self._check()
            self.checks += 1
            errors_in_row = errors_in_row + 1 if outcome.get("status") == "Error" else 0
            key = availability_key(outcome)
            if key != self.last_key:
                self.last_key = key
                self.emitted += 1
                try:
                    await self._emit(outcome)
                except Exception:  # a page callback must never end the watch
                    logger.exception("engage_web: a watch callback raised")
            if self._stopping:  # stopped from inside a callback
                return
            delay = self.policy.next_delay(outcome, errors_in_row)
            if delay is None:
                return
            await self._clock.sleep(delay)
