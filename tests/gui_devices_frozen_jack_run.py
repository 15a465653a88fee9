"""The window's input device list on a JACK server that answers nobody,
then answers again: the real window (offscreen), real PortAudio.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` set. The window is built
while the server is frozen (SIGSTOP to ``--jackd-pid``): PortAudio's start
hangs on it, and the window, which started PortAudio in its own process to
list the devices, hung in its constructor. The devices are to be looked for
off the GUI thread and given up after ``--list-s``; then the server is
thawed and the list refreshed (F5), then frozen again and refreshed. Prints
one JSON object: the chooser's text, tooltip and state and the banner at
each stage, the timer ticks the GUI thread ran while it waited, the
listing children left, whether this process ever loaded sounddevice.

Usage: python tests/gui_devices_frozen_jack_run.py --jackd-pid PID --model DIR --list-s S
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import own_children, print_result, run_until, temp_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jackd-pid", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--list-s", type=float, required=True)
    args = parser.parse_args()

    from PySide6 import QtCore

    from kwsapp.config import Config
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["gui-devices-frozen-jack"])
    config = Config()
    config = replace(config, audio=replace(config.audio, device_list_timeout_s=args.list_s))
    ticks = [0]
    timer = QtCore.QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start()
    result: dict = {}

    def chooser(stage: str) -> None:
        combo = window.device_combo
        result[stage] = {
            "items": [combo.itemText(i) for i in range(combo.count())],
            "tooltip": combo.itemData(0, QtCore.Qt.ItemDataRole.ToolTipRole),
            "enabled": combo.isEnabled(), "looking": window.looking_for_devices,
            "banner": "" if window.banner.isHidden() else window.banner.text.text(),
            "children": len(own_children("kwsapp.audio.portaudio_child"))}

    os.kill(args.jackd_pid, signal.SIGSTOP)
    try:
        window = MainWindow(config=config, settings=temp_settings(
            Path(tempfile.mkdtemp()) / "kwsapp.ini"), model=args.model, autostart=False)
        window.show()
        chooser("built")
        result["gave_up"] = run_until(lambda: not window.looking_for_devices, 60.0)
        result["ticks_while_looking"] = ticks[0]
        chooser("given_up")
    finally:
        os.kill(args.jackd_pid, signal.SIGCONT)
    window.refresh_action.trigger()
    chooser("refreshing")
    result["listed"] = run_until(lambda: not window.looking_for_devices, 60.0)
    chooser("refreshed")
    os.kill(args.jackd_pid, signal.SIGSTOP)
    try:
        window.refresh_action.trigger()  # returns at once: looked for off the GUI thread
        chooser("refreshing_frozen")
        result["gave_up_again"] = run_until(lambda: not window.looking_for_devices, 60.0)
        chooser("given_up_again")
    finally:
        os.kill(args.jackd_pid, signal.SIGCONT)
    window.close()
    result["sounddevice_loaded"] = "sounddevice" in sys.modules
    result["children_left"] = len(own_children("kwsapp.audio.portaudio_child"))
    print_result(result)


if __name__ == "__main__":
    main()
