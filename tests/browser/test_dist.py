"""tools.dist.build: what dist/ holds, what the engine bundle leaves out, and the CDN option.

CPython only (no browser). The pages' real requests are checked in the browser tests: the
``probe`` fixture fails any test whose pages fetch from another host than the loopback server.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tools.dist import PYODIDE_FILES, build, engine_files, pyscript_config

ROOT = Path(__file__).resolve().parents[2]
CDN_MARKERS = ("cdn.jsdelivr", "unpkg", "pyscript.net")
#: Our own files in dist/ that pages load (vendor files are checked by their requests instead).
OWN_TEXT_FILES = ("engage.js", "engage-worker.mjs", "engage.d.ts", "pyscript.json")

needs_runtime = pytest.mark.skipif(
    not (ROOT / "node_modules" / "pyodide" / "pyodide.mjs").exists(),
    reason="the npm runtime is not installed (python3 build.py build runs npm ci)",
)


@pytest.fixture(scope="module")
def dist() -> Path:
    """dist/ as the build makes it (incremental: cheap when already built)."""
    if not (ROOT / "node_modules" / "pyodide" / "pyodide.mjs").exists():
        pytest.skip("the npm runtime is not installed (python3 build.py build runs npm ci)")
    return build(ROOT)


def _scratch_root(tmp_path: Path) -> Path:
    """A project root whose sources are the real ones (symlinked) and whose dist/ is scratch."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("node_modules", "static", "templates", "engage_web"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def test_dist_holds_the_runtime_the_engine_and_the_pages(dist: Path):
    """dist/ has the facade, worker, types, engine zip, PyScript config, Pyodide and PyScript."""
    for name in (*OWN_TEXT_FILES, "engage_web.zip", "examples/python-callback.html"):
        assert (dist / name).is_file(), name
    for name in PYODIDE_FILES:
        assert (dist / "pyodide" / name).is_file(), name
    assert (dist / "pyscript" / "core.js").is_file()
    assert (dist / "pyscript" / "core.css").is_file()


def test_the_shipped_worker_names_the_builds_snapshot_of_the_pinned_pyodide(dist: Path):
    """The worker's engage-config.mjs names a snapshot in dist/ made from this very engine
    bundle and Pyodide build, and the trimmed library it was made with, so visitors boot from
    it (the browser tests check the boot)."""
    from tools.snapshot import load_manifest, pyodide_build_id, snapshot_build_id

    info = load_manifest(dist)
    assert info is not None, "no current snapshot in dist/ (engage-snapshot.json)"
    config = (dist / "engage-config.mjs").read_text(encoding="utf-8")
    named = info.for_worker(gzip=True)
    assert json.dumps(named, indent=2).replace("\n", "\n  ") in config
    assert (dist / named["gzip"]).is_file()  # for hosts that send files raw
    raw = (dist / info.file).read_bytes()
    assert snapshot_build_id(raw) == pyodide_build_id(dist / "pyodide" / "pyodide.mjs")
    assert f'"stdlib": "{info.stdlib}"' in config
    assert (dist / info.stdlib).is_file()


def test_the_pages_are_rendered_into_dist(dist: Path):
    """The demo, kiosk and embed pages and their assets are part of every build."""
    for name in ("index.html", "kiosk.html", "embed.html"):
        assert "<html" in (dist / name).read_text(encoding="utf-8"), name
    assert (dist / "demo").is_dir()
    assert (dist / "kiosk").is_dir()


def test_the_engine_bundle_holds_only_what_runs_in_the_browser(dist: Path):
    """engage_web.zip has the core, the driver and the browser wing, never the CPython wing."""
    names = zipfile.ZipFile(dist / "engage_web.zip").namelist()
    for needed in (
        "engage_web/__init__.py",
        "engage_web/driver/api.py",
        "engage_web/core/engine.py",
        "engage_web/core/validation.py",
        "engage_web/browser/worker.py",
        "engage_web/browser/pyfetch_transport.py",
        "engage_web/browser/page.py",
    ):
        assert needed in names, needed
    for name in names:
        assert not name.startswith("engage_web/cpython/emulator/"), name
        assert name not in (
            "engage_web/cpython/cli.py",
            "engage_web/cpython/stdlib_transport.py",
            "engage_web/__main__.py",
        ), name
        assert "__pycache__" not in name


def test_engine_files_follow_the_layout(tmp_path: Path):
    """engine_files ships what the layout says runs in the browser (core, driver, the browser
    wing, ``__init__``), data files included; never the CPython wing, ``__main__``, a module
    outside the layout's folders, or caches."""
    package = tmp_path / "engage_web"
    for rel in (
        "__init__.py",
        "__main__.py",
        "stray.py",
        "core/data.json",
        "core/engine.py",
        "driver/api.py",
        "cpython/cli.py",
        "cpython/emulator/app.py",
        "browser/worker.py",
        "core/__pycache__/engine.cpython-311.pyc",
        "core/notes.txt",
    ):
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text("x")
    assert [name for name, _ in engine_files(package)] == [
        "engage_web/__init__.py",
        "engage_web/browser/worker.py",
        "engage_web/core/data.json",
        "engage_web/core/engine.py",
        "engage_web/driver/api.py",
    ]


def test_nothing_we_ship_points_at_a_cdn_by_default(dist: Path):
    """Our files in dist/ (and the engine zip) name no CDN; Pyodide is loaded from dist/pyodide/."""
    texts = {name: (dist / name).read_text(encoding="utf-8") for name in OWN_TEXT_FILES}
    for path in (dist / "examples").rglob("*.html"):
        texts[str(path.relative_to(dist))] = path.read_text(encoding="utf-8")
    with zipfile.ZipFile(dist / "engage_web.zip") as bundle:
        for name in bundle.namelist():
            texts[name] = bundle.read(name).decode("utf-8")
    for name, text in texts.items():
        for marker in CDN_MARKERS:
            assert marker not in text, f"{name} mentions {marker}"
    assert '"pyodideBase": "./pyodide/"' in (dist / "engage-config.mjs").read_text()
    assert (dist / "engage-worker.mjs").read_bytes() == (
        ROOT / "static" / "engage-worker.mjs"
    ).read_bytes()  # shipped as written: the build tells it things through engage-config.mjs
    assert json.loads(texts["pyscript.json"])["interpreter"] == "/pyodide/pyodide.mjs"


@needs_runtime
def test_the_cdn_option_points_the_worker_and_pyscript_at_the_cdn(tmp_path: Path):
    """build(cdn=URL) makes the worker and pyscript.json load Pyodide from that URL."""
    cdn = "https://cdn.example.test/pyodide/v314.0.7/full/"
    out = build(_scratch_root(tmp_path), cdn=cdn, snapshot=False)
    config = (out / "engage-config.mjs").read_text(encoding="utf-8")
    assert f'"pyodideBase": "{cdn}"' in config
    assert '"snapshot": null' in config
    assert json.loads((out / "pyscript.json").read_text())["interpreter"] == cdn + "pyodide.mjs"


@needs_runtime
@pytest.mark.parametrize(
    ("cdn", "public_path"),
    [("ftp://x/", "/"), ("https://cdn.example.test/no-slash", "/"), (None, "static/")],
)
def test_bad_build_options_stop_the_build_with_a_clear_message(tmp_path: Path, cdn, public_path):
    """A CDN that is not an http(s) URL ending in '/', or a relative public path, is refused."""
    with pytest.raises(SystemExit, match=r"cdn must be|public_path must be"):
        build(_scratch_root(tmp_path), cdn=cdn, public_path=public_path, snapshot=False)


def test_pyscript_config_turns_plugins_off_and_maps_the_engine_zip():
    """The PyScript config names the local interpreter, maps our zip into the FS, plugins off."""
    config = json.loads(pyscript_config(public_path="/assets/engage/"))
    assert config == {
        "interpreter": "/assets/engage/pyodide/pyodide.mjs",
        "files": {"/assets/engage/engage_web.zip": "./*"},
        "plugins": ["!py-editor", "!py-terminal", "!py-game", "!donkey", "!codemirror"],
    }


@needs_runtime
def test_a_second_build_rewrites_nothing(tmp_path: Path):
    """The build is incremental: unchanged inputs leave every output file untouched."""
    root = _scratch_root(tmp_path)
    out = build(root, snapshot=False)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    build(root, snapshot=False)
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before


@needs_runtime
def test_the_engine_zip_is_reproducible(tmp_path: Path):
    """Two builds of the same sources give byte-identical engine bundles."""
    first = build(_scratch_root(tmp_path / "a"), snapshot=False) / "engage_web.zip"
    second = build(_scratch_root(tmp_path / "b"), snapshot=False) / "engage_web.zip"
    assert first.read_bytes() == second.read_bytes()
    assert zipfile.ZipFile(io.BytesIO(first.read_bytes())).testzip() is None
