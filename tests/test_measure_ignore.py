"""training/measure_ignore.py: the takes "Ignore this word…" would hand
over, cut from a stream of real wake-word recordings at its false
activations (one per recording, the recording's own file beside it)."""

from __future__ import annotations

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


def test_words_like_a_command_take_training_speakers_and_stream_the_rest():
    """training/measure_ignore_alike.py: a Speech Commands word's takes are
    usable clips of training speakers, the same in every run, and its
    stream holds the other clips in order, apart, over noise."""
    from kwsapp.speakers import which_set
    from training.measure_ignore_alike import TAKES, pick_takes, word_files, word_stream

    data = REPO_ROOT.parent / "shared" / "data"
    if not (data / "speech_commands_extra" / "six").is_dir():
        pytest.skip(f"Speech Commands folders not found under {data}")
    candidates, files = word_files(data, "six")
    assert set(candidates) <= set(files) and len(files) > len(candidates) > TAKES
    assert all(which_set(p.name) == "train" for p in candidates)
    config = UserWordsConfig()
    takes, used = pick_takes(candidates, config)
    assert len(takes) == len(used) == TAKES and pick_takes(candidates, config)[1] == used
    rest = [p for p in files if p not in used][:6]
    audio, truth = word_stream(data, rest)
    assert [t.file for t in truth] == [f"{p.parent.name}/{p.name}" for p in rest]
    assert all(a.end + 0.9 < b.start for a, b in zip(truth, truth[1:]))  # 1-3 s gaps
    assert truth[-1].end * 16000 < audio.size and np.std(audio[:8000]) > 0  # noise in gaps
    with pytest.raises(SystemExit, match="no clips"):
        word_files(data, "no such word")


def test_a_take_enrol_would_refuse_beside_the_others_is_passed_over():
    """A false activation whose heard span holds much more speech than the
    others' (here two more words run on after the recording) would make
    enrol refuse the set: the next recording's false activation is taken."""
    from kwsapp.userwords.takes import check_takes
    from training.measure_ignore import PAD_S, fa_takes

    files = sorted((WAKE / "alexa").glob("*.flac"))[:5]
    if len(files) < 5:
        pytest.skip(f"wake-word recordings not found at {WAKE}")
    parts, truth, ends, t = [np.zeros(8000, np.float32)], [], [], 8000
    for i, p in enumerate(files[:4]):
        x = load_audio(p)
        s, e = word_span(x)
        truth.append(TruthWord("unknown", (t + s) / 16000, (t + e) / 16000,
                               f"alexa/{p.name}", "alexa"))
        if i == 2:  # more speech straight after this word, inside the event's span
            extra = load_audio(files[4])
            s2, e2 = word_span(extra)
            x = np.concatenate([x[:e], extra[s2:e2], extra[s2:]])  # two more words
            e = e + 2 * (e2 - s2)
        ends.append((t + e) / 16000)
        parts += [x, np.zeros(16000, np.float32)]
        t += x.size + 16000
    audio = np.concatenate(parts)
    events = [CommandEvent("left", 0.9, row.start, end, end + 0.2, 0.2)
              for row, end in zip(truth, ends)]
    takes, clean, names, cut = fa_takes(audio, truth, events, 3, WAKE, UserWordsConfig())
    assert names == [truth[i].file for i in (0, 1, 3)]
    check_takes(takes, UserWordsConfig(), ignore=True)
    assert cut == pytest.approx(ends[3] + 2.0)
    # what enrol would have said of the passed-over take beside the first two
    from kwsapp.userwords.takes import BadTakeError, check_take

    lo, hi = int((truth[2].start - PAD_S) * 16000), int((ends[2] + PAD_S) * 16000)
    long_take = check_take(audio[lo:hi], "the long one", UserWordsConfig())
    with pytest.raises(BadTakeError, match="the long one: .* much longer"):
        check_takes([*takes[:2], long_take], UserWordsConfig(), ignore=True)
