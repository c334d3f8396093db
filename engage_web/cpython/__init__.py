"""The CPython wing: what runs outside the browser, over the standard library.

- :mod:`engage_web.cpython.stdlib_transport`: the transport over ``urllib`` (a thread per
  exchange), which ``engage_web.ChatApi`` and the command line hand to the driver.
- :mod:`engage_web.cpython.cli`: ``engage-web check`` and ``engage-web serve``
  (``python3 -m engage_web``).
- :mod:`engage_web.cpython.emulator`: the local stand-in of LivePerson's endpoint (Starlette).

None of it is shipped to the browser (``tools/dist.py`` leaves this folder out).
"""
