"""Which answers a later page view may reuse instead of asking again, and until when.

A visitor browses several pages of a site; each page view used to be a first contact, and
LivePerson asks integrators to call the check sparingly ("whenever you call this method, a new
visitor will be created in the Visitor List"). An Available answer says how long it holds
(``validForSeconds``), so a page asking the same question for the same visit within that time
can be answered at once from the page's storage, before the worker is even up. The rules are
decided here, once; the page only stores what it is told and looks it up by key and expiry
(``docs/design.md``, "Answers reused within their validity"):

- only Available answers, with a whole ``validForSeconds`` of at least a minute: NotAvailable
  and Error outcomes always ask again (the next answer may differ);
- reusable until ``validForSeconds`` minus a margin (:data:`DEFAULT_MARGIN`, or a tenth of the
  validity if that is less), and never longer than the page's cap;
- for the same request and the same visitor session only: the page's key names the account,
  where it asks, the request as the page gave it, and the ``vid``/``sid`` it sends.

    >>> policy = ReusePolicy()
    >>> available = {"status": "Available", "engagementDetails": {"validForSeconds": 900}}
    >>> policy.expires_at(available, now=1_000.0)
    1840.0
    >>> policy.expires_at({"status": "NotAvailable"}, now=1_000.0) is None
    True
    >>> ReusePolicy(max_age=120).expires_at(available, now=0.0)
    120.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

__all__ = ["DEFAULT_MARGIN", "MIN_VALIDITY", "ReusePolicy"]

#: Seconds before an answer's validity ends from which it is no longer reused: a reused answer
#: must still be valid when the visitor clicks the button it shows.
DEFAULT_MARGIN = 60.0
#: Answers valid for less than this are not worth storing.
MIN_VALIDITY = 60


@dataclass(frozen=True)
class ReusePolicy:
    """Whether and how long answers are reused (an immutable value).

    ``enabled``: reuse at all; ``max_age``: the longest a stored answer is reused, in seconds
    (None: as long as its validity allows); ``margin``: seconds kept before the validity ends.

    >>> ReusePolicy.from_options({"reuseAnswers": False}).enabled
    False
    """

    enabled: bool = True
    max_age: float | None = None
    margin: float = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError("reuseAnswers", f"must be true or false; got {self.enabled!r}")
        for name, value in (("reuseMaxAgeMs", self.max_age), ("margin", self.margin)):
            if value is None and name == "reuseMaxAgeMs":
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:  # type: ignore[arg-type]
                raise ConfigError(name, f"must be a number of seconds >= 0; got {value!r}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ReusePolicy:
        """The policy from the page's options: ``reuseAnswers`` (bool, default true) and
        ``reuseMaxAgeMs`` (milliseconds, default none)."""
        enabled = options.get("reuseAnswers", True)
        max_age_ms = options.get("reuseMaxAgeMs")
        if max_age_ms is not None and (
            isinstance(max_age_ms, bool) or not isinstance(max_age_ms, int | float)
        ):
            raise ConfigError(
                "reuseMaxAgeMs", f"must be a number of milliseconds >= 0; got {max_age_ms!r}"
            )
        return cls(
            enabled=True if enabled is None else enabled,
            max_age=None if max_age_ms is None else max_age_ms / 1000,
        )

    def expires_at(self, outcome: Mapping[str, Any], now: float) -> float | None:
        """Until when (epoch seconds) ``outcome`` may be reused, or None when it may not."""
        if not self.enabled or outcome.get("status") != "Available":
            return None
        details = outcome.get("engagementDetails")
        valid = details.get("validForSeconds") if isinstance(details, Mapping) else None
        if isinstance(valid, bool) or not isinstance(valid, int) or valid < MIN_VALIDITY:
            return None
        usable = valid - min(self.margin, valid / 10)
        if self.max_age is not None:
            usable = min(usable, self.max_age)
        return now + usable if usable > 0 else None
