"""Every Error outcome says whether time can cure it (``error.transient``), decided once, here.

The page's outbox keeps a report whose failure is transient and drops one whose failure is not;
the kiosk shows "reconnecting" or "stopped" the same way. Neither judges error codes itself, so
the rule lives in one place (``engage_web.core.outcome.is_transient``) and follows the retry policy.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from engage_web.browser.worker import WorkerHost
from engage_web.core.errors import RedirectRefused
from engage_web.core.outcome import is_transient
from engage_web.core.retry import RetryPolicy
from engage_web.core.session import MemorySessionStore, Session
from engage_web.driver.api import ChatApi
from tests.fakes import (
    HANG,
    FakeClock,
    ScriptedTransport,
    domain,
    error_answer,
    json_answer,
    loading,
    network_down,
    run,
    settle,
    timed_out,
)

ENDPOINT = "https://emulator.test"
# One attempt per call, so every script below is one exchange (or one per retry named).
ONCE = RetryPolicy(max_retries=0, not_available_rechecks=0, loading_retries=0, jitter=0.0)


def outcome_of(
    *script: Any, retry: RetryPolicy = ONCE, endpoint: str | None = ENDPOINT, params: Any = None
) -> dict[str, Any]:
    """The outcome of one check over ``script`` (see ``tests.fakes.ScriptedTransport``)."""
    api = ChatApi(
        endpoint,
        "demo",
        domain_api="https://domain.test",
        retry=retry,
        transport=ScriptedTransport(*script),
        clock=FakeClock(auto_advance=True),
        random=lambda: 0.5,
    )
    return run(api.get_engagement(params))


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ((error_answer(503, "busy"),), 503),
        ((error_answer(429, "slow down"),), 429),
        ((error_answer(500, "oops"),), 500),
        ((error_answer(502, "bad gateway"),), 502),
        ((error_answer(504, "gateway timeout"),), 504),
        ((network_down(),), "network"),
        ((timed_out(),), "timeout"),
        ((json_answer(200, "<!DOCTYPE html><p>captive portal</p>"),), "malformed"),
        ((json_answer(200, "[" * 10_000 + "]" * 10_000),), "malformed"),
        ((loading(),), 500),
    ],
    ids=["503", "429", "500", "502", "504", "network", "timeout", "html", "nested", "cold"],
)
def test_failures_time_can_cure_are_transient(script, code):
    """Retryable statuses, network, timeout, malformed answers and a cold account: transient."""
    outcome = outcome_of(*script)
    assert outcome["error"]["code"] == code
    assert outcome["error"]["transient"] is True


@pytest.mark.parametrize(
    ("script", "params", "code"),
    [
        ((error_answer(400, "Illegal Version", internal_code=33),), None, 400),
        ((error_answer(401, "bad sid", internal_code=37),), None, 401),
        ((error_answer(404, "unknown account"),), None, 404),
        ((error_answer(413, "too big"),), None, 413),
        ((error_answer(501, "not implemented"),), None, 501),
        ((RedirectRefused(f"{ENDPOINT}/api", 302, "https://elsewhere.test/"),), None, "redirect"),
        ((), {"appType": "MOBILE"}, 400),
        ((), {"vid": "not a vid!"}, 401),
    ],
    ids=["400", "401", "404", "413", "501", "redirect", "invalid-request", "invalid-session"],
)
def test_failures_time_cannot_cure_are_not_transient(script, params, code):
    """Validation, other 4xx, statuses the policy does not retry and redirects: not transient."""
    outcome = outcome_of(*script, params=params)
    assert outcome["error"]["code"] == code
    assert outcome["error"]["transient"] is False


def test_the_policy_decides_which_statuses_are_transient():
    """A status the policy retries is transient; the same status under another policy is not."""
    only_503 = ONCE.replace(retry_statuses=[503])
    assert outcome_of(error_answer(502, "x"))["error"]["transient"] is True
    assert outcome_of(error_answer(502, "x"), retry=only_503)["error"]["transient"] is False
    # a cold account is curable whatever the policy says about 500
    assert outcome_of(loading(), retry=only_503)["error"]["transient"] is True


@pytest.mark.parametrize(
    ("lookup", "cause", "transient"),
    [
        (error_answer(404, "unknown account"), 404, False),
        (error_answer(503, "busy"), 503, True),
        (network_down(), "network", True),
    ],
    ids=["unknown-account", "busy", "network"],
)
def test_a_look_up_is_as_transient_as_its_cause(lookup, cause, transient):
    """A failed Domain API look-up (code "lookup") is transient exactly when its cause is."""
    outcome = outcome_of(lookup, endpoint=None)
    assert outcome["error"]["code"] == "lookup"
    assert outcome["error"]["cause"] == cause
    assert outcome["error"]["transient"] is transient


def test_a_resolved_look_up_then_a_refusal_is_not_transient():
    """The flag follows the call's last failure, not the look-up that succeeded before it."""
    outcome = outcome_of(domain(), error_answer(400, "bad"), endpoint=None)
    assert (outcome["error"]["code"], outcome["error"]["transient"]) == (400, False)


def test_reports_and_cancelled_calls_carry_the_flag_too():
    """A report's failures and a cancelled call are marked the same way as checks."""

    async def scenario() -> tuple[dict[str, Any], ...]:
        api = ChatApi(
            ENDPOINT,
            "demo",
            retry=ONCE,
            transport=ScriptedTransport(
                error_answer(503, "busy"), error_answer(400, "bad page"), HANG
            ),
            clock=FakeClock(auto_advance=True),
            session_store=MemorySessionStore(Session("v", "s")),
        )
        impression = [{"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}]
        busy = await api.report(impression, page_id="p")
        refused = await api.report(impression, page_id="p")
        no_page = await api.report(impression)
        task = asyncio.ensure_future(api.get_engagement({}))
        await settle()
        api.cancel()
        cancelled = await task
        return busy, refused, no_page, cancelled

    busy, refused, no_page, cancelled = run(scenario())
    assert (busy["error"]["code"], busy["error"]["transient"]) == (503, True)
    assert (refused["error"]["code"], refused["error"]["transient"]) == (400, False)
    assert (no_page["error"]["field"], no_page["error"]["transient"]) == ("pageId", False)
    assert (cancelled["error"]["code"], cancelled["error"]["transient"]) == ("cancelled", True)


def test_errors_the_worker_makes_itself_are_not_transient():
    """A bad configuration or a check before init: the page must change something."""
    posted: list[str] = []
    host = WorkerHost(posted.append, transport=ScriptedTransport())

    async def scenario() -> tuple[str | None, str | None]:
        before = await host.handle('{"type": "check", "id": 1, "params": {}}')
        failed = await host.handle('{"type": "init", "config": {"endpoint": "ftp://x"}}')
        return before, failed

    before, failed = run(scenario())
    assert json.loads(before)["outcome"]["error"]["transient"] is False
    assert json.loads(failed)["error"]["transient"] is False


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        ({"code": 503}, True),
        ({"code": 500, "internalCode": 20}, True),
        ({"code": 500, "internalCode": 5}, True),
        ({"code": 400}, False),
        ({"code": True}, False),
        ({"code": "lookup", "cause": "timeout"}, True),
        ({"code": "lookup", "cause": 404}, False),
        ({"code": "config"}, False),
        ({"code": "internal"}, False),
        ({"code": "something new"}, False),
        ({}, False),
    ],
)
def test_is_transient_table(error, transient):
    """The rule as a table: an unknown code is not transient (nothing is kept on a guess)."""
    assert is_transient(error) is transient
