"""The Python distributions install the way an operator installs them, offline.

The release's wheel goes into a fresh virtual environment with pip, its dependencies taken from
a local folder of wheels (``.venv/wheelhouse``, which ``python3 build.py test`` downloads at
install time) and never from an index: ``pip install --no-index --find-links``. Then the
installed ``engage-web`` command serves the emulator and checks an engagement against it, as
the README tells operators to. The sdist and the wheel hold what their users need.
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

import engage_web
from tools.integrity import sri_file

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"


def _offline_env(home: Path) -> dict[str, str]:
    """This process's environment without pip's configuration or a PYTHONPATH: pip sees only
    the folders a test names, and Python only what is installed in the venv."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               HOME=str(home), XDG_CACHE_HOME=str(home / "cache"))
    return env


def _wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def test_the_wheel_is_the_engine_with_the_emulator_as_an_extra(release_dir: Any):
    """The wheel is pure Python, carries the version of engage_web.__version__, needs nothing
    by default (the engine runs on the stdlib), offers the emulator as an extra, and installs
    the ``engage-web`` command with the emulator's data files."""
    wheel: Path = release_dir.wheel
    assert wheel.name == f"engage_web-{engage_web.__version__}-py3-none-any.whl"
    metadata = _wheel_metadata(wheel)
    assert metadata["Name"] == "engage-web"
    assert metadata["Version"] == engage_web.__version__
    assert set(metadata.get_all("Provides-Extra")) >= {"emulator", "pages"}
    requires = metadata.get_all("Requires-Dist") or []
    assert requires, "the extras name their dependencies"
    assert all("extra ==" in r for r in requires), requires   # nothing without an extra
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    for needed in ("engage_web/driver/api.py", "engage_web/browser/pyfetch_transport.py",
                   "engage_web/cpython/emulator/default_scenario.toml",
                   "engage_web/cpython/emulator/openapi.json"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith(("tests/", "tools/")) or "__pycache__" in n]
    assert "engage-web = engage_web.__main__:main" in entry_points
    pinned = json.loads(release_dir.integrity_file.read_text())["wheel"]
    assert pinned == {"file": wheel.name, "integrity": sri_file(wheel)}   # for pyfetch(integrity=)


def test_the_sdist_builds_the_wheel_and_carries_the_docs(release_dir: Any):
    """The sdist holds the package, pyproject.toml and the documents the README links to; the
    wheel was built from it (python -m build), so it is complete."""
    sdist: Path = release_dir.sdist
    prefix = f"engage_web-{engage_web.__version__}/"
    with tarfile.open(sdist) as archive:
        names = {n.removeprefix(prefix) for n in archive.getnames()}
        info = email.message_from_bytes(archive.extractfile(prefix + "PKG-INFO").read())
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "SECURITY.md", "docs/protocol.md",
                   "docs/design.md",
                   "engage_web/__init__.py", "engage_web/cpython/emulator/openapi.json"):
        assert needed in names, needed
    assert info["Version"] == engage_web.__version__


def test_the_wheel_installs_offline_and_its_command_serves_and_checks(
    release_dir: Any, tmp_path: Path
):
    """``pip install --no-index --find-links wheelhouse engage_web-*.whl[emulator]`` into a fresh
    venv works with no index; the installed ``engage-web serve`` runs the emulator and
    ``engage-web check --account demo --domain-api URL --section Support`` answers Available."""
    if not any(WHEELHOUSE.glob("starlette-*.whl")):
        pytest.fail(f"{WHEELHOUSE} has no wheels: run `python3 build.py test` (it downloads them)")
    env = _offline_env(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--no-cache-dir",
         "--find-links", str(WHEELHOUSE), f"{release_dir.wheel}[emulator]"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import engage_web, importlib.metadata as m; print(engage_web.__file__); "
         "print(m.version('engage-web'))"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=True,
    ).stdout.split()
    assert where[0].startswith(str(venv)), where       # the installed copy, not the checkout
    assert where[1] == engage_web.__version__

    command = str(venv / "bin" / "engage-web")
    server = subprocess.Popen(
        [command, "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        banner = server.stdout.readline()       # printed once the socket is bound
        assert banner.startswith("engage-web emulator on http://127.0.0.1:"), (
            banner + server.stderr.read() if server.poll() is not None else banner
        )
        base = banner.split()[3].rstrip("/")
        check = subprocess.run(
            [command, "check", "--account", "demo", "--domain-api", base,
             "--section", "Support", "--no-state"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )
        assert check.returncode == 0, check.stderr
        outcome = json.loads(check.stdout)
        assert outcome["status"] == "Available", outcome
        assert outcome["engagementDetails"]["skillName"] == "TestSkill"
        assert "looking up: attempt 1 GET /api/account/demo/service/msdkgw/" in check.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
