"""SpeechGate on real clips: opens on speech, stays shut on silence, closes
after the hangover; speech_flags keeps its signature."""

from dataclasses import replace

import numpy as np
import pytest

from conftest import real_clip
from kwsapp.audio.io import load_audio
from kwsapp.audio.vad import SpeechGate, speech_flags
from kwsapp.config import VadConfig


def _gate_trace(gate: SpeechGate, audio: np.ndarray) -> list[bool]:
    fs = gate.frame_samples
    return [gate.update(audio[i:i + fs]) for i in range(0, len(audio) - fs + 1, fs)]


def test_gate_opens_on_speech_and_closes_after_hangover(data_dir):
    speech = load_audio(real_clip(data_dir, "yes", 0))
    quiet = np.zeros(32000, np.float32)
    gate = SpeechGate(VadConfig(hangover_ms=300))
    trace = _gate_trace(gate, np.concatenate([quiet[:8000], speech, quiet]))
    assert any(trace) and not trace[0] and not trace[-1]
    assert gate.segment == 1
    run = max(gate.runs, key=lambda r: r.end - r.start)
    # The word sits inside the 1 s clip that starts at sample 8000.
    assert 8000 <= run.start < run.end <= 8000 + 16000 + gate.frame_samples
    first_closed_after = trace.index(False, trace.index(True))
    closed_at = first_closed_after * gate.frame_samples
    assert closed_at - gate.last_speech_end >= 300 * 16 - gate.frame_samples


def test_gate_stays_shut_on_room_tone_and_opens_on_a_word_in_it(data_dir):
    # Quiet white noise (-60 dBFS); the shared _silence_ clips hold loud
    # background noise that webrtcvad often calls speech, so they are no
    # use as "silence" here.
    tone = (np.random.default_rng(0).standard_normal(48000) * 1e-3).astype(np.float32)
    gate = SpeechGate(VadConfig())
    assert not any(_gate_trace(gate, tone))
    word = load_audio(real_clip(data_dir, "go", 1))
    assert any(_gate_trace(gate, word + tone[:16000]))


def test_disabled_gate_is_always_open():
    gate = SpeechGate(replace(VadConfig(), enabled=False))
    assert all(_gate_trace(gate, np.zeros(4800, np.float32)))


def test_flags_per_sample_match_frames(data_dir):
    speech = load_audio(real_clip(data_dir, "stop", 0))
    gate = SpeechGate(VadConfig(frame_ms=30))
    _gate_trace(gate, speech)
    fs = gate.frame_samples
    per_frame = speech_flags(speech, 16000, 2, 30)
    frames = speech[:len(per_frame) * fs].reshape(-1, fs).astype(np.float64)
    per_frame &= 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20) >= VadConfig().min_level_dbfs
    assert per_frame.any()
    mask = gate.flags(0, len(speech))
    np.testing.assert_array_equal(mask[:len(per_frame) * fs], np.repeat(per_frame, fs))
    assert not mask[len(per_frame) * fs:].any()  # not judged yet


def test_aggressiveness_is_validated():
    gate = SpeechGate(VadConfig())
    gate.set_aggressiveness(3)
    with pytest.raises(ValueError):
        gate.set_aggressiveness(4)


def test_frames_judged_together_give_the_same_verdicts_as_one_by_one(data_dir):
    """The engine hands the gate every frame that came since its last
    wake-up at once: flags, runs, openings and state must not change."""
    speech = np.concatenate([np.zeros(8000, np.float32), load_audio(real_clip(data_dir, "no", 1)),
                             np.zeros(12000, np.float32), load_audio(real_clip(data_dir, "go", 1))])
    one, many = SpeechGate(VadConfig()), SpeechGate(VadConfig())
    _gate_trace(one, speech)
    fs, i, sizes = many.frame_samples, 0, (1, 3, 2, 5, 1, 8)
    for k in range(len(speech) // fs):
        n = sizes[k % len(sizes)] * fs
        if i + n > len(speech) // fs * fs:
            break
        many.update(speech[i:i + n])
        i += n
    many.update(speech[i:len(speech) // fs * fs])
    assert many.frames_done == one.frames_done and one.segment >= 2
    assert [(r.start, r.end) for r in many.runs] == [(r.start, r.end) for r in one.runs]
    assert (many.is_open, many.segment) == (one.is_open, one.segment)
    np.testing.assert_array_equal(many.flags(0, len(speech)), one.flags(0, len(speech)))
    with pytest.raises(ValueError, match="whole"):
        many.update(speech[:fs + 1])


def test_frames_judged_ahead_and_taken_in_by_parts_give_the_same_gate(data_dir):
    """The engine judges every whole frame that came at one wake-up at once
    (:meth:`SpeechGate.judge`), then advances the gate to each step's end in
    turn: the state at each point is that of frames fed one by one."""
    speech = np.concatenate([np.zeros(8000, np.float32), load_audio(real_clip(data_dir, "no", 1)),
                             np.zeros(12000, np.float32), load_audio(real_clip(data_dir, "go", 1))])
    one, ahead = SpeechGate(VadConfig()), SpeechGate(VadConfig())
    fs = one.frame_samples
    n_frames = len(speech) // fs
    rng = np.random.default_rng(5)
    done = judged = 0
    while done < n_frames:
        k = min(int(rng.integers(1, 9)), n_frames - judged)
        if k:
            assert ahead.judge(speech[judged * fs:(judged + k) * fs]) == k
            judged += k
        assert ahead.judged_position == judged * fs
        for part in np.diff(np.sort(rng.integers(done, judged + 1, 2))).tolist() + [None]:
            step = judged - done if part is None else part
            for _ in range(step):
                one.update(speech[done * fs:(done + 1) * fs])
                done += 1
            assert ahead.advance(step) == one.is_open
            assert (ahead.position, ahead.segment, ahead.quiet_ms()) == \
                (one.position, one.segment, one.quiet_ms())
            assert [(r.start, r.end) for r in ahead.runs] == [(r.start, r.end) for r in one.runs]
    assert one.segment >= 2
    np.testing.assert_array_equal(ahead.flags(0, len(speech)), one.flags(0, len(speech)))
    with pytest.raises(ValueError, match="judged"):
        ahead.advance(1)
    off = SpeechGate(replace(VadConfig(), enabled=False))
    assert off.judge(np.zeros(3 * fs, np.float32)) == 3 and off.advance(2)
    assert (off.position, off.judged_position) == (2 * fs, 3 * fs)


def test_quiet_ms_counts_from_the_end_of_the_last_voiced_frame(data_dir):
    speech = load_audio(real_clip(data_dir, "yes", 0))
    gate = SpeechGate(VadConfig())
    assert gate.quiet_ms() == float("inf")  # no speech yet
    audio = np.concatenate([speech, np.zeros(16000, np.float32)])
    fs = gate.frame_samples
    quiet = []
    for i in range(0, len(audio) - fs + 1, fs):
        gate.update(audio[i:i + fs])
        quiet.append(gate.quiet_ms())
    end = gate.last_speech_end
    assert 0 < end <= len(speech) + fs
    # Grows by one frame per frame of silence after the word, 0 while voiced.
    assert quiet[-1] == pytest.approx((gate.position - end) / 16.0)
    assert quiet[end // fs - 1] == 0.0 and np.all(np.diff(quiet[end // fs:]) == 30.0)
    assert SpeechGate(VadConfig(enabled=False)).quiet_ms() is None
