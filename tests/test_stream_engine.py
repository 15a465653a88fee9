"""Streams through the real engine: the bundled model finds every word of a
few real clips, and its card holds tuned live defaults (the tuner's own
tests: tests/test_tune.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kwsapp.config import Config
from kwsapp.streaming.replay import evaluate
from kwsapp.streaming.scoring import TruthWord
from kwsapp.speakers import which_set
from kwsapp.streaming.synth import load_clip

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


def test_bundled_card_holds_tuned_defaults(bundled):
    card = bundled.card.raw
    missing = [k for k in ("threshold", "hop_ms", "smoothing", "vad") if k not in card]
    assert not missing, f"bundled card lacks tuned {missing} (run python -m training.tune)"
    config = Config().with_card(card)
    assert config.smoothing.threshold == pytest.approx(card["threshold"])
    assert config.vad.aggressiveness == card["vad"]["aggressiveness"]
