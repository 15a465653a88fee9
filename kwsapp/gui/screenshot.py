"""Capture the README screenshot: the real window, offscreen, while real clips
(a few words from the shared Speech Commands data, with pauses) are replayed
through the engine in real time; the window is grabbed shortly after the
last command appears.

    python -m kwsapp.gui.screenshot --out docs/screenshot.png

``--size min`` takes it at the window's minimum size instead (a check of
the layout where space is tightest; ``--size 900x600`` at that size).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get(
    "KWSAPP_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "speech_commands_subset"))
DEFAULT_WORDS = ("yes", "left", "stop", "go")
PAUSE_S = 0.9  # silence between the words
GRAB_DELAY_MS = 450  # after a command: the word has scrolled into view
WINDOW_SIZE = (1240, 760)


def words_audio(data_dir: Path, words: list[str], clip_index: int = 0) -> np.ndarray:
    """Real clips of ``words`` (the ``clip_index``-th of each folder, sorted)
    with pauses between them; 16 kHz float32."""
    from kwsapp.audio.io import load_audio

    pause = np.zeros(int(PAUSE_S * 16000), np.float32)
    parts = [pause]
    for word in words:
        clips = sorted((data_dir / word).glob("*.wav"))
        if not clips:
            raise FileNotFoundError(f"no clips of {word!r} under {data_dir}")
        parts += [load_audio(clips[clip_index % len(clips)]), pause]
    return np.concatenate(parts + [pause])


def parse_size(text: str) -> tuple[int, int] | None:
    """``--size``: "WIDTHxHEIGHT" in pixels, or "min" (None: the window's
    minimum size)."""
    if text == "min":
        return None
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT nor min") from None
    return width, height


def capture(out: Path, model: str | None, data_dir: Path, words: list[str],
            clip_index: int, size: tuple[int, int] | None = WINDOW_SIZE) -> int:
    """Grab the window (``size``; None: its minimum size) into ``out``;
    0, or 1 when no command was recognized."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore

    from kwsapp.audio.source import FileSource
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    audio = words_audio(data_dir, words, clip_index)
    app = make_application(["kwsapp-screenshot"])
    with tempfile.TemporaryDirectory() as tmp:
        settings = QtCore.QSettings(str(Path(tmp) / "kwsapp.ini"),
                                    QtCore.QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, model=model,
                            source_factory=lambda _d: FileSource(audio, 320, realtime=True),
                            source_name=f"replay: {' '.join(words)}")
        window.resize(window.minimumSizeHint() if size is None else QtCore.QSize(*size))
        window.show()
        shots: list = []

        def grab() -> None:
            shots.append(window.grab())

        window.bridge.command.connect(
            lambda _e: QtCore.QTimer.singleShot(GRAB_DELAY_MS, grab),
            QtCore.Qt.ConnectionType.QueuedConnection)
        QtCore.QTimer.singleShot(int(1000 * audio.size / 16000) + 2500, app.quit)
        app.exec()
        rows = window.history.rows()
        window.close()
    if not shots:
        print(f"screenshot: no command was recognized in {', '.join(words)}; "
              "nothing captured", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    shots[-1].save(str(out))
    print(f"screenshot: {out} ({len(rows)} commands: "
          f"{', '.join(r[2] for r in reversed(rows))})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    parser.add_argument("--model", default=None, help="model name or artifact directory")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="Speech Commands folder to take the clips from")
    parser.add_argument("--words", nargs="+", default=list(DEFAULT_WORDS))
    parser.add_argument("--clip-index", type=int, default=2,
                        help="which clip of each word (sorted by file name)")
    parser.add_argument("--size", type=parse_size, default=WINDOW_SIZE,
                        help="window size, WIDTHxHEIGHT or min (default "
                        f"{WINDOW_SIZE[0]}x{WINDOW_SIZE[1]})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return capture(args.out, args.model, args.data, args.words, args.clip_index, args.size)


if __name__ == "__main__":
    sys.exit(main())
