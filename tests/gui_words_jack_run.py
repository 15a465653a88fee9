"""The Add word dialog recording takes through real PortAudio on a JACK
server, training, and the live window then hearing the new word.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` and ``KWSAPP_HOME`` set.
Opens the window offscreen (default sound-card source: the JACK dummy
input), opens the dialog, and for each take presses Record and, once the
dialog says "say the word now" (after its countdown, during which the input
opened), plays ``--takes`` clip into the recorder's new input port; trains; plays
``--probe`` into the window's input; prints one JSON object: what each take
slot says, the words listed, the history, the word bars' labels and the
engine threads left after closing.

Usage: python tests/gui_words_jack_run.py --name NAME --takes WAV... --probe WAV
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

SR = 16000


def ports_now(tries: int = 50) -> list[str]:
    """JACK's ports, asked again while ``jack_lsp`` fails (it is itself a
    JACK client, and on a loaded machine one sometimes cannot connect); []
    only when every try failed. An empty list taken as "the ports before a
    take" made every port look new, and that take went unplayed (silent)."""
    for _ in range(tries):
        try:
            return jack_ports()
        except subprocess.CalledProcessError:
            time.sleep(0.1)
    return []


def word_only(path: str) -> np.ndarray:
    """The recording cut to its word and 0.25 s around it (a recorded take is
    ``record_s`` long; the source files have long silences)."""
    from kwsapp.userwords.takes import word_span

    audio = load_audio(path)
    start, end = word_span(audio)
    pad = SR // 4
    return audio[max(0, start - pad):end + pad]


class Player:
    """One output stream; ``play(audio, port)`` connects it to ``port`` and
    plays ``audio`` from its start."""

    def __init__(self) -> None:
        import sounddevice as sd

        self.buf = np.zeros(0, np.float32)
        self.pos = 0
        before = set(ports_now())
        self.stream = sd.OutputStream(samplerate=SR, channels=1, dtype="float32",
                                      callback=self._callback)
        self.stream.start()
        (self.port,) = new_ports(before)

    def _callback(self, outdata, frames, time_info, status) -> None:
        outdata.fill(0)
        chunk = self.buf[self.pos:self.pos + frames]
        outdata[:len(chunk), 0] = chunk
        self.pos += frames

    def play(self, audio: np.ndarray, port: str) -> None:
        for p in ports_now():
            if p.startswith("system:capture"):  # only our signal on the input
                subprocess.run(["jack_disconnect", p, port], capture_output=True)
        self.pos = len(audio) + 1  # silent while (re)connecting
        self.buf = audio
        subprocess.run(["jack_connect", self.port, port], check=True)
        self.pos = 0

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


def wait(app, until, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if until():
            return True
        time.sleep(0.01)
    app.processEvents()
    return bool(until())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--takes", nargs="+", required=True)
    parser.add_argument("--probe", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    from PySide6 import QtCore

    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["gui-words-jack"])
    tmp = tempfile.mkdtemp()
    settings = QtCore.QSettings(str(Path(tmp) / "kwsapp.ini"), QtCore.QSettings.Format.IniFormat)
    before = set(ports_now())
    window = MainWindow(settings=settings, autostart=False)
    window.show()
    started = start_and_wait(window)
    window_ports = new_ports(before) if started else []
    player = Player()
    window.open_add_word()
    dialog = window.add_word_dialog
    dialog.name_edit.setText(args.name)
    lead = np.zeros(int(0.4 * SR), np.float32)
    for i, take in enumerate(args.takes):
        before = set(ports_now())
        dialog.record_take(i)
        # The input opens on its thread during the countdown; what it hears
        # before "now" is not recorded.
        wait(app, lambda: (dialog.prompt.text().endswith("say the word now.")
                           or not dialog.recording), args.timeout)
        ports = [p for p in new_ports(before) if p not in (player.port,)]
        if len(ports) == 1:
            player.play(np.concatenate([lead, word_only(take)]), ports[0])
        wait(app, lambda: not dialog.recording, dialog.config.record_s + 10)
        # The take's input closes on the dialog's thread: gone before the
        # next take's is told apart (JACK may give that one the same name).
        wait(app, lambda: bool(now := ports_now()) and not set(ports) & set(now), 10)
    slots = [s.status.text() for s in dialog.slots]
    drawn = [s.drawn_points() for s in dialog.slots]
    trained = dialog.train() and wait(app, lambda: not dialog.training, args.timeout)
    words = dialog.words.names()
    dialog.close()
    heard = False
    if window_ports:
        probe = word_only(args.probe)
        player.play(np.concatenate([lead, probe, np.zeros(SR, np.float32)]), window_ports[0])
        heard = wait(app, lambda: any(r[2] == args.name for r in window.history.rows()),
                     args.timeout)
    result = {
        "started": started, "slots": slots, "drawn": drawn, "trained": trained,
        "prompt": dialog.prompt.text(), "words": words, "heard": heard,
        "history": window.history.rows(),
        "word_bars": list(window.word_bars.labels) if window.word_bars.isVisible() else [],
        "bar_values": [float(v) for v in window.word_bars.values],
    }
    window.close()
    player.close()
    print_result(result)


if __name__ == "__main__":
    main()
