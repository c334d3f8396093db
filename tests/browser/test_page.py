"""engage_web.browser.page under CPython: proxies are made once per binding and freed on unbind.

A fake ``window.ChatApi``, ``JSON`` and ``create_proxy`` stand in for the browser; the real page
(PyScript example) is exercised in test_embed.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from engage_web.browser import page


class FakeProxy:
    """Stands in for a PyProxy made by create_proxy: callable until destroyed."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.destroyed = False

    def __call__(self, *args: Any) -> Any:
        assert not self.destroyed, "a destroyed proxy was called"
        return self.function(*args)

    def destroy(self) -> None:
        self.destroyed = True


class FakeChatApi:
    """window.ChatApi's bind/unbind, keeping what JavaScript would keep."""

    def __init__(self) -> None:
        self.bound: dict[str, list[Any]] = {"onEngagement": [], "onRetry": [], "onReady": []}

    def bind(self, event: str, proxy: Any) -> None:
        self.bound[event].append(proxy)

    def unbind(self, event: str, proxy: Any) -> None:
        self.bound[event].remove(proxy)

    def emit(self, event: str, payload: Any) -> None:
        for proxy in list(self.bound[event]):
            proxy(payload)


class FakeJSON:
    """JSON.stringify of a 'JS object' (here: any JSON-able Python value)."""

    @staticmethod
    def stringify(value: Any) -> str:
        return json.dumps(value)


@pytest.fixture
def chat_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChatApi]:
    fake = FakeChatApi()
    monkeypatch.setattr(page, "_browser", lambda: (fake, FakeJSON, FakeProxy))
    yield fake
    page._proxies.clear()


def test_a_python_callback_gets_a_plain_dict_and_unbind_frees_its_proxy(chat_api: FakeChatApi):
    """bind makes one proxy; the callback gets a dict; unbind removes and destroys the proxy."""
    seen: list[Any] = []
    page.bind("onEngagement", seen.append)
    chat_api.emit("onEngagement", {"status": "Available", "engagementDetails": {"skillId": 23}})
    (proxy,) = chat_api.bound["onEngagement"]

    assert seen == [{"status": "Available", "engagementDetails": {"skillId": 23}}]
    assert page.unbind("onEngagement", seen.append) == 1
    assert chat_api.bound["onEngagement"] == []
    assert proxy.destroyed
    assert page.bindings() == []


def test_binding_the_same_callback_twice_binds_it_once(chat_api: FakeChatApi):
    """A second bind of the same callback to the same event is a no-op (one call per event)."""
    seen: list[Any] = []
    page.bind("on_engagement", seen.append)
    page.on_engagement(seen.append)
    chat_api.emit("onEngagement", {"status": "NotAvailable"})
    assert seen == [{"status": "NotAvailable"}]
    assert page.bindings() == [("onEngagement", seen.append)]


def test_unbind_without_a_callback_frees_every_proxy_of_the_event(chat_api: FakeChatApi):
    """unbind(event) removes all Python callbacks of that event and destroys their proxies."""
    page.bind("onRetry", print)
    page.on_retry(repr)
    proxies = list(chat_api.bound["onRetry"])
    assert page.unbind("onRetry") == 2
    assert all(p.destroyed for p in proxies)
    assert page.unbind("onRetry") == 0


def test_an_async_callback_is_scheduled_as_a_task(chat_api: FakeChatApi):
    """An async def callback runs as a task on the running loop."""
    seen: list[Any] = []

    async def handler(outcome: dict[str, Any]) -> None:
        seen.append(outcome["status"])

    async def scenario() -> None:
        page.bind("onEngagement", handler)
        chat_api.emit("onEngagement", {"status": "Available"})
        await asyncio.gather(*page._tasks)

    asyncio.run(scenario())
    assert seen == ["Available"]


@pytest.mark.parametrize("event", ["onClick", "engagement", ""])
def test_an_unknown_event_is_refused_naming_the_allowed_ones(event: str):
    """bind/unbind refuse an unknown event with the allowed names, before touching the page."""
    with pytest.raises(ValueError, match="onEngagement, onRetry, onReady"):
        page.bind(event, print)
    with pytest.raises(ValueError, match="onEngagement, onRetry, onReady"):
        page.unbind(event)


def test_outside_the_browser_the_error_says_where_it_works():
    """Under CPython, binding raises a clear RuntimeError instead of an ImportError."""
    with pytest.raises(RuntimeError, match="only in the browser"):
        page.bind("onEngagement", print)
