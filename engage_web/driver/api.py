"""``ChatApi``: the public face of the engine, for PyScript pages, the JS facade and CPython.

It validates the request, drives a :class:`~engage_web.core.engine.Check` over the injected
transport and clock, keeps the visitor session, and hands exactly one outcome per call to the caller
and to every ``onEngagement`` binding. It never raises for server, network or validation trouble:
those become ``{"status": "Error", "error": {...}}`` outcomes (``docs/protocol.md``)::

    import asyncio
    from engage_web import ChatApi     # the driver with the platform's transport

    async def main():
        async with ChatApi(None, "demo", domain_api="http://127.0.0.1:8765",
                           on_engagement=print) as api:
            outcome = await api.get_engagement({"consumerSections": ["Support"]})
            if outcome["status"] == "Available":
                await api.report([{"type": "impDisplay", "campaign": 1, "engId": 2,
                                   "revision": 3}])

    asyncio.run(main())

Where. With an ``endpoint`` the calls go there. Without one, the base is asked of LivePerson's
Domain API (``domain_api``, default ``https://api.liveperson.net``) at the first call, kept in
the ``base_cache`` for a day, and asked again when the cached base stops answering (a network
failure or timeout): concurrent first calls share one look-up. A look-up is retried under the
policy and counts against the call's deadline; when it fails for good the call ends with an
Error outcome of code ``"lookup"`` (the look-up's own code in ``error.cause``).

Sessions. ``vid``/``sid`` given in the params win for that call; otherwise the stored session is
sent. The ids of every answer are stored (they replace the ones sent) and ``api.session`` shows
them; a cold account's "Loading account" answer names a vid, which the retries continue.
Overlapping calls: while no session is established (no stored ``sid``), the first call opens
one and later calls wait for its first answer, then send its ids; if that call ends without
ids, the next waiting call opens the session instead. So N simultaneous checks on a fresh page
create one session, not N. The deadline of a waiting call counts from its first attempt.

Cancellation. ``api.cancel()`` (and ``close()``, and leaving ``async with``) stops every pending
call at once: waits and exchanges in flight are cancelled (no timer is left behind) and each call
returns a ``cancelled`` Error outcome, also given to ``onEngagement``. If the task awaiting
``get_engagement`` is itself cancelled, the cancelled outcome still goes to the callbacks, then
``CancelledError`` propagates as asyncio expects.

Reports (``await api.report(attributes)``) are an update of the current session for the page
of its last answer (``page_id``), impression events and other SDEs split on the wire; they retry
transient failures with the same policy (no NotAvailable re-checks, no ``onRetry``, no
``onEngagement``), and return ``{"status": "Reported", "delivered": True}`` or an Error outcome
with ``"delivered": False``.

Every Error outcome carries ``error.transient``: whether time can cure the failure (a retryable
status, network, timeout, malformed, a cold account, a cancelled call: ``True``; validation,
other 4xx, a redirect, configuration: ``False``), decided from the policy
(``engage_web.core.outcome.is_transient``).

Events: ``onEngagement`` (each check's outcome), ``onRetry`` (``{attempt, delayMs, reason}``
before each timed retry; a look-up's retries say ``"stage": "lookup"``) and ``onAttempt``
(``{attempt, stage, method, url}`` before each request: the request line LivePerson receives).

Watching (``api.watch(params)``, kiosks): re-checks on a ``WatchPolicy`` schedule and fires
``onEngagement`` only when the outcome changes (``engage_web.driver.watch``).

Robustness. A transport that returns something other than an ``HttpResponse``, raises an
unexpected exception, or aborts by itself (a stray ``CancelledError``) counts as a network
failure and is retried. A failing session store is logged and treated as "no session". Should
the engine itself have a bug, the call still ends with one Error outcome, code ``"internal"``,
and the traceback goes to the ``engage_web`` logger.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..core.domain import BaseCache, MemoryBaseCache, ResolvedBase, domain_classifier, lookup_error
from ..core.engine import (
    AnswerReceived,
    Cancel,
    Check,
    Finish,
    Send,
    Start,
    TimerFired,
    TransportFailed,
    Wait,
)
from ..core.errors import AttemptTimeout, ConfigError, NetworkError, RequestError
from ..core.outcome import classify_report, error_outcome, mark_transient
from ..core.retry import RetryPolicy
from ..core.session import MemorySessionStore, Session, SessionStore
from ..core.text import shown
from ..core.transport import HttpResponse, Transport
from ..core.validation import (
    validate_account_id,
    validate_report,
    validate_request,
    validate_session_ids,
)
from ..core.wire import (
    DEFAULT_DOMAIN_API,
    create_session_request,
    domain_request,
    is_loopback_host,
    update_session_request,
)
from .clock import AsyncioClock, Clock
from .events import EventBindings
from .watch import Watcher, WatchPolicy

__all__ = ["ChatApi", "is_loopback_host"]

logger = logging.getLogger("engage_web")


@dataclass(eq=False)
class _Call:
    """Book-keeping for one pending call (so ``cancel`` can reach it)."""

    kind: str
    check: Check | None = None
    task: asyncio.Task[dict[str, Any]] | None = None
    cancel_message: str | None = None
    holds_session_gate: asyncio.Event | None = None


@dataclass(eq=False)
class _Base:
    """The base URL one call sends to, and whether it came from the cache (and may be stale)."""

    url: str
    cached: bool = False
    stale: bool = False


class ChatApi:
    """The engagement check for one account on one endpoint. See the module docstring.

    ``endpoint`` is the App Engagement API's base URL, or ``None`` to ask the Domain API
    (``domain_api``) for it; an endpoint given skips the look-up. ``retry`` is a
    :class:`RetryPolicy`, a preset name or a mapping of options (``RetryPolicy.from_dict``);
    ``random`` a ``() -> float`` in [0, 1) (or a ``random.Random``) used for backoff jitter;
    ``method_override`` sends reports as ``POST`` with ``X-HTTP-Method-Override: PUT`` (for
    servers whose CORS allow-list has no ``PUT``). Bad configuration raises
    :class:`ConfigError` here, up front::

        >>> try:
        ...     ChatApi("ftp://x", "demo")
        ... except ConfigError as exc:
        ...     print(exc.option, "|", exc.message[:34])
        endpoint | must be an http:// or https:// URL
        >>> async def offline(request, timeout):     # the transport: CPython's, pyfetch, a fake
        ...     raise NetworkError("offline")
        >>> ChatApi(None, "123", transport=offline).domain_api
        'https://api.liveperson.net'
    """

    def __init__(
        self,
        endpoint: str | None,
        account_id: str,
        *,
        domain_api: str | None = None,
        on_engagement: Any = None,
        on_retry: Any = None,
        on_attempt: Any = None,
        retry: RetryPolicy | str | Mapping[str, Any] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        session_store: SessionStore | None = None,
        base_cache: BaseCache | None = None,
        method_override: bool = False,
        random: Callable[[], float] | _random.Random | None = None,
    ) -> None:
        self.endpoint = None if endpoint is None else _check_url("endpoint", endpoint)
        self.domain_api = _check_url("domain_api", domain_api or DEFAULT_DOMAIN_API)
        self.account_id = _check_account_id(account_id)
        self.policy = _check_policy(retry)
        if not isinstance(method_override, bool):
            raise ConfigError(
                "method_override", f"must be true or false; got {_short(method_override)}"
            )
        self.method_override = method_override
        self.events = EventBindings()
        for event, binding in (
            ("onEngagement", on_engagement),
            ("onRetry", on_retry),
            ("onAttempt", on_attempt),
        ):
            if binding is not None:
                self.events.bind(event, binding)
        self.clock: Clock = _check_has(clock, "clock", ("monotonic", "time", "sleep")) or (
            AsyncioClock()
        )
        self._store: SessionStore = (
            _check_has(session_store, "session_store", ("load", "save")) or MemorySessionStore()
        )
        self._bases: BaseCache = (
            _check_has(base_cache, "base_cache", ("load_base", "save_base")) or MemoryBaseCache()
        )
        self._rand = _random_source(random)
        if not callable(transport):
            raise ConfigError(
                "transport",
                f"must be an async callable (request, timeout); got {transport!r} (the driver "
                "imports no adapter: engage_web.ChatApi picks the platform's transport)",
            )
        self._transport: Transport = transport
        self.page_id: str | None = None
        self._calls: set[_Call] = set()
        self._session_gate: asyncio.Event | None = None
        self._lookup: asyncio.Future[str | dict[str, Any]] | None = None
        self._watcher: Watcher | None = None
        self._closed = False

    # -- configuration -------------------------------------------------------------------------

    def bind(self, event: str, binding: Any) -> None:
        """Bind a function, ``{callback, context}`` or a list to ``onEngagement``/``onRetry``.

        >>> async def offline(request, timeout):
        ...     raise NetworkError("offline")
        >>> ChatApi("https://h", "demo", transport=offline).bind("on_engagement", print)
        """
        self.events.bind(event, binding)

    def unbind(self, event: str, binding: Any = None) -> int:
        """Remove a binding (every binding of ``event`` when ``None``); returns how many went."""
        return self.events.unbind(event, binding)

    @property
    def session(self) -> Session | None:
        """The current visitor session (``None`` before the first answer, or if storage fails).

        Stored ids that are malformed (a hand-edited state file, mangled storage) are forgotten
        here: sent, they would make every later check a 401.
        """
        try:
            session = self._store.load()
        except Exception:
            logger.exception("the session store failed to load")
            return None
        if session is not None and validate_session_ids(session.visitor_id, session.session_id):
            sound_vid = not validate_session_ids(session.visitor_id, None)
            session = Session(session.visitor_id, None) if sound_vid else None
            logger.warning("engage_web: the stored visitor session is malformed; %s",
                           "a new visit" if sound_vid else "starting anew")
            self._store.save(session)
        return session

    @property
    def base(self) -> str | None:
        """Where the calls go: the endpoint, else the cached base while it is fresh, else None
        (the next call asks the Domain API)."""
        if self.endpoint is not None:
            return self.endpoint
        cached = self._cached_base()
        return cached.url if cached is not None else None

    @property
    def pending(self) -> int:
        """How many calls (checks and reports) are in progress."""
        return len(self._calls)

    @property
    def closed(self) -> bool:
        """True after ``close()``: every further call returns a cancelled outcome at once."""
        return self._closed

    # -- the check -----------------------------------------------------------------------------

    async def get_engagement(self, params: Any = None) -> dict[str, Any]:
        """Check eligibility and availability; returns (and emits) exactly one outcome.

        ``params`` is the seed's request object (``None`` means ``{}``)::

            outcome = await api.get_engagement({"appType": "EXTERNAL", "consumerSections": "A,B"})
        """
        call = _Call("check")
        try:
            outcome = await self._checked(call, params)
        except asyncio.CancelledError:
            await self.events.emit("onEngagement", self._marked(self._cancelled_outcome(call)))
            raise
        await self.events.emit("onEngagement", outcome)
        return outcome

    def watch(
        self, params: Any = None, *, policy: WatchPolicy | Mapping[str, Any] | None = None
    ) -> Watcher:
        """Keep the answer fresh (kiosks): re-check on a schedule, emit only when it changes.

        Runs :class:`~.watch.Watcher` as a task on the running loop (call this from a
        coroutine); ``onEngagement`` fires for the first outcome and then only when what the
        page shows changes. A new watch replaces the previous one; ``cancel()``/``close()`` and
        ``watcher.stop()`` end it at once::

            watcher = api.watch({"consumerSections": ["Support"]}, policy={"interval": 30})
        """
        if policy is None:
            policy = WatchPolicy()
        elif isinstance(policy, Mapping):
            policy = WatchPolicy.from_dict(policy)
        elif not isinstance(policy, WatchPolicy):
            raise ConfigError(
                "watch", f"must be a WatchPolicy or an object of options; got {policy!r}"
            )
        if self._watcher is not None:
            self._watcher.stop()

        async def check() -> dict[str, Any]:
            return await self._checked(_Call("check"), params)

        async def emit(outcome: dict[str, Any]) -> None:
            await self.events.emit("onEngagement", outcome)

        self._watcher = Watcher(check, emit, self.clock, policy)
        self._watcher.start()
        return self._watcher

    async def report(
        self,
        engagement_attributes: Any,
        *,
        page_id: str | None = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        """Add SDEs (impression events included) to the current session, or to ``session``.

        An update session of the App Engagement API: impression events go in its
        ``impAttributes``, other SDEs in ``engagementAttributes``, and ``page_id`` names the
        page of the answer the report belongs to (default: the last answer's ``pageId``; a
        report with none is refused with 400, field ``pageId``). ``session``: the visit to
        report to instead of the current one, leaving the stored session alone; a queued report
        is delivered to the session it was made in (impressions count only there). Returns
        ``{"status": "Reported", "delivered": True}`` or an Error outcome with
        ``"delivered": False`` (no session yet: 401; validation: 400)::

            await api.report([{"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}])
        """
        outcome = await self._report(engagement_attributes, page_id, session)
        return self._marked(outcome)

    async def _report(
        self, engagement_attributes: Any, page_id: str | None, session: Session | None
    ) -> dict[str, Any]:
        """:meth:`report`'s outcome, before ``error.transient`` is set."""
        outcome = self._refusal()
        if outcome is not None:
            outcome["delivered"] = False
            return outcome
        if session is not None and (
            not session.established
            or validate_session_ids(session.visitor_id, session.session_id)
        ):
            session = None  # a visit not under way, or ids storage mangled: the current one
        if session is None:
            session = self.session
        if session is None or not session.established:
            message = (
                "no visitor session yet: call get_engagement first; a report needs the "
                "vid/sid its answer names"
            )
            outcome = error_outcome(401, message, field="sid", session=session, attempts=0)
            return {**outcome, "delivered": False}
        body = {
            "engagementAttributes": engagement_attributes,
            "pageId": page_id if page_id is not None else self.page_id,
        }
        try:
            report = validate_report(body)
        except RequestError as exc:
            return {**_invalid(exc, session), "delivered": False}
        call = _Call("report")
        return await self._supervise(call, self._run_report(call, report, session))

    # -- cancellation --------------------------------------------------------------------------

    def cancel(self, message: str = "cancelled by ChatApi.cancel()") -> int:
        """Stop every pending call now; each returns a ``cancelled`` outcome. Returns how many.

        A running watch stops too (silently: it emits nothing more).
        """
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        count = 0
        for call in list(self._calls):
            if call.task is not None and not call.task.done():
                call.cancel_message = message
                call.task.cancel()
                count += 1
        return count

    def close(self) -> None:
        """Cancel everything and refuse further calls (they return a cancelled outcome)."""
        self._closed = True
        self.cancel("cancelled: the ChatApi was closed")

    async def aclose(self) -> None:
        """``close()``, then wait until every pending call has delivered its outcome."""
        self.close()
        tasks = [call.task for call in list(self._calls) if call.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> ChatApi:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- internals -----------------------------------------------------------------------------

    def _refusal(self) -> dict[str, Any] | None:
        if self._closed:
            message = "this ChatApi is closed; create a new one"
            return error_outcome("cancelled", message, session=self.session, attempts=0)
        return None

    def _marked(self, outcome: dict[str, Any]) -> dict[str, Any]:
        """``outcome`` with ``error.transient`` set when it is an Error: every outcome this class
        returns passes here, so the page never has to judge error codes itself."""
        return mark_transient(outcome, self.policy.retry_statuses)

    async def _checked(self, call: _Call, params: Any) -> dict[str, Any]:
        """One check's outcome, without telling the page (``get_engagement`` and ``watch`` do)."""
        outcome = self._refusal()
        if outcome is not None:
            return self._marked(outcome)
        try:
            request = validate_request({} if params is None else params)
        except RequestError as exc:
            return self._marked(_invalid(exc, self.session))
        return self._marked(await self._supervise(call, self._run_check(call, request)))

    async def _supervise(self, call: _Call, work: Any) -> dict[str, Any]:
        """Run ``work`` as a task ``cancel()`` can reach; map its cancellation to an outcome."""
        call.task = asyncio.ensure_future(work)
        self._calls.add(call)
        try:
            return await call.task
        except asyncio.CancelledError:
            if _being_cancelled():  # the caller's own task: let asyncio see it
                call.task.cancel()
                raise
            return self._cancelled_outcome(call)  # cancel(), close(), or an aborted exchange
        finally:
            self._calls.discard(call)

    def _cancelled_outcome(self, call: _Call) -> dict[str, Any]:
        message = (
            call.cancel_message or "cancelled: the awaiting task or the exchange was cancelled"
        )
        check = call.check
        if check is not None and not check.finished:
            finish = check.handle(Cancel(message))
            assert isinstance(finish, Finish)
            result = finish.outcome
        else:
            attempts = check.attempts if check is not None else 0
            result = error_outcome("cancelled", message, session=self.session, attempts=attempts)
        if call.kind == "report":
            result["delivered"] = False
        return result

    async def _run_check(self, call: _Call, request: dict[str, Any]) -> dict[str, Any]:
        started = self.clock.monotonic()
        try:
            base = await self._base_for(call)
            if isinstance(base, dict):
                return base
            session = await self._session_for(call, request)
            check = Check(
                self._remaining(self.policy, started),
                lambda s: create_session_request(base.url, self.account_id, request, s),
                session=session,
                rand=self._rand,
            )
            call.check = check
            return await self._drive(call, check, stage="check", base=base)
        except Exception as exc:  # a bug must still end in one outcome, never an exception
            logger.exception("engage_web: the check failed unexpectedly")
            return error_outcome(
                "internal",
                f"engage_web internal error: {exc!r}",
                session=self.session,
                attempts=call.check.attempts if call.check else 0,
            )
        finally:
            self._release_gate(call)

    async def _run_report(
        self, call: _Call, report: dict[str, Any], session: Session
    ) -> dict[str, Any]:
        started = self.clock.monotonic()
        try:
            base = await self._base_for(call)
            if isinstance(base, dict):
                outcome = base
            else:
                check = Check(
                    self._remaining(self.policy, started).replace(
                        not_available_rechecks=0, loading_retries=0
                    ),
                    lambda s: update_session_request(
                        base.url,
                        self.account_id,
                        report["pageId"],
                        report["engagementAttributes"],
                        s,  # type: ignore[arg-type]
                        method_override=self.method_override,
                    ),
                    session=session,
                    classify=classify_report,
                    rand=self._rand,
                )
                call.check = check
                outcome = await self._drive(call, check, stage="update", base=base)
        except Exception as exc:  # a bug must still end in one outcome, never an exception
            logger.exception("engage_web: the report failed unexpectedly")
            attempts = call.check.attempts if call.check else 0
            outcome = error_outcome(
                "internal", f"engage_web internal error: {exc!r}", session=session,
                attempts=attempts,
            )
        if outcome.get("status") == "Error":
            outcome["delivered"] = False
        return outcome

    # -- the base URL --------------------------------------------------------------------------

    def _cached_base(self) -> _Base | None:
        try:
            resolved = self._bases.load_base()
        except Exception:
            logger.exception("the base cache failed to load")
            return None
        if resolved is None or not resolved.fresh(self.clock.time()):
            return None
        try:
            return _Base(_check_url("base", resolved.base), cached=True)
        except ConfigError:  # a hand-edited state file, mangled storage: ask again
            logger.warning("engage_web: the cached base %r is unusable; asking again", resolved)
            return None

    def _save_base(self, base: str | None) -> None:
        try:
            self._bases.save_base(None if base is None else ResolvedBase(base, self.clock.time()))
        except Exception:
            logger.exception("the base cache failed to save %r", base)

    async def _base_for(self, call: _Call) -> _Base | dict[str, Any]:
        """The base this call sends to: the endpoint, the cached base, or a look-up's answer
        (one look-up at a time: concurrent calls wait for it). An Error outcome when it fails."""
        if self.endpoint is not None:
            return _Base(self.endpoint)
        cached = self._cached_base()
        if cached is not None:
            return cached
        found = await self._look_up(call)
        return found if isinstance(found, dict) else _Base(found)

    async def _look_up(self, call: _Call, *, retry: bool = True) -> str | dict[str, Any]:
        """Ask the Domain API (retried under the policy unless ``retry`` is false); the base, or
        the ``lookup`` Error outcome. Concurrent callers share the look-up in progress."""
        while self._lookup is not None and not self._lookup.done():
            try:
                return await asyncio.shield(self._lookup)
            except asyncio.CancelledError:
                if _being_cancelled():
                    raise
                # the call that was looking up was cancelled: this one asks for itself
        future: asyncio.Future[str | dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._lookup = future
        try:
            policy = self.policy.replace(not_available_rechecks=0, loading_retries=0)
            if not retry:
                policy = policy.replace(max_retries=0)
            check = Check(
                policy,
                lambda _s: domain_request(self.domain_api, self.account_id),
                classify=domain_classifier(self.domain_api, self.account_id),
                rand=self._rand,
            )
            call.check = check
            outcome = await self._drive(call, check, stage="lookup")
        except BaseException:
            future.cancel()
            raise
        if outcome.get("status") == "Resolved":
            self._save_base(outcome["base"])
            result: str | dict[str, Any] = outcome["base"]
        else:
            result = lookup_error(outcome, self.domain_api, self.account_id)
        future.set_result(result)
        return result

    async def _refresh(self, call: _Call, base: _Base, check: Check) -> None:
        """The cached base stopped answering: forget it and ask once more before the retry
        (keeping the old base if the Domain API cannot be reached either)."""
        base.stale = False
        self._save_base(None)
        found = await self._look_up(call, retry=False)
        call.check = check
        if isinstance(found, str):
            base.url = found
        else:
            self._save_base(base.url)  # nothing better known: keep using it
        base.cached = False

    def _remaining(self, policy: RetryPolicy, started: float) -> RetryPolicy:
        """``policy`` with the deadline left after a look-up that ran since ``started``."""
        spent = self.clock.monotonic() - started
        if spent <= 0:
            return policy
        return policy.replace(deadline=max(0.001, policy.deadline - spent))

    async def _session_for(self, call: _Call, request: dict[str, Any]) -> Session | None:
        """The session to send: the params' ids, else the stored ones (see "Overlapping calls")."""
        vid = request.get("vid")
        if isinstance(vid, str) and vid:
            sid = request.get("sid")
            return Session(vid, sid if isinstance(sid, str) and sid else None)
        while True:
            session = self.session
            if session is not None and session.established:
                return session
            gate = self._session_gate
            if gate is None:
                gate = asyncio.Event()
                self._session_gate = gate
                call.holds_session_gate = gate
                return session
            await gate.wait()

    def _release_gate(self, call: _Call) -> None:
        gate = call.holds_session_gate
        if gate is not None:
            call.holds_session_gate = None
            if self._session_gate is gate:
                self._session_gate = None
            gate.set()

    def _remember(self, call: _Call, check: Check) -> None:
        """Store the ids (and pageId) of the answer just received."""
        session = check.session
        if session is not None and session != self.session and call.kind == "check":
            try:
                self._store.save(session)
            except Exception:
                logger.exception("the session store failed to save %r", session)
        if session is not None and session.established:
            self._release_gate(call)
        outcome = check.outcome
        if outcome is not None and isinstance(outcome.get("pageId"), str):
            self.page_id = outcome["pageId"]

    async def _drive(
        self, call: _Call, check: Check, *, stage: str, base: _Base | None = None
    ) -> dict[str, Any]:
        """Carry out the check's actions until it finishes.

        ``stage`` (``"check"``, ``"update"``, ``"lookup"``) labels ``onAttempt`` payloads and the
        ``onRetry`` of a look-up (an update emits no ``onRetry``). With a ``base`` from the
        cache, a network failure or timeout marks it stale, and it is asked again before the
        retry is sent.
        """
        action = check.handle(Start(self.clock.monotonic()))
        while not isinstance(action, Finish):
            if isinstance(action, Send):
                if base is not None and base.stale:
                    await self._refresh(call, base, check)
                    action = Send(check.rebuild_request(), action.timeout, action.attempt)
                request = action.request
                await self.events.emit(
                    "onAttempt",
                    {
                        "attempt": action.attempt,
                        "stage": stage,
                        "method": request.method,
                        "url": request.url,
                    },
                )
                try:
                    response = await self._exchange(action)
                    if not isinstance(response, HttpResponse):
                        raise TypeError(f"the transport returned {response!r}, not an HttpResponse")
                except asyncio.CancelledError:
                    if _being_cancelled():
                        raise
                    # the transport itself gave up (an abort it did not translate): no answer
                    failure = NetworkError("the exchange was aborted")
                    action = check.handle(TransportFailed(failure, self.clock.monotonic()))
                except Exception as exc:
                    if not isinstance(exc, OSError):
                        logger.exception("the transport raised an unexpected error")
                    if base is not None and base.cached:
                        base.stale = True
                    action = check.handle(TransportFailed(exc, self.clock.monotonic()))
                else:
                    event = AnswerReceived(response, self.clock.monotonic(), self.clock.time())
                    action = check.handle(event)
                    if stage == "check":
                        self._remember(call, check)
            elif isinstance(action, Wait):
                if stage != "update":
                    payload = action.payload
                    if stage == "lookup":
                        payload = {**payload, "stage": "lookup"}
                    await self.events.emit("onRetry", payload)
                await self.clock.sleep(action.seconds)
                action = check.handle(TimerFired(self.clock.monotonic()))
        return action.outcome

    async def _exchange(self, action: Send) -> HttpResponse:
        """One exchange through the transport, which must honour ``action.timeout``.

        A transport that does not (a custom one waiting for ever) is cut off by a guard a little
        later, on the event loop's own timer, so no check outlives its timeouts and deadline.
        """
        transport = self._transport

        async def exchange() -> HttpResponse:
            try:
                return await transport(action.request, action.timeout)
            except TimeoutError as exc:  # the transport's own timeout: name it ours
                raise AttemptTimeout(action.timeout, str(exc) or None) from None

        guard = action.timeout + min(1.0, 0.1 + action.timeout * 0.1)
        try:
            return await asyncio.wait_for(exchange(), guard)
        except TimeoutError:  # only the guard's: exchange() turns the transport's into ours
            raise AttemptTimeout(
                action.timeout, f"no answer within {action.timeout:g} s (the transport ignored "
                "its timeout and was stopped)"
            ) from None


def _being_cancelled() -> bool:
    """True when the current task has a pending ``cancel()`` (Python 3.11+ ``cancelling``)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if callable(cancelling) else True


# -- configuration checks ----------------------------------------------------------------------


def _check_url(option: str, url: object) -> str:
    """An ``http(s)://`` base URL without query, fragment or credentials, HTTPS unless it is a
    loopback host (visitor ids and SDEs travel in every request: never in clear text)."""
    text = url if isinstance(url, str) else None
    try:
        parts = urlsplit(text.strip()) if text else None
        _ = parts.port if parts is not None else None  # raises on a bad port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigError(
            option,
            f"must be an http:// or https:// URL (no query, fragment or credentials); "
            f"got {_short(url)}",
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            option,
            "must be an https:// URL: LivePerson's services are HTTPS only; plain http:// is "
            "allowed only for a loopback host (localhost, 127.0.0.1, [::1]) such as the local "
            f"emulator; got {_short(url)}",
        )
    return text.strip().rstrip("/")  # type: ignore[union-attr]


def _short(value: object) -> str:
    """``repr(value)`` cut to 200 characters, with its length (a pasted megabyte stays out)."""
    return shown(value, 200, count=True)


def _check_account_id(account_id: object) -> str:
    try:
        return validate_account_id(account_id)
    except RequestError as exc:
        raise ConfigError("account_id", exc.message) from None


def _check_policy(retry: object) -> RetryPolicy:
    if retry is None:
        return RetryPolicy.preset("default")
    if isinstance(retry, RetryPolicy):
        return retry
    if isinstance(retry, str):
        return RetryPolicy.preset(retry)
    return RetryPolicy.from_dict(retry)  # type: ignore[arg-type]


def _check_has(value: Any, option: str, methods: tuple[str, ...]) -> Any:
    if value is None:
        return None
    missing = [name for name in methods if not callable(getattr(value, name, None))]
    if missing:
        raise ConfigError(
            option, f"must provide {', '.join(methods)}; {value!r} lacks {', '.join(missing)}"
        )
    return value


def _random_source(random: object) -> Callable[[], float]:
    if random is None:
        return _random.Random().random
    method = getattr(random, "random", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    if callable(random):
        return random  # type: ignore[return-value]
    raise ConfigError("random", f"must be a function returning [0, 1) or a Random; got {random!r}")


def _invalid(exc: RequestError, session: Session | None) -> dict[str, Any]:
    errors = [e.to_dict() for e in exc.errors]
    return error_outcome(
        exc.status, exc.message, field=exc.field, session=session, errors=errors, attempts=0
    )
