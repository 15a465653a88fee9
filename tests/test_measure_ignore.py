"""training/measure_ignore.py: the takes "Ignore this word…" would hand
over, cut from a stream of real wake-word recordings at its false
activations (one per recording, the recording's own file beside it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT
from kwsapp.audio.io import load_audio
from kwsapp.config import UserWordsConfig
from kwsapp.inference.engine import CommandEvent
from kwsapp.streaming.scoring import TruthWord
from kwsapp.userwords.takes import word_span

WAKE = REPO_ROOT.parent / "shared" / "data" / "wake_words"


def test_takes_are_cut_at_the_false_activations_one_per_recording():
    from training.measure_ignore import PAD_S, fa_takes

    files = sorted((WAKE / "alexa").glob("*.flac"))[:3]
    if len(files) < 3:
        pytest.skip(f"wake-word recordings not found at {WAKE}")
    parts, truth, t = [np.zeros(8000, np.float32)], [], 8000
    for p in files:
        x = load_audio(p)
        s, e = word_span(x)
        truth.append(TruthWord("unknown", (t + s) / 16000, (t + e) / 16000,
                               f"alexa/{p.name}", "alexa"))
        parts += [x, np.zeros(16000, np.float32)]
        t += x.size + 16000
    audio = np.concatenate(parts)

    def event(row: TruthWord) -> CommandEvent:
        return CommandEvent("left", 0.9, row.start, row.end, row.end + 0.2, 0.2)

    # the second recording fires twice: its second event gives no take
    events = [event(truth[0]), event(truth[1]), event(truth[1]), event(truth[2])]
    takes, clean, names, cut = fa_takes(audio, truth, events, 3, WAKE, UserWordsConfig())
    assert names == [row.file for row in truth]
    assert [c.name for c in clean] == names
    for take, row in zip(takes, truth):
        assert take.audio.size == pytest.approx((row.end - row.start + 2 * PAD_S) * 16000, abs=2)
        assert take.name == f"left at {row.start:.1f} s"
    assert cut == pytest.approx(truth[2].end + 2.0)
    with pytest.raises(SystemExit, match="only 3 usable"):
        fa_takes(audio, truth, events, 4, WAKE, UserWordsConfig())
