"""Scenarios load from TOML with exact errors, and decide which engagement a request gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage_web.core.errors import ConfigError
from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.emulator.scenario import (
    Engagement,
    ScenarioError,
    load_scenario,
    parse_scenario,
)
from engage_web.cpython.emulator.seed import seed_engagement_details
from tests.emulator.conftest import VISITORS, TestClient, query, session_path

EXTERNAL = {"appType": "EXTERNAL"}

ENGAGEMENT_KEYS = """campaignId = "1"
engagementId = "2"
contextId = "1"
windowId = "3"
language = "en-US"
engagementRevision = 1
validForSeconds = 60
"""


def scenario_text(*, warm_up: int = 0, engagements: str = "", skills: str = "") -> str:
    return f'warmUp = {warm_up}\n{skills}\n[[accounts]]\nid = "acme"\n{engagements}'


def engagement(sections: str, skill: int | None, campaign: str) -> str:
    skill_line = f"skillId = {skill}\n" if skill is not None else ""
    return (
        f"[[accounts.engagements]]\nsections = {sections}\n{skill_line}"
        + ENGAGEMENT_KEYS.replace('campaignId = "1"', f'campaignId = "{campaign}"')
    )


SKILLS = """
[[skills]]
id = 1
name = "Online"
agentsOnline = 3

[[skills]]
id = 2
name = "Offline"
agentsOnline = 0
"""


def test_default_scenario_serves_the_seed_example():
    """The built-in scenario serves account demo with the seed's engagement on skill 23."""
    scenario = load_scenario()
    account = scenario.account("demo")
    assert account is not None
    assert account.warm_up == 1
    first = account.engagements[0]
    assert first.matches(["Support", "English", "Other"])
    assert first.details(scenario.skills[23]) == seed_engagement_details()


@pytest.mark.parametrize(
    ("targets", "request_sections", "expected"),
    [
        ((), [], True),  # no sections: site-wide
        ((), ["Anything"], True),
        (("Support",), [], False),  # a targeted engagement needs a section
        (("Support",), ["support"], True),  # case-insensitive
        (("Support", "Sales"), ["Other", "Sales"], True),  # any one section is enough
        (("Support",), ["Sales"], False),
    ],
)
def test_section_matching(targets, request_sections, expected):
    """An engagement matches when it lists no sections or shares one with the request."""
    target = Engagement("1", "2", "1", "3", "en-US", 1, 60, sections=targets)
    assert target.matches(request_sections) is expected


@pytest.mark.parametrize(
    ("sections", "expected_campaign"),
    [
        (["Sales"], "20"),  # first match has nobody online: the next one with agents wins
        (["Support", "Sales"], "10"),  # several match: the first in file order wins
        (["Nowhere"], "30"),  # only the site-wide engagement matches
    ],
)
def test_first_matching_engagement_with_agents_wins(sections, expected_campaign):
    """Priority is file order among matching engagements whose skill has agents online."""
    text = scenario_text(
        skills=SKILLS,
        engagements=engagement('["Support"]', 1, "10")
        + engagement('["Sales"]', 2, "11")
        + engagement('["Sales"]', 1, "20")
        + engagement("[]", None, "30"),
    )
    client = TestClient(create_app(parse_scenario(text)))
    answer = client.post(
        session_path(account="acme") + query(), json={**EXTERNAL, "consumerSections": sections}
    ).json()
    assert answer["status"] == "Available"
    assert answer["engagementDetails"]["campaignId"] == expected_campaign


def test_an_engagement_without_skill_omits_skill_fields():
    """engagementDetails carries skillId/skillName only when the engagement names a skill."""
    text = scenario_text(engagements=engagement("[]", None, "30"))
    client = TestClient(create_app(parse_scenario(text)))
    answer = client.post(session_path(account="acme") + query(), json=EXTERNAL).json()
    details = answer["engagementDetails"]
    assert "skillId" not in details
    assert "skillName" not in details


@pytest.mark.parametrize("warm_up", [0, 1, 3])
def test_warm_up_counts_checks_of_a_new_session(warm_up):
    """The first warmUp checks of a new session answer NotAvailable, then Available."""
    text = scenario_text(warm_up=warm_up, engagements=engagement("[]", None, "30"))
    client = TestClient(create_app(parse_scenario(text)))
    statuses, ids = [], {}
    for _ in range(warm_up + 2):
        answer = client.post(
            session_path(ids.get("visitorId"), "acme") + query(ids.get("sessionId")),
            json=EXTERNAL,
        ).json()
        ids = answer
        statuses.append(answer["status"])
    assert statuses == ["NotAvailable"] * warm_up + ["Available"] * 2


def test_other_accounts_answer_404():
    """Only the scenario's accounts exist; any other account id answers 404."""
    client = TestClient(create_app())
    answer = client.post(session_path(account="other") + query(), json=EXTERNAL)
    assert answer.status_code == 404
    assert "demo" in answer.json()["message"]
    assert client.post(VISITORS + query(), json=EXTERNAL).status_code == 200


VALID_ENGAGEMENT = engagement('["A"]', 1, "10")


@pytest.mark.parametrize(
    ("text", "key_path", "problem"),
    [
        ("warmUp = [", "(syntax)", "not valid TOML"),
        ("warmUp = 1\n", "accounts", "at least one"),
        ("warmup = 1\n[[accounts]]\nid = 'a'\n", "warmup", "did you mean 'warmUp'"),
        ("warmUp = -1\n[[accounts]]\nid = 'a'\n", "warmUp", "int >= 0; got -1"),
        ("[[accounts]]\nid = 'has space'\n", "accounts[0].id", "malformed accountId"),
        ("[[accounts]]\nid = 'a'\n[[accounts]]\nid = 'a'\n", "accounts[1].id", "duplicate"),
        ("[[accounts]]\nname = 'a'\n", "accounts[0].name", "unknown key"),
        (
            SKILLS + "[[skills]]\nid = 1\nname = 'x'\nagentsOnline = 1\n[[accounts]]\nid = 'a'\n",
            "skills[2].id",
            "duplicate skill id 1",
        ),
        (
            "[[skills]]\nid = 1\nname = 'x'\n[[accounts]]\nid = 'a'\n",
            "skills[0].agentsOnline",
            "is required",
        ),
        (
            "[[skills]]\nid = 1\nname = 'x'\nagentsOnline = true\n[[accounts]]\nid = 'a'\n",
            "skills[0].agentsOnline",
            "got True",
        ),
        (
            scenario_text(skills=SKILLS, engagements=engagement('["A"]', 9, "10")),
            "accounts[0].engagements[0].skillId",
            "unknown skill 9; known skills: 1, 2",
        ),
        (
            scenario_text(skills=SKILLS, engagements=VALID_ENGAGEMENT.replace("language", "lang")),
            "accounts[0].engagements[0].lang",
            "did you mean 'language'",
        ),
        (
            scenario_text(
                skills=SKILLS,
                engagements=VALID_ENGAGEMENT.replace("validForSeconds = 60", "validForSeconds = 0"),
            ),
            "accounts[0].engagements[0].validForSeconds",
            "int >= 1; got 0",
        ),
        (
            scenario_text(skills=SKILLS, engagements=VALID_ENGAGEMENT.replace('["A"]', '"A"')),
            "accounts[0].engagements[0].sections",
            "must be an array; got a string",
        ),
        (
            scenario_text(
                skills=SKILLS, engagements=VALID_ENGAGEMENT.replace('["A"]', '["A", ""]')
            ),
            "accounts[0].engagements[0].sections[1]",
            "non-empty string",
        ),
        ("[[accounts]]\nid = 'a'\ncold = {}\n", "accounts[0].cold", "give checks, seconds"),
        ("[[accounts]]\nid = 'a'\ncold = {checks = -1}\n", "accounts[0].cold.checks", "got -1"),
        (
            "[[accounts]]\nid = 'a'\ncold = {seconds = 'x'}\n",
            "accounts[0].cold.seconds",
            "a number from 0 to 86400",
        ),
        (
            "[[accounts]]\nid = 'a'\ncold = {check = 1}\n",
            "accounts[0].cold.check",
            "did you mean 'checks'",
        ),
        ("[[accounts]]\nid = 'a'\nnumericIds = 1\n", "accounts[0].numericIds", "true or false"),
        ("[[accounts]]\nid = 'a'\npageId = 'a b'\n", "accounts[0].pageId", "got 'a b'"),
        (
            scenario_text(engagements=VALID_ENGAGEMENT.replace("skillId = 1\n", ""))
            .replace('id = "acme"', 'id = "acme"\nnumericIds = true')
            .replace('campaignId = "10"', 'campaignId = "C10"'),
            "accounts[0].engagements[0].campaignId",
            "numericIds needs a whole number",
        ),
    ],
)
def test_bad_scenarios_name_the_file_key_and_problem(tmp_path: Path, text, key_path, problem):
    """A bad scenario file raises ScenarioError naming the file, the key path and the problem."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    err = caught.value
    assert isinstance(err, ConfigError)
    assert err.source == str(path)
    assert err.key_path == key_path
    assert problem in err.problem
    assert str(err).startswith(f"{path}: {key_path}: ")


@pytest.mark.parametrize(
    ("content", "problem"), [(None, "cannot read the file"), (b"warmUp = '\xff'", "not UTF-8")]
)
def test_unreadable_scenario_files(tmp_path: Path, content, problem):
    """A missing or non-UTF-8 scenario file is a ScenarioError, not an OSError or traceback."""
    path = tmp_path / "s.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ScenarioError, match=problem):
        load_scenario(path)


def test_ids_may_be_written_as_integers():
    """Numeric ids in the file come out as the strings the wire carries."""
    text = scenario_text(
        engagements=engagement("[]", None, "10").replace('campaignId = "10"', "campaignId = 10")
    )
    details = parse_scenario(text).account("acme").engagements[0].details(None)
    assert details["campaignId"] == "10"


def test_ids_are_strings_by_default_and_numbers_with_numeric_ids():
    """An account sends its engagement ids as strings (as LivePerson's example does) unless it
    sets numericIds, which sends them as numbers (as LivePerson's docs type them)."""
    engagement_text = engagement("[]", None, "3115242510").replace(
        'engagementId = "2"', 'engagementId = "3115242810"\nconnectorId = "568046210"'
    )
    for numeric in (False, True):
        text = scenario_text(engagements=engagement_text).replace(
            'id = "acme"', f'id = "acme"\nnumericIds = {str(numeric).lower()}'
        )
        client = TestClient(create_app(parse_scenario(text)))
        details = client.post(session_path(account="acme") + query(), json=EXTERNAL).json()[
            "engagementDetails"
        ]
        ids = (details["campaignId"], details["engagementId"], details["connectorId"])
        expected = (3115242510, 3115242810, 568046210)
        assert ids == (expected if numeric else tuple(str(i) for i in expected))


def test_a_fixed_page_id_is_sent_with_every_answer():
    """An account with pageId answers every check with that page id (for documented replays)."""
    text = scenario_text(engagements=engagement("[]", None, "30")).replace(
        'id = "acme"', 'id = "acme"\npageId = "4743822558"'
    )
    client = TestClient(create_app(parse_scenario(text)))
    first = client.post(session_path(account="acme") + query(), json=EXTERNAL).json()
    again = client.post(
        session_path(first["visitorId"], "acme") + query(first["sessionId"]), json=EXTERNAL
    ).json()
    assert first["pageId"] == again["pageId"] == "4743822558"


def test_cold_settings_are_read():
    """cold takes checks, seconds or both."""
    text = "[[accounts]]\nid = 'a'\ncold = {checks = 3, seconds = 2.5}\n"
    cold = parse_scenario(text).account("a").cold
    assert (cold.checks, cold.seconds) == (3, 2.5)
