"""``kwsapp gui``: the desktop window, listening at once."""

from __future__ import annotations

import argparse

HELP = "open the desktop window (live spectrogram, commands, file drop)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="bundled model name or artifact directory "
                             "(default: the last one used, else the bundled default)")
    parser.add_argument("--device", default=None,
                        help="input device name or index (default: the last one used, "
                             "else the system default)")


#: What the window needs beyond the runtime: the `gui` extra.
GUI_MODULES = ("PySide6", "pyqtgraph")


def check_gui_extra() -> None:
    """Raise :class:`~kwsapp.errors.MissingExtraError` (one line, exit 2)
    where the ``gui`` extra is not installed."""
    import importlib.util

    from kwsapp.errors import MissingExtraError

    missing = [m for m in GUI_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"the desktop window needs {' and '.join(missing)}: "
                                "pip install 'kwsapp[gui]' (or use `kwsapp listen` / "
                                "`kwsapp classify`)")


def run(args: argparse.Namespace) -> int:
    from kwsapp.gui.app import check_display

    check_gui_extra()
    check_display()  # before any Qt import: no display must not be a Qt abort
    from kwsapp.gui.app import run as run_app

    return run_app(model=args.model, device=args.device)
