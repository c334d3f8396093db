"""The Python side of engage-worker.mjs: one coroutine that answers the page's messages.

The facade (``static/engage.js``) sends JSON text to the worker; the worker's JavaScript hands
each message to :func:`handle` and posts back the JSON text it returns. Only JSON crosses between
JavaScript and Python, so no proxy ever needs releasing. ``onRetry`` events are posted by Python
itself with ``js.postMessage``. Messages and answers::

    {"type": "init", "config": {"endpoint" | "domainApi", "accountId", "retry",
                                "methodOverride", "stored", "reuseAnswers",
                                "reuseMaxAgeMs"}}                  -> {"type": "ready",
                                                                        "callBoundMs",
                                                                        "outboxRetryMs"}
                                                                    or {"type": "failed", ...}
    {"type": "check", "id", "params", "reuseKey", "stored"}       -> {"type": "outcome", ...}
    {"type": "report", "id", "engagementAttributes", "pageId", "session", "stored"}
                                                                    -> {"type": "reported", ...}
    {"type": "cancel"}                                              -> nothing
    {"type": "watch", "params", "options", "stored"}  -> nothing; {"type": "engagement", ...}
                                                         posted each time the outcome changes
    {"type": "unwatch"}                                             -> nothing

This module is the JS edge: camelCase options become the engine's snake_case names and seconds
here (``retry: {attemptTimeoutMs: 2000}`` -> ``RetryPolicy.from_dict({"attempt_timeout": 2.0})``),
never in the engine. This module is also the browser's composition root: it hands the driver
the ``pyfetch`` transport.

The worker owns the visitor session, and the page is its storage port (a worker has no local
storage; ``docs/design.md``, "The storage port"): ``init`` brings what the page keeps for the
endpoint and account (``stored: {"local": {name: text}, "session": {name: text}}``), and the
worker posts ``{"type": "store", "area", "name", "value"}`` for each change, which the page
writes as told: ``vid`` and ``base`` (the base the Domain API named) in local storage, ``sid``
and ``page`` (the pageId of the last answer, for reports) in session storage. Calls bring what
is stored then too: a worker that holds no session yet takes the page's (another tab of the
site may have opened one since ``init``: its visitor is the same), and once it holds one it
never takes older ids from the page. The stored ids are checked by the driver
(``ChatApi.session``), never here. A report the page's outbox could
not deliver for a reason time can cure comes back with ``retryInMs``, when the outbox should try
again, from the :class:`~engage_web.core.retry.OutboxPolicy` (backoff with jitter).
Besides ``retry`` and ``engagement``, Python posts ``{"type": "attempt", "event"}`` before each
request (``onAttempt``: the request line LivePerson receives), and after a check whose answer
a later page view may reuse (``engage_web.core.reuse``), ``{"type": "reusable", "key" (the check's
``reuseKey``, the page's own), "expiresAt" (epoch ms), "outcome"}``.

It runs under CPython too (tests pass a fake transport and collect what would be posted)::

    >>> import asyncio, json
    >>> host = WorkerHost(post=print)
    >>> asyncio.run(host.handle('{"type": "init", "config": {"endpoint": "ftp://x"}}'))[:40]
    '{"type": "failed", "error": {"code": "co'
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Callable, Mapping
from typing import Any

from engage_web.browser.pyfetch_transport import pyfetch_transport
from engage_web.core import jsontext
from engage_web.core.domain import MemoryBaseCache, ResolvedBase
from engage_web.core.errors import ConfigError
from engage_web.core.outcome import error_outcome
from engage_web.core.retry import OutboxPolicy
from engage_web.core.reuse import ReusePolicy
from engage_web.core.session import Session
from engage_web.core.text import camel as _camel
from engage_web.core.text import shown
from engage_web.core.text import snake as _snake

__all__ = [
    "WorkerHost",
    "call_bound_ms",
    "handle",
    "js_option_name",
    "retry_event_to_js",
    "retry_options_from_js",
    "watch_options_from_js",
]

_KINDS = "init, check, report, cancel, watch or unwatch"

# JS retry options given in milliseconds, and the engine option each one sets (in seconds).
_MS_OPTIONS = {
    "attemptTimeoutMs": "attempt_timeout",
    "deadlineMs": "deadline",
    "backoffInitialMs": "backoff_initial",
    "backoffMaxMs": "backoff_max",
    "retryAfterMaxMs": "retry_after_max",
    "notAvailableDelayMs": "not_available_delay",
    "loadingDelayMs": "loading_delay",
    "scheduleMs": "schedule",
}
# JS retry options passed through unchanged (camelCase -> snake_case).
_PLAIN_OPTIONS = (
    "preset",
    "retries",
    "maxRetries",
    "backoffFactor",
    "jitter",
    "retryStatuses",
    "notAvailableRechecks",
    "loadingRetries",
    "retryMalformed",
)


def _show(value: object) -> str:
    return shown(value, as_json=True)


def _seconds(name: str, value: object, group: str = "retry") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(
            f"{group}.{name}", f"must be a number of milliseconds; got {_show(value)}"
        )
    return value / 1000


# JS watch options (milliseconds) and the WatchPolicy field each one sets (seconds).
_WATCH_MS_OPTIONS = {
    "intervalMs": "interval",
    "expiryMarginMs": "expiry_margin",
    "outageIntervalMs": "outage_interval",
    "minIntervalMs": "min_interval",
}


def watch_options_from_js(options: object) -> dict[str, Any]:
    """The engine's watch policy options (snake_case, seconds) from the page's (ms).

    >>> watch_options_from_js({"intervalMs": 30000, "expiryMarginMs": 5000})
    {'interval': 30.0, 'expiry_margin': 5.0}
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigError("watch", f"must be an object of watch options; got {_show(options)}")
    converted: dict[str, Any] = {}
    for key, value in options.items():
        if key in _WATCH_MS_OPTIONS:
            converted[_WATCH_MS_OPTIONS[key]] = _seconds(key, value, "watch")
        else:
            converted[_snake(str(key))] = value
    return converted


def retry_options_from_js(options: object) -> dict[str, Any] | None:
    """The engine's retry options (snake_case, seconds) from the page's (camelCase, ms).

    A string is a preset name; ``retries`` is an alias of ``maxRetries``. Unknown keys are left
    for ``RetryPolicy.from_dict`` to refuse with the list of allowed names::

        >>> retry_options_from_js({"preset": "none", "attemptTimeoutMs": 1500, "retries": 1})
        {'preset': 'none', 'attempt_timeout': 1.5, 'max_retries': 1}
        >>> retry_options_from_js("liveperson")
        {'preset': 'liveperson'}
    """
    if options is None:
        return None
    if isinstance(options, str):
        return {"preset": options}
    if not isinstance(options, Mapping):
        raise ConfigError(
            "retry", f"must be a preset name or an object of retry options; got {_show(options)}"
        )
    converted: dict[str, Any] = {}
    for key, value in options.items():
        if key in _MS_OPTIONS:
            if key == "scheduleMs":
                if not isinstance(value, list):
                    raise ConfigError(
                        "retry.scheduleMs", f"must be a list of milliseconds; got {_show(value)}"
                    )
                converted["schedule"] = [_seconds("scheduleMs", item) for item in value]
            else:
                converted[_MS_OPTIONS[key]] = _seconds(key, value)
        elif key == "retries":
            converted["max_retries"] = value
        else:
            converted[_snake(str(key))] = value
    return converted


def js_option_name(option: str, config: object = None) -> str:
    """The page's name for an engine option named in a ``ConfigError``.

    Millisecond options keep the spelling the page used (the message's values are seconds)::

        >>> js_option_name("account_id")
        'accountId'
        >>> js_option_name("retry.attempt_timeout", {"retry": {"attemptTimeoutMs": 0}})
        'retry.attemptTimeoutMs'
    """
    head, _, rest = option.partition(".")
    if head == "watch" and rest:
        given_watch = config.get("watch") if isinstance(config, Mapping) else None
        for js_name, engine_name in _WATCH_MS_OPTIONS.items():
            if engine_name == rest and isinstance(given_watch, Mapping) and js_name in given_watch:
                return f"watch.{js_name}"
        return f"watch.{_camel(rest)}"
    if head != "retry" or not rest:
        return _camel(option)
    retry = config.get("retry") if isinstance(config, Mapping) else None
    given = retry if isinstance(retry, Mapping) else {}
    for js_name, engine_name in _MS_OPTIONS.items():
        if engine_name == rest and js_name in given:
            return f"retry.{js_name}"
    if rest == "max_retries" and "retries" in given:
        return "retry.retries"
    return f"retry.{_camel(rest)}"


def retry_event_to_js(event: Mapping[str, Any]) -> dict[str, Any]:
    """An ``onRetry`` / ``onAttempt`` payload of the driver (a mapping of JSON values) as the
    page's: camelCase names, and the wait in milliseconds (``delay`` in seconds -> ``delayMs``)::

        >>> retry_event_to_js({"attempt": 2, "delay": 1.5, "reason": "http-503"})
        {'attempt': 2, 'delayMs': 1500, 'reason': 'http-503'}
    """
    out: dict[str, Any] = {}
    for key, value in event.items():
        name = _camel(str(key))
        if name == "delay" and isinstance(value, int | float):
            out["delayMs"] = round(value * 1000)
        else:
            out[name] = value
    return out


def _error(code: int | str, message: str, field: str | None = None) -> dict[str, Any]:
    """An Error outcome made here: a configuration or a message the page got wrong, which time
    never cures (``transient`` is false; ``engage_web.core.outcome.is_transient``)."""
    return error_outcome(code, message, field=field, transient=False)


#: Added to a policy's deadline and attempt timeout in ``callBoundMs``: a worker starved of CPU
#: (a busy phone, a throttled background tab) still posts within the bound.
CALL_BOUND_SLACK = 5.0


def call_bound_ms(policy: Any) -> int:
    """The longest a call in flight may go without any message from the worker, in ms.

    Every attempt posts ``attempt``, every timed retry ``retry``, every call its answer, and the
    policy lets no attempt or wait outlive its deadline; one extra attempt may follow a stale
    cached base (``ChatApi`` asks the Domain API again). The page declares the worker dead when
    it stays silent longer than this while calls are in flight (``engage.js``)::

        >>> from engage_web.core.retry import RetryPolicy
        >>> call_bound_ms(RetryPolicy.preset("default"))
        43000
    """
    return round((policy.deadline + policy.attempt_timeout + CALL_BOUND_SLACK) * 1000)


class PageStorage:
    """The storage port: what the worker keeps across page views, written by the page.

    ``stored`` is what the page handed over at ``init``; :meth:`keep` changes a value and posts
    ``{"type": "store", "area", "name", "value"}`` (``value`` ``None``: forget it)::

        >>> storage = PageStorage(print, {"local": {"vid": "v1"}, "session": 7})
        >>> storage.get("local", "vid"), storage.get("session", "sid")
        ('v1', None)
        >>> storage.keep("session", "sid", "s1")
        {"type": "store", "area": "session", "name": "sid", "value": "s1"}
    """

    AREAS = ("local", "session")

    def __init__(self, post: Callable[[str], object], stored: object) -> None:
        self._post = post
        given = stored if isinstance(stored, Mapping) else {}
        self._values: dict[str, dict[str, str]] = {}
        for area in self.AREAS:
            values = given.get(area)
            values = values if isinstance(values, Mapping) else {}
            self._values[area] = {
                str(name): value for name, value in values.items() if isinstance(value, str)
            }

    def get(self, area: str, name: str) -> str | None:
        """The stored text of ``name`` in ``area``, or ``None``."""
        return self._values[area].get(name)

    def adopt(self, area: str, name: str, value: str | None) -> None:
        """Take a value the page already stores (nothing to tell it)."""
        if value is None:
            self._values[area].pop(name, None)
        else:
            self._values[area][name] = value

    def keep(self, area: str, name: str, value: str | None) -> None:
        """Set (or, with ``None``, forget) a value, and tell the page to write it."""
        if self._values[area].get(name) == value:
            return
        self.adopt(area, name, value)
        message = {"type": "store", "area": area, "name": name, "value": value}
        self._post(json.dumps(message))


class PageSessionStore:
    """The visitor session of the worker, kept by the page: the ``vid`` in local storage (it
    survives reloads), the ``sid`` in session storage (it lasts the tab's visit). The ids come as
    stored; the driver drops malformed ones (``ChatApi.session``)."""

    def __init__(self, storage: PageStorage) -> None:
        self._storage = storage

    def load(self) -> Session | None:
        vid, sid = self._storage.get("local", "vid"), self._storage.get("session", "sid")
        return Session(vid, sid) if vid else None

    def save(self, session: Session | None) -> None:
        self._storage.keep("local", "vid", session.visitor_id if session else None)
        self._storage.keep("session", "sid", session.session_id if session else None)

    def seed(self, stored: object) -> None:
        """Take the session the page stores now, when this worker holds none."""
        if self.load() is not None:
            return
        given = PageStorage(lambda text: None, stored)
        self._storage.adopt("local", "vid", given.get("local", "vid"))
        self._storage.adopt("session", "sid", given.get("session", "sid"))


class PageBaseCache(MemoryBaseCache):
    """The base cache of the worker, kept by the page (local storage, name ``base``): read at
    ``init``, and every change written back, so it lasts across page views."""

    def __init__(self, storage: PageStorage) -> None:
        super().__init__(_resolved_base(storage.get("local", "base")))
        self._storage = storage

    def save_base(self, resolved: ResolvedBase | None) -> None:
        """Keep ``resolved`` and tell the page to store it (``None``: to forget it)."""
        super().save_base(resolved)
        value = None
        if resolved is not None:
            value = json.dumps(
                {"base": resolved.base, "resolvedAt": round(resolved.resolved_at * 1000)}
            )
        self._storage.keep("local", "base", value)


def _resolved_base(text: str | None) -> ResolvedBase | None:
    """The stored ``{base, resolvedAt (ms)}``, or None when absent or mangled (the engine checks
    the URL again before using it)."""
    try:
        cached = jsontext.loads(text) if text else None
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(cached, Mapping):
        return None
    base, at = cached.get("base"), cached.get("resolvedAt")
    if not isinstance(base, str) or isinstance(at, bool) or not isinstance(at, int | float):
        return None
    if not math.isfinite(at):
        return None
    return ResolvedBase(base, at / 1000)


class WorkerHost:
    """Holds the engine for one worker and answers the facade's messages.

    ``post`` sends JSON text to the page (``js.postMessage`` in the worker); ``transport`` and
    ``clock`` are handed to ``ChatApi``: this is the browser's composition root, so the transport
    is ``pyfetch`` unless a test passes a fake (``None`` for ``clock`` means asyncio's)::

        host = WorkerHost(post=js.postMessage)
        answer = await host.handle('{"type": "check", "id": 1, "params": {}}')
    """

    def __init__(
        self,
        post: Callable[[str], object],
        *,
        transport: Any = pyfetch_transport,
        clock: Any = None,
        outbox: OutboxPolicy | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._post = post
        self._transport = transport
        self._clock = clock
        self._storage = PageStorage(post, None)
        self._store = PageSessionStore(self._storage)
        self._bases = PageBaseCache(self._storage)
        self._scope: object = None  # (where, account) the storage belongs to
        self._outbox = outbox or OutboxPolicy()
        self._outbox_failures = 0  # reports in a row that failed for a reason time can cure
        self._rand = rand
        self._api: Any = None
        self._retired: list[Any] = []  # engines replaced by a later init, calls still running
        self._make_api: Callable[..., Any] | None = None  # builds a ChatApi for the current config
        self._watching: Any = None  # the ChatApi running the page's watch, if any
        self._config_error: dict[str, Any] | None = None
        self._reuse = ReusePolicy(enabled=False)  # until init says otherwise

    async def handle(self, message_json: str) -> str | None:
        """Answer one message (JSON text) with JSON text, or ``None`` when nothing is due."""
        try:
            message = jsontext.loads(message_json)
        except (TypeError, ValueError, RecursionError):
            message = None
        if not isinstance(message, dict):
            problem = (
                f"a message must be a JSON object with a type; expected {_KINDS}; "
                f"got {repr(message_json)[:60]}"
            )
            return json.dumps(
                {"type": "failed", "error": _error("runtime", problem, "type")["error"]}
            )
        kind = message.get("type")
        if kind == "init":
            return json.dumps(self._init(message.get("config")))
        if kind == "check":
            outcome = await self._check(message)
            return json.dumps({"type": "outcome", "id": message.get("id"), "outcome": outcome})
        if kind == "report":
            result = await self._report(message)
            return json.dumps({"type": "reported", "id": message.get("id"), "result": result})
        if kind == "cancel":
            self._unwatch()
            for api in [*self._retired, self._api]:
                if api is not None:
                    api.cancel()
            return None
        if kind == "watch":
            self._watch(message)
            return None
        if kind == "unwatch":
            self._unwatch()
            return None
        problem = _error(
            "runtime",
            f"unknown message type {kind!r}; expected {_KINDS}",
            "type",
        )
        if "id" in message:
            return json.dumps({"type": "outcome", "id": message["id"], "outcome": problem})
        return json.dumps({"type": "failed", "error": problem["error"]})

    def _init(self, config: object) -> dict[str, Any]:
        from engage_web.core.retry import RetryPolicy
        from engage_web.driver.api import ChatApi  # the engine, imported once the runtime is up

        try:
            if not isinstance(config, Mapping):
                raise ConfigError("config", f"must be an object; got {_show(config)}")
            retry = retry_options_from_js(config.get("retry"))
            policy = RetryPolicy.from_dict(retry) if retry is not None else None
            endpoint, account_id = config.get("endpoint"), config.get("accountId")
            scope = (endpoint, config.get("domainApi"), account_id)
            if scope != self._scope:  # the same visit keeps its state, which may be newer
                storage = PageStorage(self._post, config.get("stored"))
                store, bases = PageSessionStore(storage), PageBaseCache(storage)
            else:
                storage, store, bases = self._storage, self._store, self._bases
            override = config.get("methodOverride", False)
            reuse = ReusePolicy.from_options(config)

            def make_api(**options: Any) -> Any:
                return ChatApi(
                    endpoint,
                    account_id,
                    domain_api=config.get("domainApi"),
                    on_retry=self._on_retry,
                    on_attempt=self._on_attempt,
                    retry=policy,
                    transport=self._transport,
                    clock=self._clock,
                    session_store=store,
                    base_cache=bases,
                    method_override=override,
                    **options,
                )

            api = make_api()
        except ConfigError as exc:
            self._retire()
            self._api = None
            option = js_option_name(exc.option, config)
            message = exc.message
            if option.endswith("Ms"):
                message += " (limits and values in seconds; this option is in milliseconds)"
            self._config_error = _error("config", f"{option}: {message}", option)
            return {"type": "failed", "error": self._config_error["error"]}
        self._retire()
        self._unwatch()  # a watch runs with the configuration it was started with
        self._api = api
        self._make_api = make_api
        self._scope, self._storage, self._store, self._bases = scope, storage, store, bases
        self._reuse = reuse
        self._config_error = None
        # outboxRetryMs: when the page's outbox tries again after a failure this worker never
        # answered (a cancelled send, a runtime that went down): the policy's first wait.
        return {
            "type": "ready",
            "callBoundMs": call_bound_ms(api.policy),
            "outboxRetryMs": self._outbox.retry_in_ms(1, self._rand()),
        }

    def _watch(self, message: Mapping[str, Any]) -> None:
        """Start (or restart) the page's watch: outcomes are posted as they change."""
        from engage_web.driver.watch import WatchPolicy

        self._unwatch()
        if self._api is None or self._make_api is None:
            self._post_engagement(self._not_ready())
            return
        self._store.seed(message.get("stored"))
        try:
            policy = WatchPolicy.from_dict(watch_options_from_js(message.get("options")))
        except ConfigError as exc:
            option = js_option_name(exc.option, {"watch": message.get("options")})
            self._post_engagement(_error("config", f"{option}: {exc.message}", option))
            return
        self._watching = self._make_api(on_engagement=self._post_engagement)
        self._watching.watch(message.get("params", {}), policy=policy)

    def _unwatch(self) -> None:
        if self._watching is not None:
            self._watching.close()
            self._watching = None

    def _post_engagement(self, outcome: dict[str, Any]) -> None:
        self._keep_page(outcome)
        self._post(json.dumps({"type": "engagement", "outcome": outcome}))

    def _keep_page(self, outcome: Mapping[str, Any]) -> None:
        """The page of the last answer: a report belongs to it unless it names another."""
        page = outcome.get("pageId")
        if isinstance(page, str) and outcome.get("status") != "Error":
            self._storage.keep("session", "page", page)

    def _retire(self) -> None:
        """Set the current engine aside: its calls still finish (or are cancelled by cancel)."""
        self._retired = [old for old in self._retired if old.pending]
        if self._api is not None:
            self._retired.append(self._api)

    def _on_retry(self, event: Mapping[str, Any]) -> None:
        self._post(json.dumps({"type": "retry", "event": retry_event_to_js(event)}))

    def _on_attempt(self, event: Mapping[str, Any]) -> None:
        self._post(json.dumps({"type": "attempt", "event": retry_event_to_js(event)}))

    def _not_ready(self) -> dict[str, Any]:
        return self._config_error or _error(
            "config", "engage-web is not configured: call ChatApi.init({accountId})"
        )

    async def _check(self, message: Mapping[str, Any]) -> dict[str, Any]:
        if self._api is None:
            return self._not_ready()
        self._store.seed(message.get("stored"))
        outcome = await self._api.get_engagement(message.get("params", {}))
        self._keep_page(outcome)
        self._offer_reuse(message.get("reuseKey"), outcome)
        return outcome

    def _offer_reuse(self, key: object, outcome: Mapping[str, Any]) -> None:
        """Tell the page it may answer the same request of the same visit with ``outcome``
        until the time the reuse policy allows (engage_web.core.reuse); the page keys it itself."""
        if not isinstance(key, str) or not key or len(key) > 200 or self._api is None:
            return
        expires = self._reuse.expires_at(outcome, self._api.clock.time())
        if expires is not None:
            self._post(json.dumps({"type": "reusable", "key": key,
                                   "expiresAt": round(expires * 1000), "outcome": outcome}))

    async def _report(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """A report goes to the session the page made it in (its outbox keeps that pair), which
        may be an earlier visit than the engine's current one: it never becomes the current.
        A failure time can cure says when the outbox should try again (``retryInMs``)."""
        if self._api is None:
            return self._not_ready()
        self._store.seed(message.get("stored"))
        ids = message.get("session")
        made_in = None
        if isinstance(ids, Mapping) and isinstance(ids.get("vid"), str):
            sid = ids.get("sid")
            made_in = Session(ids["vid"], sid if isinstance(sid, str) else None)
        result = await self._api.report(
            message.get("engagementAttributes", []),
            page_id=message.get("pageId"),
            session=made_in,
        )
        if result.get("delivered"):
            self._outbox_failures = 0
        elif result.get("status") == "Error" and result["error"].get("transient"):
            self._outbox_failures += 1
            result["retryInMs"] = self._outbox.retry_in_ms(self._outbox_failures, self._rand())
        return result


def _js_post(text: str) -> None:  # pragma: no cover - only in Pyodide
    from js import postMessage

    postMessage(text)


_host: WorkerHost | None = None


async def handle(message_json: str) -> str | None:
    """The worker's entry point: answer one message from the page (see the module docstring).

    Example (in engage-worker.mjs)::

        const answer = await handle(JSON.stringify({type: "check", id: 1, params: {}}));
    """
    global _host
    if _host is None:
        _host = WorkerHost(_js_post if sys.platform == "emscripten" else print)
    return await _host.handle(message_json)
