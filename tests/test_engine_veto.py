"""Engine.hold_commands and Engine.veto (the ignore words' hooks) on the
bundled model and real clips: a hold delays every command by its length and
changes nothing else; a vetoed window drops the commands decided on it or
within half a second after it, and only those."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import sure_clips
from kwsapp.audio.io import load_audio
from kwsapp.audio.source import FileSource
from kwsapp.config import ms_to_samples
from kwsapp.inference.engine import Engine
from kwsapp.inference.recognizer import load_with_config


@pytest.fixture(scope="module")
def audio(bundled_model_dir, data_dir) -> np.ndarray:
    clips = [sure_clips(bundled_model_dir, data_dir, w, 1)[0] for w in ("yes", "go", "stop")]
    parts = [np.zeros(16000, np.float32)]
    for path in clips:
        x = load_audio(path)
        parts += [0.1 * x / np.sqrt(np.mean(x ** 2)), np.zeros(40000, np.float32)]
    rng = np.random.default_rng(0)
    out = np.concatenate(parts)
    return out + 0.003 * rng.standard_normal(out.size).astype(np.float32)


def run(audio: np.ndarray, hold_s: float = 0.0, veto_near: float | None = None,
        suspect_near: float | None = None):
    recognizer, config = load_with_config(None)
    engine = Engine(recognizer, config, FileSource(audio, ms_to_samples(config.audio.block_ms)))
    engine.hold_commands(hold_s, suspected_only=suspect_near is not None)
    if veto_near is not None or suspect_near is not None:
        def listener(end_s: float, _embedding: np.ndarray) -> None:
            # one window each, as an ignore word would
            if veto_near is not None and abs(end_s - veto_near) < 0.05:
                engine.veto(end_s)
            if suspect_near is not None and abs(end_s - suspect_near) < 0.05:
                engine.suspect(end_s)
        engine.add_embedding_listener(listener)
    else:
        engine.add_embedding_listener(lambda _t, _e: None)  # the same scheduling
    return engine.run(), engine


def test_a_hold_delays_every_command_by_its_length(audio):
    plain, _ = run(audio)
    held, _ = run(audio, hold_s=0.16)
    assert [e.label for e in plain] == ["yes", "go", "stop"]
    assert [(e.label, e.start, e.end) for e in held] == [(e.label, e.start, e.end) for e in plain]
    assert [round(h.emitted_at - p.emitted_at, 3) for h, p in zip(held, plain)] == [0.16] * 3


def test_a_hold_for_suspects_delays_only_the_command_an_ignore_word_stirred_on(audio):
    plain, _ = run(audio)
    go = plain[1].emitted_at
    held, _ = run(audio, hold_s=0.16, suspect_near=go - 0.3)
    assert [(e.label, e.start, e.end) for e in held] == [(e.label, e.start, e.end) for e in plain]
    assert [round(h.emitted_at - p.emitted_at, 3) for h, p in zip(held, plain)] == [0, 0.16, 0]
    early, _ = run(audio, hold_s=0.16, suspect_near=go - 0.7)  # stirred too long before
    assert [e.emitted_at for e in early] == [e.emitted_at for e in plain]


@pytest.mark.parametrize("hold_s", [0.0, 0.08])
def test_a_vetoed_window_drops_only_its_command(audio, hold_s):
    plain, _ = run(audio)
    go = plain[1]
    decided = go.emitted_at  # a file's command is emitted at its window's end
    vetoed, engine = run(audio, hold_s, veto_near=decided - 0.4)
    assert [e.label for e in vetoed] == ["yes", "stop"] and engine.vetoed == 1
    late, engine = run(audio, hold_s, veto_near=decided - 0.7)  # before the span: no veto
    assert [e.label for e in late] == ["yes", "go", "stop"] and engine.vetoed == 0
