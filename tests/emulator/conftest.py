"""Fixtures for the emulator tests: an in-process app on a fake clock, and a real server.

The paths come from ``engage_web.core.wire`` (never re-typed here)::

    emulator.check(vid=ids["visitorId"], sid=ids["sessionId"])  # POST .../visitors/{vid}?sid=
    emulator.update(ids, impressions=[...], sdes=[...])           # PUT the same URL
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import uvicorn
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # starlette 1.10 nudges towards httpx2; httpx is what we pin
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from engage_web.core.wire import DOMAIN_PATH, METHOD_OVERRIDE_HEADER, VISITOR_PATH, VISITORS_PATH
from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.emulator.server import server_config
from tests.fakes import SEED_REQUEST, FakeClock
from tools.devserver import ServerThread

#: Create session with no visitor yet, on the default scenario's account.
VISITORS = VISITORS_PATH.format(account_id="demo")
#: The Domain API look-up of the App Engagement API's service for account demo.
DOMAIN = DOMAIN_PATH.format(account_id="demo", service="msdkgw")


def visitor_path(vid: str, account: str = "demo") -> str:
    """``/api/account/{account}/app/engagement/visitors/{vid}`` (``vid`` as given, unquoted)."""
    return VISITOR_PATH.format(account_id=account, visitor_id=vid)


def session_path(vid: str | None = None, account: str = "demo") -> str:
    """The create/update path for ``vid`` (``.../visitors`` when there is none)."""
    if vid is None:
        return VISITORS_PATH.format(account_id=account)
    return visitor_path(vid, account)


def query(sid: str | None = None, v: str | None = "1.0") -> str:
    """A query string for the session routes: ``?v=1.0[&sid=...]``."""
    parts = [f"{k}={val}" for k, val in (("v", v), ("sid", sid)) if val is not None]
    return "?" + "&".join(parts) if parts else ""


def seed_body() -> dict[str, Any]:
    """The seed's example request as a create-session body (appType EXTERNAL; no ids)."""
    body = copy.deepcopy(SEED_REQUEST)
    body.pop("vid", None)
    body.pop("sid", None)
    body.setdefault("appType", "EXTERNAL")
    return body


class Emulator:
    """A TestClient with shortcuts for the public calls and the control routes."""

    def __init__(self, client: TestClient, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock

    def check(
        self,
        body: Any = None,
        vid: str | None = None,
        sid: str | None = None,
        *,
        account: str = "demo",
        **kw: Any,
    ):
        """A create session (``POST``) with ``body`` (default: the seed's request)."""
        return self.client.post(
            session_path(vid, account) + query(sid),
            json=seed_body() if body is None else body,
            **kw,
        )

    def warm(self, body: Any = None, *, account: str = "demo") -> dict[str, Any]:
        """The answer of a session's second check (past the default warm-up of one check)."""
        first = self.check(body, account=account).json()
        return self.check(body, first["visitorId"], first["sessionId"], account=account).json()

    def update(
        self,
        answer: Mapping[str, Any],
        *,
        impressions: list[Any] | None = None,
        sdes: list[Any] | None = None,
        page_id: str | None = None,
        override: bool = False,
        account: str = "demo",
    ):
        """An update session of the session ``answer`` belongs to (its page id by default);
        with ``override``, a ``POST`` carrying ``X-HTTP-Method-Override: PUT``."""
        body: dict[str, Any] = {"pageId": page_id or answer["pageId"]}
        if impressions is not None:
            body["impAttributes"] = impressions
        if sdes is not None:
            body["engagementAttributes"] = sdes
        url = visitor_path(answer["visitorId"], account) + query(answer["sessionId"])
        if override:
            return self.client.post(url, json=body, headers={METHOD_OVERRIDE_HEADER: "PUT"})
        return self.client.put(url, json=body)

    def session(self, sid: str) -> dict[str, Any]:
        """The control view of a session."""
        answer = self.client.get(f"/_emulator/sessions/{sid}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def fault(self, **fault: Any) -> None:
        """Queue a fault."""
        answer = self.client.post("/_emulator/faults", json=fault)
        assert answer.status_code == 200, answer.text

    def requests(self) -> list[dict[str, Any]]:
        """The request log."""
        return self.client.get("/_emulator/requests").json()["requests"]


def impression_of(answer: Mapping[str, Any], kind: str = "impDisplay") -> dict[str, Any]:
    """An impression event naming the engagement of an Available ``answer``."""
    details = answer["engagementDetails"]
    return {
        "type": kind,
        "campaign": details["campaignId"],
        "engId": details["engagementId"],
        "revision": details["engagementRevision"],
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(clock=clock), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def emulator(client: TestClient, clock: FakeClock) -> Emulator:
    return Emulator(client, clock)


@pytest.fixture
def live_server() -> Iterator[str]:
    """A real uvicorn serving the default scenario on a free loopback port."""
    with ServerThread(create_app()) as base_url:
        yield base_url


class GuardedServer:
    """The emulator under :func:`engage_web.cpython.emulator.server.server_config` (the settings
    ``serve`` uses) on a free loopback port, in a thread; ``host``/``port`` once started."""

    def __init__(self, app: Any, **settings: Any) -> None:
        config = server_config(app, host="127.0.0.1", port=0, **settings)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    def __enter__(self) -> GuardedServer:
        self.thread.start()
        started = threading.Event()
        for _ in range(1000):  # poll until uvicorn has bound its socket (at most 10 s)
            if self.server.started:
                break
            started.wait(0.01)
        assert self.server.started, "the server did not start"
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
