"""The one way this project starts a browser: Debian's system Chromium, headless, offline.

Never a downloaded browser (``playwright install`` is not used): ``/usr/bin/chromium`` from the
Debian package ``chromium``, which ``python3 build.py`` installs when missing. The flags keep it
from reaching for the network on its own (the machine has none but loopback) and let it run as
root in a container. Used by the browser tests, the benchmarks and the snapshot maker::

    with sync_playwright() as pw:
        browser = launch(pw)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "launch"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def launch(playwright: Any) -> Any:
    """A headless system Chromium through Playwright's sync API (``playwright.chromium``)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
