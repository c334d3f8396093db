"""Which answers a later page view may reuse, and until when: decided once, in Python."""

import pytest

from engage_web.core.errors import ConfigError
from engage_web.core.reuse import ReusePolicy


def available(valid=900):
    return {"status": "Available", "engagementDetails": {"validForSeconds": valid}}


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (available(900), 1_000.0 + 840),  # 900 s minus the 60 s margin
        (available(300), 1_000.0 + 270),  # a tenth of the validity when that is less
        (available(59), None),  # not worth storing
        (available(True), None),
        ({"status": "Available"}, None),  # no validity: not reusable
        ({"status": "NotAvailable", "sessionId": "s"}, None),
        ({"status": "Error", "error": {"code": 503}}, None),
    ],
    ids=["900s", "300s", "59s", "bool", "no-details", "not-available", "error"],
)
def test_only_available_answers_with_a_validity_are_reused_until_its_end_minus_a_margin(
    outcome, expected
):
    """NotAvailable and Error always ask again; Available holds for its validity minus margin."""
    assert ReusePolicy().expires_at(outcome, now=1_000.0) == expected


def test_the_page_can_cap_the_age_or_turn_reuse_off():
    """reuseMaxAgeMs caps how long an answer is reused; reuseAnswers: false turns reuse off."""
    capped = ReusePolicy.from_options({"reuseMaxAgeMs": 30_000})
    assert capped.expires_at(available(), now=0.0) == 30.0
    off = ReusePolicy.from_options({"reuseAnswers": False})
    assert off.expires_at(available(), now=0.0) is None


@pytest.mark.parametrize(
    ("options", "option"),
    [({"reuseAnswers": "yes"}, "reuseAnswers"), ({"reuseMaxAgeMs": "soon"}, "reuseMaxAgeMs"),
     ({"reuseMaxAgeMs": -1}, "reuseMaxAgeMs")],
)
def test_bad_reuse_options_are_refused_naming_the_option(options, option):
    """A bad option is a ConfigError naming it, so init fails with a clear message."""
    with pytest.raises(ConfigError) as caught:
        ReusePolicy.from_options(options)
    assert caught.value.option == option
