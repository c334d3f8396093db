"""The retry schedule as an immutable value, in the manner of urllib3's ``Retry``.

A :class:`RetryPolicy` says which failures are retried, how long to wait before each retry, how
many NotAvailable re-checks to make, and how long a check may take in all. It never sleeps and
never reads a clock: every delay is a pure function of the retry number and a random number in
``[0, 1)`` passed in, so the engine (which owns the random source and the clock) stays exact
under test::

    >>> policy = RetryPolicy.preset("default")
    >>> [policy.backoff(n, rand=0.5) for n in (1, 2, 3, 4, 5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    >>> policy.retry_after_delay("7", now=0.0)
    7.0
    >>> RetryPolicy.from_dict({"preset": "liveperson", "attempt_timeout": 5}).schedule
    (5.0, 10.0, 15.0)

What is retried (``docs/protocol.md``, "Retries"): network failures, per-attempt timeouts, the
statuses in ``retry_statuses`` (429, 500, 502, 503, 504), and malformed success answers (see
``engage_web.core.outcome``); never any other 4xx. A cold account (500 with internalCode 20,
"Loading account") has a budget of its own, ``loading_retries`` waits of about ``loading_delay``
seconds, before its answers count against ``max_retries``: LivePerson says loading takes "a short
period of time", and a user of its SDK needed more than six retries.

``Retry-After`` (delta-seconds or an HTTP date) is honoured for every retried answer that sends
it, clamped to ``[0, retry_after_max]``; a missing, unparsable or negative value falls back to
the backoff. NotAvailable answers get ``not_available_rechecks`` further checks,
``not_available_delay`` seconds apart (the seed: "might require few attempts"). No wait is
scheduled that would end at or past ``deadline`` seconds after the start: the check gives up
instead and says so.

Backoff: ``min(backoff_max, backoff_initial * backoff_factor ** (n - 1))`` for retry ``n`` (or
``schedule[n - 1]`` when an explicit schedule is set, its last entry repeating), then jittered by
``± jitter`` (a fraction) and capped at ``backoff_max`` again. ``rand = 0.5`` means no jitter.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from .errors import ConfigError
from .outcome import DEFAULT_RETRY_STATUSES
from .text import shown as _show
from .text import snake as _snake

__all__ = [
    "PRESETS",
    "OutboxPolicy",
    "RetryPolicy",
    "exponential_backoff",
    "jittered",
    "parse_retry_after",
]

_DIGITS = re.compile(r"^\s*[0-9]+\s*$")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or ``None`` if it says nothing usable.

    ``value`` is delta-seconds (``"120"``) or an HTTP date; ``now`` is the epoch time the date is
    measured from. Dates in the past give ``0.0``; garbage and negative numbers give ``None``::

        >>> parse_retry_after("120", now=0)
        120.0
        >>> parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=10)
        20.0
        >>> parse_retry_after("-5", now=0) is None
        True
        >>> parse_retry_after("9" * 5000, now=0)   # the caller clamps it to retry_after_max
        inf
    """
    if value is None:
        return None
    if _DIGITS.match(value):
        digits = value.strip().lstrip("0") or "0"
        if len(digits) > 15:  # past any sane wait (and int()'s digit limit): treat as huge
            return float("inf")
        return float(int(digits))
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are always GMT
        return None
    return max(0.0, when.timestamp() - now)


def jittered(seconds: float, jitter: float, rand: float, cap: float = math.inf) -> float:
    """``seconds`` varied by ``± jitter`` (a fraction) for ``rand`` in [0, 1), capped at ``cap``.

    >>> jittered(10.0, 0.2, 0.0), jittered(10.0, 0.2, 0.5), jittered(10.0, 0.2, 1.0, cap=11.0)
    (8.0, 10.0, 11.0)
    """
    rand = min(max(rand, 0.0), 1.0)
    return min(cap, seconds * (1.0 + jitter * (2.0 * rand - 1.0)))


def exponential_backoff(
    number: int, initial: float, factor: float, maximum: float, jitter: float, rand: float
) -> float:
    """The wait before try ``number`` (1 = the first): ``initial * factor ** (number - 1)``,
    capped at ``maximum``, then jittered (:func:`jittered`) and capped again. Pure: the caller
    sleeps, or arms a timer.

    >>> [exponential_backoff(n, 0.5, 2.0, 8.0, 0.0, 0.5) for n in (1, 2, 3, 10)]
    [0.5, 1.0, 2.0, 8.0]
    """
    if number < 1:
        raise ValueError(f"the try number starts at 1; got {number}")
    try:
        base = initial * factor ** (number - 1)
    except OverflowError:
        base = math.inf
    return jittered(min(maximum, base), jitter, rand, maximum)


@dataclass(frozen=True)
class RetryPolicy:
    """How a check retries. Immutable; build variants with :meth:`replace`.

    The defaults are the ``"default"`` preset, tuned for a visitor waiting on a web page:

    - ``max_retries=3``: up to 4 attempts for network failures, timeouts, 429/5xx and malformed
      answers; beyond that the service is down for this visitor and the page should know.
    - ``backoff_initial=0.5``, ``backoff_factor=2``, ``backoff_max=4``: waits of about 0.5, 1 and
      2 s; a visitor notices 4 s, so no single wait is longer.
    - ``jitter=0.25``: each wait varies by ±25 % so many pages recovering from the same outage do
      not retry in lock-step.
    - ``retry_after_max=10``: a server asking for a longer pause is obeyed for 10 s at most.
    - ``not_available_rechecks=2``, ``not_available_delay=1``: two more checks 1 s apart before
      NotAvailable is reported (details "might require few attempts"; 2 s is a short wait).
    - ``loading_retries=12``, ``loading_delay=2``: a cold account is waited for about 2 s at a
      time (jittered), up to 12 times, within the deadline: about 25 s, the most a visitor
      waits for a first answer anyway.
    - ``attempt_timeout=8``: slow mobile networks answer within a few seconds; 8 s means dead.
    - ``deadline=30``: after 30 s the visitor has moved on; the page gets an Error outcome.
    - ``retry_malformed=True``: a proxy's HTML error page is usually gone a moment later.

    Example::

        >>> RetryPolicy().replace(max_retries=5).max_retries
        5
    """

    max_retries: int = 3
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 4.0
    jitter: float = 0.25
    schedule: tuple[float, ...] = ()
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    retry_after_max: float = 10.0
    not_available_rechecks: int = 2
    not_available_delay: float = 1.0
    loading_retries: int = 12
    loading_delay: float = 2.0
    attempt_timeout: float = 8.0
    deadline: float = 30.0
    retry_malformed: bool = True

    _LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "max_retries": (0, 20),
        "backoff_initial": (0, 3600),
        "backoff_factor": (1, 10),
        "backoff_max": (0, 3600),
        "jitter": (0, 1),
        "retry_after_max": (0, 3600),
        "not_available_rechecks": (0, 20),
        "not_available_delay": (0, 3600),
        "loading_retries": (0, 100),
        "loading_delay": (0, 3600),
        "attempt_timeout": (0.001, 3600),
        "deadline": (0.001, 86400),
    }
    _INTS: ClassVar[frozenset[str]] = frozenset(
        {"max_retries", "not_available_rechecks", "loading_retries"}
    )

    def __post_init__(self) -> None:
        for name, (low, high) in self._LIMITS.items():
            value = getattr(self, name)
            if name in self._INTS:
                _check_int(name, value, int(low), int(high))
            else:
                object.__setattr__(self, name, _check_number(name, value, low, high))
        object.__setattr__(self, "schedule", _check_schedule(self.schedule))
        object.__setattr__(self, "retry_statuses", _check_statuses(self.retry_statuses))
        if not isinstance(self.retry_malformed, bool):
            raise ConfigError(
                "retry.retry_malformed", f"must be true or false; got {_show(self.retry_malformed)}"
            )

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def preset(cls, name: str) -> RetryPolicy:
        """A named policy: ``"default"``, ``"liveperson"`` or ``"none"`` (see ``PRESETS``).

        >>> RetryPolicy.preset("none").max_retries
        0
        """
        if not isinstance(name, str) or name not in PRESETS:
            allowed = ", ".join(PRESETS)
            raise ConfigError("retry.preset", f"must be one of {allowed}; got {_show(name)}")
        return PRESETS[name]

    def replace(self, **changes: Any) -> RetryPolicy:
        """A copy with ``changes`` applied (validated like the constructor).

        >>> RetryPolicy().replace(deadline=60).deadline
        60.0
        """
        unknown = sorted(set(changes) - set(_FIELDS))
        if unknown:
            raise ConfigError(f"retry.{unknown[0]}", _unknown_message(unknown[0]))
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, options: Mapping[str, Any] | None) -> RetryPolicy:
        """A policy from plain options (JS ``init``, CLI, config files): snake_case keys, seconds.

        A ``preset`` key picks the base (default ``"default"``); the other keys override its
        fields. camelCase spellings (``maxRetries``) are accepted too. Lists become tuples and
        sets. Bad keys or values raise ``ConfigError`` naming ``retry.<option>``::

            >>> RetryPolicy.from_dict({"max_retries": 1, "jitter": 0}).max_retries
            1
        """
        if options is None:
            return cls.preset("default")
        if not isinstance(options, Mapping):
            raise ConfigError(
                "retry",
                f"must be an object of retry options or a preset name; got {_show(options)}",
            )
        changes = {_snake(str(key)): value for key, value in options.items()}
        base = cls.preset(changes.pop("preset", "default"))
        for key in ("schedule", "retry_statuses"):
            value = changes.get(key)
            if isinstance(value, list):
                changes[key] = tuple(value)
        return base.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        """The options as plain JSON-able values (the inverse of :meth:`from_dict`).

        >>> RetryPolicy.preset("none").to_dict()["max_retries"]
        0
        """
        out = {name: getattr(self, name) for name in _FIELDS}
        out["schedule"] = list(self.schedule)
        out["retry_statuses"] = sorted(self.retry_statuses)
        return out

    # -- the schedule --------------------------------------------------------------------------

    def is_retryable_status(self, status: int) -> bool:
        """Whether an error status is worth another attempt (429, 5xx by default; never 400/404).

        >>> RetryPolicy().is_retryable_status(503), RetryPolicy().is_retryable_status(404)
        (True, False)
        """
        return status in self.retry_statuses

    def backoff(self, retry_number: int, rand: float) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = the first), for ``rand`` in [0, 1).

        >>> RetryPolicy(jitter=0).backoff(3, rand=0.9)
        2.0
        """
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1; got {retry_number}")
        if self.schedule:
            base = self.schedule[min(retry_number, len(self.schedule)) - 1]
            return jittered(min(self.backoff_max, base), self.jitter, rand, self.backoff_max)
        return exponential_backoff(
            retry_number, self.backoff_initial, self.backoff_factor, self.backoff_max,
            self.jitter, rand,
        )

    def loading_wait(self, rand: float) -> float:
        """Seconds to wait before re-asking a cold account: ``loading_delay`` ± ``jitter``.

        >>> RetryPolicy().loading_wait(rand=0.5), RetryPolicy().loading_wait(rand=0.0)
        (2.0, 1.5)
        """
        rand = min(max(rand, 0.0), 1.0)
        return self.loading_delay * (1.0 + self.jitter * (2.0 * rand - 1.0))

    def retry_after_delay(self, value: str | None, now: float) -> float | None:
        """The ``Retry-After`` wait clamped to ``[0, retry_after_max]``, or ``None`` if unusable.

        >>> RetryPolicy().retry_after_delay("86400", now=0)
        10.0
        """
        seconds = parse_retry_after(value, now)
        return None if seconds is None else min(seconds, self.retry_after_max)

    def retry_delay(
        self, retry_number: int, rand: float, *, retry_after: str | None = None, now: float = 0.0
    ) -> float:
        """The wait before retry ``retry_number``: ``Retry-After`` when usable, else the backoff.

        >>> RetryPolicy().retry_delay(1, 0.5, retry_after="3")
        3.0
        """
        honoured = self.retry_after_delay(retry_after, now)
        return self.backoff(retry_number, rand) if honoured is None else honoured


_FIELDS = tuple(f.name for f in dataclasses.fields(RetryPolicy))
_ALLOWED = (*_FIELDS, "preset")


def _unknown_message(name: str) -> str:
    hint = difflib.get_close_matches(name, _ALLOWED, n=1)
    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"unknown retry option{did_you_mean}; allowed: {', '.join(_ALLOWED)}; got {name!r}"


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(
            f"retry.{name}", f"must be a whole number from {low} to {high}; got {_show(value)}"
        )


def _check_number(name: str, value: object, low: float, high: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not low <= value <= high:  # type: ignore[arg-type]
        unit = "a number" if name in ("jitter", "backoff_factor") else "a number of seconds"
        raise ConfigError(
            f"retry.{name}", f"must be {unit} from {low:g} to {high:g}; got {_show(value)}"
        )
    return float(value)  # type: ignore[arg-type]


def _check_schedule(value: object) -> tuple[float, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(
            "retry.schedule", f"must be a list of delays in seconds (0 to 3600); got {_show(value)}"
        )
    delays = []
    for item in value:
        ok = isinstance(item, int | float) and not isinstance(item, bool)
        if not ok or not math.isfinite(item) or not 0 <= item <= 3600:
            raise ConfigError(
                "retry.schedule",
                f"every delay must be a number of seconds from 0 to 3600; got {_show(item)}",
            )
        delays.append(float(item))
    return tuple(delays)


def _check_statuses(value: object) -> frozenset[int]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(
            "retry.retry_statuses",
            f"must be a list of HTTP error statuses (400 to 599); got {_show(value)}",
        )
    statuses = []
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or not 400 <= item <= 599:
            raise ConfigError(
                "retry.retry_statuses",
                f"every entry must be an HTTP error status from 400 to 599; got {_show(item)}",
            )
        statuses.append(item)
    return frozenset(statuses)


PRESETS: dict[str, RetryPolicy] = {
    # A visitor waiting on a web page: see the RetryPolicy docstring for each number.
    "default": RetryPolicy(),
    # The App Engagement API's advice for 5xx, "Loading Account" included: "Retry 3 times with
    # 5, 10, 15 second pause between retries". No jitter (the schedule is explicit), so no
    # separate cold-account budget; a server's Retry-After obeyed up to 30 s; 10 s per attempt
    # and a deadline that fits the whole schedule (5+10+15 s of waits + 4 attempts of 10 s).
    "liveperson": RetryPolicy(
        max_retries=3,
        schedule=(5.0, 10.0, 15.0),
        backoff_max=15.0,
        jitter=0.0,
        retry_after_max=30.0,
        loading_retries=0,
        attempt_timeout=10.0,
        deadline=75.0,
    ),
    # One attempt, no re-check: the page does its own retrying (or a test wants raw answers).
    "none": RetryPolicy(
        max_retries=0,
        not_available_rechecks=0,
        loading_retries=0,
        attempt_timeout=8.0,
        deadline=8.0,
    ),
}


@dataclass(frozen=True)
class OutboxPolicy:
    """When a page's durable outbox tries its queued reports again (``docs/design.md``, "The
    outbox").

    A report that fails for a reason time can cure stays in the page's outbox; the worker answers
    that failure with ``retryInMs`` from this policy and the page only arms the timer. The wait
    grows with the failures in a row, up to ``maximum``, with ``± jitter`` so that the tabs of
    many visitors recovering from one outage do not all come back at the same moment::

        >>> policy = OutboxPolicy(jitter=0)
        >>> [policy.backoff(n, rand=0.5) for n in (1, 2, 3, 4, 9)]
        [5.0, 10.0, 20.0, 40.0, 300.0]
        >>> OutboxPolicy().retry_in_ms(1, rand=0.0)
        4000
    """

    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 300.0
    jitter: float = 0.2

    def backoff(self, failures: int, rand: float) -> float:
        """Seconds before the next delivery after ``failures`` (1 = the first) in a row."""
        return exponential_backoff(
            failures, self.initial, self.factor, self.maximum, self.jitter, rand
        )

    def retry_in_ms(self, failures: int, rand: float) -> int:
        """:meth:`backoff` in whole milliseconds, as the page's timer takes it."""
        return round(self.backoff(failures, rand) * 1000)
