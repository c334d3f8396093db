"""The emulator's ASGI app: LivePerson's App Engagement API and its Domain API look-up, served
locally.

``create_app`` builds a Starlette app from a scenario (``scenario.py``); run it with uvicorn
(``python3 -m engage_web serve``; ``server.py`` holds the server settings) or in-process with
Starlette's ``TestClient``::

    >>> from starlette.testclient import TestClient
    >>> client = TestClient(create_app())
    >>> r = client.post("/api/account/demo/app/engagement/visitors?v=1.0",
    ...                 json={"appType": "EXTERNAL", "consumerSections": ["Support"]})
    >>> r.status_code, r.json()["status"]          # a new session; warm-up answers NotAvailable
    (200, 'NotAvailable')

Public routes (``docs/protocol.md``; paths from ``engage_web.core.wire``; the OpenAPI document
``openapi.json`` describes them and is served at ``GET /openapi.json``)::

    GET  /api/account/{accountId}/service/{service}/baseURI.json?version=1.0
         the Domain API: {"service", "account", "baseURI": the host:port this request reached}
    POST /api/account/{accountId}/app/engagement/visitors?v=1.0
         create session for a new visitor
    POST /api/account/{accountId}/app/engagement/visitors/{vid}?v=1.0[&sid=]
         create session for a known visitor
    PUT  /api/account/{accountId}/app/engagement/visitors/{vid}?v=1.0&sid=
         update session (also POST with X-HTTP-Method-Override: PUT)

Create session answers 200 with the seed's object (``status``, ``sessionId``, ``visitorId``,
``pageId``, ``engagementDetails`` when Available), update session 200 with an empty body.
Checks, in order: unknown account (404), ``v`` missing or not ``1.0`` (400/33 "Illegal
Version"), then the body: over 64 KiB (413), slower than the body timeout (408), not JSON
(415), bad UTF-8/JSON/duplicate keys (400/5), ``vid``/``sid`` in the body (400), then the ids
and the body together through the engine's own validator (``engage_web.core.validation``: same rules
and messages as the client; 401 for the ids first: 37 ``vid``, 39 ``sid``; else 400/5), with
``appType`` required, then the session rules (``model.py``) and, for a check, a cold account
(500/20 "Loading account"). Every error answer is the JSON body of ``errors.py``; validation
errors add ``errors`` (the problems found, at most 20) and ``errorCount`` (how many in all).
Control routes live under ``/_emulator/`` (``control.py``).
"""

from __future__ import annotations

import json
import re
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

from engage_web.core.errors import FieldError, RequestError
from engage_web.core.sde import APP_TYPES
from engage_web.core.validation import (
    validate_account_id,
    validate_request,
    validate_session_ids,
    validate_update,
)
from engage_web.core.wire import (
    API_VERSION,
    DOMAIN_API_VERSION,
    DOMAIN_PATH,
    METHOD_OVERRIDE_HEADER,
    VISITOR_PATH,
    VISITORS_PATH,
)

from .bodies import check_content_type, parse_json_object, read_body
from .control import control_routes
from .errors import ApiError
from .faults import FaultQueue
from .guard import Guard, install_drop_log_filter, method_override
from .limits import BODY_TIMEOUT
from .model import Model
from .scenario import Scenario, load_scenario
from .static import StaticSite

__all__ = [
    "CORS_EXPOSE",
    "CORS_HEADERS",
    "CORS_METHODS",
    "EMULATOR_PREFIXES",
    "ILLEGAL_VERSION",
    "create_app",
    "loopback_origins",
    "openapi_document",
]

#: Paths the emulator answers itself; everything else may go to the static site.
EMULATOR_PREFIXES = ("/api/", "/_emulator/", "/openapi.json")
CORS_METHODS = ("GET", "POST", "PUT", "OPTIONS")
CORS_HEADERS = ("Content-Type", "Accept", METHOD_OVERRIDE_HEADER)
CORS_EXPOSE = ("Retry-After",)
#: Most problems listed in a validation error's ``errors`` (the total is in ``errorCount``).
MAX_LISTED_ERRORS = 20
#: LivePerson's message for a ``v`` (or Domain API ``version``) other than 1.0.
ILLEGAL_VERSION = "Illegal Version"
#: Service names the Domain API route answers for (LivePerson's are like ``msdkgw``).
SERVICE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# A Host header that can be a baseURI: a host name or address with an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def loopback_origins(port: int) -> tuple[str, ...]:
    """The origins a page served by this server on ``port`` may have: ``localhost`` and
    ``127.0.0.1`` are different origins to a browser, so both are allowed (plus ``[::1]``).

    >>> loopback_origins(8000)
    ('http://127.0.0.1:8000', 'http://localhost:8000', 'http://[::1]:8000')
    """
    return (f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}")


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the public routes (``cpython/emulator/openapi.json``)."""
    text = resources.files(__package__).joinpath("openapi.json").read_text("utf-8")
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
        if name == "sid":
            raise ApiError(
                401, f"sid given {len(values)} times in the query; give it once", field="sid"
            )
        raise ApiError(400, ILLEGAL_VERSION, internal_code=33, field=name)
    return values[0] if values else None


def _check_version(request: Request, name: str = "v", version: str = API_VERSION) -> None:
    """400 "Illegal Version" (internalCode 33, LivePerson's exact message) unless the query
    holds ``name`` once, equal to ``version``."""
    if _single_query(request, name) != version:
        raise ApiError(400, ILLEGAL_VERSION, internal_code=33, field=name)


def _account(request: Request) -> str:
    raw = request.path_params["account_id"]
    try:
        account_id = validate_account_id(raw)
    except RequestError as exc:
        raise ApiError(404, f"unknown account: {exc.message}", field="accountId") from None
    model: Model = request.app.state.model
    model.account(account_id)  # 404 for an account the scenario does not serve
    return account_id


_ID_PLACES = (("vid", "the path (/visitors/{vid})"), ("sid", "the query string (?sid=)"))


def _ids_in_body(body: dict[str, Any]) -> list[FieldError]:
    """A 400 problem for each session id found in a body: they travel in the URL only."""
    return [
        FieldError(
            name, f"{name} goes in {where}, not in the body; allowed: no {name} key; got {name!r}"
        )
        for name, where in _ID_PLACES
        if name in body
    ]


def _refuse_ids_in_body(body: dict[str, Any]) -> None:
    problems = _ids_in_body(body)
    if problems:
        raise _request_error(RequestError(problems))


async def _json_body(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    check_content_type(request, body)
    return parse_json_object(body)


def _app_type_missing() -> FieldError:
    allowed = ", ".join(APP_TYPES)
    return FieldError(
        "appType",
        "required field missing (the REST API needs it; getEngagement sends "
        f"{APP_TYPES[0]!r} when the page gives none); allowed: {allowed}; got nothing",
    )


async def visitor(request: Request) -> Response:
    """``/api/account/{accountId}/app/engagement/visitors[/{vid}]``: ``POST`` creates a session
    (the check), ``PUT`` (or ``POST`` with ``X-HTTP-Method-Override: PUT``) updates one."""
    account_id = _account(request)
    _check_version(request)
    override = method_override(request.scope["headers"]) if request.method == "POST" else None
    if override not in (None, "POST", "PUT"):
        raise ApiError(
            400,
            f"{METHOD_OVERRIDE_HEADER} may only say PUT (an update session); got {override!r}",
            field=METHOD_OVERRIDE_HEADER,
        )
    if request.method == "PUT" or override == "PUT":
        if "visitor_id" not in request.path_params:
            raise ApiError(
                405,
                f"method PUT ({METHOD_OVERRIDE_HEADER}) not allowed on {request.url.path}; an "
                "update session needs the visitor id in the path (/visitors/{vid}); allowed: POST",
                internal_code=18,
                headers={"Allow": "POST"},
            )
        return await _update_session(request, account_id, via="POST" if override else "PUT")
    return await _create_session(request, account_id)


async def _create_session(request: Request, account_id: str) -> JSONResponse:
    vid = request.path_params.get("visitor_id")
    sid = _single_query(request, "sid")
    body = await _json_body(request)
    problems = _ids_in_body(body)
    params = {key: value for key, value in body.items() if key not in ("vid", "sid")}
    for name, value in (("vid", vid), ("sid", sid)):
        if value is not None:
            params[name] = value
    normalised: dict[str, Any] = {}
    try:
        normalised = validate_request(params)
    except RequestError as exc:
        problems.extend(exc.errors)
    if body.get("appType") is None:
        problems.append(_app_type_missing())
    if problems:
        raise _request_error(RequestError(problems))
    model: Model = request.app.state.model
    answer = model.check(
        account_id,
        normalised.get("vid"),
        normalised.get("sid"),
        normalised.get("consumerSections", []),
        normalised.get("engagementAttributes", []),
    )
    return JSONResponse(answer)


async def _update_session(request: Request, account_id: str, *, via: str) -> Response:
    vid = request.path_params["visitor_id"]
    sid = _single_query(request, "sid")
    problems = validate_session_ids(vid, sid)
    if sid is None:
        problems.append(
            FieldError(
                "sid",
                "required field missing: an update session needs the session id of the check "
                "it belongs to (?sid=); allowed: 1 to 64 characters of A-Z a-z 0-9 _ - .; "
                "got nothing",
                401,
            )
        )
    if problems:
        raise _request_error(RequestError(problems))
    model: Model = request.app.state.model
    record = model.live_session(account_id, vid, sid)
    if record is None:
        raise ApiError(
            401,
            f"no live session for this vid and sid in account {account_id!r} (unknown, expired, "
            "or of another visitor); run a create session first",
            internal_code=39,
            field="sid",
        )
    body = await _json_body(request)
    _refuse_ids_in_body(body)
    try:
        update = validate_update(body)
    except RequestError as exc:
        raise _request_error(exc) from None
    model.update(
        record,
        update["pageId"],
        update["impAttributes"],
        update["engagementAttributes"],
        method="POST+override" if via == "POST" else "PUT",
    )
    return Response(status_code=200)


def _own_address(request: Request) -> str:
    """The host:port this request reached: its Host header, or the server's own address."""
    host = request.headers.get("host", "")
    if _HOST.fullmatch(host):
        return host
    server = request.scope.get("server")
    if server and server[0]:
        name = f"[{server[0]}]" if ":" in server[0] else server[0]
        return f"{name}:{server[1]}" if server[1] else name
    return "127.0.0.1"


async def domain(request: Request) -> JSONResponse:
    """``GET /api/account/{accountId}/service/{service}/baseURI.json?version=1.0``: the Domain
    API look-up; for any service name the base is this server's own address."""
    account_id = _account(request)
    _check_version(request, "version", DOMAIN_API_VERSION)
    service = request.path_params["service"]
    if not SERVICE_NAME.fullmatch(service):
        shown = service if len(service) <= 60 else service[:57] + "..."
        raise ApiError(
            404,
            f"unknown service {shown!r}; service names are 1 to 64 characters of "
            "A-Z a-z 0-9 _ - . (this emulator answers for any such name, e.g. msdkgw)",
            field="service",
        )
    return JSONResponse(
        {"service": service, "account": account_id, "baseURI": _own_address(request)}
    )


async def openapi(request: Request) -> JSONResponse:
    """``GET /openapi.json``: the OpenAPI 3.1 document of the public routes."""
    return JSONResponse(request.app.state.openapi)


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error_response(request, exc)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path if len(request.url.path) <= 200 else request.url.path[:197] + "..."
    if exc.detail != HTTPStatus(exc.status_code).phrase:
        message = str(exc.detail)
    elif exc.status_code == 404:
        message = f"not found: {request.method} {path}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} not allowed on {path}; allowed: {allowed}"
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
        return clock.time  # an engine Clock (engage_web.driver.clock)
    if callable(clock):
        return clock
    raise TypeError(
        f"clock must be a callable returning epoch seconds or have .time(); got {clock!r}"
    )


def _route_path(template: str) -> str:
    """A wire path template in Starlette's syntax (the same ``{name}`` placeholders)."""
    return template.format(
        account_id="{account_id}", visitor_id="{visitor_id}", service="{service}"
    )


def create_app(
    scenario: Scenario | str | Path | None = None,
    *,
    cors_origins: Iterable[str] = (),
    clock: Callable[[], float] | Any = None,
    static_dir: str | Path | None = None,
    body_timeout: float = BODY_TIMEOUT,
) -> Starlette:
    """Build the emulator app.

    ``scenario``: a :class:`Scenario`, a path to a scenario TOML file, or None for the built-in
    default. ``cors_origins``: origins allowed to call it cross-origin (``"*"`` for any).
    ``clock``: wall-clock seconds (a callable like ``time.time``, or an object with ``.time()``
    such as ``engage_web.driver.clock.AsyncioClock``); tests pass a fake to expire sessions without
    waiting. ``static_dir``: also serve this directory at ``/`` (emulator routes win).
    ``body_timeout``: seconds a request body may take to arrive (then 408).

    Example::

        app = create_app(cors_origins=["http://localhost:5173"])
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    model = Model(scenario, _wall_clock(clock))
    faults = FaultQueue()
    install_drop_log_filter()
    routes: list[Any] = [
        Route(_route_path(DOMAIN_PATH), domain, methods=["GET"]),
        Route(_route_path(VISITORS_PATH), visitor, methods=["POST"]),
        Route(_route_path(VISITOR_PATH), visitor, methods=["POST", "PUT"]),
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
    app.state.body_timeout = body_timeout
    app.state.openapi = openapi_document()
    return app
