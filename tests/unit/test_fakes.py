"""The shared fakes behave as documented, so tests built on them can be trusted."""

import asyncio

import pytest

from engage_web.core.transport import HttpRequest
from tests.fakes import HANG, FakeClock, ScriptedTransport, ScriptExhaustedError, available, run

REQUEST = HttpRequest("POST", "http://h/x")


def test_manual_clock_wakes_sleeps_only_when_advanced_past_their_end():
    """A parked sleep ends only when advance() reaches its end; pending lists it until then."""

    async def scenario():
        clock = FakeClock(start=10.0)
        task = asyncio.ensure_future(clock.sleep(2.0))
        await asyncio.sleep(0)
        assert clock.pending == [12.0]
        clock.advance(1.5)
        await asyncio.sleep(0)
        assert not task.done()
        clock.advance(0.5)
        await task
        assert clock.pending == []
        return clock

    clock = run(scenario())
    assert (clock.monotonic(), clock.sleeps) == (12.0, [2.0])
    assert clock.time() == pytest.approx(1_700_000_002.0)


def test_auto_clock_moves_time_by_each_sleep():
    """In auto mode every sleep returns at once and moves time forward by its length."""
    clock = FakeClock(start=0.0, auto_advance=True)
    run(clock.sleep(1.5))
    run(clock.sleep(0.5))
    assert (clock.monotonic(), clock.sleeps, clock.pending) == (2.0, [1.5, 0.5], [])


def test_cancelled_sleep_leaves_nothing_pending():
    """Cancelling a parked sleep removes it from pending."""

    async def scenario():
        clock = FakeClock()
        task = asyncio.ensure_future(clock.sleep(5))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return clock

    assert run(scenario()).pending == []


def test_scripted_transport_plays_items_in_order_and_records_requests():
    """Answers are returned, exceptions raised, callables called, and overruns are loud."""
    transport = ScriptedTransport(available(), OSError("down"), lambda r, t: available(sid="s2"))
    assert run(transport(REQUEST, 1.0)).status == 200
    with pytest.raises(OSError, match="down"):
        run(transport(REQUEST, 2.0))
    assert "s2" in run(transport(REQUEST, 3.0)).body
    with pytest.raises(ScriptExhaustedError):
        run(transport(REQUEST, 4.0))
    assert transport.timeouts == [1.0, 2.0, 3.0, 4.0]


def test_hanging_exchange_counts_its_abort():
    """A HANG item never answers; cancelling it is counted in aborted."""

    async def scenario():
        transport = ScriptedTransport(HANG)
        task = asyncio.ensure_future(transport(REQUEST, 1.0))
        await asyncio.sleep(0)
        assert transport.in_flight == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return transport

    transport = run(scenario())
    assert (transport.aborted, transport.in_flight) == (1, 0)
