"""Per-class thresholds (docs/contracts.md section 2): the card's
``thresholds`` beside ``threshold``; the smoother applies them, a class not
named uses the global one, and moving the global threshold (GUI slider,
``--threshold``) keeps each class's offset."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import numpy as np
import pytest

from kwsapp import COMMAND_LABELS, LABELS
from kwsapp.config import THRESHOLD_RANGE, Config, SmoothingConfig, runtime_settings
from kwsapp.errors import ModelError
from kwsapp.inference.smoothing import Smoother
from kwsapp.models.artifact import ModelCard

CARD = {"labels": list(LABELS), "sample_rate_hz": 16000, "window_ms": 1000,
        "input": {"kind": "waveform"}, "threshold": 0.5,
        "thresholds": {"left": 0.8, "no": 0.4}}


def _probs(label: str, p: float) -> np.ndarray:
    out = np.zeros(len(LABELS), np.float32)
    out[LABELS.index(label)] = p
    out[LABELS.index("unknown")] = 1.0 - p
    return out


def test_card_thresholds_become_offsets_from_the_global_one():
    s = Config().with_card(CARD).smoothing
    assert s.threshold == 0.5
    assert s.threshold_for("left") == pytest.approx(0.8)
    assert s.threshold_for("no") == pytest.approx(0.4)
    assert s.threshold_for("right") == 0.5  # not named: the global one
    assert s.class_thresholds() == pytest.approx({"left": 0.8, "no": 0.4})
    # The global threshold moved (slider, --threshold): classes keep offsets.
    moved = replace(s, threshold=0.6)
    assert moved.threshold_for("left") == pytest.approx(0.9)
    assert moved.threshold_for("no") == pytest.approx(0.5)
    assert moved.threshold_for("right") == 0.6
    # ... clipped into the allowed range, and back without loss.
    assert replace(s, threshold=0.95).threshold_for("left") == THRESHOLD_RANGE[1]
    assert replace(replace(s, threshold=0.95), threshold=0.5).threshold_for("left") == \
        pytest.approx(0.8)
    # A card without per-class thresholds clears them.
    plain = {k: v for k, v in CARD.items() if k != "thresholds"}
    assert Config().with_card(CARD).with_card(plain).smoothing.class_offsets == ()


@pytest.mark.parametrize("bad,message", [
    ({"thresholds": {"lfet": 0.8}}, "lacks: lfet"),
    ({"thresholds": {"left": 1.5}}, "thresholds.left must be a number in (0, 1]"),
    ({"thresholds": {"left": "high"}}, "thresholds.left must be a number"),
    ({"thresholds": [0.8]}, "thresholds must be an object"),
    ({"threshold": 0}, "threshold must be a number in (0, 1]"),
])
def test_card_with_bad_thresholds_is_refused(bad, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        ModelCard.from_dict({**CARD, **bad}, "x/card.json")


def test_smoother_applies_each_class_threshold():
    cfg = Config().with_card(CARD).smoothing
    cfg = replace(cfg, average_window_ms=0.0, refractory_ms=0.0)
    s = Smoother(LABELS, cfg)
    assert s.update(1.0, _probs("left", 0.7)) is None  # left needs 0.8
    assert s.update(2.0, _probs("left", 0.85), word=2).label == "left"
    assert s.update(3.0, _probs("right", 0.55), word=3).label == "right"  # global 0.5
    assert s.update(4.0, _probs("no", 0.45), word=4).label == "no"  # no's own 0.4
    s.set_threshold(0.6)  # the slider: left 0.9, no 0.5, others 0.6
    assert s.update(5.0, _probs("left", 0.85), word=5) is None
    assert s.update(6.0, _probs("no", 0.45), word=6) is None
    assert s.update(7.0, _probs("no", 0.55), word=7).label == "no"


def test_only_the_top_class_is_judged():
    """A class under its low threshold does not fire when another class is
    more probable (top-1 first, then its own threshold)."""
    cfg = SmoothingConfig(average_window_ms=0.0, threshold=0.5, refractory_ms=0.0)
    s = Smoother(LABELS, cfg.with_class_thresholds({"no": 0.2}))
    p = np.zeros(len(LABELS), np.float32)
    p[LABELS.index("left")], p[LABELS.index("no")] = 0.45, 0.3
    p[LABELS.index("unknown")] = 0.25
    assert s.update(1.0, p) is None


def test_card_thresholds_change_what_the_engine_fires(tiny_model, data_dir, tmp_path):
    """The same stream through the engine: every command raised to 0.999 but
    one class left at the global 0.3 fires only that class."""
    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.streaming.synth import StreamSpec, make_stream

    audio, _ = make_stream(data_dir, StreamSpec(minutes=0.5, seed=3, snr_db=20))
    art = tmp_path / "tiny"
    shutil.copytree(tiny_model, art)
    card = json.loads((art / "card.json").read_text())
    card["threshold"] = 0.3
    card.pop("thresholds", None)
    (art / "card.json").write_text(json.dumps(card))
    rec = Recognizer(art)
    free = Engine(rec, runtime_settings(rec.card.raw), FileSource(audio, block_size=320)).run()
    labels = {e.label for e in free}
    assert labels, "the stand-in model should fire at threshold 0.3"
    keep = sorted(labels)[0]
    card["thresholds"] = {lab: 0.999 for lab in COMMAND_LABELS if lab != keep}
    (art / "card.json").write_text(json.dumps(card))
    rec = Recognizer(art)
    gated = Engine(rec, runtime_settings(rec.card.raw), FileSource(audio, block_size=320)).run()
    assert gated and {e.label for e in gated} == {keep}


def test_gui_slider_moves_the_global_threshold_and_keeps_offsets(qtbot, tiny_model,
                                                                 tmp_path):
    pytest.importorskip("PySide6")
    from gui_helpers import temp_settings

    from kwsapp.audio.source import FileSource
    from kwsapp.gui.main_window import MainWindow

    art = tmp_path / "tiny"
    shutil.copytree(tiny_model, art)
    card = json.loads((art / "card.json").read_text())
    card.update(threshold=0.5, thresholds={"left": 0.8})
    (art / "card.json").write_text(json.dumps(card))
    audio = np.zeros(16000 * 30, np.float32)
    window = MainWindow(settings=temp_settings(tmp_path / "k.ini"), model=str(art),
                        source_factory=lambda _d: FileSource(audio, block_size=320,
                                                             realtime=True))
    try:
        window.show()
        qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
        smoother = window.session.engine.smoother
        assert window.threshold == pytest.approx(0.5)
        assert smoother.config.threshold_for("left") == pytest.approx(0.8)
        window.threshold_slider.setValue(40)
        assert smoother.config.threshold == pytest.approx(0.4)
        assert smoother.config.threshold_for("left") == pytest.approx(0.7)
        assert smoother.config.threshold_for("right") == pytest.approx(0.4)
    finally:
        window.close()
