"""The visitor session: which ids to send, and where they are kept between checks.

LivePerson's App Engagement API is stateful (``docs/protocol.md``, "Sessions"): a visitor id
(``vid``) names the device and a session id (``sid``) names the visit. The first check has
neither and gets both in its answer; every later check sends them again, the vid as a path
segment and the sid in the query, or the service creates a new visitor each time ("use this
method sparingly"). ``ChatApi`` keeps the pair in a :class:`SessionStore`: in memory by default,
in a state file for the command line (``engage_web.cpython.cli``), and in the browser in the
worker's ``PageSessionStore`` (``engage_web.browser.worker``), whose page writes what it is told
to keep (``docs/design.md``, "The visitor session and the storage port"): the vid in local
storage, so it survives reloads, and the sid in session storage, so it lasts the tab's visit. A
stored session may therefore hold a visitor id without a session id (a new tab): the next check
sends the vid alone and the service opens a new session for the same visitor::

    >>> store = MemorySessionStore()
    >>> store.save(Session("v1", "s1"))
    >>> store.load()
    Session(visitor_id='v1', session_id='s1')
    >>> store.save(None); store.load() is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MemorySessionStore", "Session", "SessionStore", "session_from_answer"]


@dataclass(frozen=True, slots=True)
class Session:
    """A visitor id and, while the visit lasts, a session id.

    ``established`` is true when both are known, i.e. the next check continues a live session::

        >>> Session("v1").established, Session("v1", "s1").established
        (False, True)
    """

    visitor_id: str
    session_id: str | None = None

    @property
    def established(self) -> bool:
        """True when both ids are known (the pair a check or a report sends as ``vid``/``sid``)."""
        return bool(self.visitor_id) and bool(self.session_id)


def session_from_answer(body: Mapping[str, object]) -> Session | None:
    """The session named by a server answer (``visitorId``/``sessionId`` strings), if any.

    >>> session_from_answer({"status": "NotAvailable", "visitorId": "v", "sessionId": "s"})
    Session(visitor_id='v', session_id='s')
    >>> session_from_answer({"status": "NotAvailable"}) is None
    True
    """
    vid, sid = body.get("visitorId"), body.get("sessionId")
    if isinstance(vid, str) and vid:
        return Session(vid, sid if isinstance(sid, str) and sid else None)
    return None


class SessionStore(Protocol):
    """Where ``ChatApi`` keeps the visitor session between checks (and page loads)."""

    def load(self) -> Session | None:
        """The stored session, or ``None`` when there is none yet."""
        ...

    def save(self, session: Session | None) -> None:
        """Store ``session`` (``None`` forgets it)."""
        ...


class MemorySessionStore:
    """A :class:`SessionStore` in memory: lasts as long as the object (CPython, tests).

    >>> MemorySessionStore(Session("v1", "s1")).load().session_id
    's1'
    """

    def __init__(self, session: Session | None = None) -> None:
        self._session = session

    def load(self) -> Session | None:
        """The stored session, or ``None``."""
        return self._session

    def save(self, session: Session | None) -> None:
        """Replace the stored session (``None`` forgets it)."""
        self._session = session
