"""The demo page (dist/index.html) in headless Chromium, and the rules every rendered page keeps.

Browser tests drive the page the way a visitor does (fill, click, read) against the emulator and
wait on visible conditions, never on sleeps. The static tests read the rendered HTML: no inline
script, handler or style (the pages must run under ``script-src 'self'``), relative URLs only,
and the code shown on a page is byte for byte the file the page runs.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from tests.browser.conftest import ROOT, Emulator, Probe
from tests.browser.pages_fixtures import (
    OUTCOME_TIMEOUT_MS,
    pages,  # noqa: F401 (fixture)
    scenario_server,  # noqa: F401 (fixture)
    screenshot,
)

SEED_ENGAGEMENT = {"campaign": 3346848610, "engId": 3562981110, "revision": 44}
XSS_SKILL = "<img src=x onerror=window.__xss=1>"


def open_demo(probe: Probe, base_url: str | None = None) -> Any:
    """A fresh context showing the demo page, with its console watched."""
    page = probe.new_context(viewport={"width": 1280, "height": 900}).new_page()
    probe.watch(page)
    page.goto((base_url or probe.base_url) + "/")
    return page


# -- the rendered HTML ---------------------------------------------------------------------------


class _Scan(HTMLParser):
    """Collects what a strict CSP or a relocated dist/ would break."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.urls: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>: inline event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...>: inline style")
            if name in ("src", "href") and value is not None:
                self.urls.append(value)
        if tag == "style":
            self.problems.append("<style> element: inline CSS")
        if tag == "script" and "src" not in names:
            if names.get("type") != "application/json":
                self.problems.append(f"inline <script type={names.get('type')!r}>")
            self._in_inline_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False


@pytest.mark.parametrize("name", ["index.html", "kiosk.html", "embed.html"])
def test_rendered_pages_run_under_a_strict_csp_from_any_path(pages: Path, name: str):  # noqa: F811
    """A page has no inline script, handler or style, and links only relative URLs in dist/."""
    scan = _Scan()
    scan.feed((pages / name).read_text(encoding="utf-8"))
    assert scan.problems == []
    for url in scan.urls:
        assert not re.match(r"^(?:[a-z]+:|//|/)", url), f"{name}: not a relative URL: {url}"
        target = url.split("#")[0].split("?")[0]
        if target and url != "openapi.json":  # served by the emulator, not a file in dist/
            assert (pages / target).is_file(), f"{name} links {url}, missing from dist/"


@pytest.mark.parametrize(
    ("name", "snippet"),
    [
        ("index.html", "on_engagement.js"),
        ("index.html", "on_engagement.py"),
        ("embed.html", "embed.html"),
        ("embed.html", "embed_button.js"),
    ],
)
def test_code_shown_on_a_page_is_the_file_it_runs(pages: Path, name: str, snippet: str):  # noqa: F811
    """The snippet shown (escaped) on the page is exactly the file in static/demo/snippets/."""
    source = (ROOT / "static" / "demo" / "snippets" / snippet).read_text(encoding="utf-8")
    shown = (pages / name).read_text(encoding="utf-8")
    assert f"<code>{escape(source.rstrip(chr(10)))}</code>" in shown
    assert (pages / "demo" / "snippets" / snippet).read_text(encoding="utf-8") == source


def test_a_missing_snippet_stops_the_build_naming_the_file(tmp_path: Path):
    """Rendering without a snippet file fails with a message naming that file."""
    import shutil

    from tools.pages import render

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "static" / "demo", tmp_path / "static" / "demo")
    shutil.copytree(ROOT / "static" / "kiosk", tmp_path / "static" / "kiosk")
    (tmp_path / "static" / "demo" / "snippets" / "on_engagement.py").unlink()
    with pytest.raises(SystemExit, match=r"on_engagement\.py is missing"):
        render(tmp_path, tmp_path / "out")


# -- in the browser ------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_demo_shows_a_retry_then_an_engagement_button(probe: Probe, pages: Path):  # noqa: F811
    """The seed example warms up NotAvailable, retries on a timer, then offers TestSkill."""
    page = open_demo(probe)
    page.get_by_role("button", name="Check engagement").click()

    button = page.locator("#engagement-slot .engagement-button")
    button.wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
    assert button.text_content() == "Chat with TestSkill"

    kinds = page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert "retry" in kinds
    assert kinds.index("start") < kinds.index("retry") < kinds.index("Available")
    retry = page.locator('#timeline li[data-kind="retry"]').first.text_content()
    assert 'reason: "NotAvailable"' in retry
    assert page.locator("#outcome-badge").text_content() == "Available"
    assert "Available: TestSkill can chat now" in page.locator("#status").text_content()

    page.locator('#timeline li[data-kind="report"]').first.wait_for()
    screenshot(page, "demo.png")


@pytest.mark.browser
def test_impressions_of_the_button_reach_the_session(
    probe: Probe,
    emulator: Emulator,
    pages: Path,  # noqa: F811
):
    """Showing the button reports impDisplay, clicking it impAccept, with the engagement ids."""
    page = open_demo(probe)
    page.get_by_role("button", name="Check engagement").click()
    button = page.locator("#engagement-slot .engagement-button")
    button.wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
    page.get_by_text("Reported impDisplay").wait_for()
    button.click()
    page.get_by_text("Reported impAccept").wait_for()
    assert "Chat requested" in page.locator("#engagement-slot").text_content()

    sid = page.locator("#session-sid").text_content()
    recorded = emulator.session(sid)["impressions"]
    impressions = [a for a in recorded if a["type"] in ("impDisplay", "impAccept")]
    assert [a["type"] for a in impressions] == ["impDisplay", "impAccept"]
    for attribute in impressions:
        assert {k: attribute[k] for k in SEED_ENGAGEMENT} == SEED_ENGAGEMENT
        assert attribute["eContext"] == [{"type": "engagementContext", "id": "1"}]


#: (how to make the input invalid, the field's id suffix, words its message must hold)
INVALID_INPUTS = [
    ("preset:invalid", "appDetails-os", ["MAC_OSX", "'mac'"]),
    ("fill:appDetails.ipAddress=999.1.1.1", "appDetails-ipAddress", ["IP", "999.1.1.1"]),
    ("fill:engagementAttributes=[{bad", "engagementAttributes", ["not valid JSON"]),
    ("fill:vid=not a vid", "vid", ["vid", "not a vid"]),
]


@pytest.mark.browser
def test_invalid_input_shows_the_validators_message_next_to_its_field(
    probe: Probe,
    pages: Path,  # noqa: F811
):
    """Each invalid field gets the validator's message beside it, aria-invalid and focus."""
    page = open_demo(probe)
    for how, field_id, words in INVALID_INPUTS:
        page.get_by_role("button", name="Seed example").click()
        if how == "preset:invalid":
            page.get_by_role("button", name="Invalid: os = mac").click()
        else:
            path, value = how.removeprefix("fill:").split("=", 1)
            page.locator(f'[data-field="{path}"]').fill(value)
        page.get_by_role("button", name="Check engagement").click()

        message = page.locator(f"#e-{field_id}")
        message.wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
        text = message.text_content()
        assert all(word in text for word in words), (how, text)
        field = page.locator(f"#f-{field_id}")
        assert field.get_attribute("aria-invalid") == "true"
        assert f"e-{field_id}" in field.get_attribute("aria-describedby").split()
        assert field.evaluate("el => el === document.activeElement")
        assert page.locator("#engagement-slot button").count() == 0
        assert page.locator("#form-errors").is_visible()

    page.get_by_role("button", name="Seed example").click()
    assert page.locator("[aria-invalid]").count() == 0


@pytest.mark.browser
def test_an_html_skill_name_is_shown_as_text_and_never_runs(
    probe: Probe,
    pages: Path,  # noqa: F811
    scenario_server,  # noqa: F811
):
    """A skillName holding markup is displayed literally; no element or handler is created."""
    base = scenario_server(
        "warmUp = 0\n"
        "[[skills]]\nid = 23\nname = " + _toml_string(XSS_SKILL) + "\nagentsOnline = 1\n"
        '[[accounts]]\nid = "demo"\n'
        "[[accounts.engagements]]\n"
        'campaignId = "1"\nengagementId = "2"\ncontextId = "3"\nwindowId = "4"\n'
        'language = "en-US"\nengagementRevision = 1\nvalidForSeconds = 60\nskillId = 23\n'
    )
    page = open_demo(probe, base)
    page.get_by_role("button", name="Check engagement").click()
    button = page.locator("#engagement-slot .engagement-button")
    button.wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)

    assert button.text_content() == "Chat with " + XSS_SKILL
    assert XSS_SKILL in page.locator("#status").text_content()
    assert page.locator("main img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"


def _toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.browser
def test_the_python_callback_loads_only_on_request_and_sees_the_next_outcome(
    probe: Probe,
    pages: Path,  # noqa: F811
):
    """PyScript is not fetched until asked for; once loaded, Python receives the next outcome."""
    context = probe.new_context(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    probe.watch(page)
    page.goto(probe.base_url + "/")
    page.get_by_role("button", name="Check engagement").click()
    page.locator(".engagement-button").wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
    assert not [url for url in requested if "/pyscript/" in url]

    page.get_by_role("button", name="Load the Python callback").click()
    python_out = page.locator("#python-outcome")
    python_out.filter(has_text="Python callback bound").wait_for(timeout=OUTCOME_TIMEOUT_MS)
    page.get_by_role("button", name="Check engagement").click()
    python_out.filter(has_text="Python saw: Available").wait_for(timeout=OUTCOME_TIMEOUT_MS)
    assert python_out.text_content() == "Python saw: Available, TestSkill can chat now."


@pytest.mark.browser
def test_the_emulator_controls_change_what_the_next_check_sees(
    probe: Probe,
    pages: Path,  # noqa: F811
):
    """An injected 503 gives a timed retry honouring Retry-After; agents set online get offered."""
    page = open_demo(probe)
    page.locator("#skills .skill").first.wait_for()
    page.get_by_role("button", name="503 twice, Retry-After 2 s").click()
    page.get_by_text("Pending faults: HTTP 503 × 2.").wait_for()
    page.get_by_role("button", name="Check engagement").click()
    page.locator(".engagement-button").wait_for(state="visible", timeout=OUTCOME_TIMEOUT_MS)
    retries = page.locator('#timeline li[data-kind="retry"]').all_text_contents()
    http_retries = [r for r in retries if "HTTP 503" in r]
    assert len(http_retries) == 2
    for retry in http_retries:
        assert 'reason: "http-503"' in retry
        assert int(re.search(r"delayMs: (\d+)", retry).group(1)) >= 2000  # Retry-After: 2

    page.get_by_label("Sales").fill("1")
    page.locator(".skill", has_text="Sales").get_by_role("button", name="Set").click()
    page.get_by_text("Sales: 1 agent(s) online.").wait_for()
    page.get_by_role("button", name="Sales section").click()
    page.get_by_role("button", name="Check engagement").click()
    page.get_by_role("button", name="Chat with Sales").wait_for(timeout=OUTCOME_TIMEOUT_MS)
