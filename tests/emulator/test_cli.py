"""The command line checks a real emulator, retries visibly, reuses sessions, and exits clearly."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from engage_web.core.session import Session
from engage_web.cpython.cli import (
    EXIT_ENDPOINT_ERROR,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    EXIT_SERVE_FAILED,
    JsonFileStateStore,
    main,
)

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--retry-option", "not_available_delay=0.05"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def check(base: str, state: Path, *extra: str) -> tuple[int, str, str]:
    return run(
        "check",
        "--endpoint",
        base,
        "--account",
        "demo",
        "--section",
        "Support",
        "--state",
        str(state),
        *FAST,
        *extra,
    )


def test_check_prints_the_available_outcome(live_server: str, tmp_path: Path):
    """A check of the default emulator ends Available (after the warm-up re-check), exit 0."""
    code, out, err = check(live_server, tmp_path / "s.json")
    assert code == EXIT_OK
    outcome = json.loads(out)
    assert outcome["status"] == "Available"
    assert outcome["engagementDetails"]["skillName"] == "TestSkill"
    assert "retrying: attempt 2" in err
    assert "(NotAvailable)" in err
    assert "Traceback" not in err


def test_retries_through_injected_503s_show_one_line_per_attempt(live_server: str, tmp_path):
    """Injected 503s with Retry-After 1 are retried after 1 s each, one stderr line per attempt."""
    httpx.post(f"{live_server}/_emulator/faults", json={"count": 1, "status": 503, "retryAfter": 1})
    code, out, err = check(live_server, tmp_path / "s.json")
    assert code == EXIT_OK
    assert json.loads(out)["status"] == "Available"
    lines = [line for line in err.splitlines() if line.startswith(("checking:", "retrying:"))]
    visitors = "/api/account/demo/app/engagement/visitors"
    assert lines[:3] == [
        f"checking: attempt 1 POST {visitors}?v=1.0",
        "retrying: attempt 2 in 1 s (http-503)",
        f"checking: attempt 2 POST {visitors}?v=1.0",
    ]
    assert lines[3] == "retrying: attempt 3 in 0.05 s (NotAvailable)"
    assert lines[4].startswith(f"checking: attempt 3 POST {visitors}/")
    assert "?v=1.0&sid=" in lines[4]
    log = httpx.get(f"{live_server}/_emulator/requests").json()["requests"]
    assert [r["status"] for r in log] == [503, 200, 200]


def test_the_session_is_reused_across_runs(live_server: str, tmp_path: Path):
    """A second run sends the stored vid/sid: same visitor and session, one session in all."""
    state = tmp_path / "nested" / "s.json"
    _, first, _ = check(live_server, state)
    _, second, err = check(live_server, state)
    one, two = json.loads(first), json.loads(second)
    assert (two["visitorId"], two["sessionId"]) == (one["visitorId"], one["sessionId"])
    assert "retrying" not in err  # a warm session: no re-check needed
    stored = JsonFileStateStore(state, live_server, "demo").load()
    assert stored == Session(one["visitorId"], one["sessionId"])
    assert httpx.get(f"{live_server}/_emulator/state").json()["sessions"] == 1


def test_no_state_starts_a_fresh_visitor_each_run(live_server: str, tmp_path, monkeypatch):
    """--no-state keeps nothing: each run is a new visitor, and no state file is written."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    args = ["check", "--endpoint", live_server, "--account", "demo", "--no-state", *FAST]
    one, two = json.loads(run(*args)[1]), json.loads(run(*args)[1])
    assert one["visitorId"] != two["visitorId"]
    assert not (tmp_path / "engage-web").exists()


def test_the_default_state_file_lives_in_the_user_cache(live_server, tmp_path, monkeypatch):
    """Without --state the session goes to $XDG_CACHE_HOME/engage-web/sessions.json."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code, out, _ = run("check", "--endpoint", live_server, "--account", "demo", *FAST)
    assert code == EXIT_OK
    data = json.loads((tmp_path / "engage-web" / "sessions.json").read_text())
    assert data["sessions"][f"{live_server} demo"]["visitorId"] == json.loads(out)["visitorId"]


def test_state_is_kept_per_endpoint_and_account(tmp_path: Path):
    """One state file holds sessions for several endpoints/accounts without mixing them."""
    path = tmp_path / "s.json"
    a = JsonFileStateStore(path, "http://a.test/", "demo")
    b = JsonFileStateStore(path, "http://b.test", "demo")
    a.save(Session("va", "sa"))
    b.save(Session("vb", None))
    assert a.load() == Session("va", "sa")
    assert b.load() == Session("vb", None)
    a.save(None)
    assert a.load() is None
    assert b.load() == Session("vb", None)


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"sessions": 3}'])
def test_a_corrupt_state_file_is_reported_and_replaced(tmp_path: Path, content):
    """A damaged state file is a warning, not a crash; the next save repairs it."""
    path = tmp_path / "s.json"
    path.write_text(content)
    warnings = io.StringIO()
    store = JsonFileStateStore(path, "http://a.test", "demo", warn=warnings)
    assert store.load() is None
    assert "ignoring the state file" in warnings.getvalue()
    store.save(Session("v", "s"))
    assert store.load() == Session("v", "s")


def test_json_mode_prints_one_line_outcomes_and_json_progress(live_server: str, tmp_path):
    """--json prints the outcome as one compact line and progress lines as JSON objects."""
    code, out, err = check(live_server, tmp_path / "s.json", "--json")
    assert code == EXIT_OK
    assert out.count("\n") == 1
    assert json.loads(out)["status"] == "Available"
    events = [json.loads(line) for line in err.splitlines()]
    assert [(e["event"], e["attempt"]) for e in events] == [
        ("attempt", 1), ("retry", 2), ("attempt", 2)
    ]
    assert events[0] == {
        "event": "attempt",
        "attempt": 1,
        "stage": "check",
        "method": "POST",
        "url": f"{live_server}/api/account/demo/app/engagement/visitors?v=1.0",
    }
    assert events[1] == {"event": "retry", "attempt": 2, "delayMs": 50, "reason": "NotAvailable"}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "attrs.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bogus"], "unrecognized arguments"),
        (["--attributes", "/nonexistent/attrs.json"], "cannot read"),
        (["--attributes", "FILE:{bad"], "not valid JSON"),
        (["--attributes", 'FILE:{"type": "cart"}'], "must hold a JSON array"),
        (
            [
                "--attributes",
                'FILE:[{"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}]',
            ],
            "report",
        ),
        (
            ["--attributes", 'FILE:[{"type": "personal", "personal": {"gender": "F"}}]'],
            "engagementAttributes[0].personal.gender",
        ),
        (["--retry-preset", "fast"], "retry.preset"),
        (["--retry-option", "max_retries"], "NAME=VALUE"),
        (["--retry-option", "max_retrys=2"], "max_retrys"),
        (["--retry-option", "max_retries=" + "9" * 5000], "a number longer than 400 digits"),
        (["--retry-option", "schedule=" + "[" * 100_000], "the value is too long"),
        (["--retry-option", "schedule=" + "[" * 5000 + "]" * 5000], "nested deeper than 64"),
        (["--attributes", "FILE:" + "[" * 100_000 + "]" * 100_000], "nested deeper than 64"),
        (["--attributes", "FILE:[" + "1" * 5000 + "]"], "a number longer than 400 digits"),
        (["--attributes", "/dev/zero"], "larger than 1048576 bytes"),
        (["--report", "FILE:[]"], "report: engagementAttributes: must hold at least one"),
        (["--report", 'FILE:[{"type": "impDisplay"}]'], "invalid report"),
        (["--no-state"], "not allowed with argument"),
        (["--domain-api", "http://127.0.0.1:9"], "not allowed with argument"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, extra, message):
    """Invalid input exits 2 naming the problem, before any request and without a traceback."""
    extra = [write(tmp_path, e[5:]) if e.startswith("FILE:") else e for e in extra]
    code, _, err = run(
        "check",
        "--endpoint",
        "http://127.0.0.1:9",
        "--account",
        "demo",
        "--state",
        str(tmp_path / "s.json"),
        *extra,
    )
    assert code == EXIT_INVALID_INPUT
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "url", "account", "message"),
    [
        ("--endpoint", "ftp://127.0.0.1", "demo", "endpoint"),
        ("--endpoint", "http://127.0.0.1:9", "no-dash", "account_id"),
        ("--domain-api", "http://api.example", "demo", "domain_api: must be an https:// URL"),
    ],
)
def test_bad_endpoint_or_account_exits_2(tmp_path: Path, option, url, account, message):
    """A malformed endpoint or Domain API URL, or account id, is invalid input (exit 2)."""
    code, _, err = run("check", option, url, "--account", account, "--no-state")
    assert code == EXIT_INVALID_INPUT
    assert message in err


@pytest.mark.parametrize(
    "content",
    ["[" * 100_000, '{"version": 2, "sessions": {"x": ' + "1" * 5000 + "}}", "\x00" * 2_000_000],
)
def test_a_hostile_state_file_is_reported_once_and_repaired(live_server: str, tmp_path, content):
    """A state file nested 100k deep, holding a 5,000-digit number or 2 MB of junk is reported
    once, ignored, and replaced by a good one: the check still answers, without a traceback."""
    state = tmp_path / "s.json"
    state.write_text(content)
    code, out, err = check(live_server, state)
    assert code == EXIT_OK
    assert json.loads(out)["status"] == "Available"
    assert err.count("ignoring the state file") == 1
    assert "Traceback" not in err
    assert JsonFileStateStore(state, live_server, "demo").load().visitor_id == (
        json.loads(out)["visitorId"]
    )


def test_validation_failures_still_print_an_error_outcome(tmp_path: Path):
    """A refused request prints its Error outcome (code 400 and the field) on stdout too."""
    attrs = write(tmp_path, '[{"type": "nope"}]')
    code, out, _ = run(
        "check",
        "--endpoint",
        "http://127.0.0.1:9",
        "--account",
        "demo",
        "--no-state",
        "--attributes",
        attrs,
    )
    assert code == EXIT_INVALID_INPUT
    error = json.loads(out)["error"]
    assert error["code"] == 400
    assert error["field"].startswith("engagementAttributes[0]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("target", "fault", "code"),
    [
        ("unknown account", None, 404),
        ("refused", None, "network"),
        ("server error", {"count": 5, "status": 500}, 500),
    ],
)
def test_endpoint_errors_exit_3(live_server: str, target, fault, code):
    """An Error outcome (HTTP error, network failure) prints the outcome and exits 3."""
    if fault:
        httpx.post(f"{live_server}/_emulator/faults", json=fault)
    endpoint = f"http://127.0.0.1:{free_port()}" if target == "refused" else live_server
    account = "nobody" if target == "unknown account" else "demo"
    status, out, err = run(
        "check",
        "--endpoint",
        endpoint,
        "--account",
        account,
        "--no-state",
        "--retry-preset",
        "none",
    )
    assert status == EXIT_ENDPOINT_ERROR
    assert json.loads(out)["error"]["code"] == code
    assert err.splitlines()[-1].startswith("Error ")  # the summary, after the attempt line


def test_an_account_id_and_the_domain_api_are_all_it_needs(live_server: str, tmp_path: Path):
    """--domain-api: the base is looked up (GET .../service/msdkgw/baseURI.json), the check
    goes to the visitors route of the base it names, and the base is kept in the state file,
    so the next run asks the Domain API nothing."""
    state = tmp_path / "s.json"
    args = ["check", "--account", "demo", "--domain-api", live_server, "--section", "Support",
            "--state", str(state), *FAST]
    code, out, err = run(*args)
    assert code == EXIT_OK, err
    assert json.loads(out)["status"] == "Available"
    lines = err.splitlines()
    assert lines[0] == (
        "looking up: attempt 1 GET /api/account/demo/service/msdkgw/baseURI.json?version=1.0"
    )
    assert lines[1] == "checking: attempt 1 POST /api/account/demo/app/engagement/visitors?v=1.0"
    stored = JsonFileStateStore(state, live_server, "demo").load_base()
    assert stored.base == live_server
    code, _, err = run(*args)
    assert code == EXIT_OK
    assert "looking up" not in err
    paths = [r["path"] for r in httpx.get(f"{live_server}/_emulator/requests").json()["requests"]]
    assert sum("baseURI.json" in path for path in paths) == 1


def test_a_failed_look_up_exits_3_saying_it_was_the_look_up(live_server: str, tmp_path: Path):
    """An account the Domain API does not know ends as an Error of code "lookup" (exit 3)."""
    code, out, _ = run("check", "--account", "nobody", "--domain-api", live_server,
                       "--no-state", "--retry-preset", "none")
    assert code == EXIT_ENDPOINT_ERROR
    error = json.loads(out)["error"]
    assert (error["code"], error["cause"], error["field"]) == ("lookup", 404, "accountId")


def test_report_sends_an_update_of_the_session_the_check_ended_in(live_server: str, tmp_path):
    """--report: after the Available answer, the file's SDEs and impressions are PUT to that
    session for its page; the emulator records them on the session, in order."""
    check_code, out, err = check(
        live_server, tmp_path / "s.json", "--json", "--report",
        write(tmp_path, json.dumps([
            {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": 44},
            {"type": "lead", "lead": {"topic": "bikes"}},
        ])),
    )
    assert check_code == EXIT_OK, err
    outcome, report = (json.loads(line) for line in out.splitlines())
    assert outcome["status"] == "Available"
    assert report == {"status": "Reported", "delivered": True}
    updates = [json.loads(line) for line in err.splitlines() if '"update"' in line]
    assert updates[0]["method"] == "PUT"
    assert updates[0]["url"].endswith(
        f"/visitors/{outcome['visitorId']}?v=1.0&sid={outcome['sessionId']}"
    )
    session = httpx.get(f"{live_server}/_emulator/sessions/{outcome['sessionId']}").json()
    assert [i["type"] for i in session["impressions"]] == ["impDisplay"]
    assert session["engagementAttributes"][-1] == {"type": "lead", "lead": {"topic": "bikes"}}


def test_a_refused_report_exits_3(live_server: str, tmp_path: Path):
    """An impression naming an engagement the session was not offered is refused by the
    endpoint (400): the check's outcome is printed, then the refusal, and the exit code is 3."""
    code, out, _ = check(
        live_server, tmp_path / "s.json", "--json", "--report",
        write(tmp_path, '[{"type": "impAccept", "campaign": 1, "engId": 2, "revision": 3}]'),
    )
    assert code == EXIT_ENDPOINT_ERROR
    outcome, report = (json.loads(line) for line in out.splitlines())
    assert outcome["status"] == "Available"
    assert report["error"]["code"] == 400
    assert report["delivered"] is False


def test_serve_refuses_a_bad_scenario_without_a_traceback(tmp_path: Path):
    """serve with a bad scenario file exits 2 naming the file, key and problem."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[[accounts]]\nid = 'a'\nwarmUp = 'x'\n")
    code, _, err = run("serve", "--scenario", str(bad), "--port", "0")
    assert code == EXIT_INVALID_INPUT
    assert f"{bad}: accounts[0].warmUp: must be an int" in err
    assert "Traceback" not in err


def test_serve_reports_a_busy_port(tmp_path: Path):
    """serve on a port already in use exits 1 with a one-line message."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = run("serve", "--port", str(taken.getsockname()[1]))
    assert code == EXIT_SERVE_FAILED
    assert "cannot listen" in err


def test_serve_and_check_as_real_processes(tmp_path: Path):
    """`serve` and `check` work end to end as processes; serve allows its origins cross-origin."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engage_web",
            "serve",
            "--port",
            "0",
            "--cors-origin",
            "http://page.test",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        banner = server.stdout.readline()
        assert banner.startswith("engage-web emulator on http://127.0.0.1:")
        base = banner.split()[3].rstrip("/")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "engage_web",
                "check",
                "--endpoint",
                base,
                "--account",
                "demo",
                "--section",
                "Support",
                *FAST,
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == EXIT_OK, result.stderr
        assert json.loads(result.stdout)["status"] == "Available"
        port = base.rsplit(":", 1)[1]
        for origin in ("http://page.test", f"http://localhost:{port}"):
            preflight = httpx.options(
                f"{base}/api/account/demo/app/engagement/visitors?v=1.0",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.headers["access-control-allow-origin"] == origin
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_unwritable_state_file_is_a_warning_not_a_failure(live_server: str, tmp_path: Path):
    """If the state file cannot be written, the check still answers and says why on stderr."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    code, out, err = check(live_server, blocker / "s.json")
    assert code == EXIT_OK
    assert json.loads(out)["status"] == "Available"
    assert "cannot write the state file" in err
    assert "Traceback" not in err
