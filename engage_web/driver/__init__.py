"""The driver: ``ChatApi`` runs the core's check over an injected transport and clock.

``api`` (``ChatApi``: calls, sessions, reports, cancellation), ``watch`` (re-checks for pages
that stay open), ``events`` (``onEngagement`` and friends) and ``clock`` (the one place that
reads time). It imports the core and never an adapter: the composition roots hand it its
transport (``engage_web.ChatApi``, ``engage_web.browser.worker``, ``engage_web.cpython.cli``).
"""
