"""The local engagement endpoint: a faithful emulator of LivePerson's engagement check.

Run it with ``python3 -m engage_web serve`` or build the ASGI app yourself::

    from engage_web.emulator import create_app
    app = create_app()                      # the built-in scenario: account "demo"

Modules: ``app`` (routes), ``model`` (sessions and the engagement decision), ``scenario``
(TOML scenarios), ``faults`` and ``guard`` (injected failures, request log, JSON 500s),
``control`` (``/_emulator/`` routes), ``bodies`` (safe body reading), ``static`` (demo files),
``seed`` (the seed's example request, which the default scenario answers).
"""

from engage_web.emulator.app import create_app
from engage_web.emulator.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["Scenario", "ScenarioError", "create_app", "load_scenario", "parse_scenario"]
