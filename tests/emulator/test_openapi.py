"""The committed OpenAPI document matches the validator, the catalogue and the real answers."""

from __future__ import annotations

import json

import pytest

from engage_web.emulator.openapi import OPENAPI_PATH, ROUTE_STATUSES, build_openapi, render
from engage_web.errors import RequestError
from engage_web.sde import (
    APP_DETAILS,
    APP_TYPES,
    DEVICE_FAMILIES,
    IMPRESSION_TYPES,
    OPERATING_SYSTEMS,
    SDE_TYPES,
)
from engage_web.validation import REPORT_KEYS, REQUEST_KEYS, validate_report
from engage_web.wire import BODY_KEYS, ENGAGEMENT_PATH, REPORT_PATH
from tests.emulator.conftest import Emulator, query

DOC = json.loads(OPENAPI_PATH.read_text("utf-8"))
SCHEMAS = DOC["components"]["schemas"]
IMPRESSION = {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": 44}


def test_the_committed_document_is_up_to_date():
    """openapi.json is exactly what the generator makes now (run the generator if this fails)."""
    assert OPENAPI_PATH.read_text("utf-8") == render()


def test_the_document_is_served(client):
    """GET /openapi.json serves the committed document."""
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.json() == DOC == build_openapi()


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        (("EngagementRequest", "appType", "enum"), list(APP_TYPES)),
        (("AppDetails", "os", "enum"), list(OPERATING_SYSTEMS)),
        (("AppDetails", "deviceFamily", "enum"), list(DEVICE_FAMILIES)),
    ],
)
def test_enums_match_the_catalogue(pointer, expected):
    """Every enum in the document lists exactly the values the validator accepts."""
    schema, prop, key = pointer
    assert SCHEMAS[schema]["properties"][prop][key] == expected


def test_request_shapes_match_the_validator():
    """The documented body keys are the validator's (vid/sid travel in the query)."""
    engagement = SCHEMAS["EngagementRequest"]
    assert list(engagement["properties"]) == list(BODY_KEYS)
    assert set(engagement["properties"]) == set(REQUEST_KEYS) - {"vid", "sid"}
    assert engagement["additionalProperties"] is False
    assert list(SCHEMAS["AppDetails"]["properties"]) == list(APP_DETAILS.fields)
    report = SCHEMAS["ReportRequest"]
    assert list(report["properties"]) == list(REPORT_KEYS)
    with pytest.raises(RequestError) as missing:
        validate_report({})
    assert report["required"] == [missing.value.field]


def test_sde_types_match_the_catalogue():
    """The check documents every SDE type but impressions; the report documents them all."""
    assert SCHEMAS["EngagementSde"]["x-sde-types"] == [
        t for t in SDE_TYPES if t not in IMPRESSION_TYPES
    ]
    assert SCHEMAS["ReportSde"]["x-sde-types"] == list(SDE_TYPES)
    assert [s["title"] for s in SCHEMAS["ReportSde"]["oneOf"]] == list(SDE_TYPES)


def test_answers_have_the_documented_keys(emulator: Emulator):
    """Real answers carry the documented properties, required ones included."""
    first = emulator.check().json()
    answer = emulator.check(vid=first["visitorId"], sid=first["sessionId"]).json()
    assert answer["status"] == "Available"
    response = SCHEMAS["EngagementResponse"]
    assert set(response["required"]) <= set(answer) <= set(response["properties"])
    details = SCHEMAS["EngagementDetails"]
    assert set(answer["engagementDetails"]) == set(details["properties"])
    report = emulator.report([IMPRESSION], first["visitorId"], first["sessionId"]).json()
    assert set(report) == set(SCHEMAS["ReportResponse"]["required"])
    error = emulator.client.post("/api/account/demo/app/engagement").json()
    assert set(SCHEMAS["Error"]["required"]) <= set(error) <= set(SCHEMAS["Error"]["properties"])


def _engagement_statuses(emulator: Emulator) -> set[int]:
    seen = set()
    c = emulator.client
    seen.add(emulator.check().status_code)  # 201
    ids = emulator.check().json()
    seen.add(emulator.check(vid=ids["visitorId"], sid=ids["sessionId"]).status_code)  # 200
    seen.add(emulator.check({"appType": "X"}).status_code)  # 400
    seen.add(emulator.check(sid="s1").status_code)  # 401
    seen.add(c.post("/api/account/nope/app/engagement" + query(), json={}).status_code)  # 404
    seen.add(
        c.post(
            ENGAGEMENT_PATH.format(account_id="demo") + query(),
            content=b" " * 70_000,
            headers={"content-type": "application/json"},
        ).status_code
    )  # 413
    seen.add(
        c.post(
            ENGAGEMENT_PATH.format(account_id="demo") + query(),
            content=b"x",
            headers={"content-type": "text/plain"},
        ).status_code
    )  # 415
    for status in (429, 500, 503):
        c.post("/_emulator/faults", json={"status": status})
        seen.add(emulator.check().status_code)
    return seen


def _report_statuses(emulator: Emulator) -> set[int]:
    seen = set()
    c = emulator.client
    path = REPORT_PATH.format(account_id="demo")
    ids = emulator.check().json()
    vid, sid = ids["visitorId"], ids["sessionId"]
    emulator.check(vid=vid, sid=sid)  # offered the engagement the impressions name
    seen.add(emulator.report([IMPRESSION], vid, sid).status_code)  # 200
    seen.add(emulator.report([{"type": "nope"}], vid, sid).status_code)  # 400
    seen.add(emulator.report([IMPRESSION], vid, "other").status_code)  # 401
    seen.add(c.put("/api/account/nope/app/report" + query(vid, sid), json={}).status_code)
    seen.add(
        c.put(
            path + query(vid, sid),
            content=b" " * 70_000,
            headers={"content-type": "application/json"},
        ).status_code
    )  # 413
    seen.add(
        c.put(
            path + query(vid, sid), content=b"x", headers={"content-type": "text/plain"}
        ).status_code
    )  # 415
    for status in (429, 500, 503):
        c.post("/_emulator/faults", json={"status": status})
        seen.add(emulator.report([IMPRESSION], vid, sid).status_code)
    return seen


@pytest.mark.parametrize(
    ("operation", "observe"),
    [(("post", ENGAGEMENT_PATH), _engagement_statuses), (("put", REPORT_PATH), _report_statuses)],
)
def test_documented_statuses_are_the_ones_answered(emulator: Emulator, operation, observe):
    """Each route documents exactly the statuses the emulator answers on it."""
    method, path = operation
    documented = DOC["paths"][path.replace("{account_id}", "{accountId}")][method]["responses"]
    assert {int(s) for s in documented} == set(ROUTE_STATUSES[operation]) == observe(emulator)


def test_throttling_statuses_document_retry_after():
    """429 and 503 document a required Retry-After header."""
    for path_item in DOC["paths"].values():
        for operation in path_item.values():
            for status in ("429", "503"):
                assert operation["responses"][status]["headers"]["Retry-After"]["required"]
