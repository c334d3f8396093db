"""Assemble dist/. Placeholder until the browser runtime lands: creates an empty dist/."""

from __future__ import annotations

from pathlib import Path


def build(root: Path, cdn: str | None = None) -> Path:
    out = root / "dist"
    out.mkdir(exist_ok=True)
    return out
