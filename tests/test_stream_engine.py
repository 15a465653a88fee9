"""Streams through the real engine: the bundled model finds every word of a
few real clips, the tuner's smoother-only replay agrees with the engine, and
the tuning keys of a card change what the engine does."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from kwsapp.config import Config, SmoothingConfig, VadConfig
from kwsapp.streaming.replay import CachingRecognizer, evaluate
from kwsapp.streaming.scoring import TruthWord
from kwsapp.speakers import which_set
from kwsapp.streaming.synth import StreamSpec, load_clip, make_stream
from kwsapp.streaming.tune import Setting, record_trace, write_card

GAP_S = 2.0
#: (label, said twice 1.5 s apart)
WORDS = [("yes", False), ("stop", True), ("left", False), ("go", False), ("down", False)]


def few_clips_stream(data_dir, noise_rms: float = 0.0005):
    """Validation-speaker clips 2 s apart (one said twice, 1.5 s onset to
    onset) over faint white noise; returns ``(audio, truth)``."""
    rng = np.random.default_rng(0)
    pieces, truth, t = [np.zeros(16000, np.float32)], [], 16000
    for label, twice in WORDS:
        path = next(p for p in sorted((data_dir / label).glob("*.wav"))
                    if which_set(p.name) == "validation")
        clip = load_clip(data_dir, f"{label}/{path.name}", label)
        for k in range(2 if twice else 1):
            lead = int(1.5 * 16000) - len(clip.audio) if k else 0
            if lead:
                pieces.append(np.zeros(lead, np.float32))
                t += lead
            pieces.append(clip.audio)
            truth.append(TruthWord(label, (t + clip.speech_start) / 16000,
                                   (t + clip.speech_end) / 16000, clip.file))
            t += len(clip.audio)
        pieces.append(np.zeros(int(GAP_S * 16000), np.float32))
        t += int(GAP_S * 16000)
    audio = np.concatenate(pieces)
    return (audio + noise_rms * rng.standard_normal(len(audio))).astype(np.float32), truth


@pytest.fixture(scope="module")
def bundled(bundled_model_dir):
    from kwsapp.inference.recognizer import Recognizer

    return Recognizer(bundled_model_dir)


def test_bundled_model_finds_every_word(bundled, data_dir):
    audio, truth = few_clips_stream(data_dir)
    config = Config().with_card(bundled.card.raw)
    score, run = evaluate(audio, truth, bundled, config)
    assert score.word_outcomes == ["matched"] * len(truth), [
        (e.label, round(e.emitted_at, 2), o) for e, o in zip(score.scored, score.outcomes)]
    # Nothing fires in the silent parts, the word said twice fired twice.
    assert score.false_activations == 0 and score.wrong_events == 0
    assert score.duplicates == 0


def test_tuner_replay_agrees_with_engine(tiny_model, data_dir):
    """The tuner re-runs only the smoother over a recorded trace; that must
    give the engine's own events."""
    from kwsapp.inference.recognizer import Recognizer

    audio, _ = make_stream(data_dir, StreamSpec(minutes=0.5, seed=3, snr_db=20))
    rec = CachingRecognizer(Recognizer(tiny_model))
    config = Config().with_card(rec.card.raw)
    config = replace(config, smoothing=replace(config.smoothing, threshold=0.3))
    trace, events = record_trace(audio, rec, config)
    assert events, "the stand-in model should fire at threshold 0.3"
    again = trace.resmooth(config.smoothing)
    def rows(evs):
        return [(e.label, round(e.emitted_at, 4), round(e.start, 4), round(e.end, 4))
                for e in evs]
    assert rows(again) == rows(events)
    # A second replay runs the model on no new window.
    calls = rec.calls
    record_trace(audio, rec, config)
    assert rec.calls == calls


def test_card_tuning_keys_change_the_engine(tiny_model, data_dir, tmp_path):
    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import Recognizer

    audio, _ = make_stream(data_dir, StreamSpec(minutes=0.5, seed=3, snr_db=20))
    eager = Setting(125.0, VadConfig(aggressiveness=3, hangover_ms=300.0),
                    SmoothingConfig(average_window_ms=250.0, threshold=0.3, refractory_ms=500.0))
    strict = replace(eager, smoothing=replace(eager.smoothing, threshold=0.999))
    runs = {}
    for name, setting in (("eager", eager), ("strict", strict)):
        art = tmp_path / name
        shutil.copytree(tiny_model, art)
        before = json.loads((art / "card.json").read_text())
        write_card(art, setting)
        after = json.loads((art / "card.json").read_text())
        # Only the tuning keys changed.
        assert {k: v for k, v in after.items() if k not in ("threshold", "hop_ms", "smoothing",
                                                              "vad")} == \
            {k: v for k, v in before.items() if k not in ("threshold", "hop_ms", "smoothing",
                                                           "vad")}
        engine = Engine(Recognizer(art), Config(), FileSource(audio, block_size=320))
        assert engine.config.hop_ms == setting.hop_ms
        assert engine.config.vad == replace(Config().vad, **{
            k: getattr(setting.vad, k) for k in ("aggressiveness", "hangover_ms")})
        assert engine.config.smoothing == setting.smoothing
        runs[name] = engine.run()
    assert runs["eager"] and not runs["strict"]


def test_bundled_card_holds_tuned_defaults(bundled):
    card = bundled.card.raw
    missing = [k for k in ("threshold", "hop_ms", "smoothing", "vad") if k not in card]
    assert not missing, f"bundled card lacks tuned {missing} (run python -m kwsapp.streaming.tune)"
    config = Config().with_card(card)
    assert config.smoothing.threshold == pytest.approx(card["threshold"])
    assert config.vad.aggressiveness == card["vad"]["aggressiveness"]
