"""Bundled models by name -> artifact directory under ``assets/models``.

``--model`` takes either a name listed here or a path to an artifact
directory. The bundled models are found inside the installed package
(``kwsapp/assets/models``: the wheel ships the repository's top-level
``assets/`` as the package ``kwsapp.assets``, see setup.py), else in
``assets/models`` of the clone this package runs from;
``KWSAPP_MODELS_DIR`` points elsewhere (tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

from kwsapp.errors import ModelError

DEFAULT_MODEL = "embed"


#: Where the bundled models are, first found wins: an installed wheel's
#: package data, then a clone's top-level assets/.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DIRS = (_PACKAGE_ROOT / "assets" / "models", _PACKAGE_ROOT.parent / "assets" / "models")


def models_dir() -> Path:
    """Folder holding one artifact directory per bundled model."""
    env = os.environ.get("KWSAPP_MODELS_DIR")
    if env:
        return Path(env)
    return next((d for d in BUNDLED_DIRS if d.is_dir()), BUNDLED_DIRS[-1])


def bundled_models() -> list[str]:
    """Names of the bundled models present (those with a card). Hidden
    folders are none: a new model is written in a hidden staging folder
    (``.kwsapp-staging``, with a card) before it is put in place
    (training/artifact_write.py), inside its model's folder or, trained
    with ``--out`` this folder, in it; and ``make models`` of an earlier
    kwsapp left ``.<name>.new`` and ``.<name>.old``, both with a card."""
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if not p.name.startswith(".") and (p / "card.json").is_file())


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
    if path.is_file():  # e.g. the artifact's model.tflite given for its folder
        raise ModelError(f"{spec}: a file, not a model (bundled: {known}; or give an "
                         f"artifact directory, such as {path.parent})")
    raise ModelError(f"{spec}: no such model (bundled: {known}; or give an artifact directory)")


def bundled_cards() -> dict[str, dict | None]:
    """Each bundled model's card as a dict (None where it cannot be read)."""
    import json

    out: dict[str, dict | None] = {}
    for name in bundled_models():
        try:
            out[name] = json.loads((models_dir() / name / "card.json").read_text())
        except (OSError, ValueError):
            out[name] = None
    return out


def bundled_versions() -> dict[str, str]:
    """Each bundled model's version as its card states it: the date it was
    made and the code version that made it (``kwsapp --version``)."""
    return {name: "unreadable card" if card is None else
            f"made {str(card.get('created', '?'))[:10]}, code {card.get('code_version', '?')}"
            for name, card in bundled_cards().items()}
