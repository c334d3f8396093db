"""The Python distributions of engage-web: an sdist and a pure-Python wheel, built the standard way.

``python -m build`` (the PyPA front end, pinned in the dev extra) builds the sdist, then the
wheel from that sdist, so the wheel is proof that the sdist is complete. It runs with
``--no-isolation``: the pinned setuptools of the dev extra is already in the project's venv, so
nothing is downloaded and the build works offline::

    >>> from pathlib import Path
    >>> [p.name for p in build_distributions(Path("."), Path("release"))]   # doctest: +SKIP
    ['engage_web-0.1.0-py3-none-any.whl', 'engage_web-0.1.0.tar.gz']

The wheel holds the whole ``engage_web`` package: the engine (no dependencies), the CLI, the
emulator (``pip install engage-web[emulator]`` adds Starlette and uvicorn) and the browser
adapter. ``tools.dist`` also puts it in ``dist/`` (:func:`ensure_wheel`), where PyScript pages
install it without an index (``dist/examples/pyscript-wheel.html``).

The version comes from one place, ``engage_web.__version__``: setuptools reads it for the
metadata (``dynamic = ["version"]`` in pyproject.toml) and :func:`project_version` reads it here
without importing the package.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = [
    "DISTRIBUTION",
    "build_distributions",
    "ensure_wheel",
    "project_version",
    "sdist_name",
    "wheel_name",
]

#: The distribution's name as file names spell it (PEP 427 / PEP 625: "-" becomes "_").
DISTRIBUTION = "engage_web"

#: The timestamp of every file in the wheel (2020-01-01, as in the engine bundle): the same
#: sources give the same wheel bytes, whenever they are built.
_SOURCE_DATE_EPOCH = "1577836800"

#: Files of the project root that go into the sdist besides the package (MANIFEST.in).
_ROOT_INPUTS = ("pyproject.toml", "README.md", "MANIFEST.in", "CHANGELOG.md", "SECURITY.md")


def project_version(root: Path) -> str:
    """``engage_web.__version__`` as written in ``root/engage_web/__init__.py`` (not imported).

    >>> import engage_web
    >>> project_version(Path(engage_web.__file__).parents[1]) == engage_web.__version__
    True
    """
    source = (Path(root) / "engage_web" / "__init__.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise SystemExit("[python-package] engage_web/__init__.py has no __version__ = '...' line")


def wheel_name(version: str) -> str:
    """The file name of the pure-Python wheel of ``version``.

    >>> wheel_name("0.1.0")
    'engage_web-0.1.0-py3-none-any.whl'
    """
    return f"{DISTRIBUTION}-{version}-py3-none-any.whl"


def sdist_name(version: str) -> str:
    """The file name of the sdist of ``version``.

    >>> sdist_name("0.1.0")
    'engage_web-0.1.0.tar.gz'
    """
    return f"{DISTRIBUTION}-{version}.tar.gz"


def build_distributions(root: Path, outdir: Path, *, sdist: bool = True) -> list[Path]:
    """Build the sdist and the wheel (from the sdist) of ``root`` into ``outdir``; their paths.

    ``sdist=False`` keeps only the wheel (still built from an sdist, in a scratch folder).
    Previous files of the same version in ``outdir`` are replaced. Raises ``SystemExit`` with the
    front end's output when the build fails.
    """
    root = Path(root).resolve()   # the front end runs from a scratch folder
    outdir = Path(outdir)
    version = project_version(root)
    with tempfile.TemporaryDirectory(prefix="engage-web-build-") as scratch:
        result = subprocess.run(  # -P, and not from root: the project's build.py is no `build`
            [sys.executable, "-P", "-m", "build", "--no-isolation", "--outdir", scratch, str(root)],
            cwd=scratch,
            env={**os.environ, "SOURCE_DATE_EPOCH": _SOURCE_DATE_EPOCH},
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise SystemExit(
                f"[python-package] python -m build failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        names = [wheel_name(version), *([sdist_name(version)] if sdist else [])]
        outdir.mkdir(parents=True, exist_ok=True)
        built = []
        for name in names:
            source = Path(scratch) / name
            if not source.is_file():
                raise SystemExit(f"[python-package] python -m build made no {name}")
            shutil.copyfile(source, outdir / name)
            built.append(outdir / name)
    return built


def ensure_wheel(root: Path, out: Path) -> Path | None:
    """``out/<wheel>``: the wheel of the current sources, rebuilt only when they changed.

    The wheel is cached under ``root/build/wheel-<fingerprint>/`` (the fingerprint hashes the
    package's files and the root files of :data:`_ROOT_INPUTS`), so a build of unchanged
    sources copies nothing and a changed source rebuilds it (about 5 s). Wheels of other
    versions in ``out`` are removed. A root with no ``pyproject.toml`` (a scratch tree of the
    runtime and the pages) gets no wheel: None.
    """
    root = Path(root)
    if not (root / "pyproject.toml").is_file():
        return None
    version = project_version(root)
    cache = root / "build" / f"wheel-{_fingerprint(root)[:16]}"
    wheel = cache / wheel_name(version)
    if not wheel.is_file():
        for stale in (root / "build").glob("wheel-*"):
            shutil.rmtree(stale, ignore_errors=True)
        print(f"[dist] building the wheel {wheel.name} (python -m build)", flush=True)
        build_distributions(root, cache, sdist=False)
    target = Path(out) / wheel.name
    for other in Path(out).glob(f"{DISTRIBUTION}-*.whl"):
        if other.name != wheel.name:
            other.unlink()
    data = wheel.read_bytes()
    if not (target.is_file() and target.read_bytes() == data):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


def _fingerprint(root: Path) -> str:
    """A hash of everything the distributions are built from (paths and bytes), this recipe
    included."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    files = [root / name for name in _ROOT_INPUTS]
    files += sorted(
        p for p in (root / "engage_web").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"-")
        digest.update(b"\0")
    return digest.hexdigest()
