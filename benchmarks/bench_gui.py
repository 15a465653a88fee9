"""Desktop window cost while listening: redraw rate and process CPU.

The real window (offscreen Qt: the same raster painting as on a screen,
without the compositor) listens to real Speech Commands clips replayed in real
time through the engine with the bundled model. Reference, in the same run:
the engine alone on the same replay (what `kwsapp listen` costs), so the
window's own share is the difference.

    python -m benchmarks.bench_gui [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get(
    "KWSAPP_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "speech_commands_subset"))
WORDS = ("yes", "left", "stop", "go", "no", "up", "down", "right", "on", "off")


def replay_audio(seconds: float) -> np.ndarray:
    """Real clips (one per word, cycling) with pauses, ``seconds`` long."""
    from kwsapp.gui.screenshot import words_audio

    audio = words_audio(DATA_DIR, list(WORDS), clip_index=2)
    reps = int(np.ceil(seconds * 16000 / audio.size))
    return np.tile(audio, reps)[:int(seconds * 16000)]


def cpu_seconds() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def engine_alone(audio: np.ndarray, model: str | None) -> dict:
    """Reference: the engine on the replay, no window."""
    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import load_with_config

    recognizer, config = load_with_config(model)
    events = []
    engine = Engine(recognizer, config, FileSource(audio, 320, realtime=True),
                    on_event=events.append)
    c0, t0 = cpu_seconds(), time.monotonic()
    engine.start()
    while engine.is_running and not engine.source.finished:
        time.sleep(0.05)
    wall = time.monotonic() - t0
    cpu = cpu_seconds() - c0
    stats = engine.stats
    engine.stop()
    return {"cpu_pct": 100.0 * cpu / wall, "wall_s": wall, "events": len(events),
            "dropped": stats.dropped_windows}


def window_listening(audio: np.ndarray, model: str | None) -> dict:
    """The window listening to the replay: frames drawn, redraw time, CPU."""
    import tempfile

    from PySide6 import QtCore

    from kwsapp.audio.source import FileSource
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["bench-gui"])
    redraw_ms: list[float] = []  # wall time per frame (includes waiting for a core)
    redraw_cpu_ms: list[float] = []  # GUI thread CPU time per frame
    with tempfile.TemporaryDirectory() as tmp:
        settings = QtCore.QSettings(str(Path(tmp) / "bench.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, model=model, autostart=False,
                            source_factory=lambda _d: FileSource(audio, 320, realtime=True),
                            source_name="bench replay")
        window.resize(1240, 760)
        window.show()
        draw = window.redraw

        def timed_redraw() -> None:
            t, c = time.perf_counter(), time.thread_time()
            draw()
            # Paint now, so the cost of the frame is in the measurement.
            window.spectrogram.viewport().repaint()
            window.waveform.viewport().repaint()
            window.meter.repaint()
            redraw_ms.append((time.perf_counter() - t) * 1000.0)
            redraw_cpu_ms.append((time.thread_time() - c) * 1000.0)

        window._redraw_timer.timeout.disconnect()
        window._redraw_timer.timeout.connect(timed_redraw)
        app.processEvents()
        c0, t0 = cpu_seconds(), time.monotonic()
        window.start_listening()
        QtCore.QTimer.singleShot(int(1000 * audio.size / 16000), app.quit)
        app.exec()
        wall = time.monotonic() - t0
        cpu = cpu_seconds() - c0
        stats = window.session.engine.stats if window.session else window.last_stats
        events = len(window.history.rows())
        window.close()
    ms, cpu_ms = np.array(redraw_ms), np.array(redraw_cpu_ms)
    return {"cpu_pct": 100.0 * cpu / wall, "wall_s": wall, "fps": ms.size / wall,
            "redraw_ms_mean": float(ms.mean()), "redraw_ms_p95": float(np.percentile(ms, 95)),
            "redraw_cpu_ms_mean": float(cpu_ms.mean()),
            "events": events, "dropped": stats.dropped_windows if stats else -1}


def _load_recogniser(model: str | None) -> None:
    """Load the second opinion's recogniser before either run: the process
    shares one (second_opinion.shared_verifier), so whichever run came
    first would pay its load (1-3 s of CPU) alone."""
    from kwsapp.errors import KwsError
    from kwsapp.inference.recognizer import load_with_config
    from kwsapp.inference.second_opinion import shared_verifier

    _recognizer, config = load_with_config(model)
    if config.verify.active:
        try:
            shared_verifier(config.verify.threads)
        except KwsError:  # not installed: both runs go without it
            pass


def run_listening(seconds: float = 20.0, model: str | None = None) -> dict:
    audio = replay_audio(seconds)
    _load_recogniser(model)
    ref = engine_alone(audio, model)
    gui = window_listening(audio, model)
    return {"reference_engine_only": ref, "window": gui,
            "window_over_engine_cpu": gui["cpu_pct"] / max(ref["cpu_pct"], 1e-9)}


def spectrogram_frame_ms(quick: bool = False) -> tuple[float, float]:
    """CPU ms to scroll in 3 columns and paint the live spectrogram: ours
    (RGBA image coloured by numpy) and pyqtgraph's usual path (float image,
    fixed levels, LUT in the ImageItem), same size, same data."""
    import pyqtgraph as pg
    from PySide6 import QtCore

    from benchmarks import best_ms
    from kwsapp.config import GuiConfig
    from kwsapp.gui.app import make_application
    from kwsapp.gui.spectrogram_widget import SpectrogramWidget

    app = make_application(["bench-gui"])
    config = GuiConfig()
    audio = replay_audio(2.0)
    ours = SpectrogramWidget(config)
    ours.resize(790, 370)
    ours.show()
    ref = pg.PlotWidget()
    ref.resize(790, 370)
    ref.show()
    item = pg.ImageItem(axisOrder="row-major")
    item.setColorMap(pg.colormap.get(config.colormap))
    ref.addItem(item)
    data = np.full((config.spectrogram_n_mels, ours.n_columns), config.spectrogram_levels[0],
                   np.float32)
    item.setImage(data, autoLevels=False, levels=config.spectrogram_levels)
    item.setRect(QtCore.QRectF(-6, 0, 6, config.spectrogram_n_mels))
    app.processEvents()
    block = 3 * ours.mel.hop
    pos = {"i": 0}

    def next_block() -> np.ndarray:
        i = pos["i"] = (pos["i"] + block) % (audio.size - block)
        return audio[i:i + block]

    def ours_frame() -> None:
        ours.push(next_block())
        ours.viewport().repaint()

    def ref_frame() -> None:
        cols = ours.mel.push(next_block())
        data[:, :-cols.shape[0]] = data[:, cols.shape[0]:]
        data[:, -cols.shape[0]:] = cols.T
        item.setImage(data, autoLevels=False)
        ref.viewport().repaint()

    repeat = 5 if quick else 9  # best-of: a busy machine only ever adds time
    return best_ms(ours_frame, repeat=repeat), best_ms(ref_frame, repeat=repeat)


def run(quick: bool = False) -> list:
    """Rows for ``python -m benchmarks``: the spectrogram frame against
    pyqtgraph's usual float+LUT path, and the whole process while listening
    (CPU ms per second of audio) against the engine alone."""
    from benchmarks import Row

    ours_ms, ref_ms = spectrogram_frame_ms(quick)
    r = run_listening(8.0 if quick else 20.0)
    ref, gui = r["reference_engine_only"], r["window"]
    return [
        Row("live spectrogram frame (3 new columns, painted)", ours_ms,
            "same through ImageItem float + LUT", ref_ms),
        Row(f"listening, CPU ms per s of audio (window at {gui['fps']:.0f} frames/s, "
            f"{gui['dropped']} dropped)", 10.0 * gui["cpu_pct"],
            "engine alone", 10.0 * ref["cpu_pct"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)
    r = run_listening(args.seconds, args.model)
    ref, gui = r["reference_engine_only"], r["window"]
    print(f"GUI while listening ({args.seconds:g} s of real clips replayed in real time, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
    print(f"  {'':26s} {'CPU % of one core':>17s} {'frames/s':>9s} {'frame wall ms':>18s} "
          f"{'frame CPU ms':>12s} {'events':>6s} {'dropped':>7s}")
    print(f"  {'engine alone (reference)':26s} {ref['cpu_pct']:17.1f} {'-':>9s} {'-':>18s} "
          f"{'-':>12s} {ref['events']:6d} {ref['dropped']:7d}")
    print(f"  {'window + engine':26s} {gui['cpu_pct']:17.1f} {gui['fps']:9.1f} "
          f"{gui['redraw_ms_mean']:8.1f} (p95 {gui['redraw_ms_p95']:3.0f}) "
          f"{gui['redraw_cpu_ms_mean']:12.1f} {gui['events']:6d} {gui['dropped']:7d}")
    print(f"  window / engine CPU ratio: {r['window_over_engine_cpu']:.1f}x; "
          f"frame CPU allows {1000.0 / gui['redraw_cpu_ms_mean']:.0f} frames/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
