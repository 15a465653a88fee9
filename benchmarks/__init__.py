"""Speed benchmarks, printed as ratios against a reference run in the same
process (never asserted in tests). ``python -m benchmarks`` runs them all;
results go into ``docs/benchmarks.md``.

Each module listed in :data:`BENCHMARKS` exposes ``run(quick: bool) ->
list[Row]``; those in :data:`SELF_PRINTING` print their own table from
``main(argv)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

#: Benchmark modules, in the order they run (add yours here).
BENCHMARKS: tuple[str, ...] = ("benchmarks.bench_features", "benchmarks.bench_engine",
                               "benchmarks.bench_gui")
#: Modules with their own table format, run through ``main([])`` after the rest.
SELF_PRINTING: tuple[str, ...] = ("benchmarks.bench_inference", "benchmarks.bench_stream",
                                  "benchmarks.bench_gui_gaps")


@dataclass(frozen=True)
class Row:
    """One measurement: ours against a reference doing the same job."""

    name: str
    ours_ms: float
    reference: str
    reference_ms: float

    @property
    def ratio(self) -> float:
        """Reference time / our time (above 1: we are faster)."""
        return self.reference_ms / self.ours_ms if self.ours_ms > 0 else float("inf")


def best_ms(fn: Callable[[], object], repeat: int = 7, number: int = 5) -> float:
    """Best of ``repeat`` runs of the mean time of ``number`` calls (ms), as
    timeit advises (other processes only ever add time); one untimed call
    first (caches, lazy imports)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number * 1000.0)
    return min(times)
