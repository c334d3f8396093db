# ruff: noqa: E501, W291 (the documented texts are kept verbatim: long lines, trailing spaces)
"""LivePerson's documented App Engagement API exchanges, verbatim, for conformance tests.

The client's and the emulator's conformance tests replay these texts unchanged, so both sides are
held to what LivePerson documents rather than to each other. Source: the developer-center
repository (``LivePersonInc/developer-center``, commit ``a4ed8a77``), folder
``pages/documents/consumer-information/app-engagement/``: ``methods/create-session.md``,
``methods/update-session.md`` and ``examples.md``. Each ``*_TEXT`` constant is the example's text
as published (indentation and spacing included); the functions parse them, making only the
substitutions named in their docstrings. ``docs/protocol.md`` describes the wire in the
project's own words::

    >>> create_session_request()["appType"], UPDATE_SESSION_REQUEST["pageId"]
    ('EXTERNAL', '4743822558')
    >>> loading_account_error("le123", "v1")["message"]
    'Loading account: le123, vid: v1'
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "AVAILABLE_RESPONSE",
    "AVAILABLE_RESPONSE_TEXT",
    "CREATE_SESSION_REQUEST_TEXT",
    "CREATE_SESSION_URL_TEXT",
    "DOCS_COMMIT",
    "DOCS_SCENARIO",
    "ILLEGAL_VERSION_ERROR",
    "ILLEGAL_VERSION_ERROR_TEXT",
    "IMPRESSION_EVENTS_TEXT",
    "LOADING_ACCOUNT_ERROR_TEXT",
    "NOT_AVAILABLE_RESPONSE",
    "NOT_AVAILABLE_RESPONSE_TEXT",
    "UPDATE_SESSION_REQUEST",
    "UPDATE_SESSION_REQUEST_TEXT",
    "create_session_request",
    "loading_account_error",
]

#: The developer-center commit the texts were read from.
DOCS_COMMIT = "a4ed8a7754635d5b86a5050b4ef78ef02f2d1099"

# -- methods/create-session.md ----------------------------------------------------------------

#: The URL shown above the "POST Body entity example".
CREATE_SESSION_URL_TEXT = (
    "https://domainToLiveperson/api/account/{accountId}/app/engagement/visitors/{visitor-id}"
    "?v=1.0&sid={session-id}"
)

#: "POST Body entity example".
CREATE_SESSION_REQUEST_TEXT = """\
    {
     "appType": "MSDK",
     "appDetails":{
       "os": "MAC_OSX",
       "osVersion": "1.2",
       "appVersion": "1.0",
       "deviceFamily": "MOBILE",
       "ipAddress": "192.168.5.2"
     },
     "consumerSections":[
       "Support",
       "English",
       "Other"
     ],
     "engagementAttributes": [
       {
         "type": "personal",
         "personal": {
           "contacts": [{"email":"sarahw@gmail.com","phone":"12345678"},{"email":"sarahw@myemail.com","phone":"98765430"}],
           "age": {
             "age":30.0,
             "year":1986,
             "month":7,
             "day":22
           },
           "firstname": "Sarah",
           "lastname": "West",
           "gender": "FEMALE",
           "company": "liveperson"
         }
       }
     ]
    }
"""

#: "Status code: 200 OK (engagement is available)".
AVAILABLE_RESPONSE_TEXT = """\
    {
      "status": "Available",
      "sessionId": "abc",
      "visitorId": "xyz",
      "pageId" : "4743822558",
      "engagementDetails": {
        "campaignId": "3346848610",
        "engagementId": "3562981110",
        "contextId": "1",
        "windowId": "3346847910",
        "language": "en-US",
        "engagementRevision": 44,
        "validForSeconds": 900,
        "skillId": 23,
        "skillName":"TestSkill",
        "connectorId":"568046210"
       }
    }
"""

#: "Status code: 200 OK (engagement is not available)".
NOT_AVAILABLE_RESPONSE_TEXT = """\
    {
        "status" : "NotAvailable",
        "sessionId": "abc",
        "visitorId": "xyz",
        "pageId" : "4743822558"
    }
"""

#: The 500 of a low-volume or test account, from the "Response Codes" table (``{{accountId}}``
#: and ``{{vid}}`` are the documentation's placeholders).
LOADING_ACCOUNT_ERROR_TEXT = (
    '{"time":1499263964605,"message":"Loading account: {{accountId}}, vid: {{vid}}",'
    '"internalCode":20}'
)

# -- methods/update-session.md ----------------------------------------------------------------

#: "Body entity example" (impAccept and impDisplay with eContext, and a personal SDE).
UPDATE_SESSION_REQUEST_TEXT = """\
    {  
       "pageId":"4743822558",
       "impAttributes":[  
          {  
             "type":"impAccept",
             "campaign":3115242510,
             "engId":3115242810,
             "revision":537,
             "eContext":[  
                {  
                   "type":"engagementContext",
                   "id":"1"
                }
             ]
          },
          {  
             "type":"impDisplay",
             "campaign":3115242510,
             "engId":3115242810,
             "revision":537,
             "eContext":[  
                {  
                   "type":"engagementContext",
                   "id":"1"
                }
             ]
          }
       ],
       "engagementAttributes":[
         {
           "type": "personal",
           "personal": {
             "contacts": [{"email":"sarah@gmail.com","phone":"0987653"}],
             "age": {
               "age":30.0,
               "year":1986,
               "month":7,
               "day":22
             },
             "firstname": "Sarah",
             "lastname": "West",
             "gender": "FEMALE",
             "company": "liveperson"
           }
         }
       ]
    }
"""

#: The error entity example ("Illegal Version").
ILLEGAL_VERSION_ERROR_TEXT = """\
    {
                 "time":1469543282471,
                 "message":"Illegal Version",
                 "internalCode":33
    }
"""

# -- examples.md --------------------------------------------------------------------------------

#: "ImpressionAcceptEvent, ImpressionDisplayEvent" (an update-session body without SDEs).
IMPRESSION_EVENTS_TEXT = """\
     {
      "pageId": "4743822558",
      "impAttributes": [
        {
          "type": "impAccept",
          "campaign": 3115242510,
          "engId": 3115242810,
          "revision": 537,
          "eContext": [
            {
              "type": "engagementContext",
              "id": "1"
            }
          ]
        },
        {
          "type": "impDisplay",
          "campaign": 3115242510,
          "engId": 3115242810,
          "revision": 537,
          "eContext": [
            {
              "type": "engagementContext",
              "id": "1"
            }
          ]
        }
      ]
    }
"""

AVAILABLE_RESPONSE: dict[str, Any] = json.loads(AVAILABLE_RESPONSE_TEXT)
NOT_AVAILABLE_RESPONSE: dict[str, Any] = json.loads(NOT_AVAILABLE_RESPONSE_TEXT)
UPDATE_SESSION_REQUEST: dict[str, Any] = json.loads(UPDATE_SESSION_REQUEST_TEXT)
ILLEGAL_VERSION_ERROR: dict[str, Any] = json.loads(ILLEGAL_VERSION_ERROR_TEXT)


def create_session_request() -> dict[str, Any]:
    """The documented create-session body with ``appType`` ``EXTERNAL`` instead of ``MSDK``
    (the only substitution: engage-web speaks for external apps, the one type the seed allows;
    the docs list both values)."""
    body = json.loads(CREATE_SESSION_REQUEST_TEXT)
    body["appType"] = "EXTERNAL"
    return body


def loading_account_error(account_id: str, vid: str) -> dict[str, Any]:
    """The documented "Loading account" body with its placeholders filled in (``time`` stays
    the documentation's)."""
    text = LOADING_ACCOUNT_ERROR_TEXT.replace("{{accountId}}", account_id).replace("{{vid}}", vid)
    return json.loads(text)


#: An emulator scenario that answers the documented exchanges: the create-session example gets
#: the documented Available answer (skill 23 online) with its page id, and, with skill 23
#: offline, the engagement the update-session example's impressions name (campaign 3115242510,
#: engagement 3115242810, revision 537, context "1").
DOCS_SCENARIO = """\
warmUp = 0

[[skills]]
id = 23
name = "TestSkill"
agentsOnline = 1

[[skills]]
id = 24
name = "Chat"
agentsOnline = 1

[[accounts]]
id = "le12345678"
pageId = "4743822558"

[[accounts.engagements]]
sections = ["Support"]
campaignId = "3346848610"
engagementId = "3562981110"
contextId = "1"
windowId = "3346847910"
language = "en-US"
engagementRevision = 44
validForSeconds = 900
skillId = 23
connectorId = "568046210"

[[accounts.engagements]]
sections = ["English"]
campaignId = "3115242510"
engagementId = "3115242810"
contextId = "1"
windowId = "3346847910"
language = "en-US"
engagementRevision = 537
validForSeconds = 900
skillId = 24
"""
