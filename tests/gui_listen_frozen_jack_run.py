"""Listen in the window on a JACK server that answers nobody, then answers
again: the real window (offscreen), its real capture child, real PortAudio.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` set. The window is built
while the server answers (its device list comes), then the server is
frozen (SIGSTOP to ``--jackd-pid``) and Listen pressed: PortAudio's start
hangs in the capture child, and the window is to give the start up after
``--open-s`` (AudioConfig.open_timeout_s), the child killed. The server is
thawed and Listen pressed again. Prints one JSON object: the Listen
button's text while starting, the timer ticks the GUI thread ran meanwhile,
how long the start took to give up, the banner, the capture children
running just after, then whether the second Listen listens and whether
any capture child or thread is left at the end.

Usage: python tests/gui_listen_frozen_jack_run.py --jackd-pid PID --model DIR --open-s S
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import (own_children, print_result, run_until, start_and_wait,  # noqa: E402
                         temp_settings)

CAPTURE = "kwsapp.audio.child_source"  # a capture child's module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jackd-pid", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--open-s", type=float, required=True)
    args = parser.parse_args()

    from PySide6 import QtCore

    from kwsapp.config import Config
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["gui-listen-frozen-jack"])
    config = Config()
    config = replace(config, audio=replace(config.audio, open_timeout_s=args.open_s))
    window = MainWindow(config=config, settings=temp_settings(
        Path(tempfile.mkdtemp()) / "kwsapp.ini"), model=args.model, autostart=False)
    window.show()
    result: dict = {"listed": run_until(lambda: not window.looking_for_devices, 60.0)}
    ticks = [0]
    timer = QtCore.QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    os.kill(args.jackd_pid, signal.SIGSTOP)
    try:
        asked = time.monotonic()
        window.start_listening()  # what Listen (Space) does
        timer.start()
        result["button"] = window.controls.listen_button.text()  # as shown (the menu's has its &)
        result["gave_up"] = run_until(lambda: not window.starting, 120.0)
        result["gave_up_s"] = time.monotonic() - asked
        timer.stop()
        result["ticks_while_starting"] = ticks[0]
        result["listening"] = window.listen_action.isChecked()
        result["banner"] = "" if window.banner.isHidden() else window.banner.text.text()
        result["device"] = window.current_device()
        result["children_after"] = len(own_children(CAPTURE))
    finally:
        os.kill(args.jackd_pid, signal.SIGCONT)
    # The server answers again: Listen (Space) listens.
    result["started_again"] = start_and_wait(window, 60.0)
    result["samples"] = run_until(
        lambda: window.session is not None and window.session.engine.ring.total_written > 0,
        30.0)
    window.stop_listening()
    window.close()
    result["children_gone"] = run_until(lambda: not own_children(CAPTURE), 30.0)
    print_result(result)


if __name__ == "__main__":
    main()
