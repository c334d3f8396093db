"""Shared pytest set-up: hypothesis profiles (a light one by default, a deep one on demand), and
the release the install tests install (made once per session)."""

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile(
    "deep", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("deep" if os.environ.get("ENGAGE_WEB_DEEP") == "1" else "ci")


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The release as ``python3 build.py release`` writes it (a ``tools.release.Release``), in a
    scratch folder: the wheel, the sdist, the npm tarball and the SRI hashes of ``dist/`` (built
    here first, incrementally, as the browser tests' ``dist_dir`` does)."""
    if not (ROOT / "node_modules" / "pyodide" / "pyodide.mjs").exists():
        pytest.fail("the npm runtime is missing: run `python3 build.py test` (it runs npm ci)")
    from tools.dist import build
    from tools.release import release

    build(ROOT)
    return release(ROOT, tmp_path_factory.mktemp("release") / "release")
