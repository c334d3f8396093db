"""Control routes under ``/_emulator/``: steer the emulator from tests, the demo and a terminal.

Local use only (the server binds 127.0.0.1 by default); never expose them. Routes::

    POST /_emulator/skills/{skillId}     {"agentsOnline": n}          -> the skill
    POST /_emulator/faults               {"count", "status", "retryAfter", "delayMs", "mode"}
    DELETE /_emulator/faults             drop pending faults
    GET  /_emulator/sessions/{sessionId} the session with its engagementAttributes, in order
    GET  /_emulator/state                skills, pending faults, session count
    GET  /_emulator/requests             the last public requests (method, path, query, status)
    POST /_emulator/reset                back to the scenario: sessions, faults and log cleared

Example (with httpx against a running emulator)::

    httpx.post(f"{base}/_emulator/faults", json={"count": 2, "status": 503, "retryAfter": 1})
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engage_web.emulator.bodies import check_content_type, parse_json_object, read_body
from engage_web.emulator.errors import ApiError
from engage_web.emulator.faults import FaultQueue, parse_fault
from engage_web.emulator.model import Model

__all__ = ["control_routes"]

MAX_AGENTS = 100_000


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
    if not raw_id.isdigit():
        raise ApiError(400, f"skillId must be an integer; got {raw_id!r}", field="skillId")
    body = await _json(request)
    unknown = [k for k in body if k != "agentsOnline"]
    if unknown:
        raise ApiError(
            400, f"unknown key {unknown[0]!r}; the only key is agentsOnline", field=unknown[0]
        )
    agents = body.get("agentsOnline")
    if isinstance(agents, bool) or not isinstance(agents, int) or not 0 <= agents <= MAX_AGENTS:
        raise ApiError(
            400,
            f"agentsOnline must be an integer from 0 to {MAX_AGENTS}; got {agents!r}",
            field="agentsOnline",
        )
    return JSONResponse(_model(request).set_agents(int(raw_id), agents))


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
            f"no session {sid!r} (never created, pruned, or cleared by reset)",
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
    Route("/_emulator/faults", add_fault, methods=["POST"]),
    Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
    Route("/_emulator/sessions/{session_id}", get_session, methods=["GET"]),
    Route("/_emulator/state", get_state, methods=["GET"]),
    Route("/_emulator/requests", get_requests, methods=["GET"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
]
