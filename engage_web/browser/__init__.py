"""The browser wing: the pieces that only make sense inside Pyodide, and the only folder that
may import ``js`` or ``pyodide``.

- :mod:`engage_web.browser.pyfetch_transport`: the transport over ``pyodide.http.pyfetch``,
  which the worker (and ``engage_web.ChatApi`` in Pyodide) hands to the driver.
- :mod:`engage_web.browser.worker`: the Python side of ``engage-worker.mjs``, the Web Worker the
  one-tag embed (``engage.js``) starts; JSON text in, JSON text out.
- :mod:`engage_web.browser.page`: for PyScript pages, bind Python callbacks to
  ``window.ChatApi`` events; they receive plain dicts.

Importing this package imports nothing browser-only, so it is safe under CPython::

    >>> import engage_web.browser
    >>> from engage_web.browser.worker import retry_options_from_js
    >>> retry_options_from_js({"deadlineMs": 5000})
    {'deadline': 5.0}
"""
