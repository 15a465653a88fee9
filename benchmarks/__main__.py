"""``python -m benchmarks [--quick] [--only NAME]``: run the benchmarks and
print a Markdown table of ratios (reference time / ours)."""

from __future__ import annotations

import os

# The features' matrix products are tiny (98x257 by 257x40): a multi-threaded
# BLAS only adds hand-off cost, up to 50x on a busy 2-core machine. Set before
# numpy loads; an explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

from benchmarks import BENCHMARKS, SELF_PRINTING, Row  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", default=None, help="run modules whose name contains this")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for name in BENCHMARKS:
        if args.only and args.only not in name:
            continue
        module = importlib.import_module(name)
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += module.run(quick=args.quick)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load:.1f} at the end, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}\n")
    print("| benchmark | ours (ms) | reference | reference (ms) | ratio (ref / ours) |")
    print("| --- | ---: | --- | ---: | ---: |")
    for r in rows:
        print(f"| {r.name} | {r.ours_ms:.3f} | {r.reference} | {r.reference_ms:.3f} | "
              f"{r.ratio:.2f} |")
    for name in SELF_PRINTING:
        if args.only and args.only not in name:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        print()
        importlib.import_module(name).main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
