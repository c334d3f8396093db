"""The committed OpenAPI document matches the validator, the wire and the real answers."""

from __future__ import annotations

import json

import pytest

from engage_web.core.sde import APP_TYPES, IMPRESSION_TYPES, SDE_TYPES
from engage_web.core.validation import (
    REQUEST_KEYS,
    UPDATE_KEYS,
    request_json_schema,
    update_json_schema,
)
from engage_web.core.wire import BODY_KEYS, DOMAIN_PATH, VISITOR_PATH, VISITORS_PATH
from engage_web.cpython.emulator.openapi import (
    OPENAPI_PATH,
    ROUTE_STATUSES,
    build_openapi,
    create_session_schema,
    render,
)
from tests.emulator.conftest import DOMAIN, VISITORS, Emulator, impression_of, query, visitor_path

DOC = json.loads(OPENAPI_PATH.read_text("utf-8"))
SCHEMAS = DOC["components"]["schemas"]
JSON = {"content-type": "application/json"}


def doc_path(template: str) -> str:
    return template.format(account_id="{accountId}", visitor_id="{visitorId}", service="{service}")


def test_the_committed_document_is_up_to_date():
    """openapi.json is exactly what the generator makes now (run the generator if this fails)."""
    assert OPENAPI_PATH.read_text("utf-8") == render()


def test_the_document_is_served(client):
    """GET /openapi.json serves the committed document."""
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.json() == DOC == build_openapi()


def test_the_documented_paths_are_the_wires_and_nothing_else():
    """The document describes exactly the wire's three paths, and nothing else."""
    assert set(DOC["paths"]) == {doc_path(p) for p in (DOMAIN_PATH, VISITORS_PATH, VISITOR_PATH)}
    assert set(DOC["paths"][doc_path(VISITOR_PATH)]) == {"post", "put"}


def test_the_bodies_are_the_validators():
    """The create body is the validator's request schema without vid/sid and with appType
    required; the update body is the validator's update schema."""
    create = SCHEMAS["CreateSessionRequest"]
    assert create == create_session_schema()
    assert list(create["properties"]) == list(BODY_KEYS)
    assert set(create["properties"]) == set(REQUEST_KEYS) - {"vid", "sid"}
    assert create["required"] == ["appType"]
    assert create["properties"]["appType"] == {"enum": list(APP_TYPES)}
    reference = request_json_schema()["properties"]
    for key in BODY_KEYS[1:]:
        assert create["properties"][key] == reference[key]
    update = {k: v for k, v in SCHEMAS["UpdateSessionRequest"].items() if k != "description"}
    assert update == update_json_schema()
    assert list(update["properties"]) == list(UPDATE_KEYS)


def test_sde_types_match_the_catalogue():
    """The check documents every SDE type but impressions; an update splits them in two."""
    create = SCHEMAS["CreateSessionRequest"]["properties"]["engagementAttributes"]["anyOf"][0]
    assert create["items"]["x-sde-types"] == [t for t in SDE_TYPES if t not in IMPRESSION_TYPES]
    update = SCHEMAS["UpdateSessionRequest"]["properties"]
    imp = update["impAttributes"]["anyOf"][0]["items"]["x-sde-types"]
    other = update["engagementAttributes"]["anyOf"][0]["items"]["x-sde-types"]
    assert imp == [t for t in SDE_TYPES if t in IMPRESSION_TYPES]
    assert other == [t for t in SDE_TYPES if t not in IMPRESSION_TYPES]


def test_answers_have_the_documented_keys(emulator: Emulator):
    """Real answers carry the documented properties, required ones included."""
    answer = emulator.warm()
    assert answer["status"] == "Available"
    response = SCHEMAS["CreateSessionResponse"]
    assert set(response["required"]) <= set(answer) <= set(response["properties"])
    details = SCHEMAS["EngagementDetails"]
    assert (
        set(details["required"]) <= set(answer["engagementDetails"]) <= set(details["properties"])
    )
    domain = emulator.client.get(DOMAIN + "?version=1.0").json()
    assert set(domain) == set(SCHEMAS["DomainAnswer"]["required"])
    error = emulator.client.post(VISITORS).json()
    assert set(SCHEMAS["Error"]["required"]) <= set(error) <= set(SCHEMAS["Error"]["properties"])


def _common_failures(emulator: Emulator, call, seen: set[int]) -> None:
    """413, 415 and the injected 429/500/503 of a body-taking route."""
    seen.add(call(content=b" " * 70_000, headers=JSON).status_code)  # 413
    seen.add(call(content=b"x", headers={"content-type": "text/plain"}).status_code)  # 415
    for status in (429, 500, 503):
        emulator.fault(status=status)
        seen.add(call(json={"appType": "EXTERNAL"}).status_code)


def _new_visitor_statuses(emulator: Emulator) -> set[int]:
    c = emulator.client
    path = VISITORS

    def call(query_string: str = query(), **kw):
        return c.post(path + query_string, **kw)

    seen = {call(json={"appType": "EXTERNAL"}).status_code}  # 200
    seen.add(call(json={"appType": "X"}).status_code)  # 400
    seen.add(call(query("s1"), json={"appType": "EXTERNAL"}).status_code)  # 401: sid, no vid
    seen.add(c.post("/api/account/nope/app/engagement/visitors" + query(), json={}).status_code)
    _common_failures(emulator, call, seen)
    emulator.client.post("/_emulator/accounts/demo/cold", json={"checks": 1})
    seen.add(call(json={"appType": "EXTERNAL"}).status_code)  # 500: cold
    return seen


def _known_visitor_statuses(emulator: Emulator) -> set[int]:
    c = emulator.client

    def call(vid: str = "v1", **kw):
        return c.post(visitor_path(vid) + query("s1"), **kw)

    seen = {call(json={"appType": "EXTERNAL"}).status_code}  # 200
    seen.add(call(json={"appType": "X"}).status_code)  # 400
    seen.add(call("bad!", json={"appType": "EXTERNAL"}).status_code)  # 401
    seen.add(c.post(visitor_path("v1", "nope") + query(), json={}).status_code)  # 404
    _common_failures(emulator, call, seen)
    return seen


def _update_statuses(emulator: Emulator) -> set[int]:
    c = emulator.client
    answer = emulator.warm()

    def call(sid: str = answer["sessionId"], **kw):
        return c.put(visitor_path(answer["visitorId"]) + query(sid), **kw)

    imp = [impression_of(answer)]
    seen = {call(json={"pageId": answer["pageId"], "impAttributes": imp}).status_code}  # 200
    seen.add(call(json={"pageId": answer["pageId"], "impAttributes": [{}]}).status_code)  # 400
    seen.add(call("other", json={"pageId": answer["pageId"]}).status_code)  # 401
    seen.add(c.put(visitor_path("v", "nope") + query("s"), json={}).status_code)  # 404
    _common_failures(emulator, call, seen)
    return seen


def _domain_statuses(emulator: Emulator) -> set[int]:
    c = emulator.client
    seen = {c.get(DOMAIN + "?version=1.0").status_code}
    seen.add(c.get(DOMAIN + "?version=2").status_code)
    seen.add(c.get(DOMAIN.replace("demo", "nope") + "?version=1.0").status_code)
    for status in (429, 500, 503):
        emulator.fault(status=status, route="domain")
        seen.add(c.get(DOMAIN + "?version=1.0").status_code)
    return seen


@pytest.mark.parametrize(
    ("operation", "observe"),
    [
        (("post", VISITORS_PATH), _new_visitor_statuses),
        (("post", VISITOR_PATH), _known_visitor_statuses),
        (("put", VISITOR_PATH), _update_statuses),
        (("get", DOMAIN_PATH), _domain_statuses),
    ],
)
def test_documented_statuses_are_the_ones_answered(emulator: Emulator, operation, observe):
    """Each route documents exactly the statuses the emulator answers on it."""
    method, path = operation
    documented = DOC["paths"][doc_path(path)][method]["responses"]
    assert {int(s) for s in documented} == set(ROUTE_STATUSES[operation]) == observe(emulator)


def test_throttling_statuses_document_retry_after():
    """429 and 503 document a required Retry-After header."""
    for path_item in DOC["paths"].values():
        for operation in path_item.values():
            for status in ("429", "503"):
                assert operation["responses"][status]["headers"]["Retry-After"]["required"]


def test_the_update_answer_is_documented_as_empty():
    """An update's 200 has no body, and the document says so (no content)."""
    ok = DOC["paths"][doc_path(VISITOR_PATH)]["put"]["responses"]["200"]
    assert "content" not in ok
    assert "empty" in ok["description"]
