"""The kiosk page (dist/kiosk.html): a chat button only while an agent is available, for days.

The kiosk watches availability with ``ChatApi.watch`` (the facade's watch of the engine's
``engage_web.driver.watch``). Tests use a 1 s interval so every change is seen within a second
or two, and wait on what the screen shows, never on sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Emulator, Probe
from tests.browser.pages_fixtures import (
    OUTCOME_TIMEOUT_MS,
    pages,  # noqa: F401 (fixture)
    screenshot,
)

#: A change must show within this (1 s interval + a check with its re-checks, busy machine).
CHANGE_TIMEOUT_MS = 20_000


def open_kiosk(probe: Probe, query: str) -> Any:
    """A fresh context showing kiosk.html with ``query``; a dialog fails the test."""
    page = probe.new_context(viewport={"width": 1280, "height": 800}).new_page()
    probe.watch(page)
    page.on("dialog", lambda dialog: probe.problems.append(f"dialog: {dialog.message}"))
    page.goto(f"{probe.base_url}/kiosk.html{query}")
    return page


#: (query string, words the on-screen message must hold)
BAD_OPTIONS = [
    ("?interval=abc", ["interval", "1 to 3600", "abc", "Using 60"]),
    ("?interval=0", ["interval", "got \u201c0\u201d"]),
    ("?margin=-5", ["margin", "-5"]),
    ("?sections=Support,,English", ["sections", "Support,,English"]),
    ("?log=yes", ["log", "0 or 1", "yes"]),
    ("?intervall=30", ["Unknown option", "intervall", "interval"]),
]


@pytest.mark.browser
def test_bad_kiosk_options_are_named_on_screen(probe: Probe, pages: Path):  # noqa: F811
    """Each refused query value is shown with what was expected and what was received."""
    page = None
    for query, words in BAD_OPTIONS:
        page = open_kiosk(probe, query)
        notice = page.get_by_role("alert")
        notice.wait_for()
        text = notice.text_content()
        assert all(word in text for word in words), (query, text)
        page.close()
    good = open_kiosk(probe, "?interval=30&sections=Support,English&log=1")
    assert good.locator("#kiosk-config").is_hidden()


@pytest.mark.browser
def test_the_button_follows_agents_leaving_and_returning(
    probe: Probe,
    emulator: Emulator,
    pages: Path,  # noqa: F811
):
    """The button shows while TestSkill has agents, hides at zero and returns with them."""
    page = open_kiosk(probe, "?interval=1&sections=Support")
    button = page.get_by_role("button", name="Chat with TestSkill")
    button.wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
    screenshot(page, "kiosk.png")

    emulator.client.post("/_emulator/skills/23", json={"agentsOnline": 0}).raise_for_status()
    page.get_by_role("heading", name="No agents right now").wait_for(timeout=CHANGE_TIMEOUT_MS)
    assert button.is_hidden()

    emulator.client.post("/_emulator/skills/23", json={"agentsOnline": 2}).raise_for_status()
    button.wait_for(state="visible", timeout=CHANGE_TIMEOUT_MS)
    assert page.locator("#kiosk").get_attribute("data-state") == "available"


@pytest.mark.browser
def test_an_outage_shows_reconnecting_and_recovers_with_a_bounded_page(
    probe: Probe,
    emulator: Emulator,
    pages: Path,  # noqa: F811
):
    """Dropped connections show "Reconnecting", never a dialog; it recovers; the DOM stays flat."""
    probe.allow(r"Failed to fetch|ERR_EMPTY_RESPONSE|net::")
    page = open_kiosk(probe, "?interval=1&outage=1&sections=Support&log=1")
    button = page.get_by_role("button", name="Chat with TestSkill")
    button.wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
    nodes_before = page.locator("#kiosk *").count()

    for _ in range(2):
        emulator.fault(count=1000, mode="drop")
        page.get_by_role("heading", name="Reconnecting\u2026").wait_for(timeout=CHANGE_TIMEOUT_MS)
        assert button.is_hidden()
        emulator.client.delete("/_emulator/faults").raise_for_status()
        button.wait_for(state="visible", timeout=CHANGE_TIMEOUT_MS)

    assert page.locator("#kiosk-log li").count() <= 4
    assert page.locator("#kiosk *").count() <= nodes_before + 4
