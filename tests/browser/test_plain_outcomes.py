"""Outcomes are plain data in the page: an answer's keys cannot reach the page's prototypes.

An endpoint (or anything between it and the page) answers an Available body whose objects carry
``__proto__``, ``constructor``, ``toString``, ``valueOf`` and ``hasOwnProperty`` keys, at the top
and nested. Kept as own keys, ``Object.assign({}, outcome)`` would take a prototype the server
chose and ``'' + outcome`` would throw. The engine drops them (``core/outcome.py``, ``plain_data``;
unit tests in ``tests/unit/test_plain_data.py``); here the page does what page code does with an
outcome: assign, spread, print, stringify.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engage_web.cpython.emulator.seed import seed_engagement_details
from tests.browser.conftest import Probe, embed_page

pytestmark = pytest.mark.browser

HOSTILE = {
    "__proto__": {"polluted": "by the server"},
    "constructor": {"prototype": {"polluted": "by the server"}},
    "toString": "not a function",
    "valueOf": {"not": "a function"},
    "hasOwnProperty": 1,
}
ANSWER = {
    "status": "Available",
    "sessionId": "s-plain",
    "visitorId": "v-plain",
    "pageId": "p-plain",
    "engagementDetails": {**seed_engagement_details(), **HOSTILE},
    "extra": [{**HOSTILE, "kept": True}],
    **HOSTILE,
}

# What page code does with an outcome, each step guarded so a throw is reported, not fatal.
USE_OUTCOME = """(outcome) => {
  const steps = {
    assign: () => Object.getPrototypeOf(Object.assign({}, outcome)) === Object.prototype,
    assignDetails: () =>
      Object.getPrototypeOf(Object.assign({}, outcome.engagementDetails)) === Object.prototype,
    spread: () => Object.getPrototypeOf({...outcome}) === Object.prototype,
    concat: () => "" + outcome,
    template: () => `${outcome.engagementDetails} ${outcome.extra[0]}`,
    string: () => String(outcome),
    json: () => JSON.parse(JSON.stringify(outcome)).status,
    hasOwn: () => outcome.hasOwnProperty("status"),
    polluted: () => ({}).polluted === undefined && Object.assign({}, outcome).polluted,
    ownKeys: () => ["__proto__", "constructor", "toString", "valueOf", "hasOwnProperty"]
      .filter((key) => [outcome, outcome.engagementDetails, outcome.extra[0]]
        .some((o) => Object.prototype.hasOwnProperty.call(o, key))),
    kept: () => outcome.extra[0].kept === true && outcome.engagementDetails.skillName,
  };
  const out = {};
  for (const [name, step] of Object.entries(steps)) {
    try { out[name] = step(); } catch (err) { out[name] = "threw " + err; }
  }
  return out;
}"""


def test_an_answer_with_prototype_keys_reaches_the_page_as_plain_data(probe: Probe):
    """The promise's outcome and the onEngagement payload can be assigned, spread, printed and
    stringified; no prototype key is an own key; the other keys are kept."""
    context = probe.new_context()

    def hostile(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(ANSWER))

    context.route(lambda url: "/app/engagement/visitors" in url, hostile)
    record = "<script>ChatApi.bind('onEngagement', (o) => { window.__bound = o; });</script>"
    page = probe.open(embed_page(body=record), context=context)

    returned = page.evaluate(
        f"() => ChatApi.getEngagement({{}}).then({USE_OUTCOME})"
    )
    bound = page.evaluate(f"({USE_OUTCOME})(window.__bound)")

    for result in (returned, bound):
        assert result == {
            "assign": True,
            "assignDetails": True,
            "spread": True,
            "concat": "[object Object]",
            "template": "[object Object] [object Object]",
            "string": "[object Object]",
            "json": "Available",
            "hasOwn": True,
            "polluted": None,
            "ownKeys": [],
            "kept": "TestSkill",
        }
