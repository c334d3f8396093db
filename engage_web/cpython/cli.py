"""The command line: serve the emulator, or check an endpoint from a terminal.

::

    python3 -m engage_web serve [--host 127.0.0.1] [--port 8765] [--scenario FILE]
                                [--cors-origin ORIGIN]... [--static DIR]
    python3 -m engage_web check --account ID [--endpoint URL | --domain-api URL]
                                [--section NAME]... [--attributes FILE] [--report FILE]
                                [--retry-preset NAME] [--retry-option NAME=VALUE]...
                                [--method-override] [--state FILE | --no-state] [--json]

``check`` runs one ``getEngagement`` through ``ChatApi`` over the stdlib transport. With only an
account id it asks LivePerson's Domain API (``--domain-api``, default
``https://api.liveperson.net``) where the account's App Engagement API lives; ``--endpoint``
names it instead. It validates the request (and the ``--report`` file) first, prints one
progress line per request on stderr (the request line LivePerson receives, and before each
retry why), and prints the outcome JSON on stdout (indented; one compact line with ``--json``,
which also makes the stderr lines JSON). With ``--report FILE`` the SDEs and impression events
in FILE are then sent as an update of the session the check ended in, for its page, and the
report's result is printed as a second JSON document. The visitor session and the resolved base
are kept across runs in a small JSON state file (default
``$XDG_CACHE_HOME/engage-web/sessions.json`` or ``~/.cache/engage-web/sessions.json``), keyed
by endpoint (or Domain API) and account; ``--no-state`` starts a fresh visitor every run.

Input files and options are bounded (``MAX_INPUT_BYTES``, JSON nesting, number lengths): what
goes past a bound is refused with a message and exit 2, never a traceback.

Exit codes:

====  ==========================================================================================
0     the check ended with an answer (Available or NotAvailable) and the report, if any, was
      delivered
1     ``serve`` could not start (address in use, ...)
2     invalid input, refused before anything was sent: arguments, attributes or report file,
      request validation, retry options, scenario file
3     the endpoint or the Domain API look-up ended in an Error outcome (an HTTP error status,
      4xx included; network; timeout), for the check or the report
130   interrupted (Ctrl-C)
====  ==========================================================================================

Example::

    $ python3 -m engage_web check --account demo --domain-api http://127.0.0.1:8765 \\
          --section Support --section English
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from engage_web.core import jsontext
from engage_web.core.domain import ResolvedBase
from engage_web.core.errors import ConfigError, RequestError
from engage_web.core.session import Session
from engage_web.core.wire import DEFAULT_DOMAIN_API

__all__ = [
    "EXIT_ENDPOINT_ERROR",
    "EXIT_INVALID_INPUT",
    "EXIT_OK",
    "EXIT_SERVE_FAILED",
    "JsonFileStateStore",
    "default_state_path",
    "main",
]

EXIT_OK = 0
EXIT_SERVE_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ENDPOINT_ERROR = 3
EXIT_INTERRUPTED = 130
DEFAULT_PORT = 8765
STATE_VERSION = 2
#: The most bytes read from an input file (attributes, report, state): a request body is at
#: most 64 KiB, so anything near this size is a mistake (``--attributes /dev/zero``).
MAX_INPUT_BYTES = 1024 * 1024


class _InputError(Exception):
    """Bad command-line input: message for stderr, exit code 2."""


# -- the state file ----------------------------------------------------------------------------


def default_state_path() -> Path:
    """``$XDG_CACHE_HOME/engage-web/sessions.json``, else ``~/.cache/engage-web/sessions.json``.

    >>> default_state_path().name
    'sessions.json'
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "engage-web" / "sessions.json"


class JsonFileStateStore:
    """The visitor session and the resolved base of one endpoint (or Domain API) and account,
    kept in a JSON file shared by several such keys: a ``SessionStore`` and a ``BaseCache``.

    The file holds ``{"version": 2, "sessions": {"<where> <account>": {"visitorId",
    "sessionId", "savedAt"}}, "bases": {"<where> <account>": {"base", "resolvedAt"}}}`` and is
    replaced atomically on save. A missing file means nothing is known; an unreadable, corrupt
    or oversized one is reported once on ``warn``, treated as empty and replaced by the next
    save (it is a cache); a file that cannot be written is reported the same way and the check
    goes on without it. Version 1 files (sessions only) are read as they are.

    Example::

        store = JsonFileStateStore(Path("/tmp/s.json"), "http://127.0.0.1:8765", "demo")
        store.save(Session("v1", "s1")); store.load()   # Session(visitor_id='v1', ...)
    """

    def __init__(
        self, path: Path, where: str, account_id: str, *, warn: TextIO | None = None
    ) -> None:
        self.path = Path(path)
        self.key = f"{where.rstrip('/')} {account_id}"
        self.warn = warn
        self._warned: set[str] = set()

    def _read(self) -> dict[str, Any]:
        try:
            data = _load_json_file(self.path)
        except FileNotFoundError:
            return {}
        except _InputError as exc:
            self._warn(f"ignoring the state file: {exc}")
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("sessions", {}), dict):
            self._warn(f"ignoring the state file {self.path}: not an engage-web state file")
            return {}
        return data

    def _section(self, name: str) -> dict[str, Any]:
        section = self._read().get(name)
        return section if isinstance(section, dict) else {}

    def _warn(self, message: str) -> None:
        """Say ``message`` on ``warn``, once per run (a file is read several times a check)."""
        if self.warn is not None and message not in self._warned:
            self._warned.add(message)
            print(f"warning: {message}", file=self.warn)

    def load(self) -> Session | None:
        """The stored session for this endpoint and account, or None."""
        entry = self._section("sessions").get(self.key)
        if not isinstance(entry, dict):
            return None
        vid, sid = entry.get("visitorId"), entry.get("sessionId")
        if not isinstance(vid, str) or not vid:
            return None
        return Session(vid, sid if isinstance(sid, str) and sid else None)

    def save(self, session: Session | None) -> None:
        """Store (or with None forget) the session for this endpoint and account."""
        entry = None
        if session is not None:
            entry = {
                "visitorId": session.visitor_id,
                "sessionId": session.session_id,
                "savedAt": int(time.time()),
            }
        self._write("sessions", entry)

    def load_base(self) -> ResolvedBase | None:
        """The base resolved for this Domain API and account, or None."""
        entry = self._section("bases").get(self.key)
        if not isinstance(entry, dict):
            return None
        base, at = entry.get("base"), entry.get("resolvedAt")
        if not isinstance(base, str) or not isinstance(at, int | float) or isinstance(at, bool):
            return None
        return ResolvedBase(base, float(at))

    def save_base(self, resolved: ResolvedBase | None) -> None:
        """Store (or with None forget) the resolved base."""
        entry = None
        if resolved is not None:
            entry = {"base": resolved.base, "resolvedAt": resolved.resolved_at}
        self._write("bases", entry)

    def _write(self, name: str, entry: dict[str, Any] | None) -> None:
        data = self._read()
        sections = {
            key: dict(value) for key in ("sessions", "bases")
            if isinstance(value := data.get(key), dict)
        }
        section = sections.setdefault(name, {})
        if entry is None:
            section.pop(self.key, None)
        else:
            section[self.key] = entry
        text = json.dumps({"version": STATE_VERSION, **sections}, indent=2) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".sessions-", dir=self.path.parent)
        except OSError as exc:
            self._warn(f"cannot write the state file {self.path}: {exc.strerror or exc}")
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            self._warn(f"cannot write the state file {self.path}: {exc.strerror or exc}")


# -- bounded input -----------------------------------------------------------------------------


def _parse_json(text: str, what: str) -> Any:
    """JSON within the bounds of ``core/jsontext.py``, or ``_InputError`` naming ``what``."""
    try:
        return jsontext.loads(text, max_chars=MAX_INPUT_BYTES)
    except jsontext.JsonBoundsError as exc:
        raise _InputError(f"{what}: JSON {exc}") from None
    except json.JSONDecodeError as exc:
        raise _InputError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise _InputError(f"{what} is not JSON this command reads ({exc})") from None


def _load_json_file(path: Path | str) -> Any:
    """A JSON file read within ``MAX_INPUT_BYTES`` (``-`` is stdin); ``_InputError`` otherwise.
    ``FileNotFoundError`` is left to the caller (a missing state file is no error)."""
    try:
        if str(path) == "-":
            text = sys.stdin.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_INPUT_BYTES + 1)
            if len(raw) > MAX_INPUT_BYTES:
                raise _InputError(f"{path} is larger than {MAX_INPUT_BYTES} bytes")
            text = raw.decode("utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _InputError(f"cannot read {path}: {exc}") from None
    if len(text) > MAX_INPUT_BYTES:
        raise _InputError(f"{path} is larger than {MAX_INPUT_BYTES} bytes")
    return _parse_json(text, str(path))


# -- check -------------------------------------------------------------------------------------


def _read_attributes(source: str, option: str) -> list[Any]:
    """The JSON array of SDEs in ``source`` (a file, ``-`` for stdin), or its
    ``{"engagementAttributes": [...]}`` wrapper."""
    try:
        value = _load_json_file(source)
    except FileNotFoundError:
        raise _InputError(f"{option}: cannot read {source}: no such file") from None
    except _InputError as exc:
        raise _InputError(f"{option}: {exc}") from None
    if isinstance(value, dict) and set(value) == {"engagementAttributes"}:
        value = value["engagementAttributes"]
    if not isinstance(value, list):
        raise _InputError(
            f"{option}: {source} must hold a JSON array of engagement attributes (SDEs); "
            f"got a JSON {type(value).__name__}"
        )
    return value


def _parse_retry_options(preset: str | None, options: Sequence[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"preset": preset or "default"}
    for item in options:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise _InputError(f"--retry-option must look like NAME=VALUE; got {item!r}")
        if len(raw) > 10_000:
            raise _InputError(f"--retry-option {name.strip()}: the value is too long")
        try:
            value = _parse_json(raw, f"--retry-option {name.strip()}")
        except _InputError:
            if raw.lstrip()[:1] in ("[", "{") or raw.strip().lstrip("-").isdigit():
                raise  # meant as JSON (a list, an object, a number) but unreadable
            value = raw
        result[name.strip()] = value
    return result


def _print_json(value: Any, stream: TextIO, compact: bool) -> None:
    text = json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2)
    print(text, file=stream, flush=True)


def _summary(outcome: dict[str, Any]) -> str:
    status = outcome.get("status")
    if status == "Available":
        d = outcome.get("engagementDetails") or {}
        return (
            f"Available: engagement {d.get('engagementId')} (skill {d.get('skillName')} "
            f"#{d.get('skillId')}), valid {d.get('validForSeconds')} s"
        )
    if status == "NotAvailable":
        return "NotAvailable: no engagement can be offered now"
    if status == "Reported":
        return "Reported: the update of the session was delivered"
    error = outcome.get("error") or {}
    field = f" [{error['field']}]" if error.get("field") else ""
    code = f" (internalCode {error['internalCode']})" if "internalCode" in error else ""
    return f"Error {error.get('code')}{field}{code}: {error.get('message')}"


def _request_target(url: str) -> str:
    """The request target of ``url`` (path and query), as in an HTTP request line."""
    split = urlsplit(url)
    return split.path + (f"?{split.query}" if split.query else "")


async def _run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engage_web.core.outcome import error_outcome
    from engage_web.core.validation import validate_report, validate_request
    from engage_web.cpython.stdlib_transport import stdlib_transport
    from engage_web.driver.api import ChatApi

    params: dict[str, Any] = {}
    if args.section:
        params["consumerSections"] = list(args.section)
    if args.attributes is not None:
        params["engagementAttributes"] = _read_attributes(args.attributes, "--attributes")
    report = None
    if args.report is not None:
        report = _read_attributes(args.report, "--report")
    checks = [("request", validate_request, params)]
    if report is not None:  # the page id is only known later: any well-formed one will do
        checks.append(("report", validate_report, {"engagementAttributes": report, "pageId": "0"}))
    for what, validate, value in checks:
        try:
            validate(value)
        except RequestError as exc:
            outcome = error_outcome(
                exc.status, exc.message, field=exc.field, errors=[e.to_dict() for e in exc.errors]
            )
            _print_json(outcome, out, args.json)
            raise _InputError(f"invalid {what}: {exc}") from None

    where = args.endpoint or args.domain_api or DEFAULT_DOMAIN_API
    store = None
    if not args.no_state:
        path = Path(args.state) if args.state else default_state_path()
        store = JsonFileStateStore(path, where, args.account, warn=err)

    def on_attempt(info: dict[str, Any]) -> None:
        target = _request_target(info["url"])
        if args.json:
            _print_json({"event": "attempt", **info}, err, True)
        else:
            stage = {"lookup": "looking up", "update": "reporting"}.get(info["stage"], "checking")
            print(
                f"{stage}: attempt {info['attempt']} {info['method']} {target}",
                file=err,
                flush=True,
            )

    def on_retry(info: dict[str, Any]) -> None:
        if args.json:
            _print_json({"event": "retry", **info}, err, True)
        else:
            seconds = info.get("delayMs", 0) / 1000
            print(
                f"retrying: attempt {info.get('attempt')} in {seconds:g} s ({info.get('reason')})",
                file=err,
                flush=True,
            )

    try:
        api = ChatApi(
            args.endpoint,
            args.account,
            domain_api=args.domain_api,
            on_retry=on_retry,
            on_attempt=on_attempt,
            retry=_parse_retry_options(args.retry_preset, args.retry_option),
            transport=stdlib_transport,
            session_store=store,
            base_cache=store,
            method_override=args.method_override,
        )
    except ConfigError as exc:
        raise _InputError(str(exc)) from None
    async with api:
        outcome = await api.get_engagement(params)
        _print_json(outcome, out, args.json)
        if not args.json:
            print(_summary(outcome), file=err, flush=True)
        if outcome.get("status") == "Error":
            return EXIT_ENDPOINT_ERROR
        if report is None:
            return EXIT_OK
        result = await api.report(report, page_id=outcome.get("pageId"))
    _print_json(result, out, args.json)
    if not args.json:
        print(_summary(result), file=err, flush=True)
    return EXIT_OK if result.get("delivered") else EXIT_ENDPOINT_ERROR


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return asyncio.run(_run_check(args, out, err))


# -- serve -------------------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import socket

    import uvicorn

    from engage_web.cpython.emulator.app import create_app, loopback_origins
    from engage_web.cpython.emulator.scenario import ScenarioError, load_scenario
    from engage_web.cpython.emulator.server import server_config

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise _InputError(f"bad scenario: {exc}") from None
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=err)
        return EXIT_SERVE_FAILED
    port = sock.getsockname()[1]
    app = create_app(
        scenario,
        cors_origins=(*loopback_origins(port), *args.cors_origin),
        static_dir=args.static,
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"engage-web emulator on http://{host}:{port}/  scenario: {scenario.source}; Ctrl-C stops",
        file=out,
        flush=True,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: the /_emulator/ control routes are reachable from the network", file=err)
    uvicorn.Server(server_config(app)).run(sockets=[sock])
    return EXIT_OK


# -- main --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``serve`` and ``check``)."""
    parser = argparse.ArgumentParser(
        prog="python3 -m engage_web",
        description="engage-web: serve the local engagement endpoint, or check an endpoint.",
        epilog="exit codes: 0 answer, 1 serve failed, 2 invalid input, 3 endpoint error",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the emulator (local use)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument("--scenario", metavar="FILE", help="scenario TOML (default: built-in)")
    serve.add_argument(  # the server's own loopback origins are always allowed
        "--cors-origin",
        metavar="ORIGIN",
        action="append",
        default=[],
        help="allow this origin cross-origin (repeatable; '*' for any)",
    )
    serve.add_argument("--static", metavar="DIR", help="also serve the files of DIR at /")
    serve.set_defaults(func=_cmd_serve)

    check = commands.add_parser("check", help="run one engagement check and print the outcome")
    check.add_argument("--account", required=True, metavar="ID", help="account id, e.g. demo")
    where = check.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint", metavar="URL",
        help="the App Engagement API's base URL, e.g. http://127.0.0.1:8765 (skips the look-up)",
    )
    where.add_argument(
        "--domain-api", metavar="URL",
        help=f"where to look the base up (default {DEFAULT_DOMAIN_API})",
    )
    check.add_argument(
        "--section", action="append", metavar="NAME", help="a consumer section (repeatable)"
    )
    check.add_argument(
        "--attributes", metavar="FILE", help="JSON array of engagement attributes ('-' = stdin)"
    )
    check.add_argument(
        "--report", metavar="FILE",
        help="then send the SDEs/impression events in FILE as an update of the session",
    )
    check.add_argument(
        "--method-override", action="store_true",
        help="send the report as POST with X-HTTP-Method-Override: PUT",
    )
    check.add_argument(
        "--retry-preset", metavar="NAME", help="retry preset: default, liveperson or none"
    )
    check.add_argument(
        "--retry-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one retry option, e.g. max_retries=5 (repeatable; VALUE is JSON)",
    )
    state = check.add_mutually_exclusive_group()
    state.add_argument("--state", metavar="FILE", help="session state file (default: user cache)")
    state.add_argument("--no-state", action="store_true", help="do not reuse a visitor session")
    check.add_argument("--json", action="store_true", help="compact JSON on stdout and stderr")
    check.set_defaults(func=_cmd_check)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line; returns the exit code (see the module docstring).

    Example::

        >>> main(["check", "--account", "demo", "--domain-api", "ftp://x", "--no-state"],
        ...      stdout=__import__("io").StringIO(), stderr=__import__("io").StringIO())
        2
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed its message (or --help)
        return EXIT_INVALID_INPUT if exc.code else EXIT_OK
    try:
        return args.func(args, out, err)
    except _InputError as exc:
        print(f"error: {exc}", file=err, flush=True)
        return EXIT_INVALID_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=err, flush=True)
        return EXIT_INTERRUPTED
