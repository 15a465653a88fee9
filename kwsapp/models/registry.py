"""Bundled models by name -> artifact directory under ``assets/models``.

``--model`` takes either a name listed here or a path to an artifact
directory. ``KWSAPP_MODELS_DIR`` points elsewhere (tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

from kwsapp.errors import ModelError

DEFAULT_MODEL = "embed"


def models_dir() -> Path:
    """Folder holding one artifact directory per bundled model."""
    env = os.environ.get("KWSAPP_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "assets" / "models"


def bundled_models() -> list[str]:
    """Names of the bundled models present (those with a card)."""
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "card.json").is_file())


def resolve(spec: str | os.PathLike[str] | None) -> Path:
    """Artifact directory for a registry name or a path (``None``: default)."""
    spec = DEFAULT_MODEL if spec is None else spec
    path = Path(spec)
    if path.is_dir():
        return path
    named = models_dir() / str(spec)
    if named.is_dir():
        return named
    known = ", ".join(bundled_models()) or "none bundled"
    raise ModelError(f"{spec}: no such model (bundled: {known}; or give an artifact directory)")
