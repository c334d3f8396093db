"""The OpenAPI 3.1 document of the emulator's public routes, generated from the catalogue.

``openapi.json`` (next to this module) is the committed output, served at ``GET /openapi.json``.
It is generated, never edited by hand, from the same constants the validator uses
(``engage_web.sde``, ``engage_web.validation``, ``engage_web.wire``), so enums, required fields
and SDE types cannot drift; ``tests/emulator/test_openapi.py`` fails when the file is stale and
checks each route's documented status codes against the ones the emulator really answers.
Regenerate after changing the catalogue or a route::

    python3 -m engage_web.emulator.openapi          # rewrites engage_web/emulator/openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from engage_web.emulator.app import MAX_LISTED_ERRORS
from engage_web.emulator.bodies import MAX_BODY_BYTES
from engage_web.emulator.faults import MODES
from engage_web.sde import (
    APP_DETAILS,
    APP_TYPES,
    DEVICE_FAMILIES,
    IMPRESSION_TYPES,
    MAX_STRING_LENGTH,
    OPERATING_SYSTEMS,
    SDE_TYPES,
    sde_json_schema,
)
from engage_web.validation import (
    ACCOUNT_ID_PATTERN,
    MAX_ATTRIBUTES,
    MAX_SECTION_LENGTH,
    MAX_SECTIONS,
    SESSION_ID_PATTERN,
)
from engage_web.wire import API_VERSION, ENGAGEMENT_PATH, REPORT_PATH

__all__ = ["OPENAPI_PATH", "ROUTE_STATUSES", "build_openapi", "main"]

OPENAPI_PATH = Path(__file__).with_name("openapi.json")

#: The statuses each public operation can answer (405 for other methods is route-wide).
ROUTE_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", ENGAGEMENT_PATH): (200, 201, 400, 401, 404, 413, 415, 429, 500, 503),
    ("put", REPORT_PATH): (200, 400, 401, 404, 413, 415, 429, 500, 503),
}

_STATUS_TEXT = {
    200: "OK",
    201: "Created: a new visitor session was started; its ids are in the body",
    400: "Invalid request: validation (internalCode 5) or API version (internalCode 33)",
    401: "Visitor session problem: vid (internalCode 37) or sid (internalCode 39)",
    404: "Unknown account (internalCode 20)",
    413: f"Body over {MAX_BODY_BYTES} bytes (64 KiB)",
    415: "Body present but not application/json (UTF-8)",
    429: "Too many requests (injected fault); retry after Retry-After seconds",
    500: "Internal error (internalCode 18)",
    503: "Temporarily unavailable (injected fault); retry after Retry-After seconds",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _id_schema(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": f"^{SESSION_ID_PATTERN.pattern}$",
        "description": description,
    }


def _app_details() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "appVersion": {"type": "string", "description": "the host application's version"},
        "deviceFamily": {"enum": list(DEVICE_FAMILIES)},
        "ipAddress": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        "os": {"enum": list(OPERATING_SYSTEMS)},
        "osVersion": {"type": "string"},
    }
    missing = set(APP_DETAILS.fields) ^ set(properties)
    if missing:  # the catalogue changed: this generator must follow it
        raise RuntimeError(f"appDetails fields out of step with engage_web.sde: {sorted(missing)}")
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _schemas() -> dict[str, Any]:
    check_types = [t for t in SDE_TYPES if t not in IMPRESSION_TYPES]
    json_string = {"type": "string", "contentMediaType": "application/json"}
    return {
        "AppDetails": _app_details(),
        "EngagementSde": sde_json_schema(check_types),
        "ReportSde": sde_json_schema(),
        "EngagementRequest": {
            "type": "object",
            "description": "The normalised request object of getEngagement (vid/sid go in the "
            "query). Impression events are refused here: send them with the report.",
            "properties": {
                "appType": {"enum": list(APP_TYPES), "default": APP_TYPES[0]},
                "appDetails": {
                    "oneOf": [_ref("AppDetails"), {**json_string, "description": "JSON object"}]
                },
                "consumerSections": {
                    "oneOf": [
                        {
                            "type": "array",
                            "maxItems": MAX_SECTIONS,
                            "items": {"type": "string", "maxLength": MAX_SECTION_LENGTH},
                        },
                        {
                            "type": "string",
                            "maxLength": MAX_STRING_LENGTH,
                            "description": "comma-delimited sections",
                        },
                    ]
                },
                "engagementAttributes": {
                    "oneOf": [
                        {
                            "type": "array",
                            "maxItems": MAX_ATTRIBUTES,
                            "items": _ref("EngagementSde"),
                        },
                        {**json_string, "description": "JSON array of SDEs"},
                    ]
                },
            },
            "additionalProperties": False,
        },
        "ReportRequest": {
            "type": "object",
            "properties": {
                "engagementAttributes": {
                    "oneOf": [
                        {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_ATTRIBUTES,
                            "items": _ref("ReportSde"),
                        },
                        {**json_string, "description": "JSON array of SDEs"},
                    ]
                },
                "pageId": _id_schema("the pageId of the engagement answer"),
            },
            "required": ["engagementAttributes"],
            "additionalProperties": False,
        },
        "EngagementDetails": {
            "type": "object",
            "properties": {
                "campaignId": {"type": "string"},
                "engagementId": {"type": "string"},
                "contextId": {"type": "string"},
                "windowId": {"type": "string"},
                "language": {"type": "string", "examples": ["en-US"]},
                "engagementRevision": {"type": "integer"},
                "validForSeconds": {"type": "integer", "minimum": 1},
                "skillId": {"type": "integer"},
                "skillName": {"type": "string"},
            },
            "required": [
                "campaignId",
                "engagementId",
                "contextId",
                "windowId",
                "language",
                "engagementRevision",
                "validForSeconds",
            ],
        },
        "EngagementResponse": {
            "type": "object",
            "description": "The seed's response object; clients must tolerate unknown keys.",
            "properties": {
                "status": {"enum": ["Available", "NotAvailable"]},
                "sessionId": _id_schema("the visit"),
                "visitorId": _id_schema("the device"),
                "pageId": {"type": "string", "description": "fresh for every check"},
                "engagementDetails": _ref("EngagementDetails"),
            },
            "required": ["status", "sessionId", "visitorId", "pageId"],
        },
        "ReportResponse": {
            "type": "object",
            "properties": {
                "sessionId": _id_schema("the visit"),
                "visitorId": _id_schema("the device"),
                "pageId": {"type": "string"},
                "recorded": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "how many SDEs this report recorded",
                },
            },
            "required": ["sessionId", "visitorId", "pageId", "recorded"],
        },
        "Error": {
            "type": "object",
            "properties": {
                "time": {"type": "integer", "description": "ms since the Unix epoch"},
                "message": {"type": "string"},
                "internalCode": {
                    "type": "integer",
                    "description": "5 invalid data, 33 illegal version, 37 vid, 39 sid, "
                    "20 unknown account, 18 internal error or unknown route, 0 none",
                },
                "field": {
                    "type": ["string", "null"],
                    "description": "dotted path, e.g. "
                    "appDetails.os; null when no single field is at fault",
                },
                "errorCount": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "validation errors only: how many problems were found",
                },
                "errors": {
                    "type": "array",
                    "maxItems": MAX_LISTED_ERRORS,
                    "description": "validation errors only: the problems found (at most "
                    f"{MAX_LISTED_ERRORS}; errorCount has the total)",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "status": {"enum": [400, 401]},
                        },
                        "required": ["field", "message", "status"],
                    },
                },
            },
            "required": ["time", "message", "internalCode", "field"],
        },
    }


def _responses(method: str, path: str, success: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in ROUTE_STATUSES[(method, path)]:
        schema = _ref(success) if status < 300 else _ref("Error")
        text = _STATUS_TEXT[status]
        if status == 200 and path == ENGAGEMENT_PATH:
            text = "OK: the given vid/sid pair is a live session"
        entry: dict[str, Any] = {
            "description": text,
            "headers": {"Cache-Control": {"schema": {"const": "no-store"}}},
            "content": {"application/json": {"schema": schema}},
        }
        if status in (429, 503):
            entry["headers"]["Retry-After"] = {
                "required": True,
                "description": "seconds to wait (exposed to cross-origin pages)",
                "schema": {"type": "integer", "minimum": 0},
            }
        out[str(status)] = entry
    return out


def build_openapi() -> dict[str, Any]:
    """The document as a dict (what ``openapi.json`` must hold).

    Example::

        >>> build_openapi()["openapi"]
        '3.1.0'
    """
    account = {
        "name": "accountId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{ACCOUNT_ID_PATTERN.pattern}$"},
    }
    version = {"name": "v", "in": "query", "required": True, "schema": {"enum": [API_VERSION]}}

    def session(name: str, required: bool, text: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": required,
            "description": text,
            "schema": _id_schema(text),
        }

    engagement_path = ENGAGEMENT_PATH.replace("{account_id}", "{accountId}")
    report_path = REPORT_PATH.replace("{account_id}", "{accountId}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "engage-web engagement endpoint (local emulator)",
            "version": API_VERSION,
            "description": (
                "A LivePerson-style getEngagement eligibility check. Sessions: 201 starts a new "
                "session (no, unknown or expired ids; vid without sid keeps the visitor), 200 "
                "continues the live session named by vid and sid; sessions expire after 30 "
                "minutes idle and 6 hours at most. Bodies: at most 64 KiB of UTF-8 JSON; invalid "
                "UTF-8, duplicate keys, NaN/Infinity, lone surrogate escapes, integers of over "
                "4300 digits and non-object bodies answer 400; an empty body counts as {}. Other "
                "methods answer 405 with Allow. Every answer is Cache-Control: no-store. Control "
                f"routes under /_emulator/ (skills, faults with modes {', '.join(MODES)}, "
                "sessions, state, requests, reset) are for local use and not part of this "
                "document."
            ),
        },
        "paths": {
            engagement_path: {
                "post": {
                    "operationId": "getEngagement",
                    "summary": "Engagement eligibility and availability check",
                    "parameters": [
                        account,
                        version,
                        session("vid", False, "visitor id (from an earlier answer)"),
                        session("sid", False, "session id; needs vid"),
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": _ref("EngagementRequest")}},
                    },
                    "responses": _responses("post", ENGAGEMENT_PATH, "EngagementResponse"),
                }
            },
            report_path: {
                "put": {
                    "operationId": "report",
                    "summary": "Add SDEs (impression events included) to a live session",
                    "description": (
                        "Needs the vid and sid of a live session (else 401). Impression events "
                        "must name (campaign, engId) an engagement this session was offered, "
                        "else 400 and nothing is recorded. Answers how many SDEs were recorded."
                    ),
                    "parameters": [
                        account,
                        version,
                        session("vid", True, "visitor id of a live session"),
                        session("sid", True, "session id of a live session"),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ReportRequest")}},
                    },
                    "responses": _responses("put", REPORT_PATH, "ReportResponse"),
                }
            },
        },
        "components": {"schemas": _schemas()},
    }


def render() -> str:
    """The exact text of ``openapi.json``."""
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``openapi.json`` (``--check``: only report whether it is up to date)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    current = OPENAPI_PATH.read_text("utf-8") if OPENAPI_PATH.exists() else ""
    if "--check" in args:
        if current != text:
            print(f"{OPENAPI_PATH} is stale: run python3 -m engage_web.emulator.openapi")
            return 1
        return 0
    OPENAPI_PATH.write_text(text, "utf-8")
    print(f"wrote {OPENAPI_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
