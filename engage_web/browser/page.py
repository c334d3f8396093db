"""Python callbacks for ``window.ChatApi`` on PyScript pages: they receive plain dicts.

The one-tag embed (``engage.js``) runs the engine in its own Web Worker. A page that also runs
PyScript (config ``dist/pyscript.json``, which makes ``engage_web`` importable) can handle its
events in Python with this module::

    <script src="/engage.js" data-endpoint="https://engage.example" data-account-id="demo"></script>
    <script type="py" config="/pyscript.json">
    from engage_web.browser.page import bind, get_engagement

    def show(outcome: dict) -> None:
        print(outcome["status"])

    bind("onEngagement", show)                      # or: on_engagement(show)
    await get_engagement({"consumerSections": ["Support"]})
    </script>

Each bound callback is wrapped once with ``create_proxy`` (JavaScript keeps it) and the proxy is
destroyed by :func:`unbind`, so nothing is left for the garbage collector's finalisers. Payloads
cross as JSON, so callbacks get ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``
values and never a JsProxy. An ``async def`` callback is scheduled as a task. A callback that
raises is reported by the embed (``console.error``) like a throwing JS callback.

Importing this module needs no browser; calling it outside Pyodide raises a clear
``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["bind", "bindings", "get_engagement", "on_engagement", "on_retry", "report", "unbind"]

EVENTS = ("onEngagement", "onRetry", "onReady")

# (event, callback) -> the JS proxy handed to ChatApi.bind
_proxies: dict[tuple[str, Callable[..., Any]], Any] = {}
_tasks: set[asyncio.Task[Any]] = set()


def _browser() -> tuple[Any, Any, Callable[..., Any]]:
    """``(window.ChatApi, JSON, create_proxy)``, or a RuntimeError saying what is missing."""
    if sys.platform != "emscripten":
        raise RuntimeError("engage_web.browser.page works only in the browser (PyScript/Pyodide)")
    import js
    from pyodide.ffi import create_proxy

    chat_api = getattr(js, "ChatApi", None)
    if chat_api is None:
        raise RuntimeError(
            "window.ChatApi is missing: put the engage.js <script> tag before the PyScript script"
        )
    return chat_api, js.JSON, create_proxy


def _event(event: str) -> str:
    name = {"on_engagement": "onEngagement", "on_retry": "onRetry", "on_ready": "onReady"}.get(
        event, event
    )
    if name not in EVENTS:
        raise ValueError(f"event must be one of {', '.join(EVENTS)}; got {event!r}")
    return name


def _plain(json_module: Any, value: Any) -> Any:
    """A JS value as plain Python data (through JSON text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json_module.stringify(value))


def bind(event: str, callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Call ``callback(payload)`` with a plain dict on each ``event``; returns ``callback``.

    ``event`` is ``onEngagement``, ``onRetry`` or ``onReady`` (snake_case accepted). Binding the
    same callback twice to one event binds it once::

        bind("onEngagement", lambda outcome: print(outcome["status"]))
    """
    name = _event(event)
    if not callable(callback):
        raise TypeError(f"callback must be callable; got {callback!r}")
    if (name, callback) in _proxies:
        return callback
    chat_api, json_module, create_proxy = _browser()

    def relay(payload: Any) -> None:
        result = callback(_plain(json_module, payload))
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    proxy = create_proxy(relay)
    _proxies[(name, callback)] = proxy
    chat_api.bind(name, proxy)
    return callback


def unbind(event: str, callback: Callable[[Any], Any] | None = None) -> int:
    """Remove ``callback`` (every Python callback of ``event`` when ``None``); frees its proxy.

    Returns how many bindings were removed::

        unbind("onEngagement", show)
    """
    name = _event(event)
    keys = [k for k in _proxies if k[0] == name and (callback is None or k[1] == callback)]
    if not keys:
        return 0
    chat_api, _, _ = _browser()
    for key in keys:
        proxy = _proxies.pop(key)
        chat_api.unbind(name, proxy)
        proxy.destroy()
    return len(keys)


def bindings() -> list[tuple[str, Callable[..., Any]]]:
    """The ``(event, callback)`` pairs bound from Python, oldest first."""
    return list(_proxies)


def on_engagement(callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Decorator form of ``bind("onEngagement", callback)``.

    Example::

        @on_engagement
        def show(outcome): ...
    """
    return bind("onEngagement", callback)


def on_retry(callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Decorator form of ``bind("onRetry", callback)`` (``{attempt, delayMs, reason}``)."""
    return bind("onRetry", callback)


async def get_engagement(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """``await window.ChatApi.getEngagement(params)`` with a plain dict in and out.

    Example::

        outcome = await get_engagement({"consumerSections": ["Support"]})
    """
    chat_api, json_module, _ = _browser()
    js_params = json_module.parse(json.dumps({} if params is None else params))
    return _plain(json_module, await chat_api.getEngagement(js_params))


async def report(engagement_attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """``await window.ChatApi.report(attributes)`` with plain data in and out.

    Example::

        await report([{"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}])
    """
    chat_api, json_module, _ = _browser()
    js_attrs = json_module.parse(json.dumps(engagement_attributes))
    return _plain(json_module, await chat_api.report(js_attrs))
