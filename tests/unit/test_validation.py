"""Request validation: every field and rule, passing and failing, as tables.

Failing cases assert the status, the field path, and that the message names the allowed values
and what was received (the contract's error style).
"""

from __future__ import annotations

import json
import math

import pytest

from engage_web.core.errors import FieldError, RequestError
from engage_web.core.sde import (
    APP_DETAILS,
    DEVICE_FAMILIES,
    GENDERS,
    IMPRESSION_TYPES,
    MAX_LIST_ITEMS,
    MAX_STRING_LENGTH,
    OPERATING_SYSTEMS,
    PHONE_TYPES,
    SDE_TYPES,
    Field,
    ObjectSpec,
    sde_json_schema,
)
from engage_web.core.validation import (
    MAX_ATTRIBUTES,
    MAX_SECTION_LENGTH,
    MAX_SECTIONS,
    REQUEST_KEYS,
    UPDATE_KEYS,
    request_json_schema,
    update_json_schema,
    validate_account_id,
    validate_report,
    validate_request,
    validate_session_ids,
    validate_update,
)
from engage_web.cpython.emulator.seed import seed_request

# The seed's example request (getEngagement.txt), verbatim.
SEED_REQUEST = seed_request(with_ids=True)


def problem(validate, value) -> RequestError:
    """The RequestError ``validate(value)`` raises (failing the test if it returns)."""
    with pytest.raises(RequestError) as info:
        validate(value)
    return info.value


def assert_problem(
    err: RequestError, status: int, field: str, allowed: str, got: str
) -> FieldError:
    """``err`` has ``status`` and a problem at ``field`` naming ``allowed`` and ``got``."""
    assert err.status == status, err.to_dict()
    matching = [e for e in err.errors if e.field == field]
    assert matching, f"no problem at {field!r}: {[e.field for e in err.errors]}"
    message = matching[0].message
    assert "allowed: " in message, message
    assert allowed in message.split("allowed: ", 1)[1], message
    assert f"got {got}" in message, message
    return matching[0]


def sde(sde_type: str, **payload: object) -> dict[str, object]:
    """An SDE of ``sde_type`` with ``payload`` placed where the catalogue keeps it."""
    wrapper = SDE_TYPES[sde_type].wrapper
    return (
        {"type": sde_type, **payload} if wrapper is None else {"type": sde_type, wrapper: payload}
    )


def sde_path(sde_type: str, index: int = 0) -> str:
    wrapper = SDE_TYPES[sde_type].wrapper
    return f"engagementAttributes[{index}]" + (f".{wrapper}" if wrapper else "")


# --- the seed -------------------------------------------------------------------------------------


def test_the_seed_example_validates_and_normalises():
    """The seed's example request is valid; it comes back equal, as a fresh object."""
    result = validate_request(SEED_REQUEST)
    assert result == SEED_REQUEST
    assert result is not SEED_REQUEST
    assert result["engagementAttributes"][0] is not SEED_REQUEST["engagementAttributes"][0]
    assert list(result) == [
        "appType",
        "appDetails",
        "consumerSections",
        "engagementAttributes",
        "vid",
        "sid",
    ]


def test_the_output_is_a_fresh_copy():
    """Changing the result never changes the caller's request."""
    request = json.loads(json.dumps(SEED_REQUEST))
    result = validate_request(request)
    result["appDetails"]["os"] = "LINUX"
    result["consumerSections"].append("x")
    result["engagementAttributes"][0]["personal"]["contacts"][0]["email"] = "y"
    assert request == SEED_REQUEST


# --- passing cases: input -> (key, expected normalised value) -------------------------------------

PASSING = [
    ("empty request", None, "appType", "EXTERNAL"),
    ("empty object", {}, "appType", "EXTERNAL"),
    ("appType given", {"appType": "EXTERNAL"}, "appType", "EXTERNAL"),
    ("appType null is the default", {"appType": None}, "appType", "EXTERNAL"),
    ("request as JSON text", '{"vid": "v1"}', "vid", "v1"),
    ("appDetails as object", {"appDetails": {"os": "IOS"}}, "appDetails", {"os": "IOS"}),
    (
        "appDetails as JSON text",
        {"appDetails": '{"appVersion": "2.0", "osVersion": "17"}'},
        "appDetails",
        {"appVersion": "2.0", "osVersion": "17"},
    ),
    ("appDetails empty", {"appDetails": {}}, "appDetails", {}),
    ("appVersion", {"appDetails": {"appVersion": "1.0"}}, "appDetails", {"appVersion": "1.0"}),
    ("osVersion", {"appDetails": {"osVersion": "2.4"}}, "appDetails", {"osVersion": "2.4"}),
    ("ipv4", {"appDetails": {"ipAddress": "10.0.0.1"}}, "appDetails", {"ipAddress": "10.0.0.1"}),
    (
        "ipv6",
        {"appDetails": {"ipAddress": "2001:db8::1"}},
        "appDetails",
        {"ipAddress": "2001:db8::1"},
    ),
    ("sections list", {"consumerSections": ["a", "b"]}, "consumerSections", ["a", "b"]),
    (
        "sections comma string, trimmed, empties dropped",
        {"consumerSections": " Support , English,, "},
        "consumerSections",
        ["Support", "English"],
    ),
    (
        "sections duplicates dropped, first kept",
        {"consumerSections": ["b", "a", " b", "a"]},
        "consumerSections",
        ["b", "a"],
    ),
    (
        "sections at the count limit",
        {"consumerSections": [f"s{i}" for i in range(MAX_SECTIONS)]},
        "consumerSections",
        [f"s{i}" for i in range(MAX_SECTIONS)],
    ),
    (
        "section at the length limit",
        {"consumerSections": ["x" * MAX_SECTION_LENGTH]},
        "consumerSections",
        ["x" * MAX_SECTION_LENGTH],
    ),
    ("empty sections string", {"consumerSections": ""}, "consumerSections", []),
    (
        "attributes as JSON text",
        {"engagementAttributes": '[{"type": "searchInfo", "keywords": ["a"]}]'},
        "engagementAttributes",
        [{"type": "searchInfo", "keywords": ["a"]}],
    ),
    ("attributes empty", {"engagementAttributes": []}, "engagementAttributes", []),
    (
        "attributes at the count limit",
        {"engagementAttributes": [sde("searchInfo")] * MAX_ATTRIBUTES},
        "engagementAttributes",
        [{"type": "searchInfo"}] * MAX_ATTRIBUTES,
    ),
    (
        "mrktInfo channel as a numeric string becomes an int",
        {"engagementAttributes": [sde("mrktInfo", channel="3")]},
        "engagementAttributes",
        [{"type": "mrktInfo", "info": {"channel": 3}}],
    ),
    (
        "an integral float for an int becomes an int",
        {"engagementAttributes": [sde("cart", total=1, numItems=6.0)]},
        "engagementAttributes",
        [{"type": "cart", "total": 1, "numItems": 6}],
    ),
    (
        "mrktInfo campaignID (older spelling) is renamed campaignId",
        {"engagementAttributes": [sde("mrktInfo", campaignID="c1")]},
        "engagementAttributes",
        [{"type": "mrktInfo", "info": {"campaignId": "c1"}}],
    ),
    (
        "gender as the older 0/1/2 is kept",
        {"engagementAttributes": [sde("personal", gender=1)]},
        "engagementAttributes",
        [{"type": "personal", "personal": {"gender": 1}}],
    ),
    (
        "service status up to 13",
        {"engagementAttributes": [sde("service", status=13)]},
        "engagementAttributes",
        [{"type": "service", "service": {"status": 13}}],
    ),
    (
        "a leap day is a real date",
        {
            "engagementAttributes": [
                sde("ctmrinfo", registrationDate={"day": 29, "month": 2, "year": 2020})
            ]
        },
        "engagementAttributes",
        [{"type": "ctmrinfo", "info": {"registrationDate": {"day": 29, "month": 2, "year": 2020}}}],
    ),
    (
        "a string at the length limit",
        {"engagementAttributes": [sde("lead", topic="x" * MAX_STRING_LENGTH)]},
        "engagementAttributes",
        [{"type": "lead", "lead": {"topic": "x" * MAX_STRING_LENGTH}}],
    ),
    (
        "null optional fields are left out",
        {"engagementAttributes": [sde("lead", topic=None, value=2.5)], "appDetails": None},
        "engagementAttributes",
        [{"type": "lead", "lead": {"value": 2.5}}],
    ),
    ("vid alone", {"vid": "abc-DEF_1.2"}, "vid", "abc-DEF_1.2"),
    ("vid of 64 characters", {"vid": "v" * 64}, "vid", "v" * 64),
    ("vid and sid", {"vid": "v", "sid": "s"}, "sid", "s"),
]


@pytest.mark.parametrize(
    ("request_obj", "key", "expected"),
    [pytest.param(r, k, e, id=i) for i, r, k, e in PASSING],
)
def test_valid_requests_normalise(request_obj, key, expected):
    """A valid request validates; the named key comes out normalised as shown."""
    result = validate_request(request_obj)
    assert result[key] == expected
    assert validate_request(result) == result


@pytest.mark.parametrize("value", DEVICE_FAMILIES)
def test_every_device_family_is_accepted(value):
    """Each supported deviceFamily passes unchanged."""
    assert validate_request({"appDetails": {"deviceFamily": value}})["appDetails"] == {
        "deviceFamily": value
    }


@pytest.mark.parametrize("value", OPERATING_SYSTEMS)
def test_every_os_is_accepted(value):
    """Each supported os passes unchanged."""
    assert validate_request({"appDetails": {"os": value}})["appDetails"] == {"os": value}


@pytest.mark.parametrize("value", GENDERS)
def test_every_gender_is_accepted(value):
    """Each supported gender passes unchanged."""
    request = {"engagementAttributes": [sde("personal", gender=value)]}
    assert validate_request(request)["engagementAttributes"][0]["personal"] == {"gender": value}


@pytest.mark.parametrize("value", PHONE_TYPES)
def test_every_phone_type_is_accepted(value):
    """Each supported phoneType passes unchanged."""
    request = {"engagementAttributes": [sde("personal", contacts=[{"phoneType": value}])]}
    result = validate_request(request)["engagementAttributes"][0]["personal"]
    assert result == {"contacts": [{"phoneType": value}]}


def test_nulls_for_every_top_level_key_mean_not_given():
    """null (JavaScript undefined) for each optional key leaves it out of the result."""
    request = dict.fromkeys(["appType", "appDetails", "consumerSections", "engagementAttributes"])
    assert validate_request({**request, "vid": None, "sid": None}) == {"appType": "EXTERNAL"}


# --- failing cases: input -> status, field, allowed fragment, got fragment[, hint] ----------------

_SDE_TYPE_LIST = ", ".join(t for t in SDE_TYPES if t not in IMPRESSION_TYPES)
_OS_LIST = ", ".join(OPERATING_SYSTEMS)
_DEEP: object = []
for _ in range(100_000):
    _DEEP = [_DEEP]

FAILING = [
    # non-object input
    ("a list", [1], 400, "request", "an object", "[1]", None),
    ("a number", 5, 400, "request", "an object", "5", None),
    ("a boolean", True, 400, "request", "an object", "True", None),
    ("text that is not JSON", "hello", 400, "request", "an object", "'hello'", None),
    ("JSON text holding a list", "[1, 2]", 400, "request", "an object", "[1, 2]", None),
    ("JSON text holding a string", '"x"', 400, "request", "an object", "'x'", None),
    ("NaN is not JSON", '{"vid": NaN}', 400, "request", "an object", "'{\"vid\": NaN}'", None),
    ("deeply nested junk", _DEEP, 400, "request", "an object", "[[[...", None),
    # unknown top-level keys
    (
        "unknown key visitorId",
        {"visitorId": "v"},
        400,
        "visitorId",
        "vid, sid",
        "'visitorId'",
        "vid",
    ),
    (
        "case typo",
        {"appdetails": {}},
        400,
        "appdetails",
        "appDetails",
        "'appdetails'",
        "appDetails",
    ),
    ("unknown key without hint", {"zzz": 1}, 400, "zzz", "appType, appDetails", "'zzz'", None),
    # appType
    ("appType MOBILE", {"appType": "MOBILE"}, 400, "appType", "EXTERNAL", "'MOBILE'", None),
    (
        "appType lower case",
        {"appType": "external"},
        400,
        "appType",
        "EXTERNAL",
        "'external'",
        "EXTERNAL",
    ),
    ("appType a number", {"appType": 1}, 400, "appType", "EXTERNAL", "1", None),
    # appDetails
    ("appDetails a list", {"appDetails": [1]}, 400, "appDetails", "keys appVersion", "[1]", None),
    (
        "appDetails bad JSON",
        {"appDetails": "{os"},
        400,
        "appDetails",
        "keys appVersion",
        "'{os'",
        None,
    ),
    (
        "appDetails JSON list",
        {"appDetails": "[]"},
        400,
        "appDetails",
        "keys appVersion",
        "[]",
        None,
    ),
    (
        "appDetails unknown key",
        {"appDetails": {"osversion": "1"}},
        400,
        "appDetails.osversion",
        "appVersion, deviceFamily, ipAddress, os, osVersion",
        "'osversion'",
        "osVersion",
    ),
    (
        "appVersion a number",
        {"appDetails": {"appVersion": 1.0}},
        400,
        "appDetails.appVersion",
        "a string",
        "1.0",
        None,
    ),
    (
        "osVersion a list",
        {"appDetails": {"osVersion": ["1"]}},
        400,
        "appDetails.osVersion",
        "a string",
        "['1']",
        None,
    ),
    (
        "os near miss",
        {"appDetails": {"os": "mac_osx"}},
        400,
        "appDetails.os",
        _OS_LIST,
        "'mac_osx'",
        "MAC_OSX",
    ),
    (
        "os macOS",
        {"appDetails": {"os": "macOS"}},
        400,
        "appDetails.os",
        _OS_LIST,
        "'macOS'",
        "MAC_OSX",
    ),
    ("os unknown", {"appDetails": {"os": "BEOS"}}, 400, "appDetails.os", _OS_LIST, "'BEOS'", None),
    (
        "deviceFamily lower case",
        {"appDetails": {"deviceFamily": "desktop"}},
        400,
        "appDetails.deviceFamily",
        "DESKTOP, TABLET, MOBILE",
        "'desktop'",
        "DESKTOP",
    ),
    (
        "ip out of range",
        {"appDetails": {"ipAddress": "256.1.1.1"}},
        400,
        "appDetails.ipAddress",
        "IPv4 or IPv6",
        "'256.1.1.1'",
        None,
    ),
    (
        "ip with leading zeros",
        {"appDetails": {"ipAddress": "192.168.005.2"}},
        400,
        "appDetails.ipAddress",
        "IPv4 or IPv6",
        "'192.168.005.2'",
        None,
    ),
    (
        "ip as a number",
        {"appDetails": {"ipAddress": 3232236802}},
        400,
        "appDetails.ipAddress",
        "IPv4 or IPv6",
        "3232236802",
        None,
    ),
    (
        "ip a host name",
        {"appDetails": {"ipAddress": "localhost"}},
        400,
        "appDetails.ipAddress",
        "IPv4 or IPv6",
        "'localhost'",
        None,
    ),
    # consumerSections
    (
        "sections a number",
        {"consumerSections": 5},
        400,
        "consumerSections",
        "a list of strings or one comma-delimited string",
        "5",
        None,
    ),
    (
        "sections an object",
        {"consumerSections": {"a": 1}},
        400,
        "consumerSections",
        "comma-delimited",
        "{'a': 1}",
        None,
    ),
    (
        "section not a string",
        {"consumerSections": ["a", 2]},
        400,
        "consumerSections[1]",
        "a list of strings",
        "2",
        None,
    ),
    (
        "too many sections",
        {"consumerSections": [f"s{i}" for i in range(MAX_SECTIONS + 1)]},
        400,
        "consumerSections",
        f"at most {MAX_SECTIONS} sections",
        "['s0'",
        None,
    ),
    (
        "section too long",
        {"consumerSections": ["x" * (MAX_SECTION_LENGTH + 1)]},
        400,
        "consumerSections[0]",
        f"at most {MAX_SECTION_LENGTH} characters",
        "'xxxxxxxxxx",
        None,
    ),
    # engagementAttributes
    (
        "attributes an object",
        {"engagementAttributes": {"type": "cart"}},
        400,
        "engagementAttributes",
        _SDE_TYPE_LIST,
        "{'type': 'cart'}",
        None,
    ),
    (
        "attributes bad JSON",
        {"engagementAttributes": "[{"},
        400,
        "engagementAttributes",
        _SDE_TYPE_LIST,
        "'[{'",
        None,
    ),
    (
        "attributes JSON object",
        {"engagementAttributes": "{}"},
        400,
        "engagementAttributes",
        _SDE_TYPE_LIST,
        "{}",
        None,
    ),
    (
        "attributes nested too deep",
        {"engagementAttributes": "[" * 100_000},
        400,
        "engagementAttributes",
        _SDE_TYPE_LIST,
        "'[[[[",
        None,
    ),
    (
        "too many attributes",
        {"engagementAttributes": [sde("searchInfo")] * (MAX_ATTRIBUTES + 1)},
        400,
        "engagementAttributes",
        f"at most {MAX_ATTRIBUTES} objects",
        "[{'type': 'searchInfo'}",
        None,
    ),
    (
        "attribute not an object",
        {"engagementAttributes": ["cart"]},
        400,
        "engagementAttributes[0]",
        _SDE_TYPE_LIST,
        "'cart'",
        None,
    ),
    (
        "attribute without type",
        {"engagementAttributes": [{"total": 1}]},
        400,
        "engagementAttributes[0].type",
        _SDE_TYPE_LIST,
        "nothing",
        None,
    ),
    (
        "attribute type a number",
        {"engagementAttributes": [{"type": 3}]},
        400,
        "engagementAttributes[0].type",
        _SDE_TYPE_LIST,
        "3",
        None,
    ),
    (
        "attribute type typo",
        {"engagementAttributes": [{"type": "Cart"}]},
        400,
        "engagementAttributes[0].type",
        _SDE_TYPE_LIST,
        "'Cart'",
        "cart",
    ),
    (
        "attribute type misspelt",
        {"engagementAttributes": [{"type": "prodview"}]},
        400,
        "engagementAttributes[0].type",
        _SDE_TYPE_LIST,
        "'prodview'",
        "prodView",
    ),
    (
        "wrapper missing",
        {"engagementAttributes": [{"type": "lead"}]},
        400,
        "engagementAttributes[0].lead",
        "keys topic",
        "nothing",
        None,
    ),
    (
        "wrapper not an object",
        {"engagementAttributes": [{"type": "lead", "lead": "x"}]},
        400,
        "engagementAttributes[0].lead",
        "keys topic",
        "'x'",
        None,
    ),
    (
        "wrapped field at the top level",
        {"engagementAttributes": [{"type": "lead", "lead": {}, "topic": "t"}]},
        400,
        "engagementAttributes[0].topic",
        "type, lead",
        "'topic'",
        "lead.topic",
    ),
    (
        "unknown key beside the wrapper",
        {"engagementAttributes": [{"type": "lead", "lead": {}, "leed": {}}]},
        400,
        "engagementAttributes[0].leed",
        "type, lead",
        "'leed'",
        "lead",
    ),
    (
        "payload typo firstName",
        {"engagementAttributes": [sde("personal", firstName="Ann")]},
        400,
        "engagementAttributes[0].personal.firstName",
        "firstname, lastname",
        "'firstName'",
        "firstname",
    ),
    (
        "unknown key in a top-level payload",
        {"engagementAttributes": [sde("cart", total=1, numItems=1, totl=2)]},
        400,
        "engagementAttributes[0].totl",
        "type, total, numItems",
        "'totl'",
        "total",
    ),
    (
        "required field missing",
        {"engagementAttributes": [sde("cart", numItems=1)]},
        400,
        "engagementAttributes[0].total",
        "a finite number",
        "nothing",
        None,
    ),
    (
        "required nested field missing",
        {"engagementAttributes": [sde("purchase", cart={"numItems": 1})]},
        400,
        "engagementAttributes[0].cart.products",
        "keys product, quantity",
        "nothing",
        None,
    ),
    (
        "bool is not an int",
        {"engagementAttributes": [sde("cart", total=1, numItems=True)]},
        400,
        "engagementAttributes[0].numItems",
        "an integer",
        "True",
        None,
    ),
    (
        "bool is not a number",
        {"engagementAttributes": [sde("cart", total=False, numItems=1)]},
        400,
        "engagementAttributes[0].total",
        "a finite number",
        "False",
        None,
    ),
    (
        "an int is not a bool",
        {"engagementAttributes": [sde("error", resolved=1)]},
        400,
        "engagementAttributes[0].error.resolved",
        "true or false",
        "1",
        None,
    ),
    (
        "NaN is not a number",
        {"engagementAttributes": [sde("lead", value=math.nan)]},
        400,
        "engagementAttributes[0].lead.value",
        "a finite number",
        "nan",
        None,
    ),
    (
        "infinity is not a number",
        {"engagementAttributes": [sde("ctmrinfo", balance=math.inf)]},
        400,
        "engagementAttributes[0].info.balance",
        "a finite number",
        "inf",
        None,
    ),
    (
        "numeric strings only where the docs send them",
        {"engagementAttributes": [sde("cart", total=1, numItems="6")]},
        400,
        "engagementAttributes[0].numItems",
        "an integer from 0",
        "'6'",
        None,
    ),
    (
        "a non-numeric channel string",
        {"engagementAttributes": [sde("mrktInfo", channel="email")]},
        400,
        "engagementAttributes[0].info.channel",
        "an integer from 0 to 6 (a numeric string is accepted)",
        "'email'",
        None,
    ),
    (
        "channel out of range",
        {"engagementAttributes": [sde("mrktInfo", channel=7)]},
        400,
        "engagementAttributes[0].info.channel",
        "an integer from 0 to 6",
        "7",
        None,
    ),
    (
        "a fractional float for an int",
        {"engagementAttributes": [sde("service", status=1.5)]},
        400,
        "engagementAttributes[0].service.status",
        "an integer from 0 to 13",
        "1.5",
        None,
    ),
    (
        "service status over 13",
        {"engagementAttributes": [sde("service", status=14)]},
        400,
        "engagementAttributes[0].service.status",
        "an integer from 0 to 13",
        "14",
        None,
    ),
    (
        "campaignID and campaignId both given",
        {"engagementAttributes": [sde("mrktInfo", campaignID="a", campaignId="b")]},
        400,
        "engagementAttributes[0].info.campaignID",
        "'campaignID' (older spelling) or 'campaignId'",
        "'a'",
        None,
    ),
    (
        "gender lower case",
        {"engagementAttributes": [sde("personal", gender="female")]},
        400,
        "engagementAttributes[0].personal.gender",
        "MALE, FEMALE, OTHER, 0, 1, 2",
        "'female'",
        "FEMALE",
    ),
    (
        "gender number out of the old range",
        {"engagementAttributes": [sde("personal", gender=3)]},
        400,
        "engagementAttributes[0].personal.gender",
        "MALE, FEMALE, OTHER, 0, 1, 2",
        "3",
        None,
    ),
    (
        "phoneType unknown",
        {"engagementAttributes": [sde("personal", contacts=[{}, {"phoneType": "CELL"}])]},
        400,
        "engagementAttributes[0].personal.contacts[1].phoneType",
        "HOME, MOBILE, WORK",
        "'CELL'",
        None,
    ),
    (
        "contact email not a string",
        {"engagementAttributes": [sde("personal", contacts=[{"email": "a"}, {"email": 5}])]},
        400,
        "engagementAttributes[0].personal.contacts[1].email",
        "a string",
        "5",
        None,
    ),
    (
        "language not a language tag",
        {"engagementAttributes": [sde("personal", language="English!")]},
        400,
        "engagementAttributes[0].personal.language",
        "'en-US'",
        "'English!'",
        None,
    ),
    (
        "not a calendar date",
        {
            "engagementAttributes": [
                sde("ctmrinfo", lastPaymentDate={"day": 31, "month": 2, "year": 2021})
            ]
        },
        400,
        "engagementAttributes[0].info.lastPaymentDate",
        "a real date",
        "{'day': 31, 'month': 2, 'year': 2021}",
        None,
    ),
    (
        "date part missing",
        {"engagementAttributes": [sde("ctmrinfo", lastPaymentDate={"day": 3, "month": 2})]},
        400,
        "engagementAttributes[0].info.lastPaymentDate.year",
        "an integer from 1 to 9999",
        "nothing",
        None,
    ),
    (
        "month out of range",
        {
            "engagementAttributes": [
                sde("ctmrinfo", registrationDate={"day": 3, "month": 13, "year": 2000})
            ]
        },
        400,
        "engagementAttributes[0].info.registrationDate.month",
        "an integer from 1 to 12",
        "13",
        None,
    ),
    (
        "string too long",
        {"engagementAttributes": [sde("lead", topic="x" * (MAX_STRING_LENGTH + 1))]},
        400,
        "engagementAttributes[0].lead.topic",
        f"at most {MAX_STRING_LENGTH} characters",
        "'xxxxxxxxxx",
        None,
    ),
    (
        "too many list items",
        {"engagementAttributes": [sde("searchInfo", keywords=["k"] * (MAX_LIST_ITEMS + 1))]},
        400,
        "engagementAttributes[0].keywords",
        f"at most {MAX_LIST_ITEMS} strings",
        "['k', 'k'",
        None,
    ),
    (
        "keyword not a string",
        {"engagementAttributes": [sde("searchInfo", keywords=["a", None])]},
        400,
        "engagementAttributes[0].keywords[1]",
        "a string",
        "None",
        None,
    ),
    (
        "product item junk",
        {"engagementAttributes": [sde("prodView", products=[{"product": {"price": "9.99"}}])]},
        400,
        "engagementAttributes[0].products[0].product.price",
        "a finite number",
        "'9.99'",
        None,
    ),
    (
        "impossible huge integer",
        {"engagementAttributes": [sde("error", level=10**5000)]},
        400,
        "engagementAttributes[0].error.level",
        "an integer from",
        "<an integer of 16610 bits>",
        None,
    ),
    # vid / sid
    ("vid empty", {"vid": ""}, 401, "vid", "1 to 64 characters of A-Z a-z 0-9 _ - .", "''", None),
    ("vid too long", {"vid": "v" * 65}, 401, "vid", "1 to 64 characters", "'vvvv", None),
    ("vid with a space", {"vid": "a b"}, 401, "vid", "1 to 64 characters", "'a b'", None),
    ("vid with a newline", {"vid": "ab\n"}, 401, "vid", "1 to 64 characters", "'ab\\n'", None),
    ("vid a number", {"vid": 123}, 401, "vid", "1 to 64 characters", "123", None),
    ("sid malformed", {"vid": "v", "sid": "s/1"}, 401, "sid", "1 to 64 characters", "'s/1'", None),
    ("sid without vid", {"sid": "456"}, 401, "sid", "vid with sid", "'456'", None),
    (
        "401 beats 400",
        {"sid": "456", "appType": "MOBILE"},
        401,
        "sid",
        "vid with sid",
        "'456'",
        None,
    ),
]


@pytest.mark.parametrize(
    ("request_obj", "status", "field", "allowed", "got", "hint"),
    [pytest.param(*case[1:], id=case[0]) for case in FAILING],
)
def test_invalid_requests_are_refused(request_obj, status, field, allowed, got, hint):
    """An invalid request raises RequestError at the field, naming allowed values and the input."""
    err = problem(validate_request, request_obj)
    found = assert_problem(err, status, field, allowed, got)
    if hint is None:
        assert "did you mean" not in found.message
    else:
        assert found.message.endswith(f"did you mean {hint!r}?"), found.message


@pytest.mark.parametrize("imp_type", sorted(IMPRESSION_TYPES))
def test_impression_events_are_refused_with_a_report_hint(imp_type):
    """Each impression type is a 400 in an engagement check, pointing at report()."""
    request = {"engagementAttributes": [sde("cart", total=1, numItems=1), {"type": imp_type}]}
    err = problem(validate_request, request)
    found = assert_problem(err, 400, "engagementAttributes[1].type", _SDE_TYPE_LIST, repr(imp_type))
    assert "report()" in found.message


def test_every_problem_is_listed_with_the_session_first():
    """All problems come back at once; session problems first, so the error is a 401."""
    err = problem(
        validate_request,
        {
            "appType": "X",
            "appDetails": {"os": "mac"},
            "consumerSections": 1,
            "sid": "s",
            "bogus": 1,
        },
    )
    fields = [e.field for e in err.errors]
    assert fields[0] == "sid"
    assert err.status == 401
    assert set(fields) == {"sid", "bogus", "appType", "appDetails.os", "consumerSections"}
    assert [e.status for e in err.errors] == [401, 400, 400, 400, 400]


def test_deeply_nested_junk_in_every_slot_is_a_clean_error():
    """Absurd nesting anywhere gives a RequestError, never a RecursionError."""
    for key in ("appDetails", "consumerSections", "engagementAttributes", "vid", "zz"):
        err = problem(validate_request, {key: _DEEP})
        assert err.status in (400, 401)
    err = problem(validate_request, {"engagementAttributes": [sde("lead", topic=_DEEP)]})
    assert err.field == "engagementAttributes[0].lead.topic"


def test_received_values_are_truncated_in_messages():
    """A huge received value is shown shortened, with its length."""
    err = problem(validate_request, {"appType": "y" * 10_000})
    assert "(10000 characters)" in err.message
    assert len(err.message) < 300


# --- every catalogue field: one passing and one failing value per field kind ----------------------

_GOOD: dict[str, object] = {
    "string": "text",
    "number": 9.5,
    "int": 3,
    "bool": True,
    "date": {"day": 1, "month": 2, "year": 2003},
    "strings": ["a", "b"],
    "object": {},
    "objects": [{}],
}
_BAD: dict[str, tuple[object, str]] = {
    "string": (12, "12"),
    "number": ("9.5", "'9.5'"),
    "int": (True, "True"),
    "bool": ("yes", "'yes'"),
    "enum": ("nope", "'nope'"),
    "date": ("2003-02-01", "'2003-02-01'"),
    "strings": ("a,b", "'a,b'"),
    "object": ([], "[]"),
    "objects": ({}, "{}"),
}


def _good_value(f: Field) -> object:
    if f.kind == "enum":
        return f.values[0]
    if f.kind == "string" and f.pattern:
        return "en-US"
    if f.kind == "int" and f.minimum is not None:
        return f.minimum
    if f.kind in ("object", "objects"):
        assert f.nested is not None
        inner = _minimal(f.nested)
        return inner if f.kind == "object" else [inner]
    return _GOOD[f.kind]


def _minimal(spec: ObjectSpec) -> dict[str, object]:
    return {name: _good_value(f) for name, f in spec.fields.items() if f.required}


def _field_cases():
    for sde_type, spec in SDE_TYPES.items():
        for name, f in spec.payload.fields.items():
            yield pytest.param(sde_type, name, f, id=f"{sde_type}.{name}")


def _validate_any(sde_type: str, attribute: dict) -> dict:
    """Impression types go through report(), the others through the engagement check."""
    if sde_type in IMPRESSION_TYPES:
        return validate_report({"engagementAttributes": [attribute], "pageId": "p1"})
    return validate_request({"engagementAttributes": [attribute]})


@pytest.mark.parametrize(("sde_type", "name", "field"), list(_field_cases()))
def test_every_catalogue_field_accepts_its_kind(sde_type, name, field):
    """Each field of each SDE type accepts a value of its kind, and keeps it."""
    spec = SDE_TYPES[sde_type]
    payload = {**_minimal(spec.payload), name: _good_value(field)}
    result = _validate_any(sde_type, sde(sde_type, **payload))["engagementAttributes"][0]
    got = result if spec.wrapper is None else result[spec.wrapper]
    assert got[name] == payload[name]


@pytest.mark.parametrize(("sde_type", "name", "field"), list(_field_cases()))
def test_every_catalogue_field_refuses_the_wrong_kind(sde_type, name, field):
    """Each field of each SDE type refuses a value of the wrong kind, at its dotted path."""
    spec = SDE_TYPES[sde_type]
    bad, shown = _BAD[field.kind]
    payload = {**_minimal(spec.payload), name: bad}
    validate = validate_report if sde_type in IMPRESSION_TYPES else validate_request
    err = problem(validate, {"engagementAttributes": [sde(sde_type, **payload)]})
    assert_problem(err, 400, f"{sde_path(sde_type)}.{name}", field.describe(), shown)


@pytest.mark.parametrize(
    ("sde_type", "name"),
    [(t, n) for t, s in SDE_TYPES.items() for n in s.payload.required],
)
def test_every_required_field_is_enforced(sde_type, name):
    """Leaving out a required field is a 400 at its path, naming what it needs."""
    spec = SDE_TYPES[sde_type]
    payload = {k: v for k, v in _minimal(spec.payload).items() if k != name}
    validate = validate_report if sde_type in IMPRESSION_TYPES else validate_request
    err = problem(validate, {"engagementAttributes": [sde(sde_type, **payload)]})
    assert_problem(
        err, 400, f"{sde_path(sde_type)}.{name}", spec.payload.fields[name].describe(), "nothing"
    )


# --- report bodies --------------------------------------------------------------------------------

_IMPRESSION = {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": 44}

REPORT_PASSING = [
    (
        "impression ids as strings become ints",
        {
            "engagementAttributes": [
                {
                    "type": "impAccept",
                    "campaign": "3346848610",
                    "engId": "3562981110",
                    "revision": "44",
                    "eContext": [{"type": "engagementContext", "id": "1"}],
                }
            ],
            "pageId": "p",
        },
        {
            "engagementAttributes": [
                {
                    "type": "impAccept",
                    "campaign": 3346848610,
                    "engId": 3562981110,
                    "revision": 44,
                    "eContext": [{"type": "engagementContext", "id": "1"}],
                }
            ],
            "pageId": "p",
        },
    ),
    (
        "the docs' impExpanded with nulls",
        {
            "engagementAttributes": [
                {**_IMPRESSION, "type": "impExpanded", "expanded": None, "userInit": None}
            ],
            "pageId": "4743822558",
        },
        {
            "engagementAttributes": [{**_IMPRESSION, "type": "impExpanded"}],
            "pageId": "4743822558",
        },
    ),
    (
        "body and attributes as JSON text",
        json.dumps({"engagementAttributes": json.dumps([_IMPRESSION]), "pageId": "p"}),
        {"engagementAttributes": [_IMPRESSION], "pageId": "p"},
    ),
    (
        "ordinary SDEs too",
        {"engagementAttributes": [sde("lead", topic="t")], "pageId": "p"},
        {"engagementAttributes": [{"type": "lead", "lead": {"topic": "t"}}], "pageId": "p"},
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"), [pytest.param(b, e, id=i) for i, b, e in REPORT_PASSING]
)
def test_valid_report_bodies_normalise(body, expected):
    """A valid report body (impression events allowed) comes back normalised."""
    result = validate_report(body)
    assert result == expected
    assert validate_report(result) == result


_ALL_TYPES = ", ".join(SDE_TYPES)

REPORT_FAILING = [
    ("no body", None, "engagementAttributes", _ALL_TYPES, "nothing"),
    ("a list body", [_IMPRESSION], "request", "keys engagementAttributes, pageId", "[{"),
    ("attributes missing", {"pageId": "p"}, "engagementAttributes", _ALL_TYPES, "nothing"),
    ("attributes empty", {"engagementAttributes": []}, "engagementAttributes", _ALL_TYPES, "[]"),
    (
        "attributes empty JSON",
        {"engagementAttributes": "[]"},
        "engagementAttributes",
        _ALL_TYPES,
        "[]",
    ),
    (
        "unknown key",
        {"engagementAttributes": [_IMPRESSION], "pageID": "p"},
        "pageID",
        "engagementAttributes, pageId",
        "'pageID'",
    ),
    (
        "malformed pageId",
        {"engagementAttributes": [_IMPRESSION], "pageId": "a b"},
        "pageId",
        "1 to 64 characters",
        "'a b'",
    ),
    (
        "no pageId",
        {"engagementAttributes": [_IMPRESSION]},
        "pageId",
        "1 to 64 characters",
        "nothing",
    ),
    (
        "impression id not numeric",
        {"engagementAttributes": [{**_IMPRESSION, "engId": "abc"}]},
        "engagementAttributes[0].engId",
        "(a numeric string is accepted)",
        "'abc'",
    ),
    (
        "impression id negative",
        {"engagementAttributes": [{**_IMPRESSION, "revision": -1}]},
        "engagementAttributes[0].revision",
        "an integer from 0",
        "-1",
    ),
    (
        "eContext type wrong",
        {"engagementAttributes": [{**_IMPRESSION, "eContext": [{"type": "ctx", "id": "1"}]}]},
        "engagementAttributes[0].eContext[0].type",
        "engagementContext",
        "'ctx'",
    ),
    (
        "impression type typo",
        {"engagementAttributes": [{**_IMPRESSION, "type": "impdisplay"}]},
        "engagementAttributes[0].type",
        _ALL_TYPES,
        "'impdisplay'",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "allowed", "got"), [pytest.param(*c[1:], id=c[0]) for c in REPORT_FAILING]
)
def test_invalid_report_bodies_are_refused(body, field, allowed, got):
    """An invalid report body is a 400 at the field, naming allowed values and the input."""
    assert_problem(problem(validate_report, body), 400, field, allowed, got)


def test_the_documented_update_body_is_valid_and_split_lists_stay_apart():
    """An update as it travels: impression events in impAttributes, other SDEs in
    engagementAttributes, pageId required; both lists optional."""
    body = {"pageId": "4743822558", "impAttributes": [_IMPRESSION],
            "engagementAttributes": [sde("lead", topic="t")]}
    assert validate_update(body) == {
        "pageId": "4743822558",
        "impAttributes": [_IMPRESSION],
        "engagementAttributes": [{"type": "lead", "lead": {"topic": "t"}}],
    }
    assert validate_update({"pageId": "p"}) == {
        "pageId": "p", "impAttributes": [], "engagementAttributes": []
    }


@pytest.mark.parametrize(
    ("body", "field", "allowed", "got"),
    [
        pytest.param({"impAttributes": [_IMPRESSION]}, "pageId", "1 to 64", "nothing",
                     id="no pageId"),
        pytest.param({"pageId": "p", "impAttributes": [sde("lead", topic="t")]},
                     "impAttributes[0].type", "impAccept", "'lead'", id="an SDE in impAttributes"),
        pytest.param({"pageId": "p", "engagementAttributes": [_IMPRESSION]},
                     "engagementAttributes[0].type", "cart", "'impDisplay'",
                     id="an impression in engagementAttributes"),
        pytest.param({"pageId": "p", "vid": "v"}, "vid", "pageId, impAttributes", "'vid'",
                     id="ids in the body"),
    ],
)
def test_invalid_update_bodies_are_refused(body, field, allowed, got):
    """An update body that mixes the two lists, lacks pageId or carries ids is a 400 naming
    the field, the allowed values and what was received."""
    err = assert_problem(problem(validate_update, body), 400, field, allowed, got)
    if field.endswith(".type"):
        assert "go in" in err.message


# --- session ids and account ids ------------------------------------------------------------------

SESSION_CASES = [
    ("no ids", None, None, []),
    ("vid alone", "v", None, []),
    ("both", "v.1", "s-2", []),
    ("sid alone", None, "s", [("sid", "vid with sid", "'s'")]),
    ("vid malformed", "v?", "s", [("vid", "1 to 64 characters", "'v?'")]),
    ("both malformed", "", "x" * 65, [("vid", "1 to 64", "''"), ("sid", "1 to 64", "'xxx")]),
    ("vid not text", ["v"], None, [("vid", "1 to 64", "['v']")]),
]


@pytest.mark.parametrize(
    ("vid", "sid", "expected"), [pytest.param(*c[1:], id=c[0]) for c in SESSION_CASES]
)
def test_session_ids(vid, sid, expected):
    """vid/sid problems are 401s naming the rule and the value; a fine pair has none."""
    errors = validate_session_ids(vid, sid)
    assert [e.field for e in errors] == [field for field, _, _ in expected]
    for error, (_, allowed, got) in zip(errors, expected, strict=True):
        assert error.status == 401
        assert allowed in error.message
        assert f"got {got}" in error.message


@pytest.mark.parametrize("account_id", ["le12345678", "a", "A_b_9", "x" * 20])
def test_good_account_ids_pass(account_id):
    """Account ids of 1-20 letters, digits and underscores pass unchanged."""
    assert validate_account_id(account_id) == account_id


@pytest.mark.parametrize(
    ("account_id", "got"),
    [
        ("", "''"),
        ("x" * 21, "'xxx"),
        ("a-b", "'a-b'"),
        ("a/..", "'a/..'"),
        (5, "5"),
        (None, "None"),
    ],
)
def test_bad_account_ids_are_refused(account_id, got):
    """Anything else is a 400 on accountId naming the rule and the value."""
    err = problem(validate_account_id, account_id)
    assert_problem(err, 400, "accountId", "1 to 20 characters of A-Z a-z 0-9 _", got)


# --- the catalogue as JSON Schema -----------------------------------------------------------------


def test_json_schema_covers_the_catalogue():
    """The rendered schema has one alternative per type, keyed on type, with required fields."""
    schema = sde_json_schema()
    assert schema["x-sde-types"] == list(SDE_TYPES)
    by_title = {alt["title"]: alt for alt in schema["oneOf"]}
    assert by_title["cart"]["required"] == ["type", "total", "numItems"]
    assert by_title["personal"]["required"] == ["type", "personal"]
    personal = by_title["personal"]["properties"]["personal"]["properties"]
    assert personal["gender"]["enum"] == [*GENDERS, 0, 1, 2, None]
    assert set(by_title["mrktInfo"]["properties"]["info"]["properties"]) >= {
        "campaignId",
        "campaignID",
    }
    request_only = sde_json_schema(t for t in SDE_TYPES if t not in IMPRESSION_TYPES)
    assert not set(request_only["x-sde-types"]) & IMPRESSION_TYPES
    with pytest.raises(ValueError, match="impFoo"):
        sde_json_schema(["impFoo"])


def test_app_details_spec_matches_the_seed():
    """appDetails has exactly the seed's five keys."""
    assert set(APP_DETAILS.fields) == {"appVersion", "deviceFamily", "ipAddress", "os", "osVersion"}


def test_request_and_report_schemas_follow_the_validators():
    """The request schema refuses impressions and names every key; the report schema needs SDEs."""
    request = request_json_schema()
    assert list(request["properties"]) == list(REQUEST_KEYS)
    assert request["properties"]["vid"]["type"] == ["string", "null"]
    attributes = request["properties"]["engagementAttributes"]["anyOf"][0]
    assert not set(attributes["items"]["x-sde-types"]) & IMPRESSION_TYPES
    assert attributes["maxItems"] == MAX_ATTRIBUTES
    update = update_json_schema()
    assert list(update["properties"]) == list(UPDATE_KEYS)
    assert update["required"] == ["pageId"]
    impressions = update["properties"]["impAttributes"]["anyOf"][0]
    assert set(impressions["items"]["x-sde-types"]) == set(IMPRESSION_TYPES)
    others = update["properties"]["engagementAttributes"]["anyOf"][0]
    assert not set(others["items"]["x-sde-types"]) & IMPRESSION_TYPES
