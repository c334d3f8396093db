"""Fixtures and helpers for the page tests (demo, kiosk, embed); import them in a test module.

``pages`` renders the Jinja templates into ``dist/`` (``tools.pages.render``) on top of the
runtime ``dist_dir`` assembled, so the tests see the pages the build ships. ``scenario_server``
starts a second dev server with a scenario file written by the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, ROOT

#: How long a page may take to show an outcome (cold Pyodide boot + warm-up retry, busy machine).
OUTCOME_TIMEOUT_MS = 90_000


@pytest.fixture(scope="session")
def pages(dist_dir: Path) -> Path:
    """``dist/`` with the demo, kiosk and embed pages rendered into it."""
    from tools.pages import render

    render(ROOT, dist_dir)
    return dist_dir


@pytest.fixture
def scenario_server(pages: Path, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``start(toml_text) -> base_url``: a dev server (dist/ + emulator) with that scenario."""
    from tools.devserver import ServerThread, create_dev_app

    threads: list[Any] = []

    def start(toml_text: str) -> str:
        path = tmp_path / f"scenario-{len(threads)}.toml"
        path.write_text(toml_text, encoding="utf-8")
        thread = ServerThread(create_dev_app(ROOT, scenario=path))
        threads.append(thread)
        return thread.start()

    try:
        yield start
    finally:
        for thread in threads:
            thread.stop()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>``; return the path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
