"""Reading request bodies safely: size limit, time limit, content type, strict UTF-8 JSON.

Every route accepts at most 64 KiB of ``application/json`` (UTF-8). The size is checked
twice: the declared ``Content-Length`` before reading anything, and the bytes actually received
while reading, which stops as soon as the limit is passed (a lying or absent Content-Length
cannot make the emulator buffer unbounded input). A body that has not arrived whole within the
body timeout (``limits.BODY_TIMEOUT``, the app's ``body_timeout``) answers 408 and the
connection is closed, so a client trickling bytes cannot hold a request open.

Choices (documented in the OpenAPI document too): invalid UTF-8, a JSON syntax error,
``NaN``/``Infinity``, a duplicate key in any object, an integer too long for Python to parse
(over 4300 digits), a lone UTF-16 surrogate escape (``"\\ud800"``), nesting deeper than the
parser's recursion limit, or a body that is not a JSON object all answer 400 (internalCode 5),
naming the problem; an empty body counts as ``{}``::

    >>> parse_json_object(b'{"a": 1}')
    {'a': 1}
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request

from .errors import ApiError
from .limits import BODY_TIMEOUT, MAX_BODY_BYTES

__all__ = ["MAX_BODY_BYTES", "check_content_type", "parse_json_object", "read_body"]


def _too_large(received: str) -> ApiError:
    return ApiError(413, f"the body may hold at most {MAX_BODY_BYTES} bytes (64 KiB); {received}")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, at most ``limit`` bytes, within the app's body timeout; ApiError 413
    beyond the size, 408 beyond the time, 400 for a bad length."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            shown = declared if len(declared) <= 40 else declared[:37] + "..."
            raise ApiError(
                400,
                f"Content-Length must be a number of bytes; got {shown!r}",
                field="Content-Length",
            )
        digits = declared.lstrip("0") or "0"
        if len(digits) > 12 or int(digits) > limit:
            raise _too_large(f"Content-Length says {digits[:40]}")
    timeout = getattr(request.app.state, "body_timeout", BODY_TIMEOUT)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(f"received more than {limit}")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(
            408,
            f"the body did not arrive within {timeout:g} s ({size} bytes received); send it "
            "whole, at once",
            headers={"Connection": "close"},
        ) from None
    return b"".join(chunks)


def check_content_type(request: Request, body: bytes) -> None:
    """ApiError 415 unless a non-empty body is declared ``application/json`` (UTF-8)."""
    if not body:
        return
    raw = request.headers.get("content-type")
    if raw is None:
        raise ApiError(415, "Content-Type must be application/json; got none", field="Content-Type")
    media, *params = (p.strip() for p in raw.split(";"))
    if media.lower() != "application/json":
        raise ApiError(
            415, f"Content-Type must be application/json; got {raw!r}", field="Content-Type"
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise ApiError(
                415, f"the only charset accepted is utf-8; got {raw!r}", field="Content-Type"
            )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            field = key if key.isascii() and len(key) <= 200 else None
            raise ApiError(
                400,
                f"duplicate key {key[:200]!r} in a JSON object; each key may appear once",
                field=field,
            )
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ApiError(400, f"the body is not valid JSON: {name} is not a JSON number")


def _int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # CPython refuses int() of more than 4300 digits
        raise ApiError(
            400, f"a number in the body has {len(digits)} digits: too large for any field here"
        ) from None


def _surrogate_path(value: object) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, or None.

    JSON's ``\\ud800`` escapes can smuggle half a UTF-16 pair into a Python str; such text is
    not Unicode and cannot be encoded back, so it is refused at the door. Iterative, so depth
    costs no recursion.
    """
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return path or "the body"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    return f"a key of {path or 'the body'}"
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object strictly; ApiError 400 naming the problem otherwise."""
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"the body is not valid UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    try:
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants, parse_int=_int
        )
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ApiError(400, "the body is not valid JSON: nested too deeply") from None
    where = _surrogate_path(value)
    if where is not None:
        shown = where if where.isascii() and len(where) <= 200 else "a string"
        raise ApiError(
            400,
            f"lone surrogate escape (half a UTF-16 pair, like \\ud800) in {shown}: "
            "not valid Unicode text",
            field=None if shown.startswith(("a key", "a string", "the body")) else shown,
        )
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number"
        )
        raise ApiError(400, f"the body must be a JSON object; got {kind}")
    return value
