"""Error answers of the emulator: one exception type and the documented JSON error body.

Every error the emulator gives, from a failed validation to a bug in the emulator itself, has the
body LivePerson's App Engagement API documents (``docs/protocol.md``, "Errors"): ``time`` (ms
since the epoch), ``message`` and ``internalCode``. The emulator may add ``field`` (the dotted
path of the value at fault) and, for validation errors, ``errors``/``errorCount``; a client must
not depend on these extensions::

    {"time": 1469543282471, "message": "Illegal Version", "internalCode": 33, "field": "v"}

Handlers raise :class:`ApiError`; the app turns it into that body::

    >>> err = ApiError(415, "Content-Type must be application/json; got 'text/plain'",
    ...                field="Content-Type")
    >>> err.body(time_ms=0)["internalCode"]
    5
    >>> ApiError(500, "Loading account: demo, vid: v1", internal_code=20).body(time_ms=0)
    {'time': 0, 'message': 'Loading account: demo, vid: v1', 'internalCode': 20}

Internal codes are LivePerson's where it documents one (33, 20), else those of its sibling
Monitoring API (5, 37, 39, 18):

=======  ==============  =====================================================================
status   internalCode    when
=======  ==============  =====================================================================
400      5               request data missing or invalid: validation, bad JSON, invalid UTF-8,
                         duplicate JSON keys, body not an object, ids in the body, a pageId
                         the session was not answered with, an impression of an engagement
                         the session was not offered
400      33              ``Illegal Version``: ``v`` (``version`` on the Domain API) missing or
                         not ``1.0``
401      37              ``vid`` malformed, or missing where an update needs it
401      39              ``sid`` malformed, missing on an update, given without a ``vid``, or
                         not a live session of that visitor on an update
404      18              unknown account, unknown service name, unknown route
405      18              method not allowed on a known route
408      5               the request body did not arrive within the body timeout
413      5               body over 64 KiB
415      5               body present but not ``application/json`` (UTF-8)
429/503  0               injected by a fault (no LivePerson code); always with ``Retry-After``
431      5               too many header lines
500      20              a cold account: ``Loading account: {accountId}, vid: {vid}``
500      18              internal error: a bug in the emulator, or an injected 5xx
=======  ==============  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CODE_BY_STATUS", "ApiError", "error_body"]

#: The default ``internalCode`` for each status; :class:`ApiError` may override it.
CODE_BY_STATUS: Mapping[int, int] = {
    400: 5,
    401: 39,
    404: 18,
    405: 18,
    408: 5,
    413: 5,
    415: 5,
    429: 0,
    431: 5,
    500: 18,
    502: 18,
    503: 0,
    504: 18,
}


def error_body(
    status: int,
    message: str,
    *,
    time_ms: int,
    internal_code: int | None = None,
    field: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The documented JSON error body; ``field`` only when a single field is at fault.

    Example::

        >>> error_body(400, "Illegal Version", time_ms=1, internal_code=33, field="v")
        {'time': 1, 'message': 'Illegal Version', 'internalCode': 33, 'field': 'v'}
    """
    code = internal_code if internal_code is not None else CODE_BY_STATUS.get(status, 0)
    body: dict[str, object] = {"time": time_ms, "message": message, "internalCode": code}
    if field is not None:
        body["field"] = field
    if extra:
        body.update(extra)
    return body


class ApiError(Exception):
    """An error answer: HTTP ``status``, message, optional internal code, field and headers.

    ``extra`` adds keys to the body (validation errors add ``errors``, the full list).

    Example::

        raise ApiError(404, "unknown account 'acme'", field="accountId")
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        internal_code: int | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.internal_code = internal_code
        self.field = field
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self, *, time_ms: int) -> dict[str, object]:
        """The JSON body of this error at time ``time_ms`` (ms since the epoch)."""
        return error_body(
            self.status,
            self.message,
            time_ms=time_ms,
            internal_code=self.internal_code,
            field=self.field,
            extra=self.extra,
        )
