"""The emulator's ASGI app: LivePerson-style engagement checks and reports, served locally.

``create_app`` builds a Starlette app from a scenario (``scenario.py``); run it with uvicorn
(``python3 -m engage_web serve``) or in-process with Starlette's ``TestClient``::

    >>> from starlette.testclient import TestClient
    >>> client = TestClient(create_app())
    >>> r = client.post("/api/account/demo/app/engagement?v=1.0",
    ...                 json={"consumerSections": ["Support"]})
    >>> r.status_code, r.json()["status"]          # a new session; warm-up answers NotAvailable
    (201, 'NotAvailable')

Public routes (``contract.md``, "Wire format"; the OpenAPI document ``openapi.json`` describes
them and is served at ``GET /openapi.json``)::

    POST /api/account/{accountId}/app/engagement?v=1.0[&vid=&sid=]   200 live session, 201 new
    PUT  /api/account/{accountId}/app/report?v=1.0&vid=&sid=          200 recorded, 401 no session

Checks, in order: unknown account (404, internalCode 20), ``v`` missing or not ``1.0`` (400/33),
then for a report the session ids (401: 37 for ``vid``, 39 for ``sid``; a report needs a live
pair), then the body: over 64 KiB (413), not JSON (415), bad UTF-8/JSON/duplicate keys (400/5),
and finally the engine's own validator (``engage_web.validation``: same rules and messages as
the client; 400/5 or 401). ``vid``/``sid`` travel in the query string only; in the body they
are refused (400). Every error answer is the JSON body of ``errors.py``; validation errors add
``errors`` (the problems found, at most 20) and ``errorCount`` (how many in all). Control
routes live under ``/_emulator/`` (``control.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Mount, Route

from engage_web.emulator.bodies import check_content_type, parse_json_object, read_body
from engage_web.emulator.control import control_routes
from engage_web.emulator.errors import ApiError
from engage_web.emulator.faults import FaultQueue
from engage_web.emulator.guard import Guard, install_drop_log_filter
from engage_web.emulator.model import Model
from engage_web.emulator.scenario import Scenario, load_scenario
from engage_web.emulator.static import StaticSite
from engage_web.errors import RequestError
from engage_web.validation import (
    validate_account_id,
    validate_report,
    validate_request,
    validate_session_ids,
)
from engage_web.wire import API_VERSION, ENGAGEMENT_PATH, REPORT_PATH

__all__ = ["EMULATOR_PREFIXES", "create_app", "loopback_origins", "openapi_document"]

#: Paths the emulator answers itself; everything else may go to the static site.
EMULATOR_PREFIXES = ("/api/", "/_emulator/", "/openapi.json")
CORS_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
CORS_HEADERS = ("Content-Type", "Accept")
CORS_EXPOSE = ("Retry-After",)
#: Most problems listed in a validation error's ``errors`` (the total is in ``errorCount``).
MAX_LISTED_ERRORS = 20


def loopback_origins(port: int) -> tuple[str, ...]:
    """The origins a page served by this server on ``port`` may have: ``localhost`` and
    ``127.0.0.1`` are different origins to a browser, so both are allowed (plus ``[::1]``).

    >>> loopback_origins(8000)
    ('http://127.0.0.1:8000', 'http://localhost:8000', 'http://[::1]:8000')
    """
    return (f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}")


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the public routes (``engage_web/emulator/openapi.json``)."""
    text = resources.files("engage_web.emulator").joinpath("openapi.json").read_text("utf-8")
    return json.loads(text)


def _now_ms(request: Request) -> int:
    return int(request.app.state.model.clock() * 1000)


def _error_response(request: Request, err: ApiError) -> JSONResponse:
    return JSONResponse(
        err.body(time_ms=_now_ms(request)), status_code=err.status, headers=err.headers
    )


def _request_error(exc: RequestError) -> ApiError:
    """The engine's RequestError as an API error: 401 (37 vid / 39 sid) or 400 (5).

    ``errors`` lists at most ``MAX_LISTED_ERRORS`` problems (``errorCount`` gives the total), so
    a 64 KiB body of junk keys cannot make an answer many times its size.
    """
    code = (37 if exc.field.startswith("vid") else 39) if exc.status == 401 else 5
    return ApiError(
        exc.status,
        f"{exc.field}: {exc.message}",
        internal_code=code,
        field=exc.field,
        extra={
            "errors": [e.to_dict() for e in exc.errors[:MAX_LISTED_ERRORS]],
            "errorCount": len(exc.errors),
        },
    )


def _single_query(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        status = 401 if name in ("vid", "sid") else 400
        raise ApiError(
            status,
            f"{name} given {len(values)} times in the query; give it once",
            internal_code=37 if name == "vid" else (39 if name == "sid" else 33),
            field=name,
        )
    return values[0] if values else None


def _check_version(request: Request) -> None:
    version = _single_query(request, "v")
    if version is None:
        raise ApiError(
            400, f"the API version v is required; use v={API_VERSION}", internal_code=33, field="v"
        )
    if version != API_VERSION:
        raise ApiError(
            400,
            f"unsupported API version v; allowed: {API_VERSION}; got {version!r}",
            internal_code=33,
            field="v",
        )


def _account(request: Request) -> str:
    raw = request.path_params["account_id"]
    try:
        account_id = validate_account_id(raw)
    except RequestError as exc:
        raise ApiError(
            404, f"unknown account: {exc.message}", internal_code=20, field="accountId"
        ) from None
    model: Model = request.app.state.model
    model.account(account_id)  # 404 for an account the scenario does not serve
    return account_id


def _refuse_ids_in_body(body: dict[str, Any]) -> None:
    for name in ("vid", "sid"):
        if name in body:
            raise ApiError(
                400,
                f"{name} goes in the query string (?{name}=...), not in the body",
                internal_code=5,
                field=name,
            )


async def _json_body(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    check_content_type(request, body)
    return parse_json_object(body)


async def engagement(request: Request) -> JSONResponse:
    """``POST /api/account/{accountId}/app/engagement``: one eligibility check."""
    account_id = _account(request)
    _check_version(request)
    vid, sid = _single_query(request, "vid"), _single_query(request, "sid")
    body = await _json_body(request)
    _refuse_ids_in_body(body)
    params = dict(body)
    if vid is not None:
        params["vid"] = vid
    if sid is not None:
        params["sid"] = sid
    try:
        normalised = validate_request(params)
    except RequestError as exc:
        raise _request_error(exc) from None
    model: Model = request.app.state.model
    created, answer = model.check(
        account_id,
        normalised.get("vid"),
        normalised.get("sid"),
        normalised.get("consumerSections", []),
        normalised.get("engagementAttributes", []),
    )
    return JSONResponse(answer, status_code=201 if created else 200)


async def report(request: Request) -> JSONResponse:
    """``PUT /api/account/{accountId}/app/report``: add SDEs to a live session."""
    account_id = _account(request)
    _check_version(request)
    vid, sid = _single_query(request, "vid"), _single_query(request, "sid")
    problems = validate_session_ids(vid, sid)
    if problems:
        raise _request_error(RequestError(problems))
    if vid is None:
        raise ApiError(
            401,
            "a report needs vid and sid: the ids of the engagement answer",
            internal_code=37,
            field="vid",
        )
    if sid is None:
        raise ApiError(
            401,
            "a report needs sid (with vid): the ids of the engagement answer",
            internal_code=39,
            field="sid",
        )
    model: Model = request.app.state.model
    if model.live_session(account_id, vid, sid) is None:
        raise ApiError(
            401,
            f"no live session for this vid and sid in account {account_id!r} (unknown, expired, "
            "or of another visitor); run an engagement check first",
            internal_code=39,
            field="sid",
        )
    body = await _json_body(request)
    _refuse_ids_in_body(body)
    try:
        normalised = validate_report(body)
    except RequestError as exc:
        raise _request_error(exc) from None
    answer = model.report(
        account_id, vid, sid, normalised["engagementAttributes"], normalised.get("pageId")
    )
    return JSONResponse(answer)


async def openapi(request: Request) -> JSONResponse:
    """``GET /openapi.json``: the OpenAPI 3.1 document of the public routes."""
    return JSONResponse(request.app.state.openapi)


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error_response(request, exc)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.detail != HTTPStatus(exc.status_code).phrase:
        message = str(exc.detail)
    elif exc.status_code == 404:
        message = f"not found: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} not allowed on {request.url.path}; allowed: {allowed}"
    else:
        message = str(exc.detail)
    err = ApiError(exc.status_code, message, headers=exc.headers)
    return _error_response(request, err)


class _StaticMount(Mount):
    """A catch-all static mount that never claims the emulator's own paths (so those keep their
    JSON 404/405 answers)."""

    def matches(self, scope):  # type: ignore[no-untyped-def]
        if scope.get("path", "").startswith(EMULATOR_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


def _wall_clock(clock: Any) -> Callable[[], float]:
    if clock is None:
        return time.time
    if callable(getattr(clock, "time", None)):
        return clock.time  # an engine Clock (engage_web.clock)
    if callable(clock):
        return clock
    raise TypeError(
        f"clock must be a callable returning epoch seconds or have .time(); got {clock!r}"
    )


def create_app(
    scenario: Scenario | str | Path | None = None,
    *,
    cors_origins: Iterable[str] = (),
    clock: Callable[[], float] | Any = None,
    static_dir: str | Path | None = None,
) -> Starlette:
    """Build the emulator app.

    ``scenario``: a :class:`Scenario`, a path to a scenario TOML file, or None for the built-in
    default. ``cors_origins``: origins allowed to call it cross-origin (``"*"`` for any).
    ``clock``: wall-clock seconds (a callable like ``time.time``, or an object with ``.time()``
    such as ``engage_web.clock.AsyncioClock``); tests pass a fake to expire sessions without
    waiting. ``static_dir``: also serve this directory at ``/`` (emulator routes win).

    Example::

        app = create_app(cors_origins=["http://localhost:5173"])
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    model = Model(scenario, _wall_clock(clock))
    faults = FaultQueue()
    install_drop_log_filter()
    routes: list[Any] = [
        Route(ENGAGEMENT_PATH.format(account_id="{account_id}"), engagement, methods=["POST"]),
        Route(REPORT_PATH.format(account_id="{account_id}"), report, methods=["PUT"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *control_routes,
    ]
    if static_dir is not None:
        routes.append(_StaticMount("/", app=StaticSite(static_dir)))
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSE,
            allow_private_network=True,  # pages on other hosts may call this loopback server
        ),
        Middleware(Guard, model=model, faults=faults),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={ApiError: _api_error_handler, HTTPException: _http_error_handler},
    )
    app.state.model = model
    app.state.faults = faults
    app.state.openapi = openapi_document()
    return app
