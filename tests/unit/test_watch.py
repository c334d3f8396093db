"""The watch: its schedule as a table, and the loop driven by a fake clock (no real waiting)."""

from __future__ import annotations

import copy

import pytest

from engage_web.core.errors import ConfigError
from engage_web.driver.watch import Watcher, WatchPolicy, availability_key
from tests.fakes import ENGAGEMENT_DETAILS, FakeClock, run, settle

AVAILABLE = {"status": "Available", "sessionId": "s", "visitorId": "v", "pageId": "p1",
             "engagementDetails": dict(ENGAGEMENT_DETAILS)}
NOT_AVAILABLE = {"status": "NotAvailable", "sessionId": "s", "visitorId": "v", "pageId": "p1"}


def error(code):
    return {"status": "Error", "error": {"code": code, "message": "x"}}


def available(valid_for=900, engagement_id="3562981110"):
    outcome = copy.deepcopy(AVAILABLE)
    outcome["engagementDetails"].update(validForSeconds=valid_for, engagementId=engagement_id)
    return outcome


POLICY = WatchPolicy(interval=60, expiry_margin=30, outage_interval=5, min_interval=1)


@pytest.mark.parametrize(
    ("outcome", "errors_in_row", "delay"),
    [
        (available(900), 0, 60.0),          # long validity: the interval bounds the wait
        (available(45), 0, 15.0),           # short validity: re-check before it runs out
        (available(10), 0, 1.0),            # shorter than the margin: never below min_interval
        (NOT_AVAILABLE, 0, 60.0),           # nobody there: the interval
        (error("network"), 1, 5.0),         # first error of an outage: outage_interval
        (error(503), 3, 20.0),              # doubling while it lasts
        (error("timeout"), 10, 60.0),       # capped at the interval
        (error(400), 1, None),              # a bad request never heals: stop
        (error(404), 1, None),              # an unknown account never heals: stop
        (error("cancelled"), 1, None),      # cancelled: stop
    ],
)
def test_next_delay(outcome, errors_in_row, delay):
    """The delay until the next check follows the outcome, as the module docstring states."""
    assert POLICY.next_delay(outcome, errors_in_row) == delay


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (available(), {**available(), "pageId": "p2"}, True),   # a new page view looks the same
        (available(), available(engagement_id="other"), False),  # another engagement does not
        (NOT_AVAILABLE, {**NOT_AVAILABLE, "sessionId": "s2"}, True),
        (available(), NOT_AVAILABLE, False),
        (error("network"), error("network"), True),
        (error("network"), error(503), False),
    ],
)
def test_availability_key(first, second, same):
    """Outcomes that look alike to a visitor share a key; others do not."""
    assert (availability_key(first) == availability_key(second)) is same


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"interval": -1}, "watch.interval"),
        ({"interval": "60"}, "watch.interval"),
        ({"interval": 0.5}, "watch.interval"),      # below min_interval
        ({"intervall": 5}, "watch.intervall"),      # unknown key is named
    ],
)
def test_bad_options_name_the_option(options, option):
    """Bad watch options raise ConfigError naming the option."""
    with pytest.raises(ConfigError) as caught:
        WatchPolicy.from_dict(options)
    assert caught.value.option == option


class ScriptedCheck:
    """Returns the scripted outcomes in turn, then repeats the last one."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self):
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        return copy.deepcopy(outcome)


def test_emits_only_changes_and_follows_the_schedule():
    """Agents leaving and returning produce exactly one emission per change, on schedule."""

    async def scenario():
        clock = FakeClock()
        check = ScriptedCheck(available(), available(), NOT_AVAILABLE, NOT_AVAILABLE, available())
        emitted = []

        async def emit(outcome):
            emitted.append(outcome["status"])

        watcher = Watcher(check, emit, clock, POLICY)
        watcher.start()
        for _ in range(4):
            await settle()
            clock.advance(60)
        await settle()
        assert emitted == ["Available", "NotAvailable", "Available"]
        assert check.calls == 5
        assert clock.sleeps == [60.0] * 5
        watcher.stop()
        await watcher.wait_stopped()
        assert clock.pending == []  # no timer left behind

    run(scenario())


def test_rides_out_an_outage_with_growing_waits_then_recovers():
    """An outage is reported once, re-checked after 5, 10, 20 s, and the recovery is emitted."""

    async def scenario():
        clock = FakeClock(auto_advance=True)
        check = ScriptedCheck(available(), error("network"), error("network"), error("network"),
                              available())
        emitted = []

        async def emit(outcome):
            emitted.append(availability_key(outcome)[0])
            if check.calls == 5:
                watcher.stop()

        watcher = Watcher(check, emit, clock, POLICY)
        watcher.start()
        await watcher.wait_stopped()  # ends when emit stops it
        assert emitted == ["Available", "Error", "Available"]
        assert clock.sleeps == [60.0, 5.0, 10.0, 20.0]

    run(scenario())


def test_stops_by_itself_on_an_error_no_recheck_can_cure():
    """A 400 is emitted once and ends the watch without scheduling another check."""

    async def scenario():
        clock = FakeClock()
        emitted = []

        async def emit(outcome):
            emitted.append(outcome)

        watcher = Watcher(ScriptedCheck(error(400)), emit, clock, POLICY)
        await watcher.start()
        assert [o["error"]["code"] for o in emitted] == [400]
        assert not watcher.running
        assert clock.pending == []

    run(scenario())


def test_a_raising_callback_does_not_end_the_watch():
    """A page callback that raises is logged; the next change is still emitted."""

    async def scenario():
        clock = FakeClock()
        seen = []

        async def emit(outcome):
            seen.append(outcome["status"])
            raise RuntimeError("page bug")

        watcher = Watcher(ScriptedCheck(available(), NOT_AVAILABLE), emit, clock, POLICY)
        watcher.start()
        await settle()
        clock.advance(60)
        await settle()
        assert seen == ["Available", "NotAvailable"]
        assert watcher.running
        watcher.stop()
        await watcher.wait_stopped()

    run(scenario())
