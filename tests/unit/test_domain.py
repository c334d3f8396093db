"""The base URL from LivePerson's Domain API: looked up once, cached, asked again when it stops
answering, retried under the policy, and a failure that says it was the look-up."""

import asyncio

import pytest

from engage_web.core.domain import BASE_TTL, MemoryBaseCache, ResolvedBase
from engage_web.core.retry import RetryPolicy
from engage_web.core.session import MemorySessionStore, Session
from engage_web.core.transport import HttpResponse
from engage_web.driver.api import ChatApi
from tests.fakes import (
    EPOCH,
    FakeClock,
    ScriptedTransport,
    available,
    domain,
    error_answer,
    gated,
    json_answer,
    network_down,
    run,
    settle,
)

DOMAIN_API = "https://api.liveperson.test"
LOOKUP = f"{DOMAIN_API}/api/account/demo/service/msdkgw/baseURI.json?version=1.0"
BASE = "https://va.msdkgw.test"


class Harness:
    """A ChatApi with only an account id and a Domain API, over a scripted transport."""

    def __init__(self, *script, cache=None, retry=None, store=None):
        self.transport = ScriptedTransport(*script)
        self.clock = FakeClock(auto_advance=True)
        self.cache = cache if cache is not None else MemoryBaseCache()
        self.retries, self.attempts = [], []
        self.api = ChatApi(
            None,
            "demo",
            domain_api=DOMAIN_API,
            transport=self.transport,
            clock=self.clock,
            base_cache=self.cache,
            session_store=store,
            retry=retry if retry is not None else RetryPolicy(jitter=0.0),
            on_retry=self.retries.append,
            on_attempt=self.attempts.append,
            random=lambda: 0.5,
        )

    def urls(self):
        return [(r.method, r.url) for r in self.transport.requests]


def test_an_account_id_is_all_it_needs():
    """The first check asks the Domain API for msdkgw, then creates the session on
    https://{baseURI}; the base is cached, so the second check asks nothing more."""
    h = Harness(domain(), available(), available())
    assert run(h.api.get_engagement())["status"] == "Available"
    assert run(h.api.get_engagement())["status"] == "Available"
    assert h.urls() == [
        ("GET", LOOKUP),
        ("POST", f"{BASE}/api/account/demo/app/engagement/visitors?v=1.0"),
        ("POST", f"{BASE}/api/account/demo/app/engagement/visitors/v1?v=1.0&sid=s1"),
    ]
    assert h.cache.load_base() == ResolvedBase(BASE, EPOCH)
    assert h.api.base == BASE
    assert [a["stage"] for a in h.attempts] == ["lookup", "check", "check"]
    assert h.attempts[1] == {
        "attempt": 1,
        "stage": "check",
        "method": "POST",
        "url": f"{BASE}/api/account/demo/app/engagement/visitors?v=1.0",
    }


def test_an_explicit_endpoint_skips_the_look_up():
    """With an endpoint the Domain API is never asked."""
    transport = ScriptedTransport(available())
    api = ChatApi("https://engage.test", "demo", domain_api=DOMAIN_API, transport=transport,
                  clock=FakeClock(auto_advance=True))
    run(api.get_engagement())
    assert transport.requests[0].url.startswith("https://engage.test/api/account/demo/")


def test_a_fresh_cached_base_is_used_and_an_old_one_asked_again():
    """A base cached less than a day ago is used as is; one older than a day is looked up."""
    fresh = Harness(available(), cache=MemoryBaseCache(ResolvedBase(BASE, EPOCH - 60)))
    run(fresh.api.get_engagement())
    assert fresh.urls()[0][1].startswith(BASE)
    old = Harness(domain("va2.msdkgw.test"), available(),
                  cache=MemoryBaseCache(ResolvedBase(BASE, EPOCH - BASE_TTL - 1)))
    run(old.api.get_engagement())
    assert old.urls()[0][1] == LOOKUP
    assert old.urls()[1][1].startswith("https://va2.msdkgw.test/")


def test_a_cached_base_that_stops_answering_is_looked_up_again_before_the_retry():
    """A network failure on a cached base forgets it; the retry goes to the base the Domain
    API names now, which is cached in its place."""
    h = Harness(
        network_down(),
        domain("va-new.msdkgw.test"),
        available(),
        cache=MemoryBaseCache(ResolvedBase(BASE, EPOCH - 60)),
    )
    assert run(h.api.get_engagement())["status"] == "Available"
    assert [url.split("/api/")[0] for _, url in h.urls()] == [
        BASE,
        DOMAIN_API,
        "https://va-new.msdkgw.test",
    ]
    assert h.cache.load_base().base == "https://va-new.msdkgw.test"


def test_when_the_domain_api_cannot_answer_either_the_old_base_is_kept():
    """If the re-look-up fails too, the retry goes to the cached base again (nothing better is
    known) and it stays cached."""
    h = Harness(
        network_down(),
        network_down(),
        available(),
        cache=MemoryBaseCache(ResolvedBase(BASE, EPOCH - 60)),
    )
    assert run(h.api.get_engagement())["status"] == "Available"
    assert [url.split("/api/")[0] for _, url in h.urls()] == [BASE, DOMAIN_API, BASE]
    assert h.cache.load_base().base == BASE


def test_a_failed_look_up_is_retried_under_the_policy():
    """A 503 from the Domain API is retried like any other, and onRetry says it is the look-up."""
    h = Harness(error_answer(503, "busy", retry_after="1"), domain(), available())
    assert run(h.api.get_engagement())["status"] == "Available"
    assert h.retries == [{"attempt": 2, "delayMs": 1000, "reason": "http-503", "stage": "lookup"}]


@pytest.mark.parametrize(
    ("script", "cause", "field"),
    [
        ([error_answer(404, "no such account")], 404, "accountId"),
        ([network_down()] * 4, "network", None),
        ([json_answer(200, {"service": "msdkgw", "account": "demo"})] * 4, "malformed", None),
        ([json_answer(200, {"baseURI": "evil.test/path?x"})] * 4, "malformed", None),
    ],
)
def test_a_look_up_that_fails_for_good_says_so(script, cause, field):
    """The call ends with one Error outcome of code "lookup", its own code in cause; nothing
    is sent to the App Engagement API and nothing is cached."""
    h = Harness(*script)
    outcome = run(h.api.get_engagement())
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == "lookup"
    assert outcome["error"]["cause"] == cause
    assert outcome["error"]["field"] == field
    assert "msdkgw" in outcome["error"]["message"]
    assert all(url == LOOKUP for _, url in h.urls())
    assert h.cache.load_base() is None


def test_an_http_base_is_refused_unless_everything_is_on_loopback():
    """A Domain API on loopback (the emulator) keeps its http:// scheme for a loopback base;
    a remote base is always https://, whatever the Domain API's scheme."""
    transport = ScriptedTransport(domain("127.0.0.1:8765"), available(),
                                  domain("va.example.test"), available())
    for _ in range(2):
        api = ChatApi(None, "demo", domain_api="http://127.0.0.1:9", transport=transport,
                      clock=FakeClock(auto_advance=True))
        run(api.get_engagement())
    urls = [r.url.split("/api/")[0] for r in transport.requests]
    assert urls == ["http://127.0.0.1:9", "http://127.0.0.1:8765", "http://127.0.0.1:9",
                    "https://va.example.test"]


def test_concurrent_first_calls_share_one_look_up():
    """Three checks made at once on a fresh page ask the Domain API once."""

    async def scenario():
        gate = asyncio.Event()
        h = Harness(gated(domain(), gate), available(), available(), available())
        calls = [asyncio.ensure_future(h.api.get_engagement()) for _ in range(3)]
        await settle()
        assert h.transport.calls == 1
        gate.set()
        return h, await asyncio.gather(*calls)

    h, outcomes = run(scenario())
    assert [o["status"] for o in outcomes] == ["Available"] * 3
    assert [url for _, url in h.urls()].count(LOOKUP) == 1


def test_a_report_goes_to_the_resolved_base_too():
    """Reports need the base as well; with a cached one the update goes straight there."""
    h = Harness(
        HttpResponse(200, {}, ""),
        cache=MemoryBaseCache(ResolvedBase(BASE, EPOCH - 60)),
        store=MemorySessionStore(Session("v", "s")),
    )
    outcome = run(h.api.report([{"type": "searchInfo", "keywords": ["a"]}], page_id="p1"))
    assert outcome["delivered"] is True
    assert h.urls() == [("PUT", f"{BASE}/api/account/demo/app/engagement/visitors/v?v=1.0&sid=s")]
