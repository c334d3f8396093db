"""The emulator's in-memory world: visitor sessions, agents online, and the engagement decision.

No HTTP here (the routes in ``app.py`` translate); time comes from an injected clock, so expiry is
tested by moving a fake clock, never by waiting::

    >>> from engage_web.emulator.scenario import load_scenario
    >>> now = [1_000_000.0]
    >>> model = Model(load_scenario(), clock=lambda: now[0])
    >>> created, answer = model.check("demo", None, None, ["Support"], [])
    >>> created, answer["status"]           # warm-up: the first check of a session
    (True, 'NotAvailable')
    >>> model.check("demo", answer["visitorId"], answer["sessionId"], ["Support"], [])[1]["status"]
    'Available'

Session rules (``contract.md``, "Sessions"): a visitor id names the device, a session id the
visit. A check with the ``vid``/``sid`` of a live session of the same account continues it
(``created`` False, HTTP 200). Anything else starts a new session (HTTP 201): no ids, ``vid``
without ``sid`` (same visitor), an unknown, expired or other-account ``sid`` (the given ``vid``
is kept: the device keeps its identity, the visit is new). A session expires 30 minutes after
its last request, and 6 hours after it began whatever the activity. A report's impression
events (``impDisplay``, ...) must name an engagement the session was offered (campaign and
engagement ids), else the report is refused with 400 and nothing is recorded.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engage_web.emulator.errors import ApiError
from engage_web.emulator.scenario import Account, Scenario
from engage_web.sde import IMPRESSION_TYPES

__all__ = ["IDLE_TIMEOUT", "MAX_AGE", "Clock", "Model", "SessionRecord"]

Clock = Callable[[], float]
"""Seconds since the epoch, like ``time.time``."""

IDLE_TIMEOUT = 30 * 60
MAX_AGE = 6 * 60 * 60
MAX_SESSIONS = 10_000
REQUEST_LOG_SIZE = 200


def new_id() -> str:
    """An unguessable id of 16 characters from ``A-Z a-z 0-9 _ -`` (valid as vid and sid)."""
    return secrets.token_urlsafe(12)


def new_page_id() -> str:
    """A fresh numeric page id, like the seed's ``"4743822558"``."""
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


@dataclass(slots=True)
class SessionRecord:
    """One visit: ids, timing, the SDEs received (in order) and the engagements offered."""

    account_id: str
    visitor_id: str
    session_id: str
    created: float
    last_seen: float
    checks: int = 0
    engagement_attributes: list[Any] = field(default_factory=list)
    page_ids: list[str] = field(default_factory=list)
    offered: list[dict[str, object]] = field(default_factory=list)

    def live(self, now: float) -> bool:
        """True while neither the idle timeout nor the maximum age has passed."""
        return now - self.last_seen < IDLE_TIMEOUT and now - self.created < MAX_AGE

    def to_dict(self, now: float) -> dict[str, object]:
        """The JSON view served by ``GET /_emulator/sessions/{sessionId}``."""
        return {
            "accountId": self.account_id,
            "visitorId": self.visitor_id,
            "sessionId": self.session_id,
            "live": self.live(now),
            "createdAt": int(self.created * 1000),
            "lastSeenAt": int(self.last_seen * 1000),
            "expiresAt": int(min(self.last_seen + IDLE_TIMEOUT, self.created + MAX_AGE) * 1000),
            "checks": self.checks,
            "pageIds": list(self.page_ids),
            "offered": list(self.offered),
            "engagementAttributes": list(self.engagement_attributes),
        }


class Model:
    """Sessions, agents online and the request log for one scenario. Not thread-safe; the app
    runs it on one event loop."""

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self.scenario = scenario
        self.clock = clock
        self.agents_online: dict[int, int] = {}
        self.sessions: OrderedDict[str, SessionRecord] = OrderedDict()
        self.requests: deque[dict[str, object]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.reset()

    def reset(self) -> None:
        """Back to the scenario: agents as configured, no sessions, empty request log."""
        self.agents_online = {s.id: s.agents_online for s in self.scenario.skills.values()}
        self.sessions.clear()
        self.requests.clear()

    # -- sessions --------------------------------------------------------------------------

    def live_session(
        self, account_id: str, vid: str | None, sid: str | None
    ) -> SessionRecord | None:
        """The live session of ``account_id`` named by this exact pair, or None."""
        if not vid or not sid:
            return None
        record = self.sessions.get(sid)
        if record is None or record.visitor_id != vid or record.account_id != account_id:
            return None
        return record if record.live(self.clock()) else None

    def _start(self, account_id: str, vid: str | None) -> SessionRecord:
        now = self.clock()
        self._prune(now)
        record = SessionRecord(account_id, vid or new_id(), new_id(), created=now, last_seen=now)
        self.sessions[record.session_id] = record
        return record

    def _prune(self, now: float) -> None:
        # Expired sessions stay readable (for tests and the demo) until room is needed; then the
        # expired go first, and only at capacity the oldest live ones.
        if len(self.sessions) > MAX_SESSIONS // 2:
            for sid in [s for s, r in self.sessions.items() if not r.live(now)]:
                del self.sessions[sid]
        while len(self.sessions) >= MAX_SESSIONS:
            self.sessions.popitem(last=False)

    def session(self, session_id: str) -> SessionRecord | None:
        """The session with this id, live or expired (until pruned), or None."""
        return self.sessions.get(session_id)

    # -- the two public operations ---------------------------------------------------------

    def check(
        self,
        account_id: str,
        vid: str | None,
        sid: str | None,
        sections: Iterable[str],
        attributes: Iterable[Any],
    ) -> tuple[bool, dict[str, object]]:
        """One engagement check; returns (new session created?, the seed's response object)."""
        account = self.account(account_id)
        record = self.live_session(account_id, vid, sid)
        created = record is None
        if record is None:
            record = self._start(account_id, vid)
        record.last_seen = self.clock()
        record.checks += 1
        record.engagement_attributes.extend(attributes)
        page_id = new_page_id()
        record.page_ids.append(page_id)
        answer: dict[str, object] = {
            "status": "NotAvailable",
            "sessionId": record.session_id,
            "visitorId": record.visitor_id,
            "pageId": page_id,
        }
        if record.checks > account.warm_up:
            details = self.choose(account, list(sections))
            if details is not None:
                answer["status"] = "Available"
                answer["engagementDetails"] = details
                record.offered.append({"pageId": page_id, **details})
        return created, answer

    def report(
        self,
        account_id: str,
        vid: str | None,
        sid: str | None,
        attributes: list[Any],
        page_id: str | None,
    ) -> dict[str, object]:
        """Record SDEs on a live session; ApiError 401 when the pair is not a live session."""
        self.account(account_id)
        record = self.live_session(account_id, vid, sid)
        if record is None:
            raise ApiError(
                401,
                f"no live session for vid {vid!r} and sid {sid!r} in account {account_id!r}: "
                "unknown, expired, or of another visitor; run an engagement check first",
                internal_code=39,
                field="sid",
            )
        self._check_impressions(record, attributes)
        record.last_seen = self.clock()
        record.engagement_attributes.extend(attributes)
        return {
            "sessionId": record.session_id,
            "visitorId": record.visitor_id,
            "pageId": page_id or (record.page_ids[-1] if record.page_ids else new_page_id()),
            "recorded": len(attributes),
        }

    @staticmethod
    def _check_impressions(record: SessionRecord, attributes: list[Any]) -> None:
        """ApiError 400 for an impression event naming an engagement this session was not offered
        (``liveperson-reference.md``: impressions count only in the session that was offered the
        engagement). Campaign and engagement ids must match; the revision is not checked."""
        offered = {(str(o["campaignId"]), str(o["engagementId"])) for o in record.offered}
        for index, sde in enumerate(attributes):
            if not isinstance(sde, dict) or sde.get("type") not in IMPRESSION_TYPES:
                continue
            ids = (str(sde.get("campaign")), str(sde.get("engId")))
            if ids not in offered:
                shown = "; ".join(f"campaign {c} engId {e}" for c, e in sorted(offered)) or "none"
                raise ApiError(
                    400,
                    f"impression event for campaign {ids[0]} engId {ids[1]}, but this session was "
                    f"offered: {shown}; an impression must name an engagement the session got",
                    internal_code=5,
                    field=f"engagementAttributes[{index}].engId",
                )

    def choose(self, account: Account, sections: list[str]) -> dict[str, object] | None:
        """The engagementDetails of the winning engagement, or None (see ``scenario`` rules)."""
        for engagement in account.engagements:
            if not engagement.matches(sections):
                continue
            if engagement.skill_id is None:
                return engagement.details(None)
            if self.agents_online.get(engagement.skill_id, 0) > 0:
                return engagement.details(self.scenario.skills[engagement.skill_id])
        return None

    def account(self, account_id: str) -> Account:
        """The scenario's account, or ApiError 404 naming the accounts this emulator serves."""
        account = self.scenario.account(account_id)
        if account is None:
            known = ", ".join(sorted(self.scenario.accounts))
            raise ApiError(
                404,
                f"unknown account {account_id!r}; this emulator serves: {known}",
                internal_code=20,
                field="accountId",
            )
        return account

    # -- control ---------------------------------------------------------------------------

    def set_agents(self, skill_id: int, agents_online: int) -> dict[str, object]:
        """Change a skill's agents online; ApiError 404 for an unknown skill."""
        if skill_id not in self.agents_online:
            known = ", ".join(str(s) for s in sorted(self.agents_online)) or "none"
            raise ApiError(404, f"unknown skill {skill_id}; known skills: {known}", field="skillId")
        self.agents_online[skill_id] = agents_online
        return self.skills_view()[str(skill_id)]

    def skills_view(self) -> dict[str, dict[str, object]]:
        """Skills keyed by id (as strings, JSON keys) with their current agents online."""
        return {
            str(s.id): {"id": s.id, "name": s.name, "agentsOnline": self.agents_online[s.id]}
            for s in self.scenario.skills.values()
        }

    def log_request(self, entry: dict[str, object]) -> None:
        """Remember one public request (bounded: the last ``REQUEST_LOG_SIZE``). The entry is kept
        as given, so its ``status`` can be filled in when the answer starts."""
        self.requests.append(entry)

    def state(self) -> dict[str, object]:
        """Summary for ``GET /_emulator/state``."""
        now = self.clock()
        return {
            "scenario": self.scenario.source,
            "accounts": sorted(self.scenario.accounts),
            "skills": self.skills_view(),
            "sessions": sum(1 for r in self.sessions.values() if r.live(now)),
            "sessionsStored": len(self.sessions),
        }
