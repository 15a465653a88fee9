"""Progress bars of a training run (tqdm, on stderr)."""

from __future__ import annotations

import sys


def bar_interval() -> float:
    """Seconds between progress-bar updates: often on a terminal, rarely
    into a log file."""
    return 0.2 if sys.stderr.isatty() else 15.0
