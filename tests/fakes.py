"""Test doubles shared by every test tier: a fake clock, a scripted transport, answer builders.

Nothing here really waits. ``FakeClock.sleep`` parks until the test calls ``advance`` (or, with
``auto_advance=True``, moves time forward by itself and returns at once), and records every
sleep. ``ScriptedTransport`` plays a list of answers, exceptions, callables or ``HANG`` and
records every request::

    transport = ScriptedTransport(json_answer(503, {"message": "busy"}, retry_after="2"),
                                  available())
    clock = FakeClock(auto_advance=True)
    api = ChatApi("https://emulator.test", "demo", transport=transport, clock=clock,
                  random=lambda: 0.5)
    outcome = run(api.get_engagement(SEED_REQUEST))
    assert clock.sleeps == [2.0] and outcome["status"] == "Available"
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from engage_web.core.errors import AttemptTimeout, NetworkError
from engage_web.core.transport import HttpRequest, HttpResponse
from engage_web.cpython.emulator.seed import seed_engagement_details, seed_request

T = TypeVar("T")

#: An epoch time for the fake wall clock: Tue, 14 Nov 2023 22:13:20 GMT.
EPOCH = 1_700_000_000.0

#: The seed's example request (``getEngagement.txt``), vid/sid removed so sessions start fresh.
SEED_REQUEST: dict[str, Any] = seed_request()

ENGAGEMENT_DETAILS: dict[str, Any] = seed_engagement_details()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh event loop (no pytest-asyncio needed)."""
    return asyncio.run(coro)


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until nothing is left to do (bounded by ``rounds`` loop turns)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


# -- answers -----------------------------------------------------------------------------------


def json_answer(
    status: int, body: Any, *, retry_after: str | None = None, headers: dict | None = None
) -> HttpResponse:
    """An answer with a JSON body (a ``str`` body is sent as is)."""
    all_headers = {"content-type": "application/json", **(headers or {})}
    if retry_after is not None:
        all_headers["retry-after"] = retry_after
    text = body if isinstance(body, str) else json.dumps(body)
    return HttpResponse(status, all_headers, text)


def available(
    vid: str = "v1", sid: str = "s1", page: str = "p1", *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The seed's Available answer for ``vid``/``sid`` (LivePerson answers 200)."""
    body = {
        "status": "Available",
        "sessionId": sid,
        "visitorId": vid,
        "pageId": page,
        "engagementDetails": copy.deepcopy(ENGAGEMENT_DETAILS),
        **extra,
    }
    return json_answer(status, body)


def not_available(
    vid: str = "v1", sid: str = "s1", page: str = "p1", *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The seed's NotAvailable answer for ``vid``/``sid``."""
    body = {"status": "NotAvailable", "sessionId": sid, "visitorId": vid, "pageId": page, **extra}
    return json_answer(status, body)


def error_answer(
    status: int,
    message: str = "error",
    *,
    retry_after: str | None = None,
    field: str | None = None,
    internal_code: int = 5,
) -> HttpResponse:
    """An error answer with LivePerson's JSON error body (``field``: the emulator's extension)."""
    body: dict[str, Any] = {"time": 1, "message": message, "internalCode": internal_code}
    if field is not None:
        body["field"] = field
    return json_answer(status, body, retry_after=retry_after)


def loading(account: str = "demo", vid: str = "v-cold") -> HttpResponse:
    """A cold account's answer: 500, internalCode 20, "Loading account: {acc}, vid: {vid}"."""
    message = f"Loading account: {account}, vid: {vid}"
    return json_answer(500, {"time": 1499263964605, "message": message, "internalCode": 20})


def domain(base_uri: str = "va.msdkgw.test", account: str = "demo") -> HttpResponse:
    """The Domain API's answer naming the msdkgw host of ``account``."""
    return json_answer(200, {"service": "msdkgw", "account": account, "baseURI": base_uri})


def network_down(message: str = "Failed to fetch") -> NetworkError:
    """What a transport raises when the network is down."""
    return NetworkError(message)


def timed_out(timeout: float = 8.0) -> AttemptTimeout:
    """What a transport raises when the per-attempt timeout passes."""
    return AttemptTimeout(timeout)


# -- clock -------------------------------------------------------------------------------------


class FakeClock:
    """A clock under the test's control. ``sleeps`` records every requested sleep (seconds).

    Manual mode: ``sleep`` parks until ``advance`` moves time past its end; ``pending`` lists
    the wake-up times of parked sleeps (empty means no timer is left behind). Auto mode
    (``auto_advance=True``): ``sleep`` moves time forward at once and returns.
    """

    def __init__(
        self, start: float = 100.0, *, epoch: float = EPOCH, auto_advance: bool = False
    ) -> None:
        self._start = start
        self._now = start
        self._epoch = epoch
        self.auto_advance = auto_advance
        self.sleeps: list[float] = []
        self._parked: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        """Fake monotonic seconds."""
        return self._now

    def time(self) -> float:
        """Fake epoch seconds, moving with ``monotonic``."""
        return self._epoch + (self._now - self._start)

    @property
    def pending(self) -> list[float]:
        """Wake-up times of the sleeps still parked."""
        return sorted(when for when, fut in self._parked if not fut.done())

    async def sleep(self, seconds: float) -> None:
        """Record the sleep; in auto mode advance time, else park until ``advance``."""
        self.sleeps.append(seconds)
        if self.auto_advance:
            self._now += max(0.0, seconds)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self._now + max(0.0, seconds), future)
        self._parked.append(entry)
        try:
            await future
        finally:
            self._parked.remove(entry)

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleep that has ended (they run at the next turn)."""
        self._now += seconds
        for when, future in list(self._parked):
            if when <= self._now and not future.done():
                future.set_result(None)


# -- transport ---------------------------------------------------------------------------------

HANG = object()  #: script item: never answer (until the exchange is cancelled)


class ScriptExhaustedError(AssertionError):
    """The engine made more requests than the test scripted."""


class ScriptedTransport:
    """An async transport that plays a script, one item per exchange.

    Items: an ``HttpResponse`` (returned), an exception instance (raised), ``HANG`` (never
    answers; counted in ``aborted`` when cancelled), or a callable ``(request, timeout)``
    returning any of those or an awaitable of one. ``requests`` and ``timeouts`` record every
    exchange; ``in_flight`` counts exchanges not yet over.
    """

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[HttpRequest] = []
        self.timeouts: list[float] = []
        self.in_flight = 0
        self.aborted = 0

    @property
    def calls(self) -> int:
        """How many exchanges were attempted."""
        return len(self.requests)

    def bodies(self) -> list[Any]:
        """The JSON bodies sent, decoded."""
        return [json.loads(r.body) if r.body else None for r in self.requests]

    async def __call__(self, request: HttpRequest, timeout: float) -> HttpResponse:  # noqa: ASYNC109
        self.requests.append(request)
        self.timeouts.append(timeout)
        if not self.script:
            raise ScriptExhaustedError(f"unscripted request #{len(self.requests)}: {request.url}")
        item = self.script.pop(0)
        self.in_flight += 1
        try:
            if callable(item) and not isinstance(item, BaseException):
                item = item(request, timeout)
                if inspect.isawaitable(item):
                    item = await item
            if item is HANG:
                try:
                    await asyncio.get_running_loop().create_future()
                except asyncio.CancelledError:
                    self.aborted += 1
                    raise
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, HttpResponse), f"bad script item {item!r}"
            return item
        finally:
            self.in_flight -= 1


def gated(answer: HttpResponse, gate: asyncio.Event) -> Callable[..., Awaitable[HttpResponse]]:
    """A script item that answers only once ``gate`` is set (for overlapping-call tests)."""

    async def respond(request: HttpRequest, timeout: float) -> HttpResponse:  # noqa: ASYNC109
        await gate.wait()
        return answer

    return respond
