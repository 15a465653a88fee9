"""Whether a folder can really be written, asked before long work whose
result would go there (a CLI's output folder, enrol's words folder).

Kept apart from :mod:`kwsapp.atomic`, which imports numpy: the CLI's
parser checks output paths and must load no numpy."""

from __future__ import annotations

import tempfile
from pathlib import Path


def nearest_existing(path: Path) -> Path:
    """``path`` if it exists, else its nearest parent that does: where a
    ``mkdir(parents=True)`` of ``path`` would make its first folder."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def try_write(folder: Path) -> None:
    """Make and remove a temporary file in ``folder``: a real write, not
    ``os.access`` (root passes that on read-only mounts and /proc). Nothing
    is left behind, even when this process is killed (an unnamed file where
    the system has them, else one unlinked at once).

    Raises:
        OSError: it cannot be written (read-only, not a folder, full ...).
    """
    with tempfile.TemporaryFile(dir=folder, prefix=".kwsapp-write-check."):
        pass
