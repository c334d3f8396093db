"""Nothing lost: reports made while the endpoint is unreachable are kept and delivered later.

``ChatApi.report(attributes)`` first tries to deliver (with the retry policy). When that fails
for a reason that time can cure (network, timeout, 429, 5xx), the report is put in a durable
outbox (local storage, per endpoint and account) and its Promise resolves with the Error outcome
plus ``queued: true``. Later reports join the queue behind it, so order is kept. The outbox
survives a reload and is flushed, oldest first, each entry exactly once, as soon as the endpoint
answers again (after any successful answer, when the runtime starts, when the browser comes back
online, and on a timer). ``ChatApi.queuedReports`` says how many are waiting.

The test compares what the page sent with what the emulator recorded on the session.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Probe, embed_page
from tests.browser.hardening import OutageServer, impression, init_embed

pytestmark = pytest.mark.browser

PARAMS = {"consumerSections": ["Support"]}
NETWORK_LOG = r"Failed to load resource|net::ERR_|Failed to fetch"


def _open(probe: Probe, context: Any, endpoint: str) -> Any:
    page = probe.open(embed_page(endpoint=None, account=None), context=context)
    init_embed(page, endpoint)
    return page


def _report(page: Any, attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return page.evaluate(
        """(attrs) => {
          window.__sent = (window.__sent || []).concat(attrs);
          return ChatApi.report(attrs);
        }""",
        attributes,
    )


def test_reports_made_while_unreachable_survive_a_reload_and_arrive_once_in_order(probe: Probe):
    """Reports sent during an outage, before and after a reload, are all recorded on the session
    once each and in the order the page sent them, after the endpoint comes back."""
    probe.allow(NETWORK_LOG)
    outage = OutageServer()
    try:
        context = probe.new_context()
        page = _open(probe, context, outage.base_url)
        page.evaluate("(p) => ChatApi.getEngagement(p)", PARAMS)
        answer = page.evaluate("(p) => ChatApi.getEngagement(p)", PARAMS)
        delivered = _report(page, [impression(1)])
        assert delivered["status"] == "Reported"

        outage.stop()
        queued = [_report(page, [impression(n)]) for n in (2, 3)]
        assert [q["delivered"] for q in queued] == [False, False]
        assert [q["queued"] for q in queued] == [True, True]
        assert page.evaluate("ChatApi.queuedReports") == 2
        sent_before_reload = page.evaluate("window.__sent")

        page.reload()
        init_embed(page, outage.base_url)
        assert page.evaluate("ChatApi.queuedReports") == 2  # survived the reload
        later = _report(page, [impression(4), impression(5)])
        assert later["queued"] is True
        assert page.evaluate("ChatApi.queuedReports") == 3

        outage.start()
        page.evaluate("(p) => ChatApi.getEngagement(p)", PARAMS)  # any answer triggers a flush
        page.wait_for_function("ChatApi.queuedReports === 0")

        sent = sent_before_reload + page.evaluate("window.__sent")
        recorded = outage.control().session(answer["sessionId"])["impressions"]
        impressions = [sde for sde in recorded if sde.get("type") == "impDisplay"]
        assert impressions == sent  # each once, in the page's order
        assert [sde["revision"] for sde in impressions] == [1, 2, 3, 4, 5]
    finally:
        outage.stop()


def test_a_report_refused_for_a_reason_time_cannot_cure_is_not_queued(probe: Probe):
    """An invalid report (400) resolves with the error at once and is never queued or resent."""
    page = probe.open(embed_page())
    page.evaluate("(p) => ChatApi.getEngagement(p)", PARAMS)
    refused = page.evaluate("(a) => ChatApi.report(a)", [{"type": "impDisplay", "campaign": "x"}])
    assert refused["status"] == "Error"
    assert refused["error"]["code"] == 400
    assert refused["delivered"] is False
    assert not refused.get("queued")
    assert page.evaluate("ChatApi.queuedReports || 0") == 0
