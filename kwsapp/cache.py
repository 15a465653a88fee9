"""Where what can be rebuilt is cached: decoded audio and features for
training, the speech recogniser's converted model files for the app."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``KWSAPP_CACHE_DIR``, else ``~/.cache/kwsapp``; never inside a data
    folder."""
    env = os.environ.get("KWSAPP_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "kwsapp"
