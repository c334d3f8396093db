"""The check's state machine, driven event by event with whole-state assertions."""

import pytest

from engage_web.core.engine import (
    FINAL_STATES,
    TRANSITIONS,
    AnswerReceived,
    Cancel,
    Check,
    CheckState,
    EngineStateError,
    Finish,
    Send,
    Start,
    State,
    TimerFired,
    TransportFailed,
    Wait,
)
from engage_web.core.outcome import classify_report
from engage_web.core.retry import RetryPolicy
from engage_web.core.session import Session
from engage_web.core.transport import HttpResponse
from engage_web.core.wire import create_session_request, update_session_request
from tests.fakes import (
    EPOCH,
    available,
    error_answer,
    json_answer,
    loading,
    network_down,
    not_available,
    timed_out,
)

POLICY = RetryPolicy(jitter=0.0)  # the default preset without jitter: waits 0.5, 1, 2 s


def make_check(policy=POLICY, session=None, **kwargs):
    return Check(
        policy,
        lambda s: create_session_request("http://e.test", "demo", {"appType": "EXTERNAL"}, s),
        session=session,
        rand=lambda: 0.5,
        **kwargs,
    )


def test_available_at_once():
    """One attempt answered Available ends in AVAILABLE with the answer and its session."""
    check = make_check()
    send = check.handle(Start(0.0))
    assert isinstance(send, Send)
    assert (send.attempt, send.timeout, send.request.method) == (1, 8.0, "POST")
    assert check.snapshot() == CheckState(State.SENDING, attempts=1)
    finish = check.handle(AnswerReceived(available(), 0.2))
    assert isinstance(finish, Finish)
    assert finish.state is State.AVAILABLE
    assert finish.outcome["status"] == "Available"
    assert check.snapshot() == CheckState(
        State.AVAILABLE, attempts=1, session=Session("v1", "s1"), outcome=finish.outcome
    )


def test_not_available_is_rechecked_with_the_answers_session():
    """NotAvailable waits not_available_delay and re-checks, sending the ids it was given."""
    check = make_check()
    check.handle(Start(0.0))
    wait = check.handle(AnswerReceived(not_available("v9", "s9"), 0.1))
    assert wait == Wait(1.0, {"attempt": 2, "delayMs": 1000, "reason": "NotAvailable"})
    assert check.snapshot() == CheckState(
        State.WAITING, attempts=1, rechecks=1, session=Session("v9", "s9")
    )
    send = check.handle(TimerFired(1.1))
    assert isinstance(send, Send)
    assert send.request.url.endswith("/visitors/v9?v=1.0&sid=s9")
    finish = check.handle(AnswerReceived(available("v9", "s9", status=200), 1.2))
    assert finish.state is State.AVAILABLE


def test_not_available_after_every_recheck_is_the_outcome():
    """When every re-check is NotAvailable too, the last NotAvailable answer is the outcome."""
    check = make_check()
    check.handle(Start(0.0))
    for now in (0.1, 1.2):
        assert isinstance(check.handle(AnswerReceived(not_available(), now)), Wait)
        check.handle(TimerFired(now + 1.0))
    finish = check.handle(AnswerReceived(not_available(page="last"), 2.3))
    assert finish.state is State.NOT_AVAILABLE
    assert finish.outcome["pageId"] == "last"
    assert check.snapshot().rechecks == 2
    assert check.attempts == 3


@pytest.mark.parametrize(
    ("answer", "reason", "delay_ms"),
    [
        (error_answer(503, "busy", retry_after="3"), "http-503", 3000),
        (error_answer(429, "slow down", retry_after="1"), "http-429", 1000),
        (error_answer(500), "http-500", 500),
        (error_answer(502), "http-502", 500),
        (error_answer(504), "http-504", 500),
        (json_answer(200, "<html>proxy</html>"), "malformed", 500),
    ],
)
def test_transient_answers_are_retried(answer, reason, delay_ms):
    """429/5xx and malformed answers schedule a retry (Retry-After when sent, else the backoff)."""
    check = make_check()
    check.handle(Start(0.0))
    wait = check.handle(AnswerReceived(answer, 0.1, EPOCH))
    assert wait == Wait(delay_ms / 1000, {"attempt": 2, "delayMs": delay_ms, "reason": reason})
    assert check.snapshot() == CheckState(State.WAITING, attempts=1, retries=1)


@pytest.mark.parametrize(
    ("error", "reason"),
    [(network_down(), "network"), (timed_out(), "timeout"), (ValueError("bug"), "network")],
)
def test_transport_failures_are_retried_with_their_reason(error, reason):
    """Network failures and timeouts (and unexpected transport errors) are retried."""
    check = make_check()
    check.handle(Start(0.0))
    wait = check.handle(TransportFailed(error, 0.1))
    assert wait == Wait(0.5, {"attempt": 2, "delayMs": 500, "reason": reason})


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 415, 501])
def test_other_error_statuses_finish_at_once(status):
    """A non-retryable status ends the check after one attempt with the server's message."""
    check = make_check()
    check.handle(Start(0.0))
    finish = check.handle(AnswerReceived(error_answer(status, "no", field="appType"), 0.1))
    assert finish.state is State.ERROR
    assert finish.outcome == {
        "status": "Error",
        "error": {
            "code": status,
            "message": "no",
            "field": "appType",
            "internalCode": 5,
            "attempts": 1,
            "transient": False,  # time cannot cure a status the policy does not retry
        },
    }


def test_retries_run_out_with_a_count_of_attempts():
    """After max_retries the last failure is the outcome, saying how many attempts were made."""
    check = make_check(session=Session("v", "s"))
    action = check.handle(Start(0.0))
    waits = []
    now = 0.0
    while not isinstance(action, Finish):
        assert isinstance(action, Send)
        action = check.handle(TransportFailed(network_down(), now))
        if isinstance(action, Wait):
            waits.append(action.seconds)
            now += action.seconds
            action = check.handle(TimerFired(now))
    assert waits == [0.5, 1.0, 2.0]
    assert action.state is State.ERROR
    assert action.outcome == {
        "status": "Error",
        "error": {
            "code": "network",
            "message": "Failed to fetch (gave up after 4 attempts)",
            "field": None,
            "attempts": 4,
            "transient": True,
        },
        "visitorId": "v",
        "sessionId": "s",
    }


def test_no_wait_ends_past_the_deadline():
    """A retry whose wait would end past the deadline is not scheduled: the check gives up."""
    check = make_check(RetryPolicy(jitter=0, deadline=5.0))
    check.handle(Start(100.0))
    finish = check.handle(AnswerReceived(error_answer(503, "busy", retry_after="6"), 100.1, EPOCH))
    assert finish.state is State.ERROR
    assert finish.outcome["error"]["message"] == (
        "busy (gave up after 1 attempt: the next retry (in 6 s) would pass the 5 s deadline)"
    )
    assert finish.outcome["error"]["attempts"] == 1


def test_attempt_timeout_is_cut_to_the_deadline():
    """An attempt never runs past the deadline: its timeout is what is left."""
    check = make_check(RetryPolicy(jitter=0, deadline=10.0, attempt_timeout=8.0))
    check.handle(Start(0.0))
    check.handle(TransportFailed(timed_out(), 8.0))
    send = check.handle(TimerFired(8.5))
    assert isinstance(send, Send)
    assert send.timeout == pytest.approx(1.5)


def test_failure_during_rechecks_keeps_the_not_available_answer():
    """Once NotAvailable was received, failing re-checks end with that NotAvailable answer."""
    check = make_check(RetryPolicy(jitter=0, max_retries=0))
    check.handle(Start(0.0))
    check.handle(AnswerReceived(not_available(page="real"), 0.1))
    check.handle(TimerFired(1.1))
    finish = check.handle(TransportFailed(network_down(), 1.2))
    assert finish.state is State.NOT_AVAILABLE
    assert finish.outcome["pageId"] == "real"


def test_malformed_answers_finish_when_the_policy_says_so():
    """With retry_malformed off, a malformed answer ends the check at once."""
    check = make_check(RetryPolicy(retry_malformed=False))
    check.handle(Start(0.0))
    finish = check.handle(AnswerReceived(json_answer(200, {"status": "Huh"}), 0.1))
    assert finish.state is State.ERROR
    assert finish.outcome["error"]["code"] == "malformed"


@pytest.mark.parametrize("state_events", [[], ["send"], ["send", "wait"]])
def test_cancel_from_any_pending_state(state_events):
    """Cancel from IDLE, SENDING or WAITING finishes CANCELLED with the attempts made so far."""
    check = make_check()
    if state_events:
        check.handle(Start(0.0))
    if "wait" in state_events:
        check.handle(TransportFailed(network_down(), 0.1))
    finish = check.handle(Cancel("stop"))
    assert finish.state is State.CANCELLED
    assert finish.outcome["error"] == {
        "code": "cancelled",
        "message": "stop",
        "field": None,
        "attempts": len(state_events) and 1,
        "transient": True,
    }


@pytest.mark.parametrize("final", sorted(FINAL_STATES, key=lambda s: s.value))
@pytest.mark.parametrize(
    "event",
    [
        Start(0.0),
        AnswerReceived(available(), 0.0),
        TransportFailed(network_down(), 0.0),
        TimerFired(0.0),
        Cancel(),
    ],
)
def test_final_states_refuse_every_event(final, event):
    """A finished check takes no further event: each raises EngineStateError."""
    check = make_check()
    check.state = final
    with pytest.raises(EngineStateError, match=f"not accepted in state {final.name}"):
        check.handle(event)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (State.IDLE, TimerFired(0.0)),
        (State.IDLE, AnswerReceived(available(), 0.0)),
        (State.SENDING, Start(0.0)),
        (State.SENDING, TimerFired(0.0)),
        (State.WAITING, AnswerReceived(available(), 0.0)),
        (State.WAITING, TransportFailed(network_down(), 0.0)),
    ],
)
def test_illegal_transitions_raise(state, event):
    """Events the transition table does not list for a state raise EngineStateError."""
    assert (state, type(event)) not in TRANSITIONS
    check = make_check()
    check.state = state
    with pytest.raises(EngineStateError):
        check.handle(event)


def test_report_check_finishes_accepted():
    """A report machine (an update session) ends ACCEPTED on a 2xx and never re-checks."""
    check = Check(
        POLICY,
        lambda s: update_session_request("http://e.test", "demo", "p1", [], s),
        session=Session("v", "s"),
        classify=classify_report,
        rand=lambda: 0.5,
    )
    send = check.handle(Start(0.0))
    assert send.request.method == "PUT"
    finish = check.handle(AnswerReceived(HttpResponse(200, {}, ""), 0.1))
    assert finish.state is State.ACCEPTED
    assert finish.outcome == {"status": "Reported", "delivered": True}


def test_a_wait_ending_exactly_at_the_deadline_is_not_scheduled():
    """A re-check whose wait would end at the deadline leaves no time to run: NotAvailable now."""
    check = make_check(RetryPolicy(deadline=2.0, not_available_delay=1.0))
    check.handle(Start(0.0))
    assert isinstance(check.handle(AnswerReceived(not_available(), 0.5)), Wait)
    check.handle(TimerFired(1.5))
    finish = check.handle(AnswerReceived(not_available(page="late"), 1.0 + 1.0))
    assert finish.state is State.NOT_AVAILABLE
    assert finish.outcome["pageId"] == "late"
    assert check.snapshot() == CheckState(
        State.NOT_AVAILABLE, 2, 0, 1, Session("v1", "s1"), finish.outcome, started_at=0.0
    )


def test_a_cold_account_is_retried_on_its_own_budget_with_the_vid_it_named():
    """500/20 "Loading account" waits loading_delay and retries with the vid from its message
    in the path; max_retries is untouched, and the Available answer then ends the check."""
    check = make_check(RetryPolicy(jitter=0.0, max_retries=0, loading_retries=2))
    check.handle(Start(0.0))
    wait = check.handle(AnswerReceived(loading(vid="cold-1"), 0.1))
    assert wait == Wait(2.0, {"attempt": 2, "delayMs": 2000, "reason": "account-loading"})
    send = check.handle(TimerFired(2.1))
    assert "/visitors/cold-1?v=1.0" in send.request.url
    assert isinstance(check.handle(AnswerReceived(loading(vid="cold-1"), 2.2)), Wait)
    check.handle(TimerFired(4.2))
    finish = check.handle(AnswerReceived(available("cold-1", "s9"), 4.3))
    assert finish.state is State.AVAILABLE
    assert (check.retries, check.loading_retries, check.attempts) == (0, 2, 3)


def test_a_cold_account_past_its_budget_counts_against_max_retries():
    """Once loading_retries are spent, a Loading account answer is an ordinary retryable 500;
    the Error outcome keeps LivePerson's internalCode and message."""
    check = make_check(RetryPolicy(jitter=0.0, max_retries=1, loading_retries=1))
    check.handle(Start(0.0))
    check.handle(AnswerReceived(loading(vid="c"), 0.1))
    check.handle(TimerFired(2.1))
    wait = check.handle(AnswerReceived(loading(vid="c"), 2.2))
    assert wait.payload == {"attempt": 3, "delayMs": 500, "reason": "account-loading"}
    check.handle(TimerFired(2.7))
    finish = check.handle(AnswerReceived(loading(vid="c"), 2.8))
    assert finish.state is State.ERROR
    error = finish.outcome["error"]
    assert (error["code"], error["internalCode"]) == (500, 20)
    assert error["message"].startswith("Loading account: demo, vid: c (gave up after 3 attempts")
    assert finish.outcome["visitorId"] == "c"


def test_a_cold_account_keeps_the_session_id_of_the_same_visitor():
    """A Loading answer for the visitor already in use keeps its session id in the retry."""
    check = make_check(session=Session("v1", "s1"))
    check.handle(Start(0.0))
    check.handle(AnswerReceived(loading(vid="v1"), 0.1))
    send = check.handle(TimerFired(2.1))
    assert send.request.url.endswith("/visitors/v1?v=1.0&sid=s1")


def test_a_cold_account_that_outlasts_the_deadline_gives_up_saying_so():
    """No loading wait is scheduled past the deadline: the check ends with the 500/20."""
    check = make_check(RetryPolicy(jitter=0.0, deadline=3.0))
    check.handle(Start(0.0))
    check.handle(AnswerReceived(loading(), 0.1))
    check.handle(TimerFired(2.1))
    finish = check.handle(AnswerReceived(loading(), 2.2))
    assert finish.state is State.ERROR
    assert "still loading at the 3 s deadline" in finish.outcome["error"]["message"]
