"""One check (or one report) as an explicit, sans-I/O state machine.

Theory of operation
-------------------
A :class:`Check` never touches the network, a clock or a timer. The driver (``ChatApi``) feeds
it *events* (what happened) and carries out the *actions* it returns (what to do next), exactly
like h11's connection object::

    >>> from engage_web.core.retry import RetryPolicy
    >>> from engage_web.core.transport import HttpResponse
    >>> from engage_web.core.wire import create_session_request
    >>> check = Check(RetryPolicy(), lambda s: create_session_request("http://h", "a1", {}, s),
    ...               rand=lambda: 0.5)
    >>> check.handle(Start(now=0.0)).timeout
    8.0
    >>> check.handle(AnswerReceived(HttpResponse(503, {"retry-after": "2"}), now=0.1)).payload
    {'attempt': 2, 'delayMs': 2000, 'reason': 'http-503'}
    >>> check.handle(TimerFired(now=2.1)).attempt
    2
    >>> body = ('{"status": "Available", "sessionId": "s", "visitorId": "v", "pageId": "p", '
    ...         '"engagementDetails": {"campaignId": "1", "engagementId": "2", "contextId": "3", '
    ...         '"windowId": "4", "language": "en", "engagementRevision": 1, '
    ...         '"validForSeconds": 900}}')
    >>> check.handle(AnswerReceived(HttpResponse(201, {}, body), now=2.2)).state
    <State.AVAILABLE: 'available'>

Events: :class:`Start`, :class:`AnswerReceived` (an HTTP answer, any status),
:class:`TransportFailed` (no answer: network failure or per-attempt timeout),
:class:`TimerFired` (the wait asked for is over), :class:`Cancel`.
Actions: :class:`Send` (send this request, give up on it after ``timeout`` seconds),
:class:`Wait` (sleep ``seconds``; ``payload`` is what ``onRetry`` receives first),
:class:`Finish` (the one outcome of the call).

States and transitions (``TRANSITIONS`` is the table; anything else raises
:class:`EngineStateError`)::

    IDLE    --Start-------------> SENDING
    SENDING --AnswerReceived----> AVAILABLE | NOT_AVAILABLE | ACCEPTED | ERROR | WAITING
    SENDING --TransportFailed---> ERROR | NOT_AVAILABLE | WAITING
    WAITING --TimerFired--------> SENDING | ERROR | NOT_AVAILABLE
    IDLE | SENDING | WAITING --Cancel--> CANCELLED
    AVAILABLE, NOT_AVAILABLE, ACCEPTED, ERROR, CANCELLED are final: no event is accepted.

Rules:

1. Every call ends in exactly one final state with exactly one ``Finish``; after it the machine
   refuses every event.
2. Transient failures (network, timeout, retryable statuses, malformed answers unless the policy
   says otherwise) are retried at most ``max_retries`` times; other error statuses finish at once.
   A cold account ("Loading account", 500/20) is first retried on a budget of its own
   (``loading_retries``, about ``loading_delay`` apart), sending the vid its answer named.
3. A NotAvailable answer is re-checked ``not_available_rechecks`` times, ``not_available_delay``
   apart; the re-checks use the session that answer named.
4. Once a NotAvailable answer has been received, a failure during the re-checks finishes with that
   NotAvailable answer (the re-check was a bonus; its failure must not hide a real answer).
5. No wait is scheduled that would end at or past ``start + deadline`` (the attempt after it
   would have no time left); each attempt's timeout is cut so it ends by the deadline too.
   Giving up says why and after how many attempts (``error["attempts"]`` and the message).
6. Every answer naming ``visitorId``/``sessionId`` updates ``session`` (the answer's ids replace
   the ones sent), and every later attempt sends the current session. A cold account's answer
   names only a vid: it replaces the visitor (keeping the session id when the visitor is the
   same).
7. Every Error outcome says whether time can cure it (``error["transient"]``, from the policy's
   retryable statuses: ``engage_web.core.outcome.is_transient``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import EngageError, TransportError
from .outcome import AnswerKind, classify_engagement, error_outcome, mark_transient
from .retry import RetryPolicy
from .session import Session
from .transport import HttpRequest, HttpResponse

__all__ = [
    "FINAL_STATES",
    "TRANSITIONS",
    "Action",
    "AnswerReceived",
    "Cancel",
    "Check",
    "CheckState",
    "EngineStateError",
    "Event",
    "Finish",
    "Send",
    "Start",
    "State",
    "TimerFired",
    "TransportFailed",
    "Wait",
]


class State(Enum):
    """Where a check is."""

    IDLE = "idle"
    SENDING = "sending"
    WAITING = "waiting"
    AVAILABLE = "available"
    NOT_AVAILABLE = "not_available"
    ACCEPTED = "accepted"  # a report delivered, a Domain API look-up answered
    ERROR = "error"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset(
    {State.AVAILABLE, State.NOT_AVAILABLE, State.ACCEPTED, State.ERROR, State.CANCELLED}
)


class EngineStateError(EngageError, RuntimeError):
    """An event the machine cannot take in its current state (a driver bug, never user input)."""


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Begin: ``now`` is the monotonic time the deadline counts from."""

    now: float


@dataclass(frozen=True)
class AnswerReceived:
    """An HTTP answer arrived; ``wall`` is epoch time for HTTP-date ``Retry-After`` values."""

    response: HttpResponse
    now: float
    wall: float = 0.0


@dataclass(frozen=True)
class TransportFailed:
    """No answer: the transport raised (``NetworkError``, ``AttemptTimeout`` or anything else)."""

    error: BaseException
    now: float


@dataclass(frozen=True)
class TimerFired:
    """The wait asked for by the last ``Wait`` is over."""

    now: float


@dataclass(frozen=True)
class Cancel:
    """Stop now; ``message`` explains who cancelled."""

    message: str = "the check was cancelled"


Event = Start | AnswerReceived | TransportFailed | TimerFired | Cancel

# -- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send ``request`` once; abandon it after ``timeout`` seconds. ``attempt`` counts from 1."""

    request: HttpRequest
    timeout: float
    attempt: int


@dataclass(frozen=True)
class Wait:
    """Sleep ``seconds``; hand ``payload`` (``{attempt, delayMs, reason}``) to ``onRetry`` first."""

    seconds: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Finish:
    """The call is over: ``outcome`` is its one result, ``state`` the final state."""

    outcome: dict[str, Any]
    state: State


Action = Send | Wait | Finish

#: (state, event type) -> the states that event may lead to.
TRANSITIONS: dict[tuple[State, type], frozenset[State]] = {
    (State.IDLE, Start): frozenset({State.SENDING}),
    (State.SENDING, AnswerReceived): frozenset(
        {State.AVAILABLE, State.NOT_AVAILABLE, State.ACCEPTED, State.ERROR, State.WAITING}
    ),
    (State.SENDING, TransportFailed): frozenset({State.ERROR, State.NOT_AVAILABLE, State.WAITING}),
    (State.WAITING, TimerFired): frozenset({State.SENDING, State.ERROR, State.NOT_AVAILABLE}),
    (State.IDLE, Cancel): frozenset({State.CANCELLED}),
    (State.SENDING, Cancel): frozenset({State.CANCELLED}),
    (State.WAITING, Cancel): frozenset({State.CANCELLED}),
}


@dataclass(frozen=True)
class CheckState:
    """A whole-state snapshot, for tests and debugging."""

    state: State
    attempts: int = 0
    retries: int = 0
    rechecks: int = 0
    session: Session | None = None
    outcome: dict[str, Any] | None = None
    started_at: float | None = field(default=None, compare=False)


class Check:
    """The state machine of one ``get_engagement`` (or ``report``) call. See the module header.

    ``build_request(session)`` makes the request of each attempt; ``classify`` turns answers into
    :class:`~.outcome.Answer` values (``classify_engagement`` or ``classify_report``);
    ``rand()`` returns a number in [0, 1) for the backoff jitter.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        build_request: Callable[[Session | None], HttpRequest],
        *,
        session: Session | None = None,
        classify: Callable[..., Any] = classify_engagement,
        rand: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.session = session
        self._build_request = build_request
        self._classify = classify
        self._rand = rand
        self.state = State.IDLE
        self.attempts = 0
        self.retries = 0
        self.rechecks = 0
        self.loading_retries = 0
        self.outcome: dict[str, Any] | None = None
        self.started_at: float | None = None
        self._deadline_at = 0.0
        self._not_available: dict[str, Any] | None = None
        self._last_failure: dict[str, Any] | None = None

    def snapshot(self) -> CheckState:
        """The whole state as a value."""
        return CheckState(
            self.state,
            self.attempts,
            self.retries,
            self.rechecks,
            self.session,
            self.outcome,
            self.started_at,
        )

    def rebuild_request(self) -> HttpRequest:
        """The current attempt's request made again (the driver changed where it goes)."""
        return self._build_request(self.session)

    @property
    def finished(self) -> bool:
        """True once the check is in a final state."""
        return self.state in FINAL_STATES

    def handle(self, event: Event) -> Action:
        """Take ``event``; return the next action. Raises ``EngineStateError`` if illegal."""
        allowed = TRANSITIONS.get((self.state, type(event)))
        if allowed is None:
            raise EngineStateError(
                f"{type(event).__name__} is not accepted in state {self.state.name}"
            )
        action = self._dispatch(event)
        if self.state not in allowed:  # pragma: no cover - guards the table against the code
            raise EngineStateError(f"{type(event).__name__} led to {self.state.name}")
        return action

    # -- transitions ---------------------------------------------------------------------------

    def _dispatch(self, event: Event) -> Action:
        if isinstance(event, Start):
            self.started_at = event.now
            self._deadline_at = event.now + self.policy.deadline
            return self._send(event.now)
        if isinstance(event, AnswerReceived):
            return self._answer(event)
        if isinstance(event, TransportFailed):
            return self._transport_failed(event)
        if isinstance(event, TimerFired):
            return self._send(event.now)
        assert isinstance(event, Cancel)
        outcome = error_outcome("cancelled", event.message, attempts=self.attempts)
        return self._finish(State.CANCELLED, outcome)

    def _send(self, now: float) -> Action:
        remaining = self._deadline_at - now
        if remaining <= 0:
            last = self._last_failure or error_outcome("timeout", "no answer")
            return self._give_up(last, f"the {self.policy.deadline:g} s deadline has passed")
        self.attempts += 1
        self.state = State.SENDING
        timeout = min(self.policy.attempt_timeout, remaining)
        return Send(self._build_request(self.session), timeout, self.attempts)

    def _answer(self, event: AnswerReceived) -> Action:
        answer = self._classify(event.response, self.policy.retry_statuses)
        kind = answer.kind
        if kind is AnswerKind.ACCOUNT_LOADING:
            return self._account_loading(answer, event)
        if answer.session is not None:
            self.session = answer.session
        if kind is AnswerKind.AVAILABLE:
            return self._finish(State.AVAILABLE, answer.outcome)
        if kind is AnswerKind.ACCEPTED:
            return self._finish(State.ACCEPTED, answer.outcome)
        if kind is AnswerKind.NOT_AVAILABLE:
            self._not_available = answer.outcome
            if self.rechecks >= self.policy.not_available_rechecks:
                return self._finish(State.NOT_AVAILABLE, answer.outcome)
            delay = self.policy.not_available_delay
            if event.now + delay >= self._deadline_at:
                return self._finish(State.NOT_AVAILABLE, answer.outcome)
            self.rechecks += 1
            return self._wait(delay, "NotAvailable")
        retryable = kind is AnswerKind.RETRYABLE_STATUS or (
            kind is AnswerKind.MALFORMED and self.policy.retry_malformed
        )
        if not retryable:
            return self._give_up(answer.outcome, None)
        return self._retry(answer.outcome, answer.reason, answer.retry_after, event.now, event.wall)

    def _account_loading(self, answer: Any, event: AnswerReceived) -> Action:
        """A cold account: continue the visitor it named; wait on the loading budget first."""
        named = answer.session
        if named is not None:
            current = self.session
            same = current is not None and current.visitor_id == named.visitor_id
            self.session = current if same else named
        if self.loading_retries >= self.policy.loading_retries:
            return self._retry(answer.outcome, answer.reason, None, event.now, event.wall)
        self._last_failure = answer.outcome
        delay = self.policy.loading_wait(self._rand())
        if event.now + delay >= self._deadline_at:
            deadline = self.policy.deadline
            why = f"the account was still loading at the {deadline:g} s deadline"
            return self._give_up(answer.outcome, why)
        self.loading_retries += 1
        return self._wait(delay, answer.reason)

    def _transport_failed(self, event: TransportFailed) -> Action:
        error = event.error
        code = error.reason if isinstance(error, TransportError) else "network"
        message = str(error) or type(error).__name__
        if not isinstance(error, TransportError):
            message = f"the transport failed: {type(error).__name__}: {message}"
        if getattr(error, "final", False):  # a redirect: no wait will change it
            return self._give_up(error_outcome(code, message), None)
        return self._retry(error_outcome(code, message), code, None, event.now, 0.0)

    def _retry(
        self,
        failure: dict[str, Any],
        reason: str,
        retry_after: str | None,
        now: float,
        wall: float,
    ) -> Action:
        self._last_failure = failure
        if self.retries >= self.policy.max_retries:
            return self._give_up(failure, "")
        delay = self.policy.retry_delay(
            self.retries + 1, self._rand(), retry_after=retry_after, now=wall
        )
        if now + delay >= self._deadline_at:
            deadline = self.policy.deadline
            why = f"the next retry (in {delay:g} s) would pass the {deadline:g} s deadline"
            return self._give_up(failure, why)
        self.retries += 1
        return self._wait(delay, reason)

    def _wait(self, seconds: float, reason: str) -> Action:
        self.state = State.WAITING
        payload = {"attempt": self.attempts + 1, "delayMs": round(seconds * 1000), "reason": reason}
        return Wait(seconds, payload)

    def _give_up(self, failure: dict[str, Any], why: str | None) -> Action:
        """Finish after a failure; ``why`` is None for a final status, else the give-up reason."""
        if self._not_available is not None:
            return self._finish(State.NOT_AVAILABLE, self._not_available)
        outcome = copy.deepcopy(failure)
        error = outcome["error"]
        if why is not None:
            plural = "s" if self.attempts != 1 else ""
            gave_up = f"gave up after {self.attempts} attempt{plural}"
            error["message"] = f"{error['message']} ({gave_up}{': ' + why if why else ''})"
        error["attempts"] = self.attempts
        return self._finish(State.ERROR, outcome)

    def _finish(self, state: State, outcome: dict[str, Any]) -> Action:
        mark_transient(outcome, self.policy.retry_statuses)
        if outcome.get("status") == "Error" and self.session is not None:
            outcome.setdefault("visitorId", self.session.visitor_id)
            if self.session.session_id:
                outcome.setdefault("sessionId", self.session.session_id)
        self.state = state
        self.outcome = outcome
        return Finish(outcome, state)
