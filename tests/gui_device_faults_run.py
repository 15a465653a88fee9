"""The real window on a JACK dummy server facing a refused sample rate and
a busy device (run by tests/test_device_faults.py).

Run as a subprocess with ``JACK_DEFAULT_SERVER`` set. The window asks the
device for 44100 Hz through real PortAudio (in the window's capture child
process), which the JACK server (16 kHz) refuses. Then the device is made
busy by a MOCK: PortAudio's JACK host has no "busy" (a JACK server takes
any number of clients) and no ALSA card exists on a test machine, so the
window is given an in-process source whose ``sounddevice.InputStream``
raises the error PortAudio's ALSA host gives for a card another program
holds (paDeviceUnavailable). Prints one JSON object.

Usage: python tests/gui_device_faults_run.py --model DIR
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import print_result, start_and_wait  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    args = parser.parse_args()

    import sounddevice as sd
    from PySide6 import QtCore

    from kwsapp.config import Config
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["gui-device-faults"])
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "kwsapp.ini"),
                                QtCore.QSettings.Format.IniFormat)
    config = Config()
    config = replace(config, audio=replace(config.audio, device_rate_hz=44100))
    window = MainWindow(config=config, settings=settings, model=args.model, autostart=False)
    window.show()

    def state() -> dict:
        session = window.session
        return {"listening": window.listen_action.isChecked(),
                "banner": "" if window.banner.isHidden() else window.banner.text.text(),
                "rate": session.sample_rate_hz if session else None,
                "samples": int(session.engine.ring.total_written) if session else 0}

    def run_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    result = {"refused_rate": {"started": start_and_wait(window)}}
    run_for(1.0)
    result["refused_rate"].update(state())
    window.stop_listening()
    window.banner.hide()

    def busy_stream(*_args, **_kwargs):
        raise sd.PortAudioError("Error opening InputStream: Device unavailable", -9985)

    from kwsapp.audio.source import SoundDeviceSource

    real_factory = window.source_factory
    sd.InputStream = busy_stream  # the mock described above, in this process
    window.source_factory = lambda device: SoundDeviceSource(device, rate_hz=44100)
    result["busy"] = {"started": start_and_wait(window)}
    run_for(0.3)
    result["busy"].update(state(), visible=window.isVisible())
    window.source_factory = real_factory  # the other program let go: Space again
    result["freed"] = {"started": start_and_wait(window)}
    run_for(1.0)
    result["freed"].update(state())
    window.close()
    print_result(result)


if __name__ == "__main__":
    main()
