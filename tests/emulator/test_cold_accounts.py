"""A cold account answers its first checks with LivePerson's 500 "Loading account", and a retry
that sends the vid from that message continues as the same visitor."""

from __future__ import annotations

import re

import pytest

from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.emulator.scenario import parse_scenario
from tests.emulator.conftest import DOMAIN, Emulator, TestClient, impression_of, query, session_path

LOADING = re.compile(r"Loading account: demo, vid: ([A-Za-z0-9_.\-]{1,64})")


def cold_scenario(cold: str) -> str:
    """The built-in demo account (warm-up 1, the seed's engagement) made cold."""
    return f"""warmUp = 1
[[skills]]
id = 23
name = "TestSkill"
agentsOnline = 2
[[accounts]]
id = "demo"
cold = {cold}
[[accounts.engagements]]
sections = ["Support"]
campaignId = "3346848610"
engagementId = "3562981110"
contextId = "1"
windowId = "3346847910"
language = "en-US"
engagementRevision = 44
validForSeconds = 900
skillId = 23
"""


def cold_emulator(cold: str, clock) -> Emulator:
    return Emulator(TestClient(create_app(parse_scenario(cold_scenario(cold)), clock=clock)), clock)


def loading_vid(answer) -> str:
    """The vid of a "Loading account" 500 (it is only in the message, as LivePerson sends it)."""
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert set(body) == {"time", "message", "internalCode"}
    assert body["internalCode"] == 20
    match = LOADING.fullmatch(body["message"])
    assert match, body["message"]
    return match.group(1)


def test_the_first_checks_of_a_cold_account_answer_loading_account(clock):
    """cold = {checks = 2}: two 500s naming a fresh vid, then the answer; the retry that puts
    that vid in the path continues as that visitor."""
    emulator = cold_emulator("{checks = 2}", clock)
    vid = loading_vid(emulator.check())
    assert loading_vid(emulator.check(vid=vid)) == vid
    answer = emulator.check(vid=vid)
    assert answer.status_code == 200
    assert answer.json()["visitorId"] == vid


def test_a_cold_check_names_the_vid_it_was_given(clock):
    """A check that gives a vid in the path gets that vid back in the message."""
    emulator = cold_emulator("{checks = 1}", clock)
    assert loading_vid(emulator.check(vid="device-7", sid="s1")) == "device-7"


def test_each_check_without_a_vid_gets_a_new_one(clock):
    """Checks without a vid each get a freshly minted one (no visitor exists yet)."""
    emulator = cold_emulator("{checks = 2}", clock)
    assert loading_vid(emulator.check()) != loading_vid(emulator.check())


def test_a_cold_start_in_seconds_ends_with_time(clock):
    """cold = {seconds = 10}: every check in the first 10 s is refused, then the account is warm;
    a reset starts the cold seconds again."""
    emulator = cold_emulator("{seconds = 10}", clock)
    vid = loading_vid(emulator.check())
    clock.advance(9.9)
    loading_vid(emulator.check(vid=vid))
    clock.advance(0.1)
    assert emulator.check(vid=vid).status_code == 200
    emulator.client.post("/_emulator/reset")
    loading_vid(emulator.check())


def test_checks_and_seconds_together_must_both_be_spent(clock):
    """With both, the account stays cold until the checks are used and the time has passed."""
    emulator = cold_emulator("{checks = 1, seconds = 5}", clock)
    loading_vid(emulator.check())
    loading_vid(emulator.check())  # the check is spent, the seconds are not
    clock.advance(5)
    assert emulator.check().status_code == 200


def test_updates_and_the_domain_api_are_never_cold(clock):
    """Only create session is affected: a live session's updates and the Domain API answer."""
    emulator = cold_emulator("{checks = 1}", clock)
    vid = loading_vid(emulator.check())
    first = emulator.check(vid=vid).json()
    answer = emulator.check(vid=vid, sid=first["sessionId"]).json()
    emulator.client.post("/_emulator/accounts/demo/cold", json={"checks": 5})
    assert emulator.update(answer, impressions=[impression_of(answer)]).status_code == 200
    assert emulator.client.get(DOMAIN + "?version=1.0").status_code == 200
    loading_vid(emulator.check(vid=vid, sid=answer["sessionId"]))


def test_a_cold_check_creates_no_session(clock):
    """A refused check leaves nothing behind: the continuation is the visitor's first session."""
    emulator = cold_emulator("{checks = 1}", clock)
    vid = loading_vid(emulator.check())
    assert emulator.client.get("/_emulator/state").json()["sessionsStored"] == 0
    assert emulator.check(vid=vid).json()["status"] == "NotAvailable"  # warm-up starts now


def test_the_control_route_makes_an_account_cold_and_warm(emulator: Emulator):
    """POST /_emulator/accounts/{id}/cold starts a cold spell; {"checks": 0} ends it at once."""
    state = emulator.client.post("/_emulator/accounts/demo/cold", json={"checks": 2, "seconds": 1})
    assert state.json() == {"accountId": "demo", "cold": True, "checksLeft": 2, "secondsLeft": 1}
    assert emulator.client.get("/_emulator/state").json()["cold"]["demo"]["checksLeft"] == 2
    loading_vid(emulator.check())
    warm = emulator.client.post("/_emulator/accounts/demo/cold", json={"checks": 0})
    assert warm.json()["cold"] is False
    assert emulator.check().status_code == 200
    assert emulator.client.get("/_emulator/state").json()["cold"] == {}


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/_emulator/accounts/nope/cold", {"checks": 1}, 404, "accountId"),
        ("/_emulator/accounts/a-b/cold", {"checks": 1}, 404, "accountId"),
        ("/_emulator/accounts/demo/cold", {}, 400, "checks"),
        ("/_emulator/accounts/demo/cold", {"checks": -1}, 400, "checks"),
        ("/_emulator/accounts/demo/cold", {"checks": True}, 400, "checks"),
        ("/_emulator/accounts/demo/cold", {"seconds": 1e9}, 400, "seconds"),
        ("/_emulator/accounts/demo/cold", {"second": 1}, 400, "second"),
    ],
)
def test_cold_control_bodies_are_validated(client, path, body, status, field):
    """A bad cold request is refused naming the field."""
    answer = client.post(path, json=body)
    assert answer.status_code == status
    assert answer.json()["field"] == field


def test_a_cold_account_does_not_affect_others(clock):
    """Coldness is per account."""
    text = cold_scenario("{checks = 5}") + '\n[[accounts]]\nid = "other"\n'
    client = TestClient(create_app(parse_scenario(text), clock=clock))
    assert (
        client.post(
            session_path(account="other") + query(), json={"appType": "EXTERNAL"}
        ).status_code
        == 200
    )
