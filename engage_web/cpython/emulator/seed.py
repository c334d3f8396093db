"""The seed's examples (``getEngagement.txt``), kept once for the whole project.

The default scenario answers the example request with Available and the example's
``engagementDetails`` (skill 23, ``TestSkill``) once a session is past its warm-up; the demo
page's editor starts from the request; the tests send it and expect those details. Each call
returns a fresh deep copy, so a caller may change its copy freely::

    >>> seed_request()["consumerSections"]
    ['Support', 'English', 'Other']
    >>> seed_request(with_ids=True)["vid"], "vid" in seed_request()
    ('123', False)
    >>> seed_engagement_details()["skillName"]
    'TestSkill'
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["SEED_ENGAGEMENT_DETAILS", "SEED_EXAMPLE", "seed_engagement_details", "seed_request"]

#: The seed's example, verbatim (its ``vid``/``sid`` are placeholders of the documentation).
SEED_EXAMPLE: dict[str, Any] = {
    "appType": "EXTERNAL",
    "vid": "123",
    "sid": "456",
    "appDetails": {
        "os": "MAC_OSX",
        "osVersion": "1.2",
        "appVersion": "1.0",
        "deviceFamily": "MOBILE",
        "ipAddress": "192.168.5.2",
    },
    "consumerSections": ["Support", "English", "Other"],
    "engagementAttributes": [
        {
            "type": "personal",
            "personal": {
                "contacts": [
                    {"email": "test.com", "phone": "12345678"},
                    {"email": "test2.co.il", "phone": "98765430"},
                ],
                "age": {"age": 30.0, "year": 1985, "month": 7, "day": 22},
                "firstname": "test",
                "lastname": "test2",
                "gender": "FEMALE",
                "company": "liveperson",
            },
        }
    ],
}


def seed_request(*, with_ids: bool = False) -> dict[str, Any]:
    """A fresh copy of the seed's example; without its placeholder ``vid``/``sid`` by default
    (a check without them opens a new session; the stored session is sent instead)."""
    request = copy.deepcopy(SEED_EXAMPLE)
    if not with_ids:
        del request["vid"], request["sid"]
    return request


#: ``engagementDetails`` of the seed's "Engagement is available" response example.
SEED_ENGAGEMENT_DETAILS: dict[str, Any] = {
    "campaignId": "3346848610",
    "engagementId": "3562981110",
    "contextId": "1",
    "windowId": "3346847910",
    "language": "en-US",
    "engagementRevision": 44,
    "validForSeconds": 900,
    "skillId": 23,
    "skillName": "TestSkill",
}


def seed_engagement_details() -> dict[str, Any]:
    """A fresh copy of the seed's example ``engagementDetails``."""
    return copy.deepcopy(SEED_ENGAGEMENT_DETAILS)
