"""The embed on LivePerson's App Engagement API, in headless Chromium against the emulator: an
account id and a Domain API are all a page needs, a cold account is ridden out with its vid,
and reports are updates of the session (PUT, or POST with the method override)."""

from __future__ import annotations

from typing import Any

import pytest

from engage_web.cpython.emulator.seed import seed_request
from tests.browser.conftest import Emulator, Probe, embed_page

pytestmark = pytest.mark.browser

PARAMS = seed_request()
RECORD = """<script>
  window.__attempts = []; window.__retries = [];
  ChatApi.bind("onAttempt", function (e) { window.__attempts.push(e); });
  ChatApi.bind("onRetry", function (e) { window.__retries.push(e); });
</script>"""
VISITORS = "/api/account/demo/app/engagement/visitors"
LOOKUP = "GET /api/account/demo/service/msdkgw/baseURI.json?version=1.0"


def check(page: Any) -> dict[str, Any]:
    return page.evaluate("(p) => ChatApi.getEngagement(p)", PARAMS)


def lines(emulator: Emulator) -> list[str]:
    return [r["requestLine"] for r in emulator.requests("/api/account/")]


def test_a_page_with_only_an_account_id_and_a_domain_api_gets_answers(
    probe: Probe, emulator: Emulator
):
    """data-domain-api pointing at the emulator: the embed looks the base up once, creates the
    session on the visitors route, keeps the base in local storage, and a reload (a second page
    view) goes straight to the base without asking the Domain API again."""
    page = probe.open(embed_page(endpoint=None, attrs='data-domain-api="/"', body=RECORD))
    assert check(page)["status"] == "Available"
    seen = lines(emulator)
    assert seen[0] == LOOKUP
    assert seen[1] == f"POST {VISITORS}?v=1.0"
    attempts = page.evaluate("window.__attempts")
    stages = [(a["stage"], a["method"]) for a in attempts[:2]]
    assert stages == [("lookup", "GET"), ("check", "POST")]
    assert attempts[1]["url"] == probe.base_url + f"{VISITORS}?v=1.0"

    page.reload()
    assert check(page)["status"] == "Available"
    assert lines(emulator).count(LOOKUP) == 1


def test_a_failed_look_up_is_one_error_outcome_saying_so(probe: Probe, emulator: Emulator):
    """An account the Domain API does not know ends as one Error outcome of code "lookup"."""
    probe.allow(r"status of 404")
    page = probe.open(embed_page(endpoint=None, account="nobody", attrs='data-domain-api="/"'))
    outcome = check(page)
    assert outcome["status"] == "Error"
    assert (outcome["error"]["code"], outcome["error"]["cause"]) == ("lookup", 404)
    assert all("baseURI.json" in line for line in lines(emulator))


def test_a_cold_account_is_ridden_out_continuing_the_same_visitor(
    probe: Probe, emulator: Emulator
):
    """The emulator's cold account answers 500/20 "Loading account: demo, vid: X" twice; the
    embed waits (onRetry reason account-loading), sends vid X in the path, and gets Available."""
    emulator.client.post("/_emulator/accounts/demo/cold", json={"checks": 2}).raise_for_status()
    probe.allow(r"status of 500")
    page = probe.open(embed_page(body=RECORD))
    outcome = check(page)
    assert outcome["status"] == "Available"
    reasons = [r["reason"] for r in page.evaluate("window.__retries")]
    assert reasons[:2] == ["account-loading", "account-loading"]
    checks = [r for r in emulator.requests("/visitors") if r["method"] == "POST"]
    assert [r["status"] for r in checks[:3]] == [500, 500, 200]
    assert checks[0]["path"] == VISITORS
    assert all(r["path"] == f"{VISITORS}/{outcome['visitorId']}" for r in checks[1:])


@pytest.mark.parametrize("override", [False, True], ids=["put", "method-override"])
def test_a_report_is_an_update_of_the_session(probe: Probe, emulator: Emulator, override):
    """report() after an Available answer updates that session for its page: a PUT, or a POST
    with X-HTTP-Method-Override: PUT when the page asks for it; the emulator records the
    impression on the session either way."""
    attrs = "data-method-override" if override else ""
    page = probe.open(embed_page(attrs=attrs))
    outcome = check(page)
    impression = {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110,
                  "revision": 44}
    result = page.evaluate("(a) => ChatApi.report(a)", [impression])
    assert result == {"status": "Reported", "delivered": True}
    update = emulator.requests("/visitors")[-1]
    assert update["requestLine"] == (
        f"{'POST' if override else 'PUT'} {VISITORS}/{outcome['visitorId']}"
        f"?v=1.0&sid={outcome['sessionId']}"
    )
    session = emulator.session(outcome["sessionId"])
    assert session["impressions"] == [impression]
