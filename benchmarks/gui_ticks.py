"""What the GUI benchmarks share: a fast timer's ticks on the GUI thread
(the longest gap between two is how long the window stopped responding),
an event pump, their child process on a checkout's code, and a
checkout's name for their tables.

Qt is imported inside the functions: the benchmarks set
``QT_QPA_PLATFORM`` in their child process before it loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

TICK_MS = 10


class Ticks:
    """Stamps of a precise ``TICK_MS`` timer, started at once."""

    def __init__(self, interval_ms: int = TICK_MS) -> None:
        from PySide6 import QtCore

        self.stamps: list[float] = []
        self._timer = QtCore.QTimer(interval=interval_ms)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(lambda: self.stamps.append(time.perf_counter()))
        self._timer.start()

    def mark(self) -> int:
        """Where an action starts, for :meth:`longest_gap_ms`."""
        return len(self.stamps)

    def longest_gap_ms(self, since: int) -> float:
        """The longest gap between ticks from the tick before ``since`` on
        (NaN with fewer than two)."""
        stamps = self.stamps[max(0, since - 1):]
        return 1000.0 * max((b - a for a, b in zip(stamps, stamps[1:])), default=float("nan"))


def pump(app, timeout_s: float, until: Callable[[], bool] = lambda: False) -> bool:
    """Handle ``app``'s events until ``until()`` holds (True) or
    ``timeout_s`` passes (False)."""
    from PySide6 import QtCore

    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
        if until():
            return True
        time.sleep(0.001)
    return False


def describe_checkout(repo: Path) -> str:
    """A checkout as the tables name it: its commit."""
    head = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h"],
                          capture_output=True, text=True).stdout.strip()
    return f"`{head}`" if head else str(repo)


def run_child(script: Path, argv: list[str], repo: Path, env: dict[str, str],
              timeout_s: float) -> list[dict] | str:
    """``script`` run as ``__main__`` with ``argv`` in a fresh process on
    ``repo``'s code (``env`` should put ``repo`` on ``PYTHONPATH``): the JSON
    lines it printed, or the last line of its error.

    The benchmark itself and this module come from this checkout, so that
    an older checkout, which may not have them, is measured the same way.
    """
    code = ("import importlib.util, runpy, sys; "
            "spec = importlib.util.spec_from_file_location('benchmarks.gui_ticks', "
            f"{str(Path(__file__).resolve())!r}); "
            "ticks = importlib.util.module_from_spec(spec); sys.modules[spec.name] = ticks; "
            "spec.loader.exec_module(ticks); "
            f"sys.argv = {argv!r}; "
            f"runpy.run_path({str(script.resolve())!r}, run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=repo,
                         capture_output=True, text=True, timeout=timeout_s)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return rows or " ".join(out.stderr.strip().splitlines()[-1:])
