"""Reproduce every bundled model: ``python -m training.make_models --data DIR
--out assets/models`` (what ``make models`` runs).

Each architecture trains with its default parameters and the
:class:`~kwsapp.config.TrainConfig` defaults, updated by the module's
optional ``TRAIN`` dict (e.g. more epochs for a net trained from scratch).
A killed run resumes where it stopped when started again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import time
from pathlib import Path

from kwsapp.config import TrainConfig

BUNDLED = ("embed", "cnn", "wavception")


def train_config(module: object) -> TrainConfig:
    """The defaults with the architecture's ``TRAIN`` overrides."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in dict(getattr(module, "TRAIN", {})).items() if k in known}
    return dataclasses.replace(TrainConfig(), **overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.make_models", description=__doc__)
    parser.add_argument("--data", required=True, help="Speech Commands folder")
    parser.add_argument("--out", default="assets/models", help="bundled models folder")
    parser.add_argument("--only", nargs="+", choices=BUNDLED, help="just these models")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from training.models import arch_module
    from training.train import train

    timings = {}
    for arch in args.only or BUNDLED:
        module = arch_module(arch)
        cfg = train_config(module)
        out = Path(args.out) / arch
        staging = Path(args.out) / f".{arch}.new"  # the bundled model stays until done
        command = (f"python -m training.make_models --data {args.data} --out {args.out}"
                   f" --only {arch}")
        start = time.monotonic()
        card = train(args.data, arch, staging, cfg, command=command)
        timings[arch] = time.monotonic() - start
        old = Path(args.out) / f".{arch}.old"
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
        val = card["metrics"]["validation"]
        print(f"{arch}: validation accuracy {val['accuracy']:.4f} on {val['n']} clips "
              f"({val['speakers']} speakers), {timings[arch] / 60:.1f} min", flush=True)
    print(json.dumps({"minutes": {k: round(v / 60, 1) for k, v in timings.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
