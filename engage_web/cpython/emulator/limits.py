"""Every bound the emulator keeps, in one place: bodies, heads, time, sessions and history.

The emulator is a local stand-in (``docs/protocol.md`` describes the wire it serves), but it must
survive a careless or hostile client: each input it reads and each store it keeps has a ceiling,
so a flood of requests never grows its memory without bound and a slow client never holds a
connection for ever. This module is where those ceilings are written down::

    >>> MAX_BODY_BYTES, MAX_HEADER_COUNT, MAX_HEAD_BYTES
    (65536, 100, 16384)

What happens at each bound:

==========================  ===============================================================
bound                       beyond it
==========================  ===============================================================
``MAX_BODY_BYTES``          413 (declared or counted while reading)
``BODY_TIMEOUT``            408: the body did not arrive in time (the connection is closed)
``MAX_HEADER_COUNT``        431: too many header lines
``MAX_HEAD_BYTES``          431 from the server: request line and headers too long
``HEAD_TIMEOUT``            408 from the server, connection closed: no complete head in time
``KEEP_ALIVE_TIMEOUT``      an idle keep-alive connection is closed
``MAX_CONNECTIONS``         503 from the server for requests on connections beyond it
``MAX_SESSIONS``            the least recently active sessions are forgotten (expired first)
``HISTORY_ITEMS``,          a session keeps its newest SDEs, impressions, offers and updates
``HISTORY_BYTES``           within both caps; the oldest are dropped, the counts are kept
``PAGE_IDS_KEPT``           an update may name one of the session's latest page ids only
``STORE_BYTES``             the least recently active sessions are forgotten
``REQUEST_LOG_SIZE``        the request log keeps the latest entries
``REQUEST_TARGET_SHOWN``    a longer path-with-query is shortened in the request log
``MAX_PENDING_FAULTS``      a further fault is refused (400)
==========================  ===============================================================

Worst case, the stores hold ``MAX_SESSIONS`` sessions of about 2 KB each plus ``STORE_BYTES``
of recorded history: about 40 MB, whatever the load.
"""

from __future__ import annotations

__all__ = [
    "BODY_TIMEOUT",
    "HEAD_TIMEOUT",
    "HISTORY_BYTES",
    "HISTORY_ITEMS",
    "KEEP_ALIVE_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "MAX_HEADER_COUNT",
    "MAX_HEAD_BYTES",
    "MAX_PENDING_FAULTS",
    "MAX_SESSIONS",
    "PAGE_IDS_KEPT",
    "REQUEST_LOG_SIZE",
    "REQUEST_TARGET_SHOWN",
    "STORE_BYTES",
]

#: Largest request body (UTF-8 JSON) of any route.
MAX_BODY_BYTES = 64 * 1024
#: Seconds a client may take to send a request body, from the moment the route starts reading.
BODY_TIMEOUT = 10.0
#: Most header lines in one request (browsers send about 15).
MAX_HEADER_COUNT = 100
#: Longest request head (request line and headers), in bytes.
MAX_HEAD_BYTES = 16 * 1024
#: Seconds from a connection's opening (or its previous answer) to a complete request head.
HEAD_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE_TIMEOUT = 5
#: Open connections served at once; requests on further connections answer 503.
MAX_CONNECTIONS = 1000

#: Sessions kept, live or expired.
MAX_SESSIONS = 10_000
#: History items (SDEs, impressions, offers, updates) one session keeps, newest first.
HISTORY_ITEMS = 200
#: Bytes of history (as stored JSON text) one session keeps; the newest item is always kept.
HISTORY_BYTES = 64 * 1024
#: Latest page ids kept per session (an update must name one of them).
PAGE_IDS_KEPT = 20
#: Bytes of history kept over all sessions.
STORE_BYTES = 16 * 1024 * 1024
#: Entries in the request log (``GET /_emulator/requests``).
REQUEST_LOG_SIZE = 200
#: Characters of a request's path-with-query kept in its log entry.
REQUEST_TARGET_SHOWN = 2048
#: Faults waiting at once (``POST /_emulator/faults``).
MAX_PENDING_FAULTS = 100
