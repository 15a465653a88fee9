"""The streaming path: resampling block by block against one resample_poly
call, and the engine's cost per window against the bare model call."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.signal

from benchmarks import Row, best_ms
from kwsapp.audio.io import StreamResampler


def _resample_rows(repeat: int) -> list[Row]:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(48000) * 0.1).astype(np.float32)

    def streamed() -> None:
        r = StreamResampler(48000, 16000)
        for i in range(0, len(x), 960):  # 20 ms device blocks
            r.process(x[i:i + 960])
        r.flush()

    return [Row("1 s of 48 kHz -> 16 kHz in 20 ms blocks", best_ms(streamed, repeat),
                "one resample_poly call", best_ms(
                    lambda: scipy.signal.resample_poly(x, 1, 3), repeat))]


def _engine_rows(repeat: int) -> list[Row]:
    from kwsapp.audio.source import FileSource
    from kwsapp.config import Config, VadConfig
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.models.registry import bundled_models

    if "embed" not in bundled_models():
        return []
    rec = Recognizer.load("embed")
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(16000 * 5) * 0.05).astype(np.float32)
    # VAD off: every hop is classified, so windows = 5 s / 250 ms + tail.
    cfg = replace(Config(), vad=replace(VadConfig(), enabled=False))
    counter = {"n": 0}

    def run_engine() -> None:
        Engine(rec, cfg, FileSource(audio, 320),
               on_window=lambda w: counter.__setitem__("n", counter["n"] + 1)).run()

    counter["n"] = 0
    run_engine()
    n_windows = counter["n"]
    per_window = best_ms(run_engine, max(3, repeat // 3), 1) / n_windows
    window = np.zeros(rec.card.window_samples, np.float32)
    return [Row("engine per window (embed, 5 s file, VAD off)", per_window,
                "bare Recognizer.probabilities", best_ms(lambda: rec.probabilities(window),
                                                           repeat, 10))]


def run(quick: bool = False) -> list[Row]:
    repeat = 3 if quick else 9
    return _resample_rows(repeat) + _engine_rows(repeat)
