"""Bindings take the JS SDK's forms, refuse anything else clearly, and never raise on emit."""

import asyncio

import pytest

from engage_web.core.errors import ConfigError
from engage_web.driver.events import EventBindings, event_name


def record(log, tag):
    return lambda payload: log.append((tag, payload))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("onEngagement", "onEngagement"),
        ("on_engagement", "onEngagement"),
        ("onRetry", "onRetry"),
        ("on_retry", "onRetry"),
    ],
)
def test_event_names_accept_camel_and_snake_case(event, expected):
    """Both spellings name the same event."""
    assert event_name(event) == expected


@pytest.mark.parametrize("event", ["onengagement", "onReady", "", None, 3])
def test_unknown_events_list_the_allowed_ones(event):
    """An unknown event is refused with the list of events that exist and what was received."""
    with pytest.raises(ConfigError) as caught:
        EventBindings().bind(event, print)
    assert caught.value.option == "event"
    assert "onEngagement, onRetry" in str(caught.value)
    assert repr(event) in str(caught.value)


@pytest.mark.parametrize(
    ("binding", "words"),
    [
        ("showChat", ["a binding must be a function", "'showChat'"]),
        (None, ["got None"]),
        ({"callback": "showChat"}, ["needs a callable 'callback'", "'showChat'"]),
        ({"context": 1}, ["needs a callable 'callback'", "got None"]),
        ({"callback": print, "ctx": 1}, ["only 'callback' and 'context'", "'ctx'"]),
        ([print, 5], ["each item of a binding list", "got 5"]),
    ],
)
def test_bad_bindings_are_refused_naming_the_event(binding, words):
    """A binding that is not a function, {callback, context} or list is refused, saying why."""
    events = EventBindings()
    with pytest.raises(ConfigError) as caught:
        events.bind("onRetry", binding)
    assert caught.value.option == "onRetry"
    for word in words:
        assert word in str(caught.value)
    assert events.bindings("onRetry") == ()  # nothing half-bound


def test_emit_calls_in_order_with_context_first():
    """Bindings run in binding order; a context is passed before the payload, like JS `this`."""
    log = []
    events = EventBindings()
    events.bind("onRetry", record(log, "a"))
    events.bind("onRetry", {"callback": lambda this, p: log.append((this, p)), "context": None})
    events.bind("onRetry", [record(log, "c")])
    asyncio.run(events.emit("onRetry", 1))
    assert log == [("a", 1), (None, 1), ("c", 1)]


def test_unbind_matches_callback_and_context():
    """unbind removes only the bindings with the same callback and the same context."""
    log = []
    events = EventBindings()

    def callback(*args):
        log.append(args)

    events.bind(
        "onRetry",
        [callback, {"callback": callback, "context": "A"}, {"callback": callback, "context": "B"}],
    )
    assert events.unbind("onRetry", {"callback": callback, "context": "A"}) == 1
    assert events.unbind("onRetry", {"callback": callback, "context": "Z"}) == 0
    asyncio.run(events.emit("onRetry", 0))
    assert log == [(0,), ("B", 0)]
    assert events.unbind("onRetry") == 2
    assert events.bindings("onRetry") == ()


def test_emit_logs_a_raising_callback_and_carries_on(caplog):
    """A raising (sync or async) callback is logged and the others still run."""
    log = []

    async def async_broken(payload):
        raise ValueError("async bug")

    def broken(payload):
        raise ValueError("sync bug")

    events = EventBindings()
    events.bind("onEngagement", [broken, async_broken, record(log, "ok")])
    asyncio.run(events.emit("onEngagement", {"status": "NotAvailable"}))
    assert log == [("ok", {"status": "NotAvailable"})]
    assert "sync bug" in caplog.text
    assert "async bug" in caplog.text
