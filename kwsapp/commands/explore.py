"""``kwsapp explore DATA_DIR --out DIR``: an HTML report on a data set."""

from __future__ import annotations

import argparse
import json
import sys

from kwsapp.commands.options import number, writable_dir

HELP = ("write an HTML report (figures, statistics, audio players) on a folder in the "
        "Speech Commands layout")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", metavar="DATA_DIR",
                        help="folder with <label>/<clip>.wav (and optionally "
                             "_background_noise_/, validation_list.txt, testing_list.txt)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="report folder: DIR/index.html, DIR/figures/, DIR/audio/")
    parser.add_argument("--max-clips-per-label", type=number(int, 1), default=None, metavar="N",
                        help="analyse a seeded random sample of N clips per label (default: all)")
    parser.add_argument("--band-hz", type=number(float, 0.0, 4000.0), nargs=2, default=None, metavar=("LO", "HI"),
                        help="frequency band of the violin plot (default 2500 3500; at most 4000)")
    parser.add_argument("--seed", type=number(int, 0), default=None, help="seed of every sample (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true",
                        help="print the headline numbers as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from kwsapp.errors import KwsError
    from training.config import ExploreConfig

    writable_dir(args.out, "--out")
    try:
        import matplotlib
        matplotlib.use("Agg")  # never open a window
        from training.explore import build_report
    except ModuleNotFoundError as exc:
        raise KwsError(f"the explore report needs {exc.name}: "
                       f"pip install 'kwsapp[explore]'") from None
    cfg = ExploreConfig()
    if args.band_hz is not None:
        cfg = replace(cfg, band_hz=tuple(args.band_hz))
    if args.seed is not None:
        cfg = replace(cfg, seed=args.seed)
    summary = build_report(args.data_dir, args.out, cfg=cfg,
                           max_clips_per_label=args.max_clips_per_label,
                           progress=not args.no_progress and sys.stderr.isatty())
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['index']}: {summary['clips']} clips, {summary['unreadable']} unreadable, "
              f"{summary['short']} shorter than 1 s, {summary['figures']} figures "
              f"({summary['seconds']:.0f} s)")
    return 0
