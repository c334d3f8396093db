"""The examples in the emulator's docstrings (and in the shared LivePerson fixtures) run and
print what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "engage_web.emulator.app",
    "engage_web.emulator.bodies",
    "engage_web.emulator.errors",
    "engage_web.emulator.faults",
    "engage_web.emulator.guard",
    "engage_web.emulator.limits",
    "engage_web.emulator.model",
    "engage_web.emulator.openapi",
    "engage_web.emulator.scenario",
    "engage_web.emulator.seed",
    "engage_web.emulator.server",
    "engage_web.emulator.static",
    "tests.liveperson_docs",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    """Every ``>>>`` example in the module's docstrings gives the output written beside it."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
