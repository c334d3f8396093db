"""Error answers of the emulator: one exception type and the documented JSON error body.

Every error the emulator gives, from a failed validation to a bug in the emulator itself, has the
same JSON shape (``contract.md``, "Wire format")::

    {"time": 1732390000000, "message": "...", "internalCode": 5, "field": "appDetails.os"}

Handlers raise :class:`ApiError`; the app turns it into that body::

    >>> err = ApiError(415, "Content-Type must be application/json; got 'text/plain'",
    ...                field="Content-Type")
    >>> err.body(time_ms=0)["internalCode"]
    5

Internal codes follow LivePerson's Monitoring API where it has one (``liveperson-reference.md``):

=======  ==============  =====================================================================
status   internalCode    when
=======  ==============  =====================================================================
400      5               request data missing or invalid: validation, bad JSON, invalid UTF-8,
                         duplicate JSON keys, body not an object
400      33              missing or unsupported API version ``v``
401      37              ``vid`` malformed or missing where required
401      39              ``sid`` malformed, missing, unknown or expired where a live one is needed
404      20              unknown account (LivePerson: "account not loaded")
404      18              unknown route (LivePerson: invalid app installation path)
405      18              method not allowed on a known route
413      5               body over 64 KiB
415      5               body present but not ``application/json`` (UTF-8)
429/503  0               injected by a fault (no LivePerson code); always with ``Retry-After``
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
    413: 5,
    415: 5,
    429: 0,
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
    """The documented JSON error body.

    Example::

        >>> error_body(400, "v must be 1.0; got '2.0'", time_ms=1, internal_code=33, field="v")
        {'time': 1, 'message': "v must be 1.0; got '2.0'", 'internalCode': 33, 'field': 'v'}
    """
    code = internal_code if internal_code is not None else CODE_BY_STATUS.get(status, 0)
    body: dict[str, object] = {
        "time": time_ms,
        "message": message,
        "internalCode": code,
        "field": field,
    }
    if extra:
        body.update(extra)
    return body


class ApiError(Exception):
    """An error answer: HTTP ``status``, message, optional internal code, field and headers.

    ``extra`` adds keys to the body (validation errors add ``errors``, the full list).

    Example::

        raise ApiError(404, "unknown account 'acme'", internal_code=20, field="accountId")
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
