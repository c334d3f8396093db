"""``python3 build.py release``: the artifacts each kind of user installs, in one folder.

From a built ``dist/`` (self-hosted runtime) and the sources, :func:`release` writes::

    release/
      engage_web-<v>-py3-none-any.whl   the engine, CLI and emulator for CPython and PyScript
      engage_web-<v>.tar.gz             its sdist (the wheel is built from it)
      engage-web-<v>.tgz                the npm package of the browser embed (npm pack)
      engage-web-<v>.integrity.json     sha384 SRI of engage.js and of every file the worker
                                        loads, the <script> tag that pins engage.js, and the
                                        wheel's SRI (for PyScript pages that fetch it)
      SHA256SUMS                        sha256 of the files above (sha256sum -c SHA256SUMS)

The version is ``engage_web.__version__`` (:func:`tools.python_package.project_version`): the
wheel's metadata and the npm ``package.json`` are written from it, and the release stops when
``engage.js``'s ``VERSION`` or the top entry of ``CHANGELOG.md`` names another one.

The npm package holds ``dist/`` as a site serves it for the embed, and nothing else: the tag's
script, its types, the worker and its config, the engine bundle, the snapshot and the Pyodide
files the worker loads (the files named in the config's integrity map, and their precompressed
``.br``/``.gz`` copies when the build made them). No demo pages, no emulator, no PyScript::

    >>> from pathlib import Path
    >>> made = release(Path("."))                     # doctest: +SKIP
    >>> print(made.tag)                               # doctest: +SKIP
    <script src="/engage-web/engage.js" integrity="sha384-..." crossorigin="anonymous" ...
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.integrity import ALGORITHM, script_tag, sri_file
from tools.python_package import build_distributions, project_version
from tools.worker_config import CONFIG_FILE, read_worker_config

__all__ = [
    "NPM_NAME",
    "Release",
    "changelog_version",
    "embed_files",
    "engage_js_version",
    "npm_manifest",
    "release",
]

#: The npm package's name (the same as the Python distribution's).
NPM_NAME = "engage-web"

#: The files of dist/ that make the embed besides those the worker loads (which its config
#: names with their hashes): the tag's script, its types, the worker and its config.
EMBED_FILES = ("engage.js", "engage.d.ts", "engage-worker.mjs", CONFIG_FILE)

_CHANGELOG_HEADING = re.compile(r"^## \[?(?P<version>[0-9][^\]\s]*)\]?", re.MULTILINE)
_ENGAGE_JS_VERSION = re.compile(r'^\s*var VERSION = "(?P<version>[^"]+)";', re.MULTILINE)


@dataclass(frozen=True)
class Release:
    """What :func:`release` wrote: the folder, the version, each artifact, the SRI and the tag."""

    folder: Path
    version: str
    wheel: Path
    sdist: Path
    npm: Path
    integrity_file: Path
    integrity: dict[str, str]
    tag: str
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the terminal: each file with its size, then the tag."""
        width = max(len(p.name) for p in self.files)
        lines = [f"engage-web {self.version} in {self.folder}/"]
        lines += [f"  {p.name:<{width}}  {_size(p.stat().st_size):>9}" for p in self.files]
        lines += ["", "The one-tag embed, pinned by Subresource Integrity:", "", f"  {self.tag}"]
        return "\n".join(lines)


def changelog_version(text: str) -> str | None:
    """The version of the top entry of a CHANGELOG (``## 0.1.0 - date`` or ``## [0.1.0]``).

    >>> changelog_version("# Changelog\\n\\n## [0.2.0] - 2027-01-01\\n...\\n## 0.1.0\\n")
    '0.2.0'
    >>> changelog_version("# Changelog\\n") is None
    True
    """
    match = _CHANGELOG_HEADING.search(text)
    return match.group("version") if match else None


def engage_js_version(text: str) -> str | None:
    """The ``VERSION`` that ``engage.js`` reports (``onReady``, ``ChatApi.engageWeb``).

    >>> engage_js_version('  var TAG = "x";\\n  var VERSION = "0.1.0";\\n')
    '0.1.0'
    """
    match = _ENGAGE_JS_VERSION.search(text)
    return match.group("version") if match else None


def embed_files(dist: Path) -> tuple[dict[str, str], list[str]]:
    """``(integrity, files)`` of the embed in ``dist``: the sha384 SRI of the embed's own files
    (:data:`EMBED_FILES`) and of every file the worker loads, by path relative to ``dist``; and
    the files the npm package holds (those, plus their ``.br``/``.gz`` copies if present).

    The worker's hashes are read from its ``engage-config.mjs`` and checked against the files,
    so a stale config stops the release instead of shipping hashes the browser would refuse.
    A build for a CDN (Pyodide loaded from elsewhere) is refused: the package is self-hosted.
    """
    dist = Path(dist)
    config = read_worker_config((dist / CONFIG_FILE).read_bytes())
    if config.get("pyodideBase") != "./pyodide/":
        raise SystemExit(
            f"[release] dist/ was built for a CDN ({config.get('pyodideBase')}): run "
            "`python3 build.py build` without --cdn (the npm package is self-hosted)"
        )
    integrity: dict[str, str] = {}
    for name in EMBED_FILES:
        if not (dist / name).is_file():
            raise SystemExit(f"[release] {dist / name} is missing: run `python3 build.py build`")
        integrity[name] = sri_file(dist / name)
    for key, recorded in sorted(config.get("integrity", {}).items()):
        name = key.removeprefix("./")
        actual = sri_file(dist / name)
        if actual != recorded:
            raise SystemExit(
                f"[release] dist/{name} does not match the hash in dist/{CONFIG_FILE} "
                "(a stale build?): run `python3 build.py build`"
            )
        integrity[name] = actual
    if "engage_web.zip" not in integrity:
        raise SystemExit(f"[release] dist/{CONFIG_FILE} names no integrity hashes: rebuild dist/")
    copies = {f"{n}{ext}" for n in integrity for ext in (".br", ".gz")}
    files = sorted({*integrity, *(c for c in copies if (dist / c).is_file())})
    return integrity, files


def npm_manifest(version: str) -> dict[str, Any]:
    """The npm package's ``package.json``: what it is, its types and its entry points.

    ``exports``: ``engage-web`` resolves to ``dist/engage.js`` (``require.resolve`` finds the
    folder to serve), ``engage-web/dist/*`` to any file of it, ``engage-web/integrity.json`` to
    the hashes. The package has no dependencies and no install scripts.

    >>> npm_manifest("0.1.0")["exports"]["."]
    {'types': './dist/engage.d.ts', 'default': './dist/engage.js'}
    """
    return {
        "name": NPM_NAME,
        "version": version,
        "description": (
            "Show a chat button only when a LivePerson chat engagement is available: a one-tag "
            "embed whose Python engine runs in Pyodide in a Web Worker, self-hosted."
        ),
        "license": "MIT",
        "keywords": ["liveperson", "engagement", "chat", "pyodide", "widget", "embed"],
        "browser": "./dist/engage.js",
        "types": "./dist/engage.d.ts",
        "exports": {
            ".": {"types": "./dist/engage.d.ts", "default": "./dist/engage.js"},
            "./dist/*": "./dist/*",
            "./integrity.json": "./integrity.json",
            "./package.json": "./package.json",
        },
        "files": ["dist/", "integrity.json", "CHANGELOG.md"],
        "sideEffects": True,
    }


def release(
    root: Path,
    out: Path | None = None,
    *,
    src: str = "/engage-web/engage.js",
    account_id: str = "12345678",
) -> Release:
    """Write the release of ``root`` (its ``dist/`` already built) into ``out`` (default
    ``root/release``, emptied first); return what was written.

    ``src`` and ``account_id`` only shape the printed ``<script>`` tag. Raises ``SystemExit``
    with a clear message when the versions disagree, the CHANGELOG has no entry for the version,
    ``dist/`` is missing, stale or built for a CDN, or ``python -m build`` or ``npm pack`` fails.

    Example::

        made = release(Path("/work/main"), src="https://static.example/engage-web/engage.js")
        print(made.summary())
    """
    root = Path(root)
    out = Path(out) if out is not None else root / "release"
    version = _checked_version(root)
    dist = root / "dist"
    if not (dist / CONFIG_FILE).is_file():
        raise SystemExit("[release] dist/ is missing: run `python3 build.py build` first")
    integrity, package_files = embed_files(dist)

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    wheel, sdist = build_distributions(root, out)
    npm = _npm_pack(root, dist, out, version, integrity, package_files)

    tag = script_tag(src, integrity["engage.js"], account_id=account_id)
    integrity_file = out / f"{NPM_NAME}-{version}.integrity.json"
    record = {
        "version": version,
        "algorithm": ALGORITHM,
        "files": integrity,
        "tag": tag,
        # For PyScript pages that fetch the wheel: pyfetch(url, integrity=...).
        "wheel": {"file": wheel.name, "integrity": sri_file(wheel)},
    }
    integrity_file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    artifacts = [wheel, sdist, npm, integrity_file]
    sums = out / "SHA256SUMS"
    sums.write_text(
        "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in artifacts),
        encoding="utf-8",
    )
    return Release(
        folder=out,
        version=version,
        wheel=wheel,
        sdist=sdist,
        npm=npm,
        integrity_file=integrity_file,
        integrity=integrity,
        tag=tag,
        files=[*artifacts, sums],
    )


def _checked_version(root: Path) -> str:
    """``engage_web.__version__``, once engage.js and CHANGELOG.md agree with it."""
    version = project_version(root)
    js_version = engage_js_version((root / "static" / "engage.js").read_text(encoding="utf-8"))
    if js_version != version:
        raise SystemExit(
            f"[release] static/engage.js says VERSION {js_version!r}, engage_web.__version__ "
            f"is {version!r}: make them agree"
        )
    changelog = root / "CHANGELOG.md"
    top = changelog_version(changelog.read_text(encoding="utf-8")) if changelog.is_file() else None
    if top != version:
        raise SystemExit(
            f"[release] CHANGELOG.md's top entry is {top!r}, not {version!r}: write the entry "
            "for this version first"
        )
    return version


def _npm_pack(
    root: Path,
    dist: Path,
    out: Path,
    version: str,
    integrity: dict[str, str],
    files: list[str],
) -> Path:
    """Stage the npm package in a scratch folder and ``npm pack`` it into ``out``."""
    if shutil.which("npm") is None:
        raise SystemExit("[release] npm is needed to pack the browser embed")
    tag = script_tag("/engage-web/engage.js", integrity["engage.js"])
    readme = (root / "packaging" / "npm" / "README.md").read_text(encoding="utf-8")
    readme = readme.replace("@VERSION@", version).replace("@TAG@", tag)
    with tempfile.TemporaryDirectory(prefix="engage-web-npm-") as scratch:
        stage = Path(scratch) / "package"
        for name in files:
            (stage / "dist" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dist / name, stage / "dist" / name)
        (stage / "package.json").write_text(
            json.dumps(npm_manifest(version), indent=2) + "\n", encoding="utf-8"
        )
        (stage / "README.md").write_text(readme, encoding="utf-8")
        shutil.copyfile(root / "CHANGELOG.md", stage / "CHANGELOG.md")
        (stage / "integrity.json").write_text(
            json.dumps({"version": version, "algorithm": ALGORITHM, "files": integrity}, indent=2)
            + "\n",
            encoding="utf-8",
        )
        result = subprocess.run(
            ["npm", "pack", "--json", "--ignore-scripts", "--pack-destination", str(out.resolve())],
            cwd=stage,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise SystemExit(f"[release] npm pack failed:\n{result.stdout}{result.stderr}")
        name = json.loads(result.stdout)[0]["filename"]
    return out / name


def _size(count: int) -> str:
    """A byte count for people: ``12.3 MB``, ``456 KB``."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f} MB"
    return f"{max(1, round(count / 1000))} KB"
