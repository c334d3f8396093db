"""Fixtures for the emulator tests: an in-process app on a fake clock, and a real server."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # starlette 1.10 nudges towards httpx2; httpx is what we pin
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from engage_web.emulator.app import create_app
from tests.fakes import SEED_REQUEST, FakeClock
from tools.devserver import ServerThread

ENGAGEMENT = "/api/account/demo/app/engagement"
REPORT = "/api/account/demo/app/report"


def seed_body() -> dict[str, Any]:
    """The seed's example request as a wire body (vid/sid travel in the query)."""
    body = copy.deepcopy(SEED_REQUEST)
    body.pop("vid", None)
    body.pop("sid", None)
    return body


def query(vid: str | None = None, sid: str | None = None, v: str | None = "1.0") -> str:
    """A query string for the public routes."""
    parts = [f"{k}={val}" for k, val in (("v", v), ("vid", vid), ("sid", sid)) if val is not None]
    return "?" + "&".join(parts) if parts else ""


class Emulator:
    """A TestClient with shortcuts for the two public calls."""

    def __init__(self, client: TestClient, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock

    def check(self, body: Any = None, vid: str | None = None, sid: str | None = None, **kw: Any):
        return self.client.post(
            ENGAGEMENT + query(vid, sid), json=seed_body() if body is None else body, **kw
        )

    def report(self, attributes: list[Any], vid: str | None, sid: str | None, **extra: Any):
        return self.client.put(
            REPORT + query(vid, sid), json={"engagementAttributes": attributes, **extra}
        )

    def warm_session(self) -> dict[str, Any]:
        """A live session past its warm-up: the answer of its first check."""
        first = self.check().json()
        return first


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
