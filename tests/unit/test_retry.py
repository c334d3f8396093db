"""The retry policy is a validated value whose delays are pure functions of their inputs."""

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_web.core.errors import ConfigError
from engage_web.core.retry import PRESETS, OutboxPolicy, RetryPolicy, parse_retry_after

NOW = 1_700_000_000.0  # an epoch time: Tue, 14 Nov 2023 22:13:20 GMT


@pytest.mark.parametrize(
    ("retry_number", "rand", "expected"),
    [
        (1, 0.5, 0.5),  # rand 0.5 means no jitter
        (2, 0.5, 1.0),
        (3, 0.5, 2.0),
        (4, 0.5, 4.0),  # reaches the cap
        (9, 0.5, 4.0),  # stays at the cap
        (10_000, 0.5, 4.0),  # no overflow for absurd retry numbers
        (1, 0.0, 0.375),  # -25 %
        (1, 1.0, 0.625),  # +25 %
        (2, 0.0, 0.75),
        (4, 1.0, 4.0),  # jitter never lifts a wait above the cap
        (4, 0.0, 3.0),
    ],
)
def test_default_backoff_is_capped_exponential_with_jitter(retry_number, rand, expected):
    """Default waits double from 0.5 s up to a 4 s cap, varied by ±25 % with the random number."""
    assert RetryPolicy().backoff(retry_number, rand) == pytest.approx(expected)


@pytest.mark.parametrize(("retry_number", "expected"), [(1, 5.0), (2, 10.0), (3, 15.0), (4, 15.0)])
def test_liveperson_preset_follows_the_documented_schedule(retry_number, expected):
    """The liveperson preset is the App Engagement API's advice for 5xx, "Loading Account"
    included: 3 retries after 5, 10 then 15 s, no jitter, no separate cold-account budget."""
    policy = RetryPolicy.preset("liveperson")
    assert (policy.max_retries, policy.loading_retries) == (3, 0)
    assert policy.backoff(retry_number, 0.0) == expected
    assert policy.backoff(retry_number, 0.99) == expected


def test_none_preset_makes_a_single_attempt():
    """The none preset neither retries nor re-checks NotAvailable."""
    policy = RetryPolicy.preset("none")
    assert (policy.max_retries, policy.not_available_rechecks) == (0, 0)


@settings(max_examples=max(1, settings().max_examples // 3))
@given(
    retry_number=st.integers(1, 200),
    rand=st.floats(0, 1, exclude_max=True),
    initial=st.floats(0, 60),
    factor=st.floats(1, 10),
    cap=st.floats(0, 600),
    jitter=st.floats(0, 1),
)
def test_backoff_stays_within_jitter_bounds_and_cap(
    retry_number, rand, initial, factor, cap, jitter
):
    """Every wait lies within ±jitter of the capped exponential value and never above the cap."""
    policy = RetryPolicy(
        backoff_initial=initial, backoff_factor=factor, backoff_max=cap, jitter=jitter
    )
    try:
        raw = initial * factor ** (retry_number - 1)
    except OverflowError:
        raw = math.inf
    base = min(cap, raw)
    delay = policy.backoff(retry_number, rand)
    assert base * (1 - jitter) - 1e-9 <= delay <= min(cap, base * (1 + jitter)) + 1e-9


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Tue, 14 Nov 2023 22:13:25 GMT", 5.0),  # an HTTP date 5 s after NOW
        ("Tue, 14 Nov 2023 22:13:00 GMT", 0.0),  # a date in the past: go now
        ("-5", None),  # delta-seconds has no sign: unusable
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("Tue, 14 Nov 2023 22:13:25", None),  # an HTTP date is always GMT
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header, expected):
    """Retry-After is delta-seconds or an HTTP date measured from now; anything else is ignored."""
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("86400", 10.0),  # huge: clamped to retry_after_max
        ("9" * 400, 10.0),  # past float range: clamped too, never an exception
        ("9" * 5000, 10.0),  # past int()'s digit limit
        ("Wed, 15 Nov 2023 22:13:20 GMT", 10.0),  # a day ahead: clamped
        ("garbage", 0.5),  # unusable: the backoff applies
        ("-1", 0.5),
        (None, 0.5),
    ],
)
def test_retry_delay_honours_retry_after_clamped_else_backoff(header, expected):
    """A usable Retry-After sets the wait (clamped to 10 s by default), else the backoff does."""
    assert RetryPolicy().retry_delay(1, 0.5, retry_after=header, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (413, False),
        (415, False),
        (501, False),
    ],
)
def test_only_transient_statuses_are_retried(status, retried):
    """429, 500, 502, 503 and 504 are retried; other error statuses never are."""
    assert RetryPolicy().is_retryable_status(status) is retried


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (None, {}),
        ({}, {}),
        ({"max_retries": 1}, {"max_retries": 1}),
        ({"maxRetries": 1, "attemptTimeout": 2}, {"max_retries": 1, "attempt_timeout": 2.0}),
        ({"preset": "liveperson"}, {"schedule": (5.0, 10.0, 15.0), "deadline": 75.0}),
        ({"preset": "none", "deadline": 5}, {"max_retries": 0, "deadline": 5.0}),
        ({"schedule": [1, 2.5]}, {"schedule": (1.0, 2.5)}),
        ({"retry_statuses": [503]}, {"retry_statuses": frozenset({503})}),
        ({"retry_malformed": False}, {"retry_malformed": False}),
    ],
)
def test_from_dict_builds_on_a_preset(options, expected):
    """Plain options pick a preset (default unless named) and override its fields."""
    policy = RetryPolicy.from_dict(options)
    for name, value in expected.items():
        assert getattr(policy, name) == value
    base = PRESETS[(options or {}).get("preset", "default")]
    untouched = set(policy.to_dict()) - set(expected) - {"max_retries", "attempt_timeout"}
    for name in untouched:
        assert getattr(policy, name) == getattr(base, name)


@pytest.mark.parametrize(
    ("options", "option", "words"),
    [
        ({"preset": "fast"}, "retry.preset", ["default, liveperson, none", "'fast'"]),
        ({"max_retry": 2}, "retry.max_retry", ["did you mean 'max_retries'", "allowed:"]),
        ({"max_retries": -1}, "retry.max_retries", ["from 0 to 20", "got -1"]),
        ({"max_retries": 2.5}, "retry.max_retries", ["whole number", "got 2.5"]),
        ({"max_retries": True}, "retry.max_retries", ["whole number", "got True"]),
        ({"max_retries": "3"}, "retry.max_retries", ["got '3'"]),
        ({"attempt_timeout": 0}, "retry.attempt_timeout", ["seconds from 0.001 to 3600", "got 0"]),
        ({"deadline": float("nan")}, "retry.deadline", ["got nan"]),
        ({"jitter": 2}, "retry.jitter", ["a number from 0 to 1", "got 2"]),
        ({"backoff_factor": 0.5}, "retry.backoff_factor", ["from 1 to 10"]),
        ({"schedule": "10,30"}, "retry.schedule", ["list of delays", "got '10,30'"]),
        ({"schedule": [10, -1]}, "retry.schedule", ["from 0 to 3600", "got -1"]),
        ({"retry_statuses": [200]}, "retry.retry_statuses", ["400 to 599", "got 200"]),
        ({"retry_malformed": "yes"}, "retry.retry_malformed", ["true or false", "got 'yes'"]),
    ],
)
def test_bad_options_raise_config_error_naming_option_range_and_value(options, option, words):
    """A bad retry option is refused naming the option, what is allowed and what was received."""
    with pytest.raises(ConfigError) as caught:
        RetryPolicy.from_dict(options)
    assert caught.value.option == option
    for word in words:
        assert word in str(caught.value)


def test_options_must_be_a_mapping():
    """A retry option set that is not a mapping is refused, saying what it got."""
    with pytest.raises(ConfigError, match=r"^retry: must be an object .* got \[1\]"):
        RetryPolicy.from_dict([1])  # type: ignore[arg-type]


def test_policy_is_an_immutable_value():
    """replace returns a validated copy and leaves the original untouched."""
    policy = RetryPolicy()
    changed = policy.replace(max_retries=1)
    assert (policy.max_retries, changed.max_retries) == (3, 1)
    with pytest.raises(AttributeError):
        policy.max_retries = 9  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"retry\.deadline"):
        policy.replace(deadline=-1)
    assert RetryPolicy.from_dict(changed.to_dict()) == changed


@pytest.mark.parametrize(("rand", "expected"), [(0.5, 2.0), (0.0, 1.5), (1.0, 2.5)])
def test_cold_account_waits_are_the_loading_delay_with_jitter(rand, expected):
    """A cold account is re-asked about every 2 s (±25 %), so a crowd of visitors arriving at a
    cold account does not knock in lock-step."""
    assert RetryPolicy().loading_wait(rand) == pytest.approx(expected)


def test_the_default_policy_rides_out_a_cold_account_within_its_deadline():
    """The default budget (12 loading retries of about 2 s) fits the 30 s deadline a waiting
    visitor is given, and goes well past the six retries a LivePerson user needed."""
    policy = RetryPolicy()
    assert policy.loading_retries > 6
    assert policy.loading_retries * policy.loading_delay < policy.deadline


@pytest.mark.parametrize(
    ("failures", "rand", "seconds"),
    [
        (1, 0.5, 5.0),      # the first failure in a row: 5 s
        (2, 0.5, 10.0),     # doubling
        (6, 0.5, 160.0),
        (7, 0.5, 300.0),    # capped at 5 minutes
        (50, 0.5, 300.0),   # however long the outage
        (1, 0.0, 4.0),      # jitter: -20 %
        (1, 1.0, 6.0),      # jitter: +20 %
        (50, 1.0, 300.0),   # never above the cap
    ],
)
def test_the_outbox_waits_longer_after_each_failure_in_a_row(failures, rand, seconds):
    """A queued report is tried again after a wait that doubles with the failures in a row, from
    5 s up to 5 minutes, varied by ±20 % so recovering visitors do not all come back at once."""
    assert OutboxPolicy().backoff(failures, rand) == pytest.approx(seconds)
    assert OutboxPolicy().retry_in_ms(failures, rand) == round(seconds * 1000)


def test_the_outbox_policy_is_a_value():
    """The outbox policy cannot be changed in place; a variant is a new value."""
    policy = OutboxPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.initial = 1.0  # type: ignore[misc]
    assert dataclasses.replace(policy, initial=1.0).backoff(1, 0.5) == 1.0
