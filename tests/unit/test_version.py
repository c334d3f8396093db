"""The version is written in one place, ``engage_web.__version__``; everything else follows it.

pyproject.toml reads it (``dynamic = ["version"]``), the npm package.json is written from it
(``tools.release.npm_manifest``); the two places that must spell it out, ``engage.js``'s
``VERSION`` (the shipped JS is never edited by the build) and the top entry of CHANGELOG.md,
are held to it here, and ``python3 build.py release`` refuses to run when they disagree.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import engage_web
from tools.python_package import project_version
from tools.release import _checked_version, changelog_version, engage_js_version, npm_manifest

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_takes_the_version_from_the_package():
    """pyproject.toml names no version of its own: setuptools reads engage_web.__version__."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    attr = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "engage_web.__version__"
    assert project_version(ROOT) == engage_web.__version__


def test_engage_js_reports_the_package_version():
    """What the embed reports (``onReady``'s version, ``ChatApi.engageWeb``) is this version."""
    text = (ROOT / "static" / "engage.js").read_text(encoding="utf-8")
    assert engage_js_version(text) == engage_web.__version__


def test_the_changelog_opens_with_this_version():
    """CHANGELOG.md's newest entry is the version being released."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog_version(text) == engage_web.__version__


def test_the_npm_package_carries_the_package_version():
    """The npm package.json is written from the same version."""
    assert npm_manifest(engage_web.__version__)["version"] == engage_web.__version__


@pytest.mark.parametrize(
    ("engage_js", "changelog", "message"),
    [
        ('  var VERSION = "9.9.9";\n', "## 0.0.1\n", "static/engage.js says VERSION '9.9.9'"),
        ('  var VERSION = "0.0.1";\n', "# Changelog\n\n## 0.0.0\n", "top entry is '0.0.0'"),
        ('  var VERSION = "0.0.1";\n', "# Changelog\n", "top entry is None"),
    ],
)
def test_a_release_stops_when_a_version_disagrees(tmp_path: Path, engage_js, changelog, message):
    """The release names the file whose version disagrees with engage_web.__version__."""
    (tmp_path / "engage_web").mkdir()
    (tmp_path / "engage_web" / "__init__.py").write_text('__version__ = "0.0.1"\n')
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "engage.js").write_text(engage_js)
    (tmp_path / "CHANGELOG.md").write_text(changelog)
    with pytest.raises(SystemExit, match=message):
        _checked_version(tmp_path)
