"""``python3 -m engage_web``: the command line (``serve``, ``check``), ``engage_web.cpython.cli``.

Example::

    $ python3 -m engage_web serve --port 8765
"""

from __future__ import annotations

import sys

from engage_web.cpython.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
