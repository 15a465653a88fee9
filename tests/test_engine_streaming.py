"""The engine on a split embed artifact (streamed embeddings): the head's
probabilities equal the whole-window model's on the same windows, at any
block size, with steps lost to a full queue recomputed; every embedding
reaches the listeners once, in order, equal to the recognizer's own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import real_clip
from kwsapp.audio.io import load_audio
from kwsapp.audio.source import FileSource
from kwsapp.config import Config, VadConfig
from kwsapp.inference.engine import Engine
from kwsapp.inference.recognizer import Recognizer

WORDS = ("stop", "yes", "go", "no", "left")


@pytest.fixture(scope="module")
def embed(bundled_model_dir):
    rec = Recognizer(bundled_model_dir)
    if rec.split is None:
        pytest.skip("the bundled embed is not split")
    return rec


@pytest.fixture(scope="module")
def embed_steps(bundled_model_dir):
    """The same model without its chunk file: a file then runs one step per
    80 ms, as a live stream does."""
    rec = Recognizer(bundled_model_dir)
    if rec.split is None or rec.split.step is None:
        pytest.skip("the bundled embed has no streaming step")
    rec.split.chunk = None
    return rec


@pytest.fixture(params=["chunks", "steps"])
def model(request, embed, embed_steps):
    """Files run in chunks (the chunk model) or in 80 ms steps (as live)."""
    return embed if request.param == "chunks" else embed_steps


@pytest.fixture(scope="module")
def stream(data_dir):
    """Five real words, each followed by 1 s of silence, over faint noise."""
    parts = [np.zeros(8000, np.float32)]
    for i, word in enumerate(WORDS):
        parts += [load_audio(real_clip(data_dir, word, i + 2)), np.zeros(16000, np.float32)]
    audio = np.concatenate(parts)
    return audio + 1e-3 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)


def _config(embed, **changes):
    """The card's settings on the head alone: these tests time and compare
    the head's pipeline (wake-ups, steps, decisions); the recogniser's
    second opinion, which stalls the thread ~145 ms per command, is tested
    in tests/test_verifier.py."""
    config = Config().with_card(embed.card.raw)
    config = replace(config, verify=replace(config.verify, enabled=False))
    return replace(config, hop_ms=80.0, **changes)


def _run(embed, audio, block, config, engine_cls=Engine):
    windows, embeddings = [], []
    engine = engine_cls(embed, config, FileSource(audio, block), on_window=windows.append)
    engine.add_embedding_listener(lambda t, e: embeddings.append((t, e)))
    events = engine.run()
    return events, windows, embeddings


def _run_live(model, audio, config):
    """:func:`_run` on 20 ms blocks paced in real time (as from PortAudio);
    also returns the engine."""
    windows, embeddings = [], []
    engine = Engine(model, config, FileSource(audio, 320, realtime=True),
                    on_window=windows.append)
    engine.add_embedding_listener(lambda t, e: embeddings.append((t, e)))
    return engine.run(), windows, embeddings, engine


def _whole_window(audio, end):
    """The 1.5 s window ending at sample ``end`` (zeros outside the audio)."""
    padded = np.concatenate([np.zeros(24000, np.float32), audio, np.zeros(24000, np.float32)])
    return padded[end:end + 24000]


def test_streamed_probabilities_equal_whole_window_ones(model, embed, stream):
    events, windows, _ = _run(model, stream, 1000, _config(embed))
    assert len(windows) > 20 and events
    ends = [int(round(w.end * 16000)) for w in windows]
    assert all((e - 12480) % 1280 == 0 for e in ends)  # on the 80 ms embedding grid
    assert len(windows) < len(stream) / 1280  # the gate skips the silences
    want = np.stack([embed.probabilities(_whole_window(stream, e)) for e in ends])
    np.testing.assert_allclose(np.stack([w.probs for w in windows]), want, atol=1e-5)


def test_same_windows_events_and_embeddings_at_any_block_size(model, embed, stream):
    runs = {block: _run(model, stream, block, _config(embed)) for block in (160, 777, 4096)}
    events, windows, embs = runs[160]
    for block, (ev, win, em) in runs.items():
        assert ev == events, block
        assert [w.end for w in win] == [w.end for w in windows], block
        np.testing.assert_array_equal(np.stack([w.probs for w in win]),
                                      np.stack([w.probs for w in windows]))
        np.testing.assert_array_equal(np.stack([e for _, e in em]), np.stack([e for _, e in embs]))


def test_listeners_get_every_embedding_once_gate_open_or_not(model, embed, stream):
    """From the first one the head's first window reads, 18 steps before the
    stream start (audio before it read as silence): a listener's window of
    10 is the head's at every step, so a user word judges a word in the
    stream's first second as the head does."""
    _, _, embs = _run(model, stream, 1000, _config(embed))
    times = np.array([t for t, _ in embs])
    np.testing.assert_allclose(np.diff(times), 0.08, atol=1e-9)
    lead = 18 * 1280  # embedding -18: the first of the window ending at step -9
    assert times[0] == pytest.approx((12400 - lead) / 16000)
    want = embed.embed(np.concatenate([np.zeros(lead, np.float32), stream,
                                       np.zeros(24000, np.float32)]))
    got = np.stack([e for _, e in embs])
    np.testing.assert_allclose(got, want[:len(got)], atol=1e-4)
    assert len(got) >= len(embed.embed(stream))  # through the end of the file


class _LossyEngine(Engine):
    """Stands in for a realtime engine whose queue dropped steps (a file
    source never drops): every third step and a run of 30 never arrive."""

    def _emit_step(self, split, j, end):
        if j % 3 == 1 or 60 <= j < 90:
            return
        super()._emit_step(split, j, end)


def test_dropped_steps_are_recomputed_from_the_ring(embed, embed_steps, stream):
    cfg = _config(embed, vad=replace(VadConfig(), enabled=False))
    _, full, _ = _run(embed, stream, 1000, cfg)
    _, lossy, _ = _run(embed_steps, stream, 1000, cfg, engine_cls=_LossyEngine)
    by_end = {w.end: w.probs for w in full}
    assert len(lossy) > len(full) * 0.5
    for w in lossy:
        np.testing.assert_allclose(w.probs, by_end[w.end], atol=1e-5)


def test_a_window_model_keeps_the_window_path(tiny_model, stream):
    rec = Recognizer(tiny_model)
    seen = []
    engine = Engine(rec, Config(), FileSource(stream, 1000))
    engine.add_embedding_listener(lambda t, e: seen.append(t))
    engine.run()
    assert seen == [] and engine.embeddings is None


def test_switching_between_split_and_window_models_mid_stream(embed_steps, tiny_model,
                                                               stream):
    """The GUI swaps models on a running engine: windows keep coming on the
    grid of whichever model runs."""
    tiny = Recognizer(tiny_model)
    windows = []

    def swap(w):
        if len(windows) == 5:
            engine.set_recognizer(tiny)
        if len(windows) == 15:
            engine.set_recognizer(embed_steps)
        windows.append(w)

    engine = Engine(embed_steps, _config(embed_steps, vad=replace(VadConfig(), enabled=False)),
                    FileSource(stream, 1000), on_window=swap)
    engine.run()
    ends = [w.end for w in windows]
    assert ends == sorted(ends) and len(windows) > 30
    grids = [int(round(w.end * 16000)) % 1280 for w in windows]
    # The split model's windows end at 960 mod 1280, the window model's at hops.
    assert grids[:5] == [960] * 5 and 0 in grids[6:16] and grids[-1] == 960


def _assert_live_decides_as_file(file_model, live_model, audio):
    """Replays ``audio`` as a file (``file_model``, 320-sample chunks) and
    live (``live_model``, paced in real time), asserts the same events,
    windows, probabilities and embeddings to the bit, and returns the live
    engine. Skips when the live engine dropped steps (a loaded machine)."""
    cfg = _config(file_model)
    events, windows, embs = _run(file_model, audio, 320, cfg)
    live_events, live_windows, live_embs, engine = _run_live(live_model, audio, cfg)
    if engine.stats.dropped_windows:  # inference fell behind (a loaded machine)
        pytest.skip(f"{engine.stats.dropped_windows} steps dropped: nothing to compare")
    assert events and len(windows) > 10

    def decided(evs):
        return [(e.label, e.score, e.start, e.end) for e in evs]

    assert decided(live_events) == decided(events)
    assert [w.end for w in live_windows] == [w.end for w in windows]
    np.testing.assert_array_equal(np.stack([w.probs for w in live_windows]),
                                  np.stack([w.probs for w in windows]))
    np.testing.assert_array_equal(np.stack([e for _, e in live_embs]),
                                  np.stack([e for _, e in embs]))
    return engine


def test_live_paced_stream_decides_as_the_file_and_wakes_per_step(embed_steps, stream):
    """A live stream (blocks paced in real time, as from PortAudio) gives
    the windows and events the file gives, while the pipeline thread wakes
    about once per 80 ms step, not once per 20 ms block or 10 ms poll, and
    runs the steps itself."""
    audio = stream[:int(4.5 * 16000)]  # two words
    engine = _assert_live_decides_as_file(embed_steps, embed_steps, audio)
    # The same answers with the steps run on the pipeline thread itself (once
    # the inference thread has timed one as quick, no hand-off), as here.
    assert engine.inline > 0
    steps = len(audio) / 1280
    # 56 steps; a late block costs a retry or two; polling every 10 ms would be 450.
    assert engine.wakeups < 2 * steps + 20, (engine.wakeups, steps)


def test_a_shut_gate_lets_steps_gather_and_gives_the_same_embeddings(embed_steps):
    """While the speech gate is shut nothing is decided: the live pipeline
    wakes about once per ``audio.gated_wake_ms`` (240 ms: three steps), and
    the steps it then runs back to back give the listeners the embeddings a
    file gives."""
    audio = 1e-3 * np.random.default_rng(1).standard_normal(3 * 16000).astype(np.float32)
    cfg = _config(embed_steps)
    _, _, embs = _run(embed_steps, audio, 320, cfg)
    counts = {}
    for gated_wake_ms in (0.0, 240.0):
        live_embs = []
        engine = Engine(embed_steps, replace(cfg, audio=replace(cfg.audio,
                                                                gated_wake_ms=gated_wake_ms)),
                        FileSource(audio, 320, realtime=True))
        engine.add_embedding_listener(lambda t, e: live_embs.append((t, e)))
        assert engine.run() == []
        assert not engine.gate.runs  # the gate never opened
        np.testing.assert_array_equal(np.stack([e for _, e in live_embs]),
                                      np.stack([e for _, e in embs]))
        counts[gated_wake_ms] = engine.wakeups
    # 37.5 steps: about one wake-up each (a retry when a block is late, two
    # steps at once when the pipeline woke late), or one per three (seen: 46
    # and 18)
    assert counts[240.0] < 0.7 * counts[0.0], counts


def test_steps_that_cannot_fire_wait_and_shut_gate_steps_are_left(embed_steps, stream):
    """While the gate is open, a step whose window cannot fire (the
    smoother's bound) runs at the next step's wake-up; while it is shut and
    no listener wants embeddings, no step runs (the first head after it
    opens recomputes what it reads). Either way the live pipeline decides
    exactly as the file (same events, windows and probabilities), as a
    live run that wakes for every step and runs every step does."""
    audio = stream[:int(4.5 * 16000)]  # two words
    cfg = _config(embed_steps)
    events, windows, _ = _run(embed_steps, audio, 320, cfg)
    runs = {}
    for defer, lazy in ((False, False), (True, False), (True, True)):
        live_windows = []
        engine = Engine(embed_steps, replace(cfg, audio=replace(
            cfg.audio, defer_unfireable_steps=defer, lazy_shut_steps=lazy)),
                        FileSource(audio, 320, realtime=True), on_window=live_windows.append)
        live_events = engine.run()
        if engine.stats.dropped_windows:  # inference fell behind (a loaded machine)
            pytest.skip(f"{engine.stats.dropped_windows} steps dropped: nothing to compare")
        runs[defer, lazy] = engine.deferred, engine.skipped_steps
        assert [(e.label, e.score, e.start, e.end) for e in live_events] == \
            [(e.label, e.score, e.start, e.end) for e in events]
        assert [w.end for w in live_windows] == [w.end for w in windows]
        np.testing.assert_array_equal(np.stack([w.probs for w in live_windows]),
                                      np.stack([w.probs for w in windows]))
    assert events and len(windows) > 10
    # Two command words: 4 of 18 wake-ups with the gate open slept past a
    # step (the rest could fire); 49 steps came while the gate was shut
    # (seen). None of either when switched off.
    assert runs[False, False] == (0, 0), runs
    assert runs[True, False][0] >= 2 and runs[True, False][1] == 0, runs
    assert runs[True, True][0] >= 2 and runs[True, True][1] >= 10, runs


def test_steps_within_the_refractory_time_run_a_few_per_wake_up(embed_steps, stream):
    """After a command fires nothing else can for ``refractory_ms``, whatever
    the model says: the live pipeline runs those steps up to
    ``audio.gated_wake_ms`` (three) per wake-up, not one or two, and still
    decides exactly as the file does."""
    audio = stream[:int(4.5 * 16000)]  # two words
    cfg = _config(embed_steps)
    events, windows, _ = _run(embed_steps, audio, 320, cfg)
    assert len(events) == 2
    refractory_s = cfg.smoothing.refractory_ms / 1000.0
    per_wake = {}
    for defer in (False, True):
        seen = []  # (window end, the pipeline's wake-up it was decided in)
        engine = Engine(embed_steps, replace(cfg, audio=replace(
            cfg.audio, defer_unfireable_steps=defer)), FileSource(audio, 320, realtime=True))
        engine.on_window = lambda w, engine=engine: seen.append((w.end, engine.wakeups))
        live_events = engine.run()
        if engine.stats.dropped_windows or engine.inline < len(seen) // 2:
            pytest.skip("inference fell behind (a loaded machine): nothing to compare")
        assert [(e.label, e.score, e.start, e.end) for e in live_events] == \
            [(e.label, e.score, e.start, e.end) for e in events]
        assert [end for end, _ in seen] == [w.end for w in windows]
        fired = [e.emitted_at for e in events]  # a file: the end of the window that fired
        inside = [wake for end, wake in seen
                  if any(0 < end - t < refractory_s - 1e-6 for t in fired)]
        per_wake[defer] = len(inside) / len(set(inside))
    # Off: one wake-up per step. On: about three steps per wake-up (a block
    # late now and then splits a group).
    assert per_wake[False] < 1.2 and per_wake[True] >= 2.0, per_wake
