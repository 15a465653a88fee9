"""Optional parts of the install (``pip install 'kwsapp[EXTRA]'``): a command
that needs one says so in one line (exit 2) instead of a traceback."""

from __future__ import annotations

import importlib.util

from kwsapp.errors import MissingExtraError

#: Extra -> the modules it brings that commands need.
EXTRAS: dict[str, tuple[str, ...]] = {
    "gui": ("PySide6", "pyqtgraph"),
    "train": ("tensorflow",),
    "explore": ("matplotlib",),
}


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` naming the pip command when a module
    of ``extra`` is not installed; ``what`` says what needs it."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"{what} needs {' and '.join(missing)}: "
                                f"pip install 'kwsapp[{extra}]'")
