"""Control routes under ``/_emulator/``: steer the emulator from tests, the demo and a terminal.

Local use only (the server binds 127.0.0.1 by default); never expose them. Routes::

    POST /_emulator/skills/{skillId}     {"agentsOnline": n}          -> the skill
    POST /_emulator/accounts/{accountId}/cold   {"checks": n, "seconds": s}: the account's next
                                         n checks, and its checks in the next s seconds, answer
                                         500 "Loading account" ({"checks": 0}: warm at once)
    POST /_emulator/faults               {"count", "status", "retryAfter", "delayMs", "mode",
                                          "route": "check" | "update" | "domain"}
    DELETE /_emulator/faults             drop pending faults
    GET  /_emulator/sessions/{sessionId} the session: its SDEs, impressions, offers and updates
                                         in arrival order (capped; counts kept)
    GET  /_emulator/state                skills, cold accounts, pending faults, session count
    GET  /_emulator/requests             the last public requests: method, requestLine (path with
                                         query), methodOverride, route, status
    POST /_emulator/reset                back to the scenario: sessions, faults and log cleared

Example (with httpx against a running emulator)::

    httpx.post(f"{base}/_emulator/faults", json={"count": 2, "status": 503, "retryAfter": 1})
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engage_web.core.text import shown
from engage_web.core.validation import ACCOUNT_ID_PATTERN

from .bodies import check_content_type, parse_json_object, read_body
from .errors import ApiError
from .faults import FaultQueue, parse_fault
from .model import Model
from .scenario import MAX_COLD_SECONDS, Cold

__all__ = ["control_routes"]

MAX_AGENTS = 100_000
MAX_COLD_CHECKS = 1_000_000
#: A skill id in a path: a short run of ASCII digits (never handed to int() unbounded).
_SKILL_ID = re.compile(r"[0-9]{1,15}")


def _shown(text: str) -> str:
    return shown(text, count=True)


def _unknown_keys(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise ApiError(
                400,
                f"unknown key {_shown(key)}; allowed: {', '.join(allowed)}",
                field=key if len(key) <= 60 else None,
            )


def _number(value: object) -> str:
    text = (
        repr(value) if isinstance(value, bool | int | float | str | None) else type(value).__name__
    )
    return text if len(text) <= 60 else text[:57] + "..."


def _model(request: Request) -> Model:
    return request.app.state.model


def _faults(request: Request) -> FaultQueue:
    return request.app.state.faults


async def _json(request: Request) -> dict:
    body = await read_body(request)
    check_content_type(request, body)
    return parse_json_object(body)


async def set_skill(request: Request) -> JSONResponse:
    """``POST /_emulator/skills/{skillId}`` with ``{"agentsOnline": n}``."""
    raw_id = request.path_params["skill_id"]
    if not _SKILL_ID.fullmatch(raw_id):
        raise ApiError(
            400,
            f"skillId must be a whole number of at most 15 digits; got {_shown(raw_id)}",
            field="skillId",
        )
    body = await _json(request)
    _unknown_keys(body, ("agentsOnline",))
    agents = body.get("agentsOnline")
    if isinstance(agents, bool) or not isinstance(agents, int) or not 0 <= agents <= MAX_AGENTS:
        raise ApiError(
            400,
            f"agentsOnline must be an integer from 0 to {MAX_AGENTS}; got {_number(agents)}",
            field="agentsOnline",
        )
    return JSONResponse(_model(request).set_agents(int(raw_id), agents))


async def set_cold(request: Request) -> JSONResponse:
    """``POST /_emulator/accounts/{accountId}/cold`` with ``{"checks": n, "seconds": s}``."""
    account_id = request.path_params["account_id"]
    if not ACCOUNT_ID_PATTERN.fullmatch(account_id):
        raise ApiError(404, f"unknown account {_shown(account_id)}", field="accountId")
    body = await _json(request)
    _unknown_keys(body, ("checks", "seconds"))
    if not body:
        raise ApiError(400, 'give checks, seconds or both, e.g. {"checks": 3}', field="checks")
    checks = body.get("checks", 0)
    if (
        isinstance(checks, bool)
        or not isinstance(checks, int)
        or not 0 <= checks <= MAX_COLD_CHECKS
    ):
        raise ApiError(
            400,
            f"checks must be an integer from 0 to {MAX_COLD_CHECKS}; got {_number(checks)}",
            field="checks",
        )
    seconds = body.get("seconds", 0)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_COLD_SECONDS
    ):
        raise ApiError(
            400,
            f"seconds must be a number from 0 to {MAX_COLD_SECONDS}; got {_number(seconds)}",
            field="seconds",
        )
    return JSONResponse(_model(request).set_cold(account_id, Cold(checks, float(seconds))))


async def add_fault(request: Request) -> JSONResponse:
    """``POST /_emulator/faults``: queue a fault for the next ``count`` public requests."""
    fault = parse_fault(await _json(request))
    _faults(request).add(fault)
    return JSONResponse({"added": fault.to_dict(), "pending": _faults(request).pending()})


async def clear_faults(request: Request) -> JSONResponse:
    """``DELETE /_emulator/faults``: drop every pending fault."""
    _faults(request).clear()
    return JSONResponse({"pending": []})


async def get_session(request: Request) -> JSONResponse:
    """``GET /_emulator/sessions/{sessionId}``: the session, live or expired."""
    model = _model(request)
    sid = request.path_params["session_id"]
    record = model.session(sid)
    if record is None:
        raise ApiError(
            404,
            f"no session {_shown(sid)} (never created, forgotten, or cleared by reset)",
            field="sessionId",
        )
    return JSONResponse(record.to_dict(model.clock()))


async def get_state(request: Request) -> JSONResponse:
    """``GET /_emulator/state``: skills, pending faults, session counts."""
    return JSONResponse({**_model(request).state(), "faults": _faults(request).pending()})


async def get_requests(request: Request) -> JSONResponse:
    """``GET /_emulator/requests``: the last public requests, oldest first."""
    return JSONResponse({"requests": list(_model(request).requests)})


async def reset(request: Request) -> JSONResponse:
    """``POST /_emulator/reset``: back to the scenario."""
    _model(request).reset()
    _faults(request).clear()
    return JSONResponse({**_model(request).state(), "faults": []})


control_routes = [
    Route("/_emulator/skills/{skill_id}", set_skill, methods=["POST"]),
    Route("/_emulator/accounts/{account_id}/cold", set_cold, methods=["POST"]),
    Route("/_emulator/faults", add_fault, methods=["POST"]),
    Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
    Route("/_emulator/sessions/{session_id}", get_session, methods=["GET"]),
    Route("/_emulator/state", get_state, methods=["GET"]),
    Route("/_emulator/requests", get_requests, methods=["GET"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
]
