"""Engine on FileSource: chunk-size invariance, spans, resampling, orderly
stop, errors reaching on_error. Uses the structural tiny model (see
conftest.tiny_model): these tests check plumbing, not recognition."""

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from conftest import real_clip
from kwsapp.audio.io import load_audio, resample
from kwsapp.audio.source import FileSource
from kwsapp.config import Config, VadConfig
from kwsapp.errors import DeviceError
from kwsapp.inference.engine import Engine
from kwsapp.inference.work_queue import WindowTask, WorkQueue
from kwsapp.inference.recognizer import Recognizer

WORDS = ("stop", "yes", "go", "no", "left")


@pytest.fixture(scope="module")
def recognizer(tiny_model):
    return Recognizer(tiny_model)


@pytest.fixture(scope="module")
def stream(data_dir):
    """Five real words, each followed by 1 s of silence (16 kHz)."""
    parts = [np.zeros(8000, np.float32)]
    for i, word in enumerate(WORDS):
        parts += [load_audio(real_clip(data_dir, word, i)), np.zeros(16000, np.float32)]
    return np.concatenate(parts)


def _run(recognizer, audio, block, config=None, rate=16000):
    windows = []
    engine = Engine(recognizer, config or Config(), FileSource(audio, block, sample_rate_hz=rate),
                    on_window=windows.append)
    events = engine.run()
    return engine, events, windows


def test_same_windows_and_events_at_any_block_size(recognizer, stream):
    cfg = replace(Config(), smoothing=replace(Config().smoothing, threshold=0.3))
    runs = {block: _run(recognizer, stream, block, cfg) for block in (160, 1000, 4096, 777)}
    _, events, windows = runs[160]
    assert len(windows) > 10 and events  # the test has something to compare
    for block, (_, ev, win) in runs.items():
        assert ev == events, block
        assert [w.end for w in win] == [w.end for w in windows], block
        np.testing.assert_array_equal(np.stack([w.probs for w in win]),
                                      np.stack([w.probs for w in windows]))


def test_windows_only_while_gated_and_event_spans_lie_on_speech(recognizer, stream):
    cfg = replace(Config(), smoothing=replace(Config().smoothing, threshold=0.3))
    engine, events, windows = _run(recognizer, stream, 1000, cfg)
    duration = len(stream) / 16000
    ends = [w.end for w in windows]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    assert all(abs(e / 0.25 - round(e / 0.25)) < 1e-9 for e in ends)  # on the hop grid
    assert len(windows) < duration / 0.25  # silence between words is skipped
    for ev in events:
        assert 0 <= ev.start < ev.end <= duration
        mask = engine.speech_mask(int(ev.start * 16000), int((ev.end - ev.start) * 16000))
        assert mask.any()  # the span holds voiced audio
        assert ev.emitted_at >= ev.end and ev.latency == pytest.approx(ev.emitted_at - ev.end)
    assert engine.stats.dropped_windows == 0


def test_vad_off_classifies_every_hop(recognizer, stream):
    cfg = replace(Config(), vad=replace(VadConfig(), enabled=False))
    _, _, windows = _run(recognizer, stream[:48000], 1000, cfg)
    # 3 s of audio + one window of silence padding at the end, every 250 ms.
    assert [round(w.end, 2) for w in windows] == [round(0.25 * k, 2) for k in range(1, 17)]


def test_source_at_44k1_is_resampled_in_the_pipeline(recognizer, stream):
    cfg = replace(Config(), vad=replace(VadConfig(), enabled=False))
    audio44 = resample(stream[:32000], 16000, 44100)
    _, _, w16 = _run(recognizer, stream[:32000], 1000, cfg)
    _, _, w44 = _run(recognizer, audio44, 1234, cfg, rate=44100)
    assert [w.end for w in w44] == [w.end for w in w16]
    # Down- and up-sampling loses only the band above 8 kHz.
    assert np.abs(np.stack([w.probs for w in w44]) - np.stack([w.probs for w in w16])).max() < 0.1


def test_silence_gives_no_windows_and_no_events(recognizer):
    _, events, windows = _run(recognizer, np.zeros(48000, np.float32), 4096)
    assert events == [] and windows == []


def test_stop_joins_every_thread_within_a_second(recognizer, stream):
    source = FileSource(np.tile(stream, 4), 320, realtime=True)
    seen = threading.Event()
    engine = Engine(recognizer, replace(Config(), vad=replace(VadConfig(), enabled=False)),
                    source, on_window=lambda w: seen.set())
    engine.start()
    assert seen.wait(5.0)
    assert engine.is_running
    engine.stop(timeout=1.0)
    assert not engine.is_running
    assert not [t for t in threading.enumerate() if t.name.startswith("kwsapp-")]


def test_a_refresh_period_keeps_the_ring_fresh_between_windows(recognizer, stream):
    """The GUI draws the engine's 16 kHz ring every redraw: with
    ``audio.refresh_ms`` the pipeline brings it up to date that often, not
    only once per hop (250 ms for this model)."""
    audio = stream[:32000]

    def live(refresh_ms):
        cfg = replace(Config(), audio=replace(Config().audio, refresh_ms=refresh_ms))
        engine = Engine(recognizer, cfg, FileSource(audio, 320, realtime=True))
        lags = []
        engine.start()
        for _ in range(30):  # how far the ring trails the source while it plays
            time.sleep(0.05)
            lags.append(engine._raw.total_written - engine.ring.total_written)
        engine.stop()
        return engine.wakeups, max(lags)

    hops_only, hop_lag = live(None)
    refreshed, lag = live(20.0)
    # 2 s of audio, 8 hops: between them the ring trails by up to a hop.
    assert hops_only < 20 and hop_lag >= 2400
    assert refreshed > 60 and lag <= 1600  # every 20 ms: a few blocks behind at most


class _VanishingSource(FileSource):
    """Stands in for a device unplugged mid-stream (PortAudio cannot be made
    to lose a device on demand): delivers audio, then reports an error."""

    def _feed(self, on_block):
        on_block(self.audio[:1600])
        self.error = DeviceError("input device 'test' stopped delivering audio")
        self.finished = True


def test_device_failure_reaches_on_error(recognizer):
    errors = []
    source = _VanishingSource(np.zeros(16000, np.float32), 1600, realtime=True)
    engine = Engine(recognizer, Config(), source, on_error=errors.append)
    with pytest.raises(DeviceError):
        engine.run()
    assert len(errors) == 1 and isinstance(errors[0], DeviceError)
    assert not engine.is_running


class _CountingRecognizer(Recognizer):
    """The real tiny model, counting the windows it classified."""

    def __init__(self, path):
        super().__init__(path)
        self.calls = 0

    def probabilities(self, window):
        self.calls += 1
        return super().probabilities(window)


def test_set_recognizer_takes_effect_at_the_next_window(tiny_model, stream):
    first, second = _CountingRecognizer(tiny_model), _CountingRecognizer(tiny_model)
    swap_after = 3

    def on_window(result):  # runs on the inference thread, after a window
        if first.calls == swap_after and engine.recognizer is first:
            engine.set_recognizer(second)

    engine = Engine(first, replace(Config(), vad=replace(VadConfig(), enabled=False)),
                    FileSource(stream[:48000], 1000), on_window=on_window)
    engine.run()
    # Exactly the windows before the swap went to the first model, every
    # later one to the second (which the engine now holds, not just has pending).
    assert first.calls == swap_after
    assert second.calls > 0
    assert engine.recognizer is second and engine._pending_recognizer is None


def test_realtime_queue_drops_oldest_and_counts():
    q = WorkQueue(2, block=False)
    for end in range(5):
        q.put(WindowTask(end=end, audio=np.zeros(1, np.float32), segment=0))
    assert q.dropped == 3
    assert [q.get().end, q.get().end] == [3, 4]


def test_nan_samples_are_zeroed_not_propagated(recognizer, stream):
    audio = stream[:32000].copy()
    audio[5000:5100] = np.nan
    cfg = replace(Config(), vad=replace(VadConfig(), enabled=False))
    engine, _, windows = _run(recognizer, audio, 1000, cfg)
    assert engine.nonfinite_blocks == 1
    assert windows and all(np.all(np.isfinite(w.probs)) for w in windows)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the model on 1e30 samples
def test_infinite_samples_are_zeroed_and_loud_finite_ones_kept(recognizer, stream):
    """The finiteness check is one dot product per block, then a sample by
    sample look when it is not finite: infinities are found; finite blocks
    whose squares overflow float32 pass unchanged."""
    audio = stream[:32000].copy()
    audio[5000] = np.inf
    audio[20000] = -np.inf
    cfg = replace(Config(), vad=replace(VadConfig(), enabled=False))
    engine, _, windows = _run(recognizer, audio, 1000, cfg)
    assert engine.nonfinite_blocks == 2
    assert windows and all(np.all(np.isfinite(w.probs)) for w in windows)
    loud = stream[:32000].copy()
    loud[5000:5010] = 1e30  # finite, but its square overflows
    assert not np.isfinite(np.dot(loud[5000:6000], loud[5000:6000]))
    engine, _, _ = _run(recognizer, loud, 1000, cfg)
    assert engine.nonfinite_blocks == 0


def test_engine_starts_again_after_a_stop(recognizer, stream):
    source = FileSource(stream, 320, realtime=True)
    windows = []
    engine = Engine(recognizer, replace(Config(), vad=replace(VadConfig(), enabled=False)),
                    source, on_window=windows.append)
    for _ in range(2):
        before = len(windows)
        engine.start()
        for _ in range(100):  # up to 5 s
            if len(windows) > before:
                break
            threading.Event().wait(0.05)
        engine.stop()
        assert len(windows) > before and not engine.is_running
