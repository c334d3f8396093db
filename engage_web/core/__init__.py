"""The core: every rule of the check, as plain Python with no I/O (``docs/design.md``).

It runs unchanged in CPython 3.11+ and in Pyodide, and imports nothing outside this folder but
the standard library: no ``js``, no ``pyodide``, no clock, no socket, and never an adapter of
``engage_web.browser`` or ``engage_web.cpython`` (``tests/unit/test_engine_purity.py``).

- ``validation``, ``sde``: the request and report rules and the SDE catalogue (shared with the
  emulator).
- ``wire``, ``domain``: LivePerson's requests and the Domain API answer.
- ``engine``: the check as a state machine (events in, actions out); ``retry``: ``RetryPolicy``,
  an immutable value with pure backoff functions; ``outcome``: answers as outcomes, and the one
  builder of the Error outcome; ``reuse``: which answers a later page view may reuse.
- ``session``, ``transport``, ``errors``, ``jsontext``, ``text``: the visitor session, the
  transport seam, the error family, bounded JSON, and the small text helpers.
"""
