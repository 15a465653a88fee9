"""How long the window stops responding when it is built, when listening
starts, switches or stops and when the devices are looked for again: the
longest gap between ticks of a 10 ms timer on the GUI thread
during each action, against the longest gap while it only listens (the
reference, in the same run: what the redraws and the engine cost anyway).

The real window (offscreen Qt) in a fresh process, so that the first
Listen pays its imports as a user's does, listening through its default
input (the capture child, PortAudio) on a JACK dummy server; skipped
without jackd.

    python -m benchmarks.bench_gui_gaps [--settle 3] [--repo OTHER_CHECKOUT ...]

``--repo`` runs the same actions on other checkouts' code too, one after
the other in the same run (e.g. a worktree of the commit before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.gui_ticks import TICK_MS, Ticks, describe_checkout, pump, run_child

def child(settle_s: float) -> None:
    """In the fresh process: the window, its actions, one JSON line each."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore

    from kwsapp.config import GuiConfig
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["bench-gui-gaps"])
    tmp = tempfile.mkdtemp()
    settings = QtCore.QSettings(str(Path(tmp) / "kwsapp.ini"),
                                QtCore.QSettings.Format.IniFormat)
    started = time.perf_counter()
    window = MainWindow(settings=settings, model="embed", autostart=False)
    # The constructor holds the GUI thread from start to end: no tick
    # could come, so its length is the stall.
    built_ms = 1000.0 * (time.perf_counter() - started)
    # The size measured before: offscreen's screen is 800x800, the first size within it.
    window.resize(*GuiConfig().window_size)
    window.show()
    ticks = Ticks()

    def measure(name: str, action, settle: float = settle_s) -> None:
        pump(app, 0.3)
        first = ticks.mark()
        QtCore.QTimer.singleShot(0, action)
        pump(app, settle)
        print(json.dumps({"action": name, "gap_ms": ticks.longest_gap_ms(first),
                          "listening": window.session is not None}), flush=True)

    pump(app, 0.5)
    print(json.dumps({"action": "window built (the constructor)", "gap_ms": built_ms,
                      "listening": False}), flush=True)
    measure("first Listen", window.listen_action.trigger, settle=6.0)
    measure("listening, no action (reference)", lambda: None)
    measure("model embed -> cnn", lambda: window.controls.model_chosen.emit("cnn"))
    measure("model cnn -> embed", lambda: window.controls.model_chosen.emit("embed"))
    measure("input device chosen again", window.controls.device_chosen.emit)
    measure("second opinion off", lambda: window.verify_check.setChecked(False))
    measure("second opinion on", lambda: window.verify_check.setChecked(True))
    measure("refresh devices (F5)", window.refresh_action.trigger)
    measure("Stop", window.listen_action.trigger)
    measure("Listen again", window.listen_action.trigger)
    measure("close", window.close, settle=1.0)
    sys.stdout.flush()
    os._exit(0)  # the window's threads are joined by close(); nothing else to wait for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gui_gaps",
                                     description=__doc__)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds watched after each action")
    parser.add_argument("--repo", nargs="+", type=Path, default=[],
                        help="other checkouts to measure beside this one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.settle)
        return 0
    if any(shutil.which(t) is None for t in ("jackd", "jack_lsp")):
        print("| GUI thread's longest stall | - | (no jackd here) | - | - |")
        return 0
    here = Path(__file__).resolve().parents[1]
    tables = [(repo, actions(repo, args.settle)) for repo in [here, *args.repo]]
    print(f"GUI thread's longest gap between {TICK_MS} ms timer ticks, load average "
          f"{os.getloadavg()[0]:.1f} at the end\n")
    print("| checkout | action | longest gap (ms) | reference | reference (ms) | "
          "ratio (ref / ours) |")
    print("| --- | --- | ---: | --- | ---: | ---: |")
    for repo, rows in tables:
        name = describe_checkout(repo)
        if isinstance(rows, str):
            print(f"| {name} | - | - | (the window failed: {rows}) | - | - |")
            continue
        reference = next(r["gap_ms"] for r in rows if "reference" in r["action"])
        for r in rows:
            if "reference" not in r["action"]:
                print(f"| {name} | {r['action']} | {r['gap_ms']:.0f} | listening, no action | "
                      f"{reference:.0f} | {reference / r['gap_ms']:.2f} |")
    return 0


def actions(repo: Path, settle_s: float) -> list[dict] | str:
    """:func:`child` on ``repo``'s code in a fresh process, on a JACK dummy
    server of its own: its rows, or why it failed."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"kwsapp-gaps-{os.getpid()}",
               JACK_NO_START_SERVER="1", PYTHONPATH=str(repo))
    jackd = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "16000",
                              "-p", "256", "-C", "1", "-P", "1"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not subprocess.run(
                ["jack_lsp"], env=env, capture_output=True, text=True).stdout.strip():
            time.sleep(0.1)
        return run_child(Path(__file__), ["bench_gui_gaps", "--child", "--settle",
                                          str(settle_s)], repo, env, 300)
    finally:
        jackd.terminate()
        try:
            jackd.wait(10)
        except subprocess.TimeoutExpired:
            jackd.kill()


if __name__ == "__main__":
    sys.exit(main())
