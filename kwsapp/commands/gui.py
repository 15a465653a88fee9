"""``kwsapp gui``: the desktop window, listening at once."""

from __future__ import annotations

import argparse

from kwsapp.commands.options import number

HELP = "open the desktop window (live spectrogram, commands, file drop)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="bundled model name or artifact directory "
                             "(default: the last one used, else the bundled default)")
    parser.add_argument("--device", default=None,
                        help="input device name or index (default: the last one used, "
                             "else the system default)")
    parser.add_argument("--device-rate", type=number(int, 1000, 384000), default=None,
                        metavar="HZ",
                        help="ask the device for this sample rate (default: its own; a rate "
                             "it refuses is said and another it takes is used)")


def run(args: argparse.Namespace) -> int:
    from kwsapp.gui.app import check_display

    from kwsapp.extras import require

    require("gui", "the desktop window (or use `kwsapp listen` / `kwsapp classify`)")
    check_display()  # before any Qt import: no display must not be a Qt abort
    from kwsapp.gui.app import run as run_app

    return run_app(model=args.model, device=args.device, device_rate_hz=args.device_rate)
