"""The real window listening through real PortAudio on a JACK server.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` set (PortAudio reads it when
sounddevice is first imported). Opens the window offscreen with its default
sound-card source, plays ``--clip`` into the window's input port with an
output stream + ``jack_connect``, waits for a command, closes the window and
prints one JSON object: the device chooser's entries, the history, frames
drawn, status text and the engine threads left after closing.

Usage: python tests/gui_jack_run.py --model DIR --clip WAV
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import print_result, start_and_wait  # noqa: E402

from jack_play import jack_ports, new_ports  # noqa: E402

from kwsapp.audio.io import load_audio  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--clip", required=True)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()

    import sounddevice as sd
    from PySide6 import QtCore

    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    sr = 16000
    play = np.concatenate([np.zeros(sr // 2, np.float32), load_audio(args.clip),
                           np.zeros(sr, np.float32)])
    app = make_application(["gui-jack"])
    tmp = tempfile.mkdtemp()
    settings = QtCore.QSettings(str(Path(tmp) / "kwsapp.ini"), QtCore.QSettings.Format.IniFormat)
    before = set(jack_ports())
    window = MainWindow(settings=settings, model=args.model, autostart=False)
    window.show()
    started = start_and_wait(window)
    in_ports = new_ports(before) if started else []
    state = {"pos": -1}

    def output_callback(outdata, frames, time_info, status):
        outdata.fill(0)
        if state["pos"] >= 0:
            chunk = play[state["pos"]:state["pos"] + frames]
            outdata[:len(chunk), 0] = chunk
            state["pos"] += frames

    out = None
    if len(in_ports) == 1:
        before_out = set(jack_ports())
        out = sd.OutputStream(samplerate=sr, channels=1, dtype="float32",
                              callback=output_callback)
        out.start()
        (src,), dst = new_ports(before_out), in_ports[0]
        for port in jack_ports():
            if port.startswith("system:capture"):
                subprocess.run(["jack_disconnect", port, dst], capture_output=True)
        subprocess.run(["jack_connect", src, dst], check=True)
        state["pos"] = 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and not window.history.rows() and started:
        app.processEvents()
        time.sleep(0.01)
    # Keep the window live a little after the command (detection can come
    # within a few redraw ticks of the clip's start), so the frame count
    # says whether the live view draws, not how fast the model was.
    settle = time.monotonic() + 0.5
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.01)
    window.update_status()
    # The devices are listed by a child process, off the GUI thread: their
    # answer may come after the command on a loaded machine.
    deadline = time.monotonic() + args.timeout
    while window.looking_for_devices and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    result = {
        "started": started,
        "devices": [window.device_combo.itemText(i) for i in range(window.device_combo.count())],
        "in_ports": in_ports,
        "history": window.history.rows(),
        "result": window.result.text,
        "frames": window.frames_drawn,
        "status": window.status_labels["device"].text(),
        "banner": window.banner.text.text() if not window.banner.isHidden() else "",
    }
    window.close()
    if out is not None:
        out.stop()
        out.close()
    print_result(result)


if __name__ == "__main__":
    main()
