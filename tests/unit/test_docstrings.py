"""The examples in every module's docstrings run and print what they claim.

Every module of the package and of the build tools is collected (nothing is listed by hand, so
a new module is covered the day it is added), and the shared fixture of LivePerson's documented
exchanges; browser-only adapters import under CPython too.
"""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules() -> list[str]:
    names = []
    for package, path in (("engage_web", ROOT / "engage_web"), ("tools", ROOT / "tools")):
        names.append(package)
        for info in pkgutil.walk_packages([str(path)], prefix=f"{package}."):
            names.append(info.name)
    return [*sorted(names), "tests.liveperson_docs"]  # the documented exchanges, verbatim


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    """Every ``>>>`` example in the module's docstrings gives the output written beside it."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_module_is_collected():
    """The walk finds the engine, its adapters, the emulator and the tools."""
    for name in ("engage_web.driver.api", "engage_web.browser.worker",
                 "engage_web.cpython.emulator.app",
                 "tools.dist", "tools.worker_config"):
        assert name in MODULES
