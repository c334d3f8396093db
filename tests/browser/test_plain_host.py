"""dist/ on a static host that does not compress: the snapshot still travels compressed.

The memory snapshot is about 14 MB raw. The project's server sends its brotli copy; a plain static
host (here Starlette's StaticFiles, which ignores ``Accept-Encoding``) would send the raw bytes.
The worker reads the headers, cuts that download off and fetches the build's gzip copy instead.
The plain host also answers the emulator's API paths (a fresh emulator), as the dev server does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.staticfiles import StaticFiles

from engage_web.cpython.emulator import create_app
from tests.browser.conftest import Probe
from tools.devserver import ServerThread
from tools.snapshot import load_manifest

pytestmark = pytest.mark.browser


class SentBytes:
    """ASGI middleware: how many body bytes the server sent per path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: dict[str, int] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def counting(message: dict) -> None:
            if message["type"] == "http.response.body":
                self.sent[path] = self.sent.get(path, 0) + len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting)


def plain_static_host(dist: Path) -> Any:
    """dist/ as files sent as they are, and the emulator's API."""
    files = StaticFiles(directory=dist)
    emulator = create_app(None)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        api = scope["type"] != "http" or scope["path"].startswith(("/api/", "/_emulator/"))
        await (emulator if api else files)(scope, receive, send)

    return app


@pytest.fixture
def plain_host(dist_dir: Path) -> Iterator[tuple[str, SentBytes]]:
    counter = SentBytes(plain_static_host(dist_dir))
    with ServerThread(counter) as url:
        yield url, counter


def test_a_host_that_sends_files_raw_gets_the_gzip_snapshot_and_boots_from_it(
    probe: Probe, plain_host: tuple[str, SentBytes], dist_dir: Path
):
    """The worker boots from the snapshot, fetched as its gzip copy; the raw one is cut off."""
    base, counter = plain_host
    info = load_manifest(dist_dir)
    assert info is not None
    html = (
        "<!doctype html><meta charset='utf-8'><link rel='icon' href='data:,'>"
        '<script src="/engage.js" data-endpoint="/" data-account-id="demo"></script>'
        "<script>window.__ready = new Promise((ok) => ChatApi.bind('onReady', ok));</script>"
    )
    context = probe.new_context()
    url = f"{base}/test/plain.html"
    context.route(url, lambda route: route.fulfill(content_type="text/html", body=html))
    page = context.new_page()
    probe.watch(page)
    page.goto(url)

    ready = page.evaluate("window.__ready")
    outcome = page.evaluate("ChatApi.getEngagement({consumerSections: ['Support']})")

    assert ready["bootKind"] == "snapshot", ready
    assert outcome["status"] == "Available", outcome
    gzip_copy = f"/{info.file}.gz"
    assert counter.sent.get(gzip_copy) == (dist_dir / f"{info.file}.gz").stat().st_size
    raw = counter.sent.get(f"/{info.file}", 0)
    assert raw < info.file_bytes / 2  # cut off, not downloaded whole
