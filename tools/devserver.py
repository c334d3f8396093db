"""The demo server: ``dist/`` and the emulator on one loopback origin, plus a test helper.

``create_dev_app(root)`` serves ``root/dist`` as static files (``/`` gives ``dist/index.html``)
and the emulator (``/api/``, ``/_emulator/``, ``/openapi.json`` win over files) from one ASGI
app, so the demo needs no CORS. ``.wasm`` is ``application/wasm``, ``.mjs``/``.js``
``text/javascript``, ``.zip`` ``application/zip``; pages and the engine are ``no-store`` while
``dist/pyodide/`` and ``dist/pyscript/`` (versioned by the pinned npm packages) are cached as
immutable. ``serve(root)`` runs it with uvicorn (``python3 build.py demo``), allowing the other
loopback spelling of its own origin (``localhost`` vs ``127.0.0.1``) cross-origin.

``ServerThread`` runs any ASGI app on a free loopback port in a background thread, for tests
and benchmarks that need a real socket (a browser, a subprocess, a dropped connection)::

    with ServerThread(create_dev_app(Path("."))) as base_url:
        ...                                   # e.g. "http://127.0.0.1:39321"
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from engage_web.cpython.emulator.app import create_app, loopback_origins
from engage_web.cpython.emulator.scenario import Scenario
from engage_web.cpython.emulator.server import server_config

__all__ = ["ServerThread", "create_dev_app", "serve"]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def create_dev_app(
    root: Path,
    *,
    scenario: Scenario | str | Path | None = None,
    cors_origins: tuple[str, ...] = (),
) -> Any:
    """The emulator plus ``root/dist`` as static files, on one origin.

    Example::

        app = create_dev_app(Path("/work/main"))      # serves /work/main/dist
    """
    return create_app(scenario, cors_origins=cors_origins, static_dir=Path(root) / "dist")


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    scenario: Scenario | str | Path | None = None,
) -> None:
    """Print the demo's URL and serve it until interrupted (Ctrl-C)."""
    app = create_dev_app(Path(root), scenario=scenario, cors_origins=loopback_origins(port))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"engage-web demo: http://{shown}:{port}/  (emulator API at /api/, controls at "
        f"/_emulator/, OpenAPI at /openapi.json; Ctrl-C stops)",
        flush=True,
    )
    uvicorn.Server(server_config(app, host=host, port=port)).run()


class ServerThread:
    """Run an ASGI app with uvicorn on ``host:port`` (0 = a free port) in a daemon thread.

    ``start()`` returns the base URL once the server accepts connections; ``stop()`` shuts it
    down and joins the thread. Also a context manager (``with ServerThread(app) as url:``).

    Example::

        server = ServerThread(create_app())
        base = server.start()
        try:
            ...
        finally:
            server.stop()
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.base_url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> str:
        """Bind, start serving, wait until started; the base URL (``http://host:port``)."""
        if self._thread is not None:
            raise RuntimeError("ServerThread already started")
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        port = sock.getsockname()[1]
        server = uvicorn.Server(server_config(self.app))
        started = threading.Event()

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # surfaced by start()
                self._error = exc
            finally:
                sock.close()
                started.set()

        self._server = server
        self._thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
        self._thread.start()
        # uvicorn sets server.started after binding; poll it (no fixed sleep standing in for it).
        deadline = threading.Event()
        waited = 0.0
        while not server.started and self._thread.is_alive() and waited < START_TIMEOUT:
            deadline.wait(0.01)
            waited += 0.01
        if not server.started:
            self.stop()
            raise RuntimeError(f"server did not start on {self.host}:{port}: {self._error!r}")
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    def stop(self) -> None:
        """Ask the server to exit and wait for the thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
