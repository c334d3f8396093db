"""The embed page (dist/embed.html): the copy-paste snippet, shown and running on the same page."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.browser.conftest import ROOT, Emulator, Probe
from tests.browser.pages_fixtures import (
    OUTCOME_TIMEOUT_MS,
    pages,  # noqa: F401 (fixture)
    screenshot,
)

SNIPPET = (ROOT / "static" / "demo" / "snippets" / "embed.html").read_text("utf-8").rstrip("\n")


def open_embed(probe: Probe) -> Any:
    """A fresh context showing embed.html."""
    page = probe.new_context(viewport={"width": 1280, "height": 900}).new_page()
    probe.watch(page)
    page.goto(probe.base_url + "/embed.html")
    return page


@pytest.mark.browser
def test_the_snippet_shown_is_the_one_running_and_offers_chat(
    probe: Probe,
    emulator: Emulator,
    pages: Path,  # noqa: F811
):
    """The code block reads exactly like the snippet file, and that snippet shows the button."""
    page = open_embed(probe)
    assert page.locator("#embed-snippet").text_content() == SNIPPET
    live_tag = '#embed-live script[src="engage.js"][data-account-id="demo"]'
    assert page.locator(live_tag).count() == 1
    button = page.get_by_role("button", name="Chat with TestSkill")
    button.wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
    screenshot(page, "embed.png")
    assert len(emulator.wait_for_updates(1)) == 1  # impDisplay, reported when the button shows
    button.click()
    updates = emulator.wait_for_updates(2)
    assert [u["method"] for u in updates] == ["PUT", "PUT"]
    sid = parse_qs(updates[-1]["query"])["sid"][0]
    recorded = [a["type"] for a in emulator.session(sid)["impressions"]]
    assert recorded == ["impDisplay", "impAccept"]


@pytest.mark.browser
def test_the_button_stays_hidden_while_nobody_is_online(
    probe: Probe,
    emulator: Emulator,
    pages: Path,  # noqa: F811
):
    """With no agent online the snippet's outcome is NotAvailable and no button is shown."""
    emulator.client.post("/_emulator/skills/23", json={"agentsOnline": 0}).raise_for_status()
    page = open_embed(probe)
    # Calls are answered in order, so once this one is answered the snippet's has been too.
    outcome = page.evaluate("ChatApi.getEngagement({consumerSections: 'Support,English'})")
    assert outcome["status"] == "NotAvailable"
    assert page.locator("#chat-button").is_hidden()
