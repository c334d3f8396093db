"""Scenarios: which accounts, engagements and skills the emulator serves, read from TOML.

A scenario is an immutable value loaded from a TOML file (or the built-in
``default_scenario.toml``, which serves account ``demo`` and answers the seed's example request)::

    >>> scenario = load_scenario()              # the built-in default
    >>> scenario.account("demo").engagements[0].details(scenario.skills[23])["skillName"]
    'TestSkill'

File format (keys are the wire names, camelCase)::

    warmUp = 1                      # first N checks of a new session answer NotAvailable

    [[skills]]
    id = 23                         # int, unique
    name = "TestSkill"
    agentsOnline = 2                # int >= 0; changeable at run time via /_emulator/skills/23

    [[accounts]]
    id = "demo"                     # ^[A-Za-z0-9_]{1,20}$, unique
    warmUp = 1                      # optional, overrides the top-level value
    cold = {checks = 3}             # optional: the first 3 checks answer 500 "Loading account"
                                    # ({seconds = 10}: for 10 s after start or reset; both: until
                                    # both are spent); changeable via /_emulator/accounts/demo/cold
    numericIds = false              # optional: true sends campaignId, engagementId and
                                    # connectorId as JSON numbers (the docs type them so),
                                    # false (default) as strings (what LivePerson's example sends)
    pageId = "4743822558"           # optional: every answer carries this page id (to replay a
                                    # documented exchange); default: a fresh id per check

    [[accounts.engagements]]        # belongs to the account above it
    sections = ["Support"]          # optional; [] or absent = every request (site-wide)
    campaignId = "3346848610"       # the rest is copied into engagementDetails
    engagementId = "3562981110"
    contextId = "1"
    windowId = "3346847910"
    language = "en-US"
    engagementRevision = 44
    validForSeconds = 900
    skillId = 23                    # optional; without it the engagement is always available
    connectorId = "568046210"       # optional; LivePerson sends it for "authenticated" ones

Matching rules (the emulator's own; LivePerson's targeting is configured in its console):

- An engagement with no sections targets every request. An engagement with sections matches when
  at least one of them is among the request's ``consumerSections`` (trimmed, case-insensitive).
  A request without sections therefore only matches site-wide engagements.
- Among the matching engagements, the first in file order whose skill has ``agentsOnline > 0``
  wins (file order is priority order). None: ``NotAvailable``.

A bad file raises :class:`ScenarioError` naming the file, the key path and the problem, e.g.
``my.toml: accounts[0].engagements[1].skillId: unknown skill 99; known skills: 23, 24``.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engage_web.core.errors import ConfigError, RequestError
from engage_web.core.sde import JS_SAFE_INT
from engage_web.core.validation import SESSION_ID_PATTERN, validate_account_id

__all__ = [
    "Account",
    "Cold",
    "Engagement",
    "Scenario",
    "ScenarioError",
    "Skill",
    "load_scenario",
    "parse_scenario",
]

DEFAULT_WARM_UP = 1
DEFAULT_SCENARIO_NAME = "default_scenario.toml"


class ScenarioError(ConfigError):
    """A scenario file that cannot be used: ``source`` (file), ``key_path`` and ``problem``.

    Example::

        >>> str(ScenarioError("s.toml", "skills[0].agentsOnline", "must be an int >= 0; got -1"))
        's.toml: skills[0].agentsOnline: must be an int >= 0; got -1'
    """

    def __init__(self, source: str, key_path: str, problem: str) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        super().__init__(key_path, problem)
        self.args = (f"{source}: {key_path}: {problem}",)

    def __str__(self) -> str:
        return f"{self.source}: {self.key_path}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Skill:
    """A skill (agent group) and how many of its agents are online."""

    id: int
    name: str
    agents_online: int


@dataclass(frozen=True, slots=True)
class Engagement:
    """One engagement an account can offer, and the consumer sections it targets."""

    campaign_id: str
    engagement_id: str
    context_id: str
    window_id: str
    language: str
    engagement_revision: int
    valid_for_seconds: int
    skill_id: int | None = None
    sections: tuple[str, ...] = ()
    connector_id: str | None = None

    def matches(self, consumer_sections: Iterable[str]) -> bool:
        """True when this engagement targets a request with these sections (see module doc).

        Example::

            >>> Engagement("1", "2", "1", "3", "en-US", 1, 60, sections=("Support",)).matches(
            ...     ["support", "Other"])
            True
        """
        if not self.sections:
            return True
        wanted = {s.strip().casefold() for s in self.sections}
        return any(s.strip().casefold() in wanted for s in consumer_sections)

    def details(self, skill: Skill | None, *, numeric_ids: bool = False) -> dict[str, object]:
        """The ``engagementDetails`` object of an Available answer (the seed's shape); with
        ``numeric_ids`` the campaign, engagement and connector ids are JSON numbers.

        Example::

            >>> Engagement("1", "2", "1", "3", "en-US", 1, 60).details(None, numeric_ids=True)[
            ...     "campaignId"]
            1
        """
        ident: Any = int if numeric_ids else str
        out: dict[str, object] = {
            "campaignId": ident(self.campaign_id),
            "engagementId": ident(self.engagement_id),
            "contextId": self.context_id,
            "windowId": self.window_id,
            "language": self.language,
            "engagementRevision": self.engagement_revision,
            "validForSeconds": self.valid_for_seconds,
        }
        if skill is not None:
            out["skillId"] = skill.id
            out["skillName"] = skill.name
        if self.connector_id is not None:
            out["connectorId"] = ident(self.connector_id)
        return out


@dataclass(frozen=True, slots=True)
class Cold:
    """How long an account stays cold: its first ``checks`` checks and its first ``seconds``
    seconds (both must be spent), answering 500 "Loading account" meanwhile."""

    checks: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Account:
    """An account the emulator serves: its engagements (priority order), warm-up count, and how
    its answers look (cold start, numeric ids, a fixed page id)."""

    id: str
    engagements: tuple[Engagement, ...] = ()
    warm_up: int = DEFAULT_WARM_UP
    cold: Cold | None = None
    numeric_ids: bool = False
    page_id: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything the emulator serves; immutable (run-time changes live in the model)."""

    accounts: Mapping[str, Account]
    skills: Mapping[int, Skill]
    source: str = "<built-in>"
    warm_up: int = DEFAULT_WARM_UP

    def account(self, account_id: str) -> Account | None:
        """The account named ``account_id`` or None."""
        return self.accounts.get(account_id)


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario file; ``None`` gives the built-in default.

    Example::

        >>> load_scenario().account("demo").id
        'demo'
    """
    if path is None:
        text = (
            resources.files("engage_web.cpython.emulator")
            .joinpath(DEFAULT_SCENARIO_NAME)
            .read_text(encoding="utf-8")
        )
        return parse_scenario(text, source=f"<built-in {DEFAULT_SCENARIO_NAME}>")
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ScenarioError(
            source, "(file)", f"cannot read the file: {exc.strerror or exc}"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            source, "(file)", f"not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None
    return parse_scenario(text, source=source)


def parse_scenario(text: str, *, source: str = "<string>") -> Scenario:
    """Parse scenario TOML ``text``; ``source`` names it in errors.

    Example::

        >>> parse_scenario('[[accounts]]\\nid = "x"\\n').account("x").engagements
        ()
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "(syntax)", f"not valid TOML: {exc}") from None
    return _Reader(source).scenario(data)


# -- reading -----------------------------------------------------------------------------------

_TOP_KEYS = ("warmUp", "skills", "accounts")
_SKILL_KEYS = ("id", "name", "agentsOnline")
_ACCOUNT_KEYS = ("id", "warmUp", "cold", "numericIds", "pageId", "engagements")
_COLD_KEYS = ("checks", "seconds")
#: Longest cold start a scenario may ask for (a day).
MAX_COLD_SECONDS = 86_400
_ENGAGEMENT_KEYS = (
    "sections",
    "campaignId",
    "engagementId",
    "contextId",
    "windowId",
    "language",
    "engagementRevision",
    "validForSeconds",
    "skillId",
    "connectorId",
)
_ENGAGEMENT_REQUIRED = _ENGAGEMENT_KEYS[1:8]


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an int",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


class _Reader:
    """Turns the parsed TOML into a Scenario, raising ScenarioError with exact key paths."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, path, problem)

    def table(self, value: object, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a table; got {_kind(value)}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(
                    f"{path}.{key}" if path else key,
                    f"unknown key{hint}; allowed keys: {', '.join(allowed)}",
                )
        return value

    def int_(self, value: object, path: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"must be an int >= {minimum}; got {value!r}")
        return value

    def str_(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty string; got {value!r}")
        return value

    def id_str(self, value: object, path: str) -> str:
        # Ids are strings on the wire ("3346848610"); an int in the file is accepted and converted.
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return str(value)
        return self.str_(value, path)

    def array(self, value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be an array; got {_kind(value)}")
        return value

    def scenario(self, data: dict[str, Any]) -> Scenario:
        self.table(data, "", _TOP_KEYS)
        warm_up = self.int_(data.get("warmUp", DEFAULT_WARM_UP), "warmUp")
        skills: dict[int, Skill] = {}
        for i, raw in enumerate(self.array(data.get("skills", []), "skills")):
            skill = self.skill(raw, f"skills[{i}]")
            if skill.id in skills:
                raise self.fail(f"skills[{i}].id", f"duplicate skill id {skill.id}")
            skills[skill.id] = skill
        accounts: dict[str, Account] = {}
        raw_accounts = self.array(data.get("accounts", []), "accounts")
        if not raw_accounts:
            raise self.fail("accounts", "at least one [[accounts]] table is needed")
        for i, raw in enumerate(raw_accounts):
            account = self.account(raw, f"accounts[{i}]", skills, warm_up)
            if account.id in accounts:
                raise self.fail(f"accounts[{i}].id", f"duplicate account id {account.id!r}")
            accounts[account.id] = account
        return Scenario(
            accounts=MappingProxyType(accounts),
            skills=MappingProxyType(skills),
            source=self.source,
            warm_up=warm_up,
        )

    def skill(self, raw: object, path: str) -> Skill:
        table = self.table(raw, path, _SKILL_KEYS)
        for key in _SKILL_KEYS:
            if key not in table:
                raise self.fail(f"{path}.{key}", "is required")
        return Skill(
            id=self.int_(table["id"], f"{path}.id"),
            name=self.str_(table["name"], f"{path}.name"),
            agents_online=self.int_(table["agentsOnline"], f"{path}.agentsOnline"),
        )

    def account(self, raw: object, path: str, skills: Mapping[int, Skill], warm_up: int) -> Account:
        table = self.table(raw, path, _ACCOUNT_KEYS)
        if "id" not in table:
            raise self.fail(f"{path}.id", "is required")
        account_id = table["id"]
        try:
            account_id = validate_account_id(account_id)
        except (RequestError, ValueError, TypeError) as exc:
            raise self.fail(f"{path}.id", getattr(exc, "message", str(exc))) from None
        engagements = tuple(
            self.engagement(e, f"{path}.engagements[{j}]", skills)
            for j, e in enumerate(self.array(table.get("engagements", []), f"{path}.engagements"))
        )
        numeric_ids = table.get("numericIds", False)
        if not isinstance(numeric_ids, bool):
            raise self.fail(f"{path}.numericIds", f"must be true or false; got {numeric_ids!r}")
        if numeric_ids:
            for j, item in enumerate(engagements):
                for key, value in (
                    ("campaignId", item.campaign_id),
                    ("engagementId", item.engagement_id),
                    ("connectorId", item.connector_id),
                ):
                    if value is not None and not (
                        value.isascii() and value.isdigit() and int(value) <= JS_SAFE_INT
                    ):
                        raise self.fail(
                            f"{path}.engagements[{j}].{key}",
                            f"numericIds needs a whole number up to {JS_SAFE_INT}; got {value!r}",
                        )
        page_id = table.get("pageId")
        if page_id is not None and not (
            isinstance(page_id, str) and SESSION_ID_PATTERN.fullmatch(page_id)
        ):
            raise self.fail(
                f"{path}.pageId",
                f"must be 1 to 64 characters of A-Z a-z 0-9 _ - .; got {page_id!r}",
            )
        cold = None
        if "cold" in table:
            cold = self.cold(table["cold"], f"{path}.cold")
        return Account(
            id=account_id,
            engagements=engagements,
            warm_up=self.int_(table.get("warmUp", warm_up), f"{path}.warmUp"),
            cold=cold,
            numeric_ids=numeric_ids,
            page_id=page_id,
        )

    def cold(self, raw: object, path: str) -> Cold:
        table = self.table(raw, path, _COLD_KEYS)
        if not table:
            raise self.fail(path, "give checks, seconds or both, e.g. cold = {checks = 3}")
        checks = self.int_(table.get("checks", 0), f"{path}.checks")
        seconds = table.get("seconds", 0)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= MAX_COLD_SECONDS
        ):
            raise self.fail(
                f"{path}.seconds", f"must be a number from 0 to {MAX_COLD_SECONDS}; got {seconds!r}"
            )
        return Cold(checks=checks, seconds=float(seconds))

    def engagement(self, raw: object, path: str, skills: Mapping[int, Skill]) -> Engagement:
        table = self.table(raw, path, _ENGAGEMENT_KEYS)
        for key in _ENGAGEMENT_REQUIRED:
            if key not in table:
                raise self.fail(f"{path}.{key}", "is required")
        sections = tuple(
            self.str_(s, f"{path}.sections[{k}]").strip()
            for k, s in enumerate(self.array(table.get("sections", []), f"{path}.sections"))
        )
        skill_id = None
        if "skillId" in table:
            skill_id = self.int_(table["skillId"], f"{path}.skillId")
            if skill_id not in skills:
                known = ", ".join(str(s) for s in skills) or "none"
                raise self.fail(
                    f"{path}.skillId", f"unknown skill {skill_id}; known skills: {known}"
                )
        return Engagement(
            campaign_id=self.id_str(table["campaignId"], f"{path}.campaignId"),
            engagement_id=self.id_str(table["engagementId"], f"{path}.engagementId"),
            context_id=self.id_str(table["contextId"], f"{path}.contextId"),
            window_id=self.id_str(table["windowId"], f"{path}.windowId"),
            language=self.str_(table["language"], f"{path}.language"),
            engagement_revision=self.int_(
                table["engagementRevision"], f"{path}.engagementRevision"
            ),
            valid_for_seconds=self.int_(table["validForSeconds"], f"{path}.validForSeconds", 1),
            skill_id=skill_id,
            sections=sections,
            connector_id=(
                self.id_str(table["connectorId"], f"{path}.connectorId")
                if "connectorId" in table
                else None
            ),
        )
