"""The SDE (engagement attribute) catalogue as data: each type, where its payload lives, its fields.

LivePerson calls the objects in ``engagementAttributes`` SDEs ("standard data entities"). Each is
an object with a string ``type``; some keep their fields at the top level (``cart``), others under
a wrapper key (``personal`` under ``"personal"``, ``ctmrinfo`` under ``"info"``). This module holds
the catalogue (``docs/protocol.md``, "The SDE catalogue") as plain, immutable values so that the
validator (``engage_web.core.validation``), the emulator's OpenAPI document and the property-test
strategies all read the same table. Nothing here validates anything; see ``validation.py``.

Example::

    >>> from engage_web.core.sde import SDE_TYPES, IMPRESSION_TYPES
    >>> SDE_TYPES["personal"].wrapper
    'personal'
    >>> SDE_TYPES["cart"].payload.required
    ('total', 'numItems')
    >>> "impDisplay" in IMPRESSION_TYPES
    True

Field kinds (``Field.kind``):

- ``"string"``: text of at most ``MAX_STRING_LENGTH`` characters (optionally matching ``pattern``).
- ``"number"``: a finite int or float, never a bool.
- ``"int"``: an integer within ``minimum``..``maximum`` (default: the JavaScript safe range), never
  a bool. A float with an integral value (``7.0``) is accepted and normalised to ``7``. With
  ``numeric_strings=True`` a decimal string (``"3"``) is accepted too and normalised to ``3``:
  the documentation sends such fields as strings.
- ``"ip"``: a real IPv4 or IPv6 address as text (``appDetails.ipAddress``).
- ``"bool"``: ``true``/``false`` only (``0``/``1`` are refused).
- ``"enum"``: exactly one of ``values`` (case-sensitive); ``legacy_values`` are older documented
  spellings, accepted and kept unchanged.
- ``"date"``: ``{"day", "month", "year"}``, all required ints forming a real calendar date.
- ``"strings"``: a list of strings.
- ``"object"``: a nested object described by ``nested`` (an ``ObjectSpec``).
- ``"objects"``: a list of such objects.

Documented disagreements, accepted leniently (``docs/protocol.md``):

- ``personal.gender``: MALE/FEMALE/OTHER, and the older ``0``/``1``/``2`` (kept as given: the old
  pages do not say which number is which, so nothing is translated).
- ``service.status``: the wider range 0-13 (some pages say 0-10).
- ``mrktInfo.campaignID`` (one table's spelling) is accepted and renamed to ``campaignId``.
- ``mrktInfo.channel`` and the impression ids (``campaign``, ``engId``, ``revision``) accept
  numeric strings, normalised to ints.

Choices the documentation leaves open (documented here, tested in tests/unit):

- Unknown keys inside a payload are refused with a did-you-mean hint, never dropped silently
  (``firstName`` for ``firstname`` is a typo that would otherwise lose data).
- Wrapped types need their wrapper object (``{"type": "personal"}`` alone is refused).
- Impression events need ``campaign``, ``engId`` and ``revision`` (the ids that make them mean
  anything); ``impExpanded``'s ``expanded``/``userInit`` are bools and ``actionableItems`` a list
  of strings (the documentation only ever shows them as ``null``).
- Counts: ``numItems`` and ``quantity`` are ints >= 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "APP_DETAILS",
    "APP_TYPES",
    "DATE_SPEC",
    "DEVICE_FAMILIES",
    "GENDERS",
    "IMPRESSION_TYPES",
    "JS_SAFE_INT",
    "LEGACY_GENDERS",
    "MARKETING_CHANNELS",
    "MAX_LIST_ITEMS",
    "MAX_STRING_LENGTH",
    "OPERATING_SYSTEMS",
    "PHONE_TYPES",
    "SDE_TYPES",
    "Field",
    "ObjectSpec",
    "SdeSpec",
    "nullable_json_schema",
    "object_json_schema",
    "sde_json_schema",
]

#: ``appType`` values the engagement check accepts (the seed: "Supported Values: EXTERNAL").
APP_TYPES: tuple[str, ...] = ("EXTERNAL",)
#: ``appDetails.deviceFamily`` values.
DEVICE_FAMILIES: tuple[str, ...] = ("DESKTOP", "TABLET", "MOBILE")
#: ``appDetails.os`` values (exact upper case).
OPERATING_SYSTEMS: tuple[str, ...] = ("WINDOWS", "MAC_OSX", "LINUX", "IOS", "ANDROID")
#: ``personal.gender`` values.
GENDERS: tuple[str, ...] = ("MALE", "FEMALE", "OTHER")
#: Older documentation typed ``gender`` as 0/1/2; accepted and kept as given.
LEGACY_GENDERS: tuple[int, ...] = (0, 1, 2)
#: ``personal.contacts[].phoneType`` values.
PHONE_TYPES: tuple[str, ...] = (
    "HOME",
    "MOBILE",
    "WORK",
    "FAX",
    "MAIN",
    "HOME_FAX",
    "WORK_FAX",
    "PAGER",
    "OTHER",
)
#: ``mrktInfo.channel`` codes and their meaning.
MARKETING_CHANNELS: Mapping[int, str] = MappingProxyType(
    {
        0: "direct",
        1: "search",
        2: "social",
        3: "email",
        4: "referral",
        5: "paid search",
        6: "display",
    }
)
#: Longest string value anywhere in a request (LivePerson documents 50,000 characters).
MAX_STRING_LENGTH = 50_000
#: Most items in any list inside an SDE (products, contacts, keywords...). Not documented upstream;
#: a safety bound far above real use (request bodies are capped at 64 KiB anyway).
MAX_LIST_ITEMS = 100
#: Largest integer JavaScript carries exactly (``Number.MAX_SAFE_INTEGER``): the default int range.
JS_SAFE_INT = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an SDE payload: its kind, whether it is required, and the kind's parameters.

    Example::

        >>> Field("int", minimum=0, maximum=6, numeric_strings=True).describe()
        'an integer from 0 to 6 (a numeric string is accepted)'
    """

    kind: str
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    values: tuple[str, ...] = ()
    legacy_values: tuple[int, ...] = ()
    numeric_strings: bool = False
    pattern: str | None = None
    pattern_doc: str = ""
    nested: ObjectSpec | None = None
    doc: str = ""

    def describe(self) -> str:
        """What a valid value looks like, in words (used as the ``allowed:`` part of messages)."""
        if self.kind == "string":
            if self.pattern:
                return f"a string like {self.pattern_doc}"
            return f"a string of at most {MAX_STRING_LENGTH} characters"
        if self.kind == "number":
            return "a finite number"
        if self.kind == "int":
            low = -JS_SAFE_INT if self.minimum is None else self.minimum
            high = JS_SAFE_INT if self.maximum is None else self.maximum
            text = f"an integer from {low} to {high}"
            return text + (" (a numeric string is accepted)" if self.numeric_strings else "")
        if self.kind == "bool":
            return "true or false"
        if self.kind == "enum":
            return ", ".join([*self.values, *(str(v) for v in self.legacy_values)])
        if self.kind == "ip":
            return "an IPv4 or IPv6 address such as '192.168.5.2' or '2001:db8::1'"
        if self.kind == "date":
            return "an object {day, month, year} of integers forming a real date"
        if self.kind == "strings":
            return f"a list of at most {MAX_LIST_ITEMS} strings"
        assert self.nested is not None
        keys = ", ".join(self.nested.fields)
        if self.kind == "object":
            return f"an object with keys {keys}"
        return f"a list of at most {MAX_LIST_ITEMS} objects with keys {keys}"


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """The fields of one JSON object, in catalogue order, plus accepted alternative key spellings.

    ``aliases`` maps an accepted older spelling to the catalogue name it is renamed to.
    """

    fields: Mapping[str, Field]
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the required fields, in catalogue order."""
        return tuple(name for name, f in self.fields.items() if f.required)


@dataclass(frozen=True, slots=True)
class SdeSpec:
    """One SDE type: its name, wrapper key (``None`` when fields sit next to ``type``), payload.

    ``impression`` marks the ImpressionEvent types that only ``report`` accepts.
    """

    type: str
    wrapper: str | None
    payload: ObjectSpec
    impression: bool = False
    doc: str = ""


def _obj(aliases: Mapping[str, str] | None = None, **fields: Field) -> ObjectSpec:
    return ObjectSpec(MappingProxyType(dict(fields)), MappingProxyType(dict(aliases or {})))


_S = Field("string")
_N = Field("number")
_I = Field("int")
_COUNT = Field("int", minimum=0)

#: A calendar date as LivePerson sends it: ``{"day": 22, "month": 7, "year": 1985}``.
DATE_SPEC = _obj(
    day=Field("int", required=True, minimum=1, maximum=31),
    month=Field("int", required=True, minimum=1, maximum=12),
    year=Field("int", required=True, minimum=1, maximum=9999),
)

_PRODUCT = _obj(
    product=Field("object", nested=_obj(name=_S, category=_S, sku=_S, price=_N)),
    quantity=_COUNT,
)
_PRODUCTS = Field("objects", nested=_PRODUCT, doc="cart or viewed items")
_IMP_ID = Field("int", required=True, minimum=0, numeric_strings=True)
_IMP_IDS = {"campaign": _IMP_ID, "engId": _IMP_ID, "revision": _IMP_ID}
_ECONTEXT = Field(
    "objects",
    nested=_obj(type=Field("enum", values=("engagementContext",)), id=_S),
    doc="the engagement's contextId as [{type: 'engagementContext', id}]",
)

_CATALOGUE: tuple[SdeSpec, ...] = (
    SdeSpec(
        "cart",
        None,
        _obj(
            total=Field("number", required=True),
            numItems=Field("int", required=True, minimum=0),
            currency=_S,
            products=_PRODUCTS,
        ),
        doc="Cart update: the visitor's cart total and items.",
    ),
    SdeSpec(
        "purchase",
        None,
        _obj(
            total=_N,
            currency=_S,
            orderId=_S,
            cart=Field(
                "object",
                nested=_obj(
                    products=Field("objects", required=True, nested=_PRODUCT), numItems=_COUNT
                ),
            ),
        ),
        doc="Transaction: a completed purchase.",
    ),
    SdeSpec("prodView", None, _obj(currency=_S, products=_PRODUCTS), doc="Viewed product."),
    SdeSpec(
        "ctmrinfo",
        "info",
        _obj(
            ctype=_S,
            cstatus=_S,
            customerId=_S,
            socialId=_S,
            imei=_S,
            userName=_S,
            companyBranch=_S,
            accountName=_S,
            role=_S,
            currency=_S,
            storeZipCode=_S,
            storeNumber=_S,
            balance=_N,
            companySize=_I,
            loginStatus=_I,
            lastPaymentDate=Field("date"),
            registrationDate=Field("date"),
        ),
        doc="Customer info.",
    ),
    SdeSpec(
        "mrktInfo",
        "info",
        _obj(
            {"campaignID": "campaignId"},
            channel=Field(
                "int",
                minimum=0,
                maximum=6,
                numeric_strings=True,
                doc="0 direct, 1 search, 2 social, 3 email, 4 referral, 5 paid search, 6 display",
            ),
            affiliate=_S,
            campaignId=_S,
        ),
        doc="Marketing source.",
    ),
    SdeSpec(
        "personal",
        "personal",
        _obj(
            firstname=_S,
            lastname=_S,
            age=Field("object", nested=_obj(age=_N, year=_N, month=_N, day=_N)),
            contacts=Field(
                "objects",
                nested=_obj(
                    email=_S,
                    phone=_S,
                    phoneType=Field("enum", values=PHONE_TYPES),
                    address=Field("object", nested=_obj(country=_S, region=_S)),
                ),
            ),
            gender=Field("enum", values=GENDERS, legacy_values=LEGACY_GENDERS),
            language=Field(
                "string",
                pattern=r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,4}",
                pattern_doc="'en-US' (language, then optional region or script parts)",
            ),
            company=_S,
        ),
        doc="Personal info.",
    ),
    SdeSpec("lead", "lead", _obj(topic=_S, value=_N, currency=_S, leadId=_S), doc="Lead."),
    SdeSpec(
        "service",
        "service",
        _obj(topic=_S, status=Field("int", minimum=0, maximum=13), category=_S, serviceId=_S),
        doc="Service activity.",
    ),
    SdeSpec(
        "error",
        "error",
        _obj(contextId=_S, message=_S, code=_S, level=_I, resolved=Field("bool")),
        doc="Visitor error.",
    ),
    SdeSpec("searchInfo", None, _obj(keywords=Field("strings")), doc="Search content."),
    SdeSpec(
        "impDisplay",
        None,
        _obj(**_IMP_IDS, eContext=_ECONTEXT),
        impression=True,
        doc="The engagement was shown.",
    ),
    SdeSpec(
        "impAccept",
        None,
        _obj(**_IMP_IDS, eContext=_ECONTEXT),
        impression=True,
        doc="The visitor accepted the engagement.",
    ),
    SdeSpec(
        "impExpanded",
        None,
        _obj(
            **_IMP_IDS,
            expanded=Field("bool"),
            userInit=Field("bool"),
            actionableItems=Field("strings"),
        ),
        impression=True,
        doc="The engagement was expanded.",
    ),
    SdeSpec("impTimeout", None, _obj(**_IMP_IDS), impression=True, doc="It timed out."),
    SdeSpec("impClose", None, _obj(**_IMP_IDS), impression=True, doc="It was closed."),
)

#: The keys of ``appDetails`` (seed: "Request Object Parameters"), in the seed's order.
#: ``ipAddress`` has its own kind, ``"ip"``: a real IPv4 or IPv6 address in text form.
APP_DETAILS = _obj(
    appVersion=_S,
    deviceFamily=Field("enum", values=DEVICE_FAMILIES),
    ipAddress=Field("ip"),
    os=Field("enum", values=OPERATING_SYSTEMS),
    osVersion=_S,
)

#: Every SDE type, in catalogue order: ``type name -> SdeSpec``.
SDE_TYPES: Mapping[str, SdeSpec] = MappingProxyType({s.type: s for s in _CATALOGUE})
#: The ImpressionEvent types: refused by the engagement check, accepted by ``report``.
IMPRESSION_TYPES: frozenset[str] = frozenset(s.type for s in _CATALOGUE if s.impression)


# --- JSON Schema rendering (for the emulator's OpenAPI document and its consistency test) -------


def _field_schema(f: Field) -> dict[str, Any]:
    if f.kind == "string":
        schema: dict[str, Any] = {"type": "string", "maxLength": MAX_STRING_LENGTH}
        if f.pattern:
            schema["pattern"] = f"^{f.pattern}$"
    elif f.kind == "number":
        schema = {"type": "number"}
    elif f.kind == "int":
        schema = {
            "type": "integer",
            "minimum": -JS_SAFE_INT if f.minimum is None else f.minimum,
            "maximum": JS_SAFE_INT if f.maximum is None else f.maximum,
        }
        if f.numeric_strings:
            schema = {"anyOf": [schema, {"type": "string", "pattern": "^[+-]?[0-9]{1,16}$"}]}
    elif f.kind == "bool":
        schema = {"type": "boolean"}
    elif f.kind == "ip":
        schema = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
    elif f.kind == "enum":
        schema = {"enum": [*f.values, *f.legacy_values]}
    elif f.kind == "date":
        schema = object_json_schema(DATE_SPEC)
    elif f.kind == "strings":
        schema = {
            "type": "array",
            "maxItems": MAX_LIST_ITEMS,
            "items": {"type": "string", "maxLength": MAX_STRING_LENGTH},
        }
    else:
        assert f.nested is not None
        schema = object_json_schema(f.nested)
        if f.kind == "objects":
            schema = {"type": "array", "maxItems": MAX_LIST_ITEMS, "items": schema}
    if f.doc:
        schema["description"] = f.doc
    return schema


def nullable_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also allows ``null``: the validators read null as "not given".

    Example::

        >>> nullable_json_schema({"type": "string"})
        {'type': ['string', 'null']}
    """
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if "anyOf" in schema and "type" not in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def object_json_schema(spec: ObjectSpec, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-Schema object for ``spec`` (``extra``: properties placed first and required).

    Example::

        >>> sorted(object_json_schema(APP_DETAILS)["properties"])
        ['appVersion', 'deviceFamily', 'ipAddress', 'os', 'osVersion']
    """
    properties: dict[str, Any] = dict(extra or {})
    for name, f in spec.fields.items():
        schema = _field_schema(f)
        properties[name] = schema if f.required else nullable_json_schema(schema)
    for alias, target in spec.aliases.items():
        properties[alias] = {**properties[target], "deprecated": True}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [*(extra or {}), *spec.required]
    if required:
        schema["required"] = required
    return schema


def _sde_schema(spec: SdeSpec) -> dict[str, Any]:
    type_schema = {"type": {"type": "string", "const": spec.type, "enum": [spec.type]}}
    if spec.wrapper is None:
        schema = object_json_schema(spec.payload, extra=type_schema)
    else:
        schema = {
            "type": "object",
            "properties": {**type_schema, spec.wrapper: object_json_schema(spec.payload)},
            "required": ["type", spec.wrapper],
            "additionalProperties": False,
        }
    schema["title"] = spec.type
    if spec.doc:
        schema["description"] = spec.doc
    return schema


def sde_json_schema(types: Iterable[str] | None = None) -> dict[str, Any]:
    """A JSON-Schema fragment (OpenAPI 3.1 compatible) for one SDE: a ``oneOf`` keyed on ``type``.

    ``types`` limits the alternatives (default: every type, impression events included); the
    engagement check's body uses the non-impression types, the report body all of them.
    ``x-sde-types`` lists the type names in catalogue order, so a test can compare quickly.

    Example::

        >>> schema = sde_json_schema(t for t in SDE_TYPES if t not in IMPRESSION_TYPES)
        >>> "impDisplay" in schema["x-sde-types"], schema["discriminator"]["propertyName"]
        (False, 'type')
    """
    wanted = list(SDE_TYPES) if types is None else list(types)
    unknown = [t for t in wanted if t not in SDE_TYPES]
    if unknown:
        raise ValueError(f"unknown SDE types; allowed: {', '.join(SDE_TYPES)}; got {unknown!r}")
    return {
        "oneOf": [_sde_schema(SDE_TYPES[t]) for t in wanted],
        "discriminator": {"propertyName": "type"},
        "x-sde-types": wanted,
    }
