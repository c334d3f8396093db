"""The trimmed standard library the worker boots with: only the modules the engine uses.

Pyodide's ``python_stdlib.zip`` is 2.5 MB of deflated sources, nearly all of which the engine
never imports. The build finds out which ones it does, in the runtime that will run them:
headless Chromium boots the pinned Pyodide with the full library (``tools/snapshot.py`` drives
the browser), imports every module any engine file names in an ``import`` statement (lazy ones
included, found by :func:`engine_import_names`), runs the engine through a scripted visit
(:data:`SURVEY`: the Domain API look-up, a cold account, a NotAvailable re-check, an Available
answer, a report, a watch, a refused request, a malformed answer, an internal error and its
traceback), and lists the library modules then loaded. Their sources, without docstrings and
comments (stripped by CPython 3.14's own ``ast`` in the browser, so the result means what
``python -OO`` would run), go into a stored zip, ``engage-stdlib-<hash>.zip``, which the server
sends brotli-compressed: about 0.3 MB instead of 2.5 MB. The memory snapshot is made with that
zip (it records the zip's directory), and the worker boots with it whether it restores the
snapshot or not. PyScript pages keep Pyodide's full library.

    >>> sorted(engine_import_names({"a.py": "import json, re\\nfrom email.utils import x\\n"
    ...                             "def f():\\n    from engage_web import api\\n"}))
    ['email.utils', 'json', 're']
    >>> name = zip_name(b"PK..."); name.startswith("engage-stdlib-"), name.endswith(".zip")
    (True, True)
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping

__all__ = ["SURVEY", "engine_import_names", "stdlib_zip", "survey_code", "zip_name"]

#: A fixed timestamp for zip entries, so the same sources give the same zip (and file name).
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def engine_import_names(sources: Mapping[str, str]) -> set[str]:
    """Every module an ``import`` statement of ``sources`` (path -> Python text) names, outside
    the engine's own package; relative imports are the engine's own and are left out."""
    names: set[str] = set()
    for path, text in sources.items():
        for node in ast.walk(ast.parse(text, path)):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] != "engage_web"}


#: Run in Pyodide (``runPythonAsync``) with the full library and the engine on ``sys.path``;
#: ``NAMES`` is replaced by the JSON list of :func:`engine_import_names`. Its value is the JSON
#: ``{"files": {path in the library zip: stripped source}, "missing": [names not importable]}``.
SURVEY = r'''
import sys
sys.path.insert(0, "/engage")
import json
NAMES = json.loads(NAMES_JSON)
missing = []
for name in sorted(NAMES):
    try:
        __import__(name)
    except ImportError:
        missing.append(name)   # e.g. modules only the CPython side of a guarded import uses

import asyncio
from engage_web.browser.worker import WorkerHost
from engage_web.core.transport import HttpResponse

JSON = {"content-type": "application/json"}
DETAILS = {"campaignId": "1", "engagementId": "2", "contextId": "1", "windowId": "3",
           "language": "en-US", "engagementRevision": 1, "validForSeconds": 900}

def answer(status, body, **headers):
    return HttpResponse(status, {**JSON, **headers}, body if isinstance(body, str)
                        else json.dumps(body))

SCRIPT = [
    answer(200, {"service": "msdkgw", "account": "demo", "baseURI": "127.0.0.1:9"}),
    answer(503, {"time": 1, "message": "busy", "internalCode": 0},
           **{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    answer(500, {"time": 1, "message": "Loading account: demo, vid: v1", "internalCode": 20}),
    answer(200, {"status": "NotAvailable", "sessionId": "s1", "visitorId": "v1",
                 "pageId": "p1"}),
    answer(200, {"status": "Available", "sessionId": "s1", "visitorId": "v1", "pageId": "p2",
                 "engagementDetails": DETAILS}),
    HttpResponse(200, {}, ""),
    answer(200, "<html>not json</html>"),
    RuntimeError("a transport bug, logged with its traceback"),
    answer(200, {"status": "NotAvailable", "sessionId": "s1", "visitorId": "v1",
                 "pageId": "p3"}),
]

async def transport(request, timeout):
    item = SCRIPT.pop(0) if SCRIPT else answer(200, {"status": "NotAvailable",
        "sessionId": "s1", "visitorId": "v1", "pageId": "p4"})
    if isinstance(item, BaseException):
        raise item
    return item

posted = []
host = WorkerHost(posted.append, transport=transport)
fast = {"preset": "default", "backoffInitialMs": 0, "notAvailableDelayMs": 0,
        "loadingDelayMs": 0, "retryAfterMaxMs": 0, "retries": 2}
await host.handle(json.dumps({"type": "init", "config": {"accountId": "demo",
    "domainApi": "http://127.0.0.1:9", "retry": fast}}))
await host.handle(json.dumps({"type": "check", "id": 1, "params": {
    "consumerSections": "Support, English", "appDetails": {"os": "LINUX",
    "ipAddress": "::1"}, "engagementAttributes": [{"type": "cart", "total": 1,
    "numItems": 1}]}}))
await host.handle(json.dumps({"type": "report", "id": 2, "pageId": "p2",
    "engagementAttributes": [{"type": "impDisplay", "campaign": 1, "engId": 2,
    "revision": 1}], "session": {"vid": "v1", "sid": "s1"}}))
await host.handle(json.dumps({"type": "check", "id": 3, "params": {"appDetails":
    {"os": "mac"}, "sectionz": 1}}))
await host.handle(json.dumps({"type": "check", "id": 4, "params": {}}))
await host.handle(json.dumps({"type": "watch", "params": {}, "options": {}}))
await asyncio.sleep(0)
await host.handle(json.dumps({"type": "unwatch"}))
await host.handle(json.dumps({"type": "cancel"}))
import traceback
try:
    raise ValueError("formatted")
except ValueError:
    traceback.format_exc()

from js import location   # the browser transport itself: an answer, and a refused connection
from engage_web.browser.pyfetch_transport import pyfetch_transport
from engage_web.core.errors import TransportError
from engage_web.core.transport import HttpRequest
await pyfetch_transport(HttpRequest("GET", location.origin + "/__snapshot/ping"), 5.0)
try:
    await pyfetch_transport(HttpRequest("POST", "http://127.0.0.1:9/", {}, "{}"), 5.0)
except TransportError:
    pass

library = json.__file__.rsplit("/json/", 1)[0]   # the mounted stdlib zip, e.g. /lib/python314.zip
loaded = {name: module for name, module in list(sys.modules.items())
          if (getattr(module, "__file__", None) or "").startswith(library + "/")}

import ast

def stripped(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                    ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"

files = {}
for name, module in sorted(loaded.items()):
    path = module.__file__[len(library) + 1:]
    loader = module.__loader__
    if path.endswith(".py") and hasattr(loader, "get_data"):   # frozen modules need no file
        files[path] = stripped(loader.get_data(module.__file__).decode("utf-8"))
json.dumps({"files": files, "missing": missing})
'''


def survey_code(names: set[str]) -> str:
    """:data:`SURVEY` with ``NAMES_JSON`` bound to ``names``."""
    return f"NAMES_JSON = {json.dumps(json.dumps(sorted(names)))}\n" + SURVEY


def stdlib_zip(files: Mapping[str, str]) -> bytes:
    """The trimmed library as deterministic zip bytes: stored (the server compresses the whole
    zip far better than deflate does each file), sorted, fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[path].encode("utf-8"))
    return buffer.getvalue()


def zip_name(data: bytes) -> str:
    """``engage-stdlib-<first 12 hex of the SHA-256>.zip``: a new zip gets a new name, so it
    can be cached for a year."""
    return f"engage-stdlib-{hashlib.sha256(data).hexdigest()[:12]}.zip"
