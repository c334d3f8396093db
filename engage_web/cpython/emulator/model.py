"""The emulator's in-memory world: visitor sessions, agents online, cold accounts, and the
engagement decision.

No HTTP here (the routes in ``app.py`` translate); time comes from an injected clock, so expiry is
tested by moving a fake clock, never by waiting::

    >>> from engage_web.cpython.emulator.scenario import load_scenario
    >>> now = [1_000_000.0]
    >>> model = Model(load_scenario(), clock=lambda: now[0])
    >>> answer = model.check("demo", None, None, ["Support"], [])
    >>> answer["status"]                    # warm-up: the first check of a session
    'NotAvailable'
    >>> model.check("demo", answer["visitorId"], answer["sessionId"], ["Support"], [])["status"]
    'Available'

Session rules (``docs/protocol.md``, "Sessions"): a visitor id names the device, a session id the
visit. A check (create session) with the ``vid``/``sid`` of a live session of the same account
continues it. Anything else starts a new session, never an error: no ids (a new visitor too), a
``vid`` alone (the same visitor, a new visit), an unknown, expired or other visitor's ``sid`` (the
given ``vid`` is kept: the device keeps its identity, the visit is new). A session expires 30
minutes after its last request, and 6 hours after it began whatever the activity.

An update session needs the live pair. Its ``pageId`` must be one the session was answered with
(one of its latest ``PAGE_IDS_KEPT``), and each impression event must name an engagement the
session was offered (campaign and engagement ids; the revision is not compared), else nothing of
the update is recorded.

A cold account (``scenario.Cold``, or ``set_cold`` at run time) answers its checks with 500
``Loading account: {accountId}, vid: {vid}`` (internalCode 20) until its cold checks and seconds
are spent; ``vid`` is the one the check gave, or a fresh one a retry can send to stay the same
visitor. Updates are never cold.

Memory is bounded whatever the load (``limits.py``): every SDE, impression, offer and update is
kept as compact JSON text in one history per session, oldest dropped beyond ``HISTORY_ITEMS`` or
``HISTORY_BYTES`` (the counts of everything ever recorded are kept); sessions are ordered by
last activity, and the least recently active are forgotten beyond ``MAX_SESSIONS`` or when all
histories together pass ``STORE_BYTES`` (expired sessions stay readable until then).
"""

from __future__ import annotations

import json
import secrets
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engage_web.cpython.emulator import limits

from .errors import ApiError
from .scenario import Account, Cold, Scenario

__all__ = [
    "HISTORY_KINDS",
    "IDLE_TIMEOUT",
    "MAX_AGE",
    "Clock",
    "ColdState",
    "Model",
    "SessionRecord",
]

Clock = Callable[[], float]
"""Seconds since the epoch, like ``time.time``."""

IDLE_TIMEOUT = 30 * 60
MAX_AGE = 6 * 60 * 60
#: The kinds of history a session keeps, as named in its JSON view.
HISTORY_KINDS = ("engagementAttributes", "impressions", "offered", "updates")
#: Bytes charged per history item on top of its text (the tuple and deque slot holding it).
_ITEM_OVERHEAD = 72


def new_id() -> str:
    """An unguessable id of 16 characters from ``A-Z a-z 0-9 _ -`` (valid as vid and sid)."""
    return secrets.token_urlsafe(12)


def new_page_id() -> str:
    """A fresh numeric page id, like the documented ``"4743822558"``."""
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class SessionRecord:
    """One visit: ids, timing, counts, the latest page ids, the engagements offered, and the
    bounded history of what the session received (SDEs, impressions, offers, updates)."""

    account_id: str
    visitor_id: str
    session_id: str
    created: float
    last_seen: float
    checks: int = 0
    page_ids: list[str] = field(default_factory=list)
    offered_ids: set[tuple[str, str]] = field(default_factory=set)
    history: deque[tuple[str, str, int]] = field(default_factory=deque)
    history_bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    dropped: int = 0

    def live(self, now: float) -> bool:
        """True while neither the idle timeout nor the maximum age has passed."""
        return now - self.last_seen < IDLE_TIMEOUT and now - self.created < MAX_AGE

    def to_dict(self, now: float) -> dict[str, object]:
        """The JSON view served by ``GET /_emulator/sessions/{sessionId}``: each history kind
        as a list (oldest first, within the caps), ``counts`` of everything ever recorded and
        ``dropped``, how many history items the caps have dropped."""
        kinds: dict[str, list[Any]] = {kind: [] for kind in HISTORY_KINDS}
        for kind, text, _size in self.history:
            kinds[kind].append(json.loads(text))
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
            **kinds,
            "counts": {"checks": self.checks, **{k: self.counts.get(k, 0) for k in HISTORY_KINDS}},
            "dropped": self.dropped,
        }


@dataclass(slots=True)
class ColdState:
    """An account's remaining cold start: checks still to refuse, and until when (epoch s)."""

    checks_left: int = 0
    until: float = 0.0

    def cold(self, now: float) -> bool:
        """True while any cold check or second remains."""
        return self.checks_left > 0 or now < self.until

    def to_dict(self, now: float) -> dict[str, object]:
        """``{"cold", "checksLeft", "secondsLeft"}``."""
        return {
            "cold": self.cold(now),
            "checksLeft": self.checks_left,
            "secondsLeft": round(max(0.0, self.until - now), 3),
        }


class Model:
    """Sessions, agents online, cold accounts and the request log of one scenario. Not
    thread-safe; the app runs it on one event loop."""

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self.scenario = scenario
        self.clock = clock
        self.agents_online: dict[int, int] = {}
        self.cold: dict[str, ColdState] = {}
        self.sessions: OrderedDict[str, SessionRecord] = OrderedDict()
        self.store_bytes = 0
        self.requests: deque[dict[str, object]] = deque(maxlen=limits.REQUEST_LOG_SIZE)
        self.reset()

    def reset(self) -> None:
        """Back to the scenario: agents and cold starts as configured (cold seconds count from
        now), no sessions, empty request log."""
        now = self.clock()
        self.agents_online = {s.id: s.agents_online for s in self.scenario.skills.values()}
        self.cold = {
            account.id: self._cold_state(account.cold, now)
            for account in self.scenario.accounts.values()
            if account.cold is not None
        }
        self.sessions.clear()
        self.store_bytes = 0
        self.requests = deque(maxlen=limits.REQUEST_LOG_SIZE)

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

    def session(self, session_id: str) -> SessionRecord | None:
        """The session with this id, live or expired (until forgotten), or None."""
        return self.sessions.get(session_id)

    def _start(self, account_id: str, vid: str | None) -> SessionRecord:
        now = self.clock()
        self._prune(now)
        record = SessionRecord(account_id, vid or new_id(), new_id(), created=now, last_seen=now)
        self.sessions[record.session_id] = record
        return record

    def _touch(self, record: SessionRecord) -> None:
        record.last_seen = self.clock()
        self.sessions.move_to_end(record.session_id)

    def _forget(self, session_id: str) -> None:
        record = self.sessions.pop(session_id)
        self.store_bytes -= record.history_bytes

    def _prune(self, now: float) -> None:
        # Sessions are ordered by last activity, so the idle-expired ones lead. They stay readable
        # (for tests and the demo) until the store is half full; at capacity the least recently
        # active go, live or not.
        if len(self.sessions) > limits.MAX_SESSIONS // 2:
            while self.sessions:
                sid, oldest = next(iter(self.sessions.items()))
                if oldest.live(now):
                    break
                self._forget(sid)
        while self.sessions and len(self.sessions) >= limits.MAX_SESSIONS:
            self._forget(next(iter(self.sessions)))

    def _record(self, record: SessionRecord, kind: str, value: object) -> None:
        """Add one item to the session's history, then hold the caps (``limits.py``)."""
        text = _compact(value)
        size = sys.getsizeof(text) + _ITEM_OVERHEAD
        record.history.append((kind, text, size))
        record.history_bytes += size
        self.store_bytes += size
        record.counts[kind] = record.counts.get(kind, 0) + 1
        while len(record.history) > 1 and (
            len(record.history) > limits.HISTORY_ITEMS
            or record.history_bytes > limits.HISTORY_BYTES
        ):
            _kind, _text, old = record.history.popleft()
            record.history_bytes -= old
            self.store_bytes -= old
            record.dropped += 1
        while self.store_bytes > limits.STORE_BYTES and len(self.sessions) > 1:
            oldest = next(iter(self.sessions))
            if oldest == record.session_id:  # the active session is the newest; never reached
                break
            self._forget(oldest)

    # -- the public operations -------------------------------------------------------------

    def check(
        self,
        account_id: str,
        vid: str | None,
        sid: str | None,
        sections: Iterable[str],
        attributes: Iterable[Any],
    ) -> dict[str, object]:
        """One create session (the engagement check): the seed's response object.

        ApiError 404 for an account the scenario does not serve, 500 (internalCode 20) while
        the account is cold.
        """
        account = self.account(account_id)
        self._refuse_if_cold(account, vid)
        record = self.live_session(account_id, vid, sid)
        if record is None:
            record = self._start(account_id, vid)
        self._touch(record)
        record.checks += 1
        for sde in attributes:
            self._record(record, "engagementAttributes", sde)
        page_id = account.page_id or new_page_id()
        if page_id in record.page_ids:
            record.page_ids.remove(page_id)
        record.page_ids.append(page_id)
        del record.page_ids[: -limits.PAGE_IDS_KEPT]
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
                record.offered_ids.add((str(details["campaignId"]), str(details["engagementId"])))
                self._record(record, "offered", {"pageId": page_id, **details})
        return answer

    def update(
        self,
        record: SessionRecord,
        page_id: str,
        impressions: list[Any],
        attributes: list[Any],
        *,
        method: str = "PUT",
    ) -> None:
        """One update session on a live ``record``: check the page id and the impressions, then
        record everything in order. ApiError 400 (and nothing recorded) when a check fails."""
        if page_id not in record.page_ids:
            latest = record.page_ids[-1] if record.page_ids else "none"
            raise ApiError(
                400,
                f"pageId {page_id!r} is not a page this session was answered with; allowed: the "
                f"pageId of one of its latest {limits.PAGE_IDS_KEPT} checks (latest: {latest})",
                field="pageId",
            )
        self._check_impressions(record, impressions)
        self._touch(record)
        for sde in impressions:
            self._record(record, "impressions", sde)
        for sde in attributes:
            self._record(record, "engagementAttributes", sde)
        self._record(
            record,
            "updates",
            {
                "time": int(self.clock() * 1000),
                "method": method,
                "pageId": page_id,
                "impAttributes": len(impressions),
                "engagementAttributes": len(attributes),
            },
        )

    @staticmethod
    def _check_impressions(record: SessionRecord, impressions: list[Any]) -> None:
        """ApiError 400 for an impression event naming an engagement this session was not offered
        (an impression counts only in the session that was offered the engagement). Campaign and
        engagement ids must match; the revision is not checked."""
        offered = record.offered_ids
        for index, sde in enumerate(impressions):
            ids = (str(sde.get("campaign")), str(sde.get("engId")))
            if ids not in offered:
                shown = "; ".join(f"campaign {c} engId {e}" for c, e in sorted(offered)) or "none"
                raise ApiError(
                    400,
                    f"impression event for campaign {ids[0][:40]} engId {ids[1][:40]}, but this "
                    f"session was offered: {shown}; an impression must name an engagement the "
                    "session got",
                    field=f"impAttributes[{index}].engId",
                )

    def choose(self, account: Account, sections: list[str]) -> dict[str, object] | None:
        """The engagementDetails of the winning engagement, or None (see ``scenario`` rules)."""
        for engagement in account.engagements:
            if not engagement.matches(sections):
                continue
            if engagement.skill_id is None:
                return engagement.details(None, numeric_ids=account.numeric_ids)
            if self.agents_online.get(engagement.skill_id, 0) > 0:
                skill = self.scenario.skills[engagement.skill_id]
                return engagement.details(skill, numeric_ids=account.numeric_ids)
        return None

    def account(self, account_id: str) -> Account:
        """The scenario's account, or ApiError 404 naming the accounts this emulator serves."""
        account = self.scenario.account(account_id)
        if account is None:
            known = ", ".join(sorted(self.scenario.accounts))
            raise ApiError(
                404,
                f"unknown account {account_id!r}; this emulator serves: {known}",
                field="accountId",
            )
        return account

    # -- cold accounts ---------------------------------------------------------------------

    @staticmethod
    def _cold_state(cold: Cold | None, now: float) -> ColdState:
        if cold is None:
            return ColdState()
        return ColdState(checks_left=cold.checks, until=now + cold.seconds)

    def _refuse_if_cold(self, account: Account, vid: str | None) -> None:
        state = self.cold.get(account.id)
        if state is None or not state.cold(self.clock()):
            return
        state.checks_left = max(0, state.checks_left - 1)
        raise ApiError(
            500, f"Loading account: {account.id}, vid: {vid or new_id()}", internal_code=20
        )

    def set_cold(self, account_id: str, cold: Cold) -> dict[str, object]:
        """Make an account cold for ``cold.checks`` checks and ``cold.seconds`` seconds from now
        (both zero: warm at once); ApiError 404 for an unknown account."""
        self.account(account_id)
        now = self.clock()
        self.cold[account_id] = self._cold_state(cold, now)
        return {"accountId": account_id, **self.cold[account_id].to_dict(now)}

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
            "cold": {
                account_id: state.to_dict(now)
                for account_id, state in sorted(self.cold.items())
                if state.cold(now)
            },
            "sessions": sum(1 for r in self.sessions.values() if r.live(now)),
            "sessionsStored": len(self.sessions),
            "historyBytes": self.store_bytes,
        }
