"""The local engagement endpoint: a faithful emulator of LivePerson's App Engagement API (create
and update session at ``/api/account/{accountId}/app/engagement/visitors/{vid}``) and of the
Domain API look-up that names its base URL (``docs/protocol.md``).

Run it with ``python3 -m engage_web serve`` or build the ASGI app yourself::

    from engage_web.cpython.emulator import create_app
    app = create_app()                      # the built-in scenario: account "demo"

Modules: ``app`` (routes), ``model`` (sessions, cold accounts and the engagement decision),
``scenario`` (TOML scenarios), ``faults`` and ``guard`` (injected failures, request log, header
limit, JSON 500s), ``control`` (``/_emulator/`` routes), ``bodies`` (safe body reading),
``limits`` (every bound in one place), ``server`` (the uvicorn settings that cut off slow and
oversized clients), ``static`` (demo files), ``seed`` (the seed's example request, which the
default scenario answers), ``openapi`` (the generator of ``openapi.json``).
"""

from .app import create_app
from .scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)

__all__ = ["Scenario", "ScenarioError", "create_app", "load_scenario", "parse_scenario"]
