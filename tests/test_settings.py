"""Settings are merged once: runtime_settings(card, overrides) is the card's
live defaults with the user's overrides over them; None means "not set"."""

from dataclasses import replace

import pytest

from kwsapp import LABELS
from kwsapp.config import Config, Overrides, runtime_settings

CARD = {"labels": list(LABELS), "sample_rate_hz": 16000, "window_ms": 1500,
        "input": {"kind": "waveform"}, "hop_ms": 125.0, "threshold": 0.7,
        "thresholds": {"left": 0.9}, "smoothing": {"average_window_ms": 300.0},
        "vad": {"aggressiveness": 3, "hangover_ms": 400.0}}


def test_the_card_sets_what_the_user_did_not():
    cfg = runtime_settings(CARD)
    assert cfg.hop_ms == 125.0
    assert cfg.smoothing.threshold == 0.7 and cfg.smoothing.average_window_ms == 300.0
    assert cfg.smoothing.threshold_for("left") == pytest.approx(0.9)
    assert (cfg.vad.aggressiveness, cfg.vad.hangover_ms) == (3, 400.0)
    assert runtime_settings(CARD, Overrides()) == cfg  # None everywhere: nothing set


def test_the_user_wins_over_the_card():
    cfg = runtime_settings(CARD, Overrides(threshold=0.4, vad_aggressiveness=1, device="mic"))
    assert cfg.smoothing.threshold == 0.4
    # The tuned class keeps its offset from the global threshold.
    assert cfg.smoothing.threshold_for("left") == pytest.approx(0.6)
    assert cfg.vad.aggressiveness == 1 and cfg.vad.hangover_ms == 400.0
    assert cfg.audio.device == "mic"


def test_a_base_config_is_kept_where_the_card_is_silent():
    base = replace(Config(), clip_max_ms=900.0)
    assert runtime_settings(CARD, base=base).clip_max_ms == 900.0


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_an_override_out_of_range_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        runtime_settings(CARD, Overrides(threshold=threshold))


def test_the_engine_takes_its_settings_as_given(tiny_model):
    import numpy as np

    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import Recognizer

    rec = Recognizer(tiny_model)
    card_threshold = rec.card.raw["threshold"]
    chosen = runtime_settings(rec.card.raw, Overrides(threshold=0.42))
    engine = Engine(rec, chosen, FileSource(np.zeros(1600, np.float32), 320))
    # Neither the card nor anything else is merged in again.
    assert engine.config == chosen and engine.smoother.config.threshold == 0.42
    plain = Engine(rec, Config(), FileSource(np.zeros(1600, np.float32), 320))
    assert plain.config == Config() and card_threshold != Config().smoothing.threshold
