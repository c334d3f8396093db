"""The command line: serve the emulator, or check an endpoint from a terminal.

::

    python3 -m engage_web serve [--host 127.0.0.1] [--port 8765] [--scenario FILE]
                                [--cors-origin ORIGIN]... [--static DIR]
    python3 -m engage_web check --endpoint URL --account ID [--section NAME]...
                                [--attributes FILE] [--retry-preset NAME]
                                [--retry-option NAME=VALUE]... [--state FILE | --no-state]
                                [--json]

``check`` runs one ``getEngagement`` through ``ChatApi`` over the stdlib transport: it validates
the request first, prints one progress line per retry on stderr (from ``onRetry``), and prints
the outcome JSON on stdout (indented; one compact line with ``--json``, which also makes the
stderr lines JSON). The visitor session is reused across runs through a small JSON state file
(default ``$XDG_CACHE_HOME/engage-web/sessions.json`` or ``~/.cache/engage-web/sessions.json``),
keyed by endpoint and account; ``--no-state`` starts a fresh visitor every run.

Exit codes:

====  ==========================================================================================
0     the check ended with an answer: Available or NotAvailable
1     ``serve`` could not start (address in use, ...)
2     invalid input: arguments, attributes file, request validation, retry options, scenario file
3     endpoint error: the check ended with an Error outcome (HTTP error status, network, timeout)
130   interrupted (Ctrl-C)
====  ==========================================================================================

Example::

    $ python3 -m engage_web check --endpoint http://127.0.0.1:8765 --account demo \\
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

from engage_web.errors import ConfigError, RequestError
from engage_web.session import Session

__all__ = [
    "EXIT_ENDPOINT_ERROR",
    "EXIT_INVALID_INPUT",
    "EXIT_OK",
    "EXIT_SERVE_FAILED",
    "JsonFileSessionStore",
    "default_state_path",
    "main",
]

EXIT_OK = 0
EXIT_SERVE_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ENDPOINT_ERROR = 3
EXIT_INTERRUPTED = 130
DEFAULT_PORT = 8765
STATE_VERSION = 1


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


class JsonFileSessionStore:
    """A ``SessionStore`` in a JSON file shared by several endpoint/account keys.

    The file holds ``{"version": 1, "sessions": {"<endpoint> <account>": {"visitorId",
    "sessionId", "savedAt"}}}`` and is replaced atomically on save. A missing file means no
    session; an unreadable or corrupt one is reported on ``warn`` and treated as empty (it is a
    cache, and the next save repairs it); a file that cannot be written is reported the same way
    and the check goes on without it.

    Example::

        store = JsonFileSessionStore(Path("/tmp/s.json"), "http://127.0.0.1:8765", "demo")
        store.save(Session("v1", "s1")); store.load()   # Session(visitor_id='v1', ...)
    """

    def __init__(
        self, path: Path, endpoint: str, account_id: str, *, warn: TextIO | None = None
    ) -> None:
        self.path = Path(path)
        self.key = f"{endpoint.rstrip('/')} {account_id}"
        self.warn = warn

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._warn(f"ignoring the state file {self.path}: {exc}")
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("sessions"), dict):
            self._warn(f"ignoring the state file {self.path}: not an engage-web state file")
            return {}
        return data["sessions"]

    def _warn(self, message: str) -> None:
        if self.warn is not None:
            print(f"warning: {message}", file=self.warn)

    def load(self) -> Session | None:
        """The stored session for this endpoint and account, or None."""
        entry = self._read().get(self.key)
        if not isinstance(entry, dict):
            return None
        vid, sid = entry.get("visitorId"), entry.get("sessionId")
        if not isinstance(vid, str) or not vid:
            return None
        return Session(vid, sid if isinstance(sid, str) and sid else None)

    def save(self, session: Session | None) -> None:
        """Store (or with None forget) the session for this endpoint and account."""
        sessions = self._read()
        if session is None:
            sessions.pop(self.key, None)
        else:
            sessions[self.key] = {
                "visitorId": session.visitor_id,
                "sessionId": session.session_id,
                "savedAt": int(time.time()),
            }
        text = json.dumps({"version": STATE_VERSION, "sessions": sessions}, indent=2) + "\n"
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


# -- check -------------------------------------------------------------------------------------


def _read_attributes(source: str) -> list[Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _InputError(f"--attributes: cannot read {source}: {exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _InputError(
            f"--attributes: {source} is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    if isinstance(value, dict) and set(value) == {"engagementAttributes"}:
        value = value["engagementAttributes"]
    if not isinstance(value, list):
        raise _InputError(
            f"--attributes: {source} must hold a JSON array of engagement attributes (SDEs); "
            f"got a JSON {type(value).__name__}"
        )
    return value


def _parse_retry_options(preset: str | None, options: Sequence[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"preset": preset or "default"}
    for item in options:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise _InputError(f"--retry-option must look like NAME=VALUE; got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
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
    error = outcome.get("error") or {}
    field = f" [{error['field']}]" if error.get("field") else ""
    return f"Error {error.get('code')}{field}: {error.get('message')}"


async def _run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engage_web.api import ChatApi
    from engage_web.outcome import error_outcome
    from engage_web.validation import validate_request

    params: dict[str, Any] = {}
    if args.section:
        params["consumerSections"] = list(args.section)
    if args.attributes is not None:
        params["engagementAttributes"] = _read_attributes(args.attributes)
    try:
        validate_request(params)
    except RequestError as exc:
        outcome = error_outcome(
            exc.status, exc.message, field=exc.field, errors=[e.to_dict() for e in exc.errors]
        )
        _print_json(outcome, out, args.json)
        raise _InputError(f"invalid request: {exc}") from None

    store = None
    if not args.no_state:
        path = Path(args.state) if args.state else default_state_path()
        store = JsonFileSessionStore(path, args.endpoint, args.account, warn=err)

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
            on_retry=on_retry,
            retry=_parse_retry_options(args.retry_preset, args.retry_option),
            session_store=store,
        )
    except ConfigError as exc:
        raise _InputError(str(exc)) from None
    # One progress line per attempt: this one for the first, on_retry's for each later one.
    if args.json:
        _print_json({"event": "attempt", "attempt": 1}, err, True)
    else:
        print(f"checking: attempt 1 ({api.endpoint}, account {api.account_id})", file=err,
              flush=True)
    async with api:
        outcome = await api.get_engagement(params)
    _print_json(outcome, out, args.json)
    if not args.json:
        print(_summary(outcome), file=err, flush=True)
    return EXIT_ENDPOINT_ERROR if outcome.get("status") == "Error" else EXIT_OK


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return asyncio.run(_run_check(args, out, err))


# -- serve -------------------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import socket

    import uvicorn

    from engage_web.emulator.app import create_app, loopback_origins
    from engage_web.emulator.scenario import ScenarioError, load_scenario

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
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
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
    check.add_argument(
        "--endpoint", required=True, metavar="URL", help="e.g. http://127.0.0.1:8765"
    )
    check.add_argument("--account", required=True, metavar="ID", help="account id, e.g. demo")
    check.add_argument(
        "--section", action="append", metavar="NAME", help="a consumer section (repeatable)"
    )
    check.add_argument(
        "--attributes", metavar="FILE", help="JSON array of engagement attributes ('-' = stdin)"
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

        >>> main(["check", "--endpoint", "ftp://x", "--account", "demo", "--no-state"],
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
