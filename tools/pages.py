"""Render engage-web's pages (demo, kiosk, embed) from Jinja2 templates into ``dist/``.

The pages are static HTML: Jinja runs at build time only, with autoescape on and
``StrictUndefined`` (a missing variable is a build error, never an empty string). Every script is
an external file and page configuration travels in ``data-*`` attributes or a
``<script type="application/json">`` block, so the pages run under a strict CSP
(``script-src 'self' 'wasm-unsafe-eval'``, no ``unsafe-inline``). All URLs are relative, so
``dist/`` works from any path on any origin. Code shown on the pages is read from the very files
the pages run (``static/demo/snippets/``), escaped by Jinja, so the docs cannot drift::

    >>> from pathlib import Path
    >>> from tools.pages import render
    >>> [p.name for p in render(Path("."), Path("dist"))][:3]      # doctest: +SKIP
    ['index.html', 'kiosk.html', 'embed.html']

Output inside ``out``: ``index.html`` (the demo), ``kiosk.html``, ``embed.html``,
``examples/pyscript-wheel.html`` (a PyScript page that installs the wheel ``dist/`` holds), and
the assets of ``static/demo/`` and ``static/kiosk/`` under ``demo/`` and ``kiosk/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from engage_web.cpython.emulator.seed import seed_request
from tools.python_package import project_version, wheel_name

__all__ = ["ASSET_DIRS", "PAGES", "SEED_EXAMPLE", "render"]

#: template name -> output file name (inside ``out``).
PAGES = {
    "demo.html": "index.html",
    "kiosk.html": "kiosk.html",
    "embed.html": "embed.html",
    # A PyScript page that installs the engine from its wheel (tools/python_package.py).
    "pyscript-wheel.html": "examples/pyscript-wheel.html",
}

#: Asset folders copied as they are: ``static/<name>/`` -> ``out/<name>/``.
ASSET_DIRS = ("demo", "kiosk")

#: The request example of the seed (getEngagement.txt): the demo's editor starts from it.
SEED_EXAMPLE: dict[str, Any] = seed_request(with_ids=True)

#: The enumerations of the seed, offered as <select> options.
ENUMS = {
    "appType": ("EXTERNAL",),
    "os": ("WINDOWS", "MAC_OSX", "LINUX", "IOS", "ANDROID"),
    "deviceFamily": ("DESKTOP", "TABLET", "MOBILE"),
}

#: Files under ``static/demo/snippets/`` shown on the pages exactly as they run.
SNIPPETS = {
    "on_engagement_js": "on_engagement.js",
    "on_engagement_py": "on_engagement.py",
    "embed_button_js": "embed_button.js",
    "embed_html": "embed.html",
}


def render(root: Path, out: Path, *, cdn: str | None = None) -> list[Path]:
    """Render the pages of ``root/templates`` into ``out`` and copy their assets; return the paths.

    ``cdn`` is accepted for symmetry with ``tools.dist.build`` and ignored: the pages only
    reference files inside ``out`` by relative URLs (the runtime's location is the worker's
    business). Raises ``SystemExit`` naming the file when a template or snippet is missing.

    Example::

        render(Path("/work/main"), Path("/work/main/dist"))
    """
    del cdn  # the pages never point at the runtime directly
    root = Path(root)
    out = Path(out)
    templates = root / "templates"
    static = root / "static"
    if not templates.is_dir():
        raise SystemExit(f"[pages] {templates} is missing")
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}  # keep the seed's key order
    context = _context(static)
    context["wheel"] = wheel_name(project_version(root))
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for template_name, file_name in PAGES.items():
        html = env.get_template(template_name).render(page=file_name, **context)
        target = out / file_name
        _write(target, html.encode("utf-8"))
        written.append(target)
    for name in ASSET_DIRS:
        source = static / name
        if not source.is_dir():
            raise SystemExit(f"[pages] {source} is missing")
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                target = out / name / path.relative_to(source)
                _write(target, path.read_bytes())
                written.append(target)
    return written


def _context(static: Path) -> dict[str, Any]:
    """The variables every template gets."""
    snippets: dict[str, str] = {}
    for key, file_name in SNIPPETS.items():
        path = static / "demo" / "snippets" / file_name
        if not path.is_file():
            raise SystemExit(f"[pages] snippet {path} is missing")
        snippets[key] = path.read_text(encoding="utf-8").rstrip("\n")
    seed = SEED_EXAMPLE
    return {
        "seed": seed,
        "seed_attributes_json": json.dumps(seed["engagementAttributes"], indent=2),
        "seed_json": json.dumps(seed),
        "enums": ENUMS,
        "snippets": snippets,
        "account_id": "demo",
    }


def _write(target: Path, data: bytes) -> None:
    """Write ``data`` unless ``target`` already holds exactly those bytes (incremental builds)."""
    if target.exists() and target.stat().st_size == len(data) and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    shutil.move(tmp, target)


if __name__ == "__main__":  # python -m tools.pages: render into dist/ next to this checkout
    here = Path(__file__).resolve().parents[1]
    for written_path in render(here, here / "dist"):
        print(written_path.relative_to(here))
