"""The release as its users install it, and integrity checks that refuse changed files.

- A site owner's way: ``npm install`` the release's tarball into a scratch npm project (offline:
  a local tarball with no dependencies), serve ``node_modules/engage-web/``, and a page with the
  tag printed for it (``integrity`` + ``crossorigin``) answers Available in Chromium.
- The tag pinned by Subresource Integrity loads under the strict CSP of SECURITY.md, and a
  changed ``engage.js`` is refused by the browser (no ``window.ChatApi``, a console error).
- The worker refuses what does not match the hashes the build recorded in its
  ``engage-config.mjs``: a changed engine bundle, Pyodide module or stdlib stops the boot with a
  console error naming the file and a ``runtime`` Error outcome (no changed code runs); a changed
  snapshot only costs a normal boot.
- A PyScript author's way: ``dist/examples/pyscript-wheel.html`` installs the wheel from
  ``dist/`` into its own interpreter, with no index, and checks an engagement with it.

The scratch copies of the worker live in a folder under ``dist/`` (served by the test server),
as in test_snapshot.py: a worker's own requests cannot be routed reliably.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import engage_web
from tests.browser.conftest import BOOT_TIMEOUT_MS, Probe
from tests.browser.test_hostile_pages import CSP, Site
from tools.integrity import script_tag, sri, sri_file
from tools.worker_config import CONFIG_FILE, read_worker_config, worker_config

pytestmark = pytest.mark.browser

SECTIONS = ["Support", "English", "Other"]
BOOTED = re.compile(r"Python engine up in \d+ ms \((snapshot|normal) boot\)")
#: Chromium's own console error when a file fails its integrity check.
BROWSER_REFUSAL = r"Failed to find a valid digest in the 'integrity' attribute"
CHECK = "(s) => ChatApi.getEngagement({consumerSections: s})"


def _booted(probe: Probe) -> list[str]:
    return [m.group(1) for line in probe.console if (m := BOOTED.search(line))]


# -- npm -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def npm_site(release_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch npm project with the release's tarball installed, offline; its folder."""
    project = tmp_path_factory.mktemp("npm-site")
    (project / "package.json").write_text(
        json.dumps({"name": "a-site", "version": "1.0.0", "private": True}) + "\n"
    )
    env = dict(os.environ, npm_config_cache=str(project / ".npm-cache"), npm_config_offline="true")
    done = subprocess.run(
        ["npm", "install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts",
         str(release_dir.npm)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def test_the_npm_package_holds_the_embed_and_nothing_of_the_demo(npm_site: Path):
    """Installed, the package has the embed, its types, the worker and its config, the engine,
    the snapshot and Pyodide, each file its manifest points at, and no demo, emulator or
    PyScript; ``require.resolve("engage-web")`` names the file the tag loads."""
    package = npm_site / "node_modules" / "engage-web"
    manifest = json.loads((package / "package.json").read_text())
    assert manifest["version"] == engage_web.__version__
    assert (package / manifest["types"]).is_file()
    for target in ("./dist/engage.js", "./dist/engage.d.ts", "./integrity.json"):
        assert (package / target).is_file(), target
    files = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    for needed in ("dist/engage.js", "dist/engage-worker.mjs", f"dist/{CONFIG_FILE}",
                   "dist/engage_web.zip", "dist/pyodide/pyodide.mjs",
                   "dist/pyodide/pyodide.asm.wasm", "dist/pyodide/python_stdlib.zip",
                   "README.md", "CHANGELOG.md"):
        assert needed in files, needed
    config = read_worker_config((package / "dist" / CONFIG_FILE).read_bytes())
    assert config["snapshot"] is not None
    assert f"dist/{config['snapshot']['file']}" in files
    assert not [f for f in files if re.search(r"\.html$|^dist/(demo|kiosk|pyscript|examples)/"
                                              r"|emulator|\.whl$", f)], sorted(files)
    integrity = json.loads((package / "integrity.json").read_text())["files"]
    assert {f"dist/{name}" for name in integrity} <= files
    for name, value in integrity.items():
        assert sri_file(package / "dist" / name) == value, name
    resolved = subprocess.run(
        ["node", "-p", "require.resolve('engage-web')"],
        cwd=npm_site, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()
    assert Path(resolved) == package / "dist" / "engage.js"


def test_a_page_served_from_node_modules_answers_available(browser: Any, npm_site: Path):
    """The site serves ``node_modules/engage-web/`` as installed; a page with the tag pinned by
    integrity.json gets Available, and the worker boots from the package's snapshot."""
    from engage_web.cpython.emulator.app import create_app
    from tools.devserver import ServerThread

    package = npm_site / "node_modules" / "engage-web"
    integrity = json.loads((package / "integrity.json").read_text())["files"]
    tag = script_tag("/dist/engage.js", integrity["engage.js"], account_id="demo",
                     extra='data-domain-api="."')
    with ServerThread(create_app(None, static_dir=package)) as base_url:
        probe = Probe(browser, base_url)
        try:
            page = probe.open(f"<!doctype html><meta charset='utf-8'>"
                              f"<link rel='icon' href='data:,'>{tag}", path="/page.html")
            outcome = page.evaluate(CHECK, SECTIONS)
            assert outcome["status"] == "Available", outcome
            page.wait_for_function("true")   # one more round trip: the worker's console lines
            assert _booted(probe) == ["snapshot"], probe.console
            assert not probe.unexpected(), probe.unexpected()
        finally:
            probe.close()


# -- the tag, pinned ---------------------------------------------------------------------------


def _pinned_tag(dist: Path) -> str:
    return script_tag("/engage.js", sri_file(dist / "engage.js"), account_id="demo",
                      extra='data-endpoint="/"')


def test_the_pinned_tag_works_under_a_strict_csp(probe: Probe, dist_dir: Path, release_dir: Any):
    """The tag the release prints (integrity + crossorigin) loads and answers under the strict
    policy, with no violation; its hash is the one the release recorded."""
    tag = _pinned_tag(dist_dir)
    assert f'integrity="{release_dir.integrity["engage.js"]}"' in tag
    site = Site(probe, CSP)
    page = site.open([tag])
    outcome = page.evaluate(CHECK, SECTIONS)
    assert outcome["status"] == "Available", outcome
    assert page.evaluate("window.__violations") == []


def test_a_changed_engage_js_is_refused_by_the_page(probe: Probe, dist_dir: Path):
    """Served a changed engage.js, the browser refuses to run it: the page gets no ChatApi and
    the console says why; the page's own scripts still run."""
    probe.allow(BROWSER_REFUSAL)
    site = Site(probe, CSP)
    changed = (dist_dir / "engage.js").read_text(encoding="utf-8") + "\nwindow.__ran = true;\n"
    site.script("/engage.js", changed)
    site.script("/test/after.js", "window.__chatApi = typeof window.ChatApi;")
    url = probe.base_url + "/test/page.html"
    html = (f"<!doctype html><meta charset='utf-8'><link rel='icon' href='/test/icon'>"
            f"{_pinned_tag(dist_dir)}<script src='/test/after.js'></script>")
    site.context.route(url, lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=html,
        headers={"content-security-policy": CSP}))
    page = site.context.new_page()
    probe.watch(page)
    with page.expect_console_message(lambda m: "integrity" in m.text) as refusal:
        page.goto(url)
    page.wait_for_function("window.__chatApi !== undefined")
    assert page.evaluate("[window.__chatApi, window.__ran === undefined]") == ["undefined", True]
    assert "/engage.js" in refusal.value.text
    assert "blocked" in refusal.value.text


# -- the worker's own checks -------------------------------------------------------------------


@pytest.fixture
def scratch(dist_dir: Path) -> Iterator[Path]:
    """A scratch folder under dist/ (served by the test server), removed afterwards."""
    path = dist_dir / ".integrity"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _worker_copy(
    dist: Path, where: Path, changed: str, change: Callable[[bytes], bytes], snapshot: Any = None
) -> None:
    """engage.js and the worker in ``where``, with a config recording the hashes of dist/'s
    genuine files, while the copy of ``changed`` (a path under dist/) in ``where`` holds
    ``change(genuine bytes)``. A changed Pyodide file comes with a copy of the whole of
    dist/pyodide/ in ``where``; ``snapshot`` (a SnapshotInfo) is booted from when given."""
    for name in ("engage.js", "engage-worker.mjs"):
        shutil.copy(dist / name, where / name)
    own_pyodide = changed.startswith("pyodide/")
    if own_pyodide:
        shutil.copytree(dist / "pyodide", where / "pyodide")
    base = "./pyodide/" if own_pyodide else "../pyodide/"
    integrity = {
        f"{base}{path.name}": sri_file(path) for path in sorted((dist / "pyodide").iterdir())
    }
    engine = "./engage_web.zip" if changed == "engage_web.zip" else "../engage_web.zip"
    integrity[engine] = sri_file(dist / "engage_web.zip")
    if snapshot is not None:
        integrity[f"./{snapshot.file}"] = sri_file(dist / snapshot.file)
        snapshot = {**snapshot.for_worker(), "file": f"./{snapshot.file}"}
    (where / changed).write_bytes(change((dist / changed).read_bytes()))
    (where / CONFIG_FILE).write_bytes(
        worker_config(pyodide_base=base, engine_zip=engine, snapshot=snapshot, integrity=integrity)
    )


def _changed_snapshot(data: bytes) -> bytes:
    """The snapshot with one byte of Python's memory changed (a valid header)."""
    raw = bytearray(data)
    raw[len(raw) // 2] ^= 0xFF
    return bytes(raw)


#: How each file is changed: code that would announce itself if it ever ran, bytes that differ.
CHANGES = {
    "engage_web.zip": lambda data: data[:-1] + bytes([data[-1] ^ 1]),
    "pyodide/pyodide.mjs": lambda data: data + b"\nconsole.error('CHANGED CODE RAN');\n",
    "pyodide/pyodide.asm.mjs": lambda data: data + b"\nconsole.error('CHANGED CODE RAN');\n",
    "pyodide/python_stdlib.zip": lambda data: data[:-1] + bytes([data[-1] ^ 1]),
}


@pytest.mark.parametrize("changed", list(CHANGES))
def test_a_changed_file_is_refused_by_the_worker(
    probe: Probe, dist_dir: Path, scratch: Path, changed: str
):
    """The worker refuses a file whose bytes differ from the hash the build recorded: the boot
    stops, the console names the file, every call resolves with a ``runtime`` Error outcome
    saying so, and no changed code runs."""
    probe.allow(BROWSER_REFUSAL)
    probe.allow(r"the Python runtime could not start|does not match the integrity hash")
    probe.allow(r"Error occurred while installing the standard library")   # Pyodide's own words
    _worker_copy(dist_dir, scratch, changed, CHANGES[changed])
    page = probe.open(
        "<!doctype html><meta charset='utf-8'><link rel='icon' href='data:,'>"
        "<script src='/.integrity/engage.js' data-endpoint='/' data-account-id='demo'></script>",
        path="/.integrity/page.html",
    )
    outcome = page.evaluate(CHECK, SECTIONS)
    assert outcome["status"] == "Error", outcome
    assert outcome["error"]["code"] == "runtime", outcome
    name = Path(changed).name
    assert f"{name} does not match the integrity hash" in outcome["error"]["message"], (
        outcome, probe.console)
    page.wait_for_function("true")   # one more round trip: the worker's console lines
    said = [line for line in probe.console if line.startswith("error:") and name in line
            and "could not start" in line]
    assert said, probe.console
    assert not [line for line in probe.console if "CHANGED CODE RAN" in line]
    assert _booted(probe) == []


def test_a_changed_snapshot_costs_a_normal_boot(
    probe: Probe, dist_dir: Path, scratch: Path
):
    """A snapshot whose bytes differ from the recorded hash (here one byte of Python's memory:
    it would restore) is never used: a warning says why, the worker boots normally, and the
    check answers Available."""
    from tools.snapshot import load_manifest

    info = load_manifest(dist_dir)
    assert info is not None, "the build made no snapshot"
    probe.allow(BROWSER_REFUSAL)
    _worker_copy(dist_dir, scratch, info.file, _changed_snapshot, snapshot=info)
    page = probe.open(
        "<!doctype html><meta charset='utf-8'><link rel='icon' href='data:,'>"
        "<script src='/.integrity/engage.js' data-endpoint='/' data-account-id='demo'></script>",
        path="/.integrity/page.html",
    )
    outcome = page.evaluate(CHECK, SECTIONS)
    assert outcome["status"] == "Available", outcome
    page.wait_for_function("true")
    assert _booted(probe) == ["normal"], probe.console
    warned = [line for line in probe.console if "the memory snapshot could not be used" in line]
    assert len(warned) == 1, probe.console
    assert "does not match the integrity hash" in warned[0], warned


def test_the_shipped_config_pins_every_file_the_worker_loads(dist_dir: Path):
    """dist/engage-config.mjs records a hash for the engine bundle, the snapshot and each
    Pyodide file the worker loads, and each hash is the file's."""
    config = read_worker_config((dist_dir / CONFIG_FILE).read_bytes())
    pinned = config["integrity"]
    for name in ("./engage_web.zip", f"./{config['snapshot']['file']}",
                 "./pyodide/pyodide.mjs", "./pyodide/pyodide.asm.mjs",
                 "./pyodide/pyodide.asm.wasm", "./pyodide/python_stdlib.zip",
                 "./pyodide/pyodide-lock.json"):
        assert pinned.get(name) == sri_file(dist_dir / name), name
    assert sri(b"") not in pinned.values()


# -- PyScript: the wheel, installed by a page ---------------------------------------------------


def test_a_pyscript_page_installs_the_wheel_and_checks_with_it(probe: Probe, dist_dir: Path):
    """dist/examples/pyscript-wheel.html installs engage-web from the wheel in dist/ into its
    own interpreter's site-packages (no index reached) and gets Available through
    engage_web.ChatApi over pyfetch."""
    wheel = dist_dir / f"engage_web-{engage_web.__version__}-py3-none-any.whl"
    assert wheel.is_file()
    context = probe.new_context()
    page = context.new_page()
    probe.watch(page)
    page.goto(probe.base_url + "/examples/pyscript-wheel.html")
    page.wait_for_function(
        "document.querySelector('#outcome').textContent.includes('\"status\"')",
        timeout=BOOT_TIMEOUT_MS,
    )
    outcome = json.loads(page.text_content("#outcome"))
    assert outcome["status"] == "Available", outcome
    installed = page.text_content("#installed")
    assert installed.startswith(f"engage-web {engage_web.__version__} from /lib/python3")
    assert "/site-packages/engage_web/__init__.py" in installed
