"""The examples in the engine's docstrings run and print what they claim."""

import doctest
import importlib

import pytest

ENGINE_MODULES = [
    "engage_web.errors",
    "engage_web.retry",
    "engage_web.outcome",
    "engage_web.session",
    "engage_web.wire",
    "engage_web.events",
    "engage_web.engine",
    "engage_web.api",
    "engage_web.watch",
    "engage_web.validation",
    "engage_web.sde",
]


@pytest.mark.parametrize("name", ENGINE_MODULES)
def test_docstring_examples_hold(name):
    """Every ``>>>`` example in the module's docstrings gives the output written beside it."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
