"""The tuner (training/tune.py): its smoother-only replay gives the engine's
own events, traces are cached, the search keeps commands on target while
per-class thresholds remove false activations, and it writes only the
card's live defaults."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from kwsapp import LABELS
from kwsapp.config import Config, SmoothingConfig, VadConfig
from kwsapp.streaming.replay import CachingRecognizer
from kwsapp.streaming.scoring import TruthWord
from kwsapp.streaming.synth import NEGATIVE_GAP_S, StreamSpec, make_stream

tune = pytest.importorskip("training.tune", reason="training package not importable")


def _rows(events):
    return [(e.label, round(e.emitted_at, 4), round(e.start, 4), round(e.end, 4))
            for e in events]


def test_resmoothing_a_trace_gives_the_engines_events(tiny_model, data_dir):
    """The tuner re-runs only the smoother over a recorded trace; that must
    give the engine's own events (per-class thresholds included)."""
    from kwsapp.inference.recognizer import Recognizer

    audio, _ = make_stream(data_dir, StreamSpec(minutes=0.5, seed=3, snr_db=20))
    rec = Recognizer(tiny_model)
    config = Config().with_card(rec.card.raw)
    confirm = dict(confirm_pause_ms=90.0, confirm_wait_ms=320.0, confirm_ratio=1.0)
    for smoothing in (replace(config.smoothing, threshold=0.3),
                      replace(config.smoothing, threshold=0.3, average_window_ms=0.0)
                      .with_class_thresholds({"yes": 0.6, "no": 0.2}),
                      # the end-of-word confirmation reads the gate's pauses
                      replace(config.smoothing, threshold=0.3, **confirm)):
        cfg = replace(config, smoothing=smoothing)
        trace, events = tune.record_trace(audio, rec, cfg)
        assert events, "the stand-in model should fire at threshold 0.3"
        assert trace.resets.sum() >= 2  # the gate closed and reopened
        assert _rows(trace.resmooth(cfg.smoothing)) == _rows(events)
        # The pause at each window: none inside words, some after them.
        assert (trace.quiet == 0).any() and (trace.quiet >= 90).any()
        # Without the pauses the confirmation would fire elsewhere.
        if smoothing.confirm_pause_ms:
            blind = replace(trace, quiet=None)
            assert _rows(blind.resmooth(cfg.smoothing)) != _rows(events)


def test_resmoothing_agrees_on_the_bundled_models_own_path(bundled_model_dir, data_dir):
    """The same through whatever path the bundled model runs (streamed
    embeddings where its card has them)."""
    from kwsapp.inference.recognizer import Recognizer

    audio, _ = make_stream(data_dir, StreamSpec(minutes=0.5, seed=5, snr_db=10))
    rec = Recognizer(bundled_model_dir)
    config = Config().with_card(rec.card.raw)
    for smoothing in (config.smoothing.with_class_thresholds({"left": 0.7}),
                      replace(config.smoothing, confirm_pause_ms=60.0, confirm_ratio=1.0)):
        cfg = replace(config, smoothing=smoothing)
        trace, events = tune.record_trace(audio, rec, cfg)
        assert events and len(trace.times) > 50
        assert _rows(trace.resmooth(cfg.smoothing)) == _rows(events)


def test_traces_are_cached_on_disk(tiny_model, data_dir, tmp_path):
    from kwsapp.inference.recognizer import Recognizer

    rec = CachingRecognizer(Recognizer(tiny_model))
    st = tune.build_stream(data_dir, tmp_path, "s", minutes=0.3, snr_db=20.0, seed=1)
    again = tune.build_stream(data_dir, tmp_path, "s", minutes=0.3, snr_db=20.0, seed=1)
    assert again.path == st.path and again.truth == st.truth
    config = Config().with_card(rec.card.raw)
    digest = tune.model_digest(rec)
    first = tune.cached_trace(st, rec, config, tmp_path, digest)
    calls = rec.calls
    assert calls > 0
    second = tune.cached_trace(st, rec, config, tmp_path, digest)
    assert rec.calls == calls  # read back, the model not run
    assert np.array_equal(first.probs, second.probs) and np.array_equal(first.spans,
                                                                        second.spans)
    other_hop = tune.cached_trace(st, rec, replace(config, hop_ms=config.hop_ms * 2),
                                  tmp_path, digest)
    # Another engine setting is another trace (its windows a subset here,
    # so the memo serves them).
    assert len(other_hop.times) < len(first.times)
    assert len(list(tmp_path.glob("trace-*.npz"))) == 2


def _synthetic_trace(words: list[tuple[str, dict[str, float]]], truth_label) -> tuple:
    """A trace of ``words`` (3 windows each, 2 s apart) and its truth."""
    times, probs, word_keys, resets, spans, truth = [], [], [], [], [], []
    for i, (label, p) in enumerate(words):
        start, end = 2.0 * i + 1.0, 2.0 * i + 1.5
        truth.append(TruthWord(truth_label(label), start, end, f"{label}/{i}.wav", label))
        for k in range(3):
            row = np.zeros(len(LABELS), np.float32)
            for lab, v in p.items():
                row[LABELS.index(lab)] = v
            row[LABELS.index("unknown")] += 1.0 - row.sum()
            times.append(end + 0.1 + 0.125 * k)  # fires 100 ms after the word
            probs.append(row)
            word_keys.append(int(start * 16000))
            resets.append(k == 0)
            spans.append((start, end))
    trace = tune.Trace(tuple(LABELS), np.array(times), np.array(probs), np.array(word_keys),
                       np.array(resets), np.array(spans), 2.0 * len(words) + 2.0)
    return trace, truth


def test_search_keeps_commands_and_raises_one_class_against_false_activations():
    """Commands: five "left" at 0.9, five "yes" at 0.62. Other speech: five
    words heard as "left" at 0.7. The global threshold must stay low enough
    for "yes" (90 % matched); "left" alone gets a threshold between 0.7 and 0.9."""
    cmd, cmd_truth = _synthetic_trace([("left", {"left": 0.9})] * 5
                                      + [("yes", {"yes": 0.62})] * 5, lambda w: w)
    other, other_truth = _synthetic_trace([("alexa", {"left": 0.7})] * 5
                                          + [("snowboy", {"no": 0.3})] * 5, lambda w: "unknown")
    st = lambda truth: tune.Stream("s", None, truth, 10.0, True)  # noqa: E731 (no file needed)
    traces = tune.Traces({10.0: [(cmd, st(cmd_truth))]}, {10.0: [(other, st(other_truth))]})
    vad = VadConfig()
    grid = [SmoothingConfig(average_window_ms=0.0, refractory_ms=500.0, threshold=t)
            for t in (0.5, 0.6, 0.7, 0.8)]
    stage1 = [tune.Result(tune.Setting(125.0, vad, sm), tune.evaluate(traces, sm))
              for sm in grid]
    goal = tune.Goal(10.0, 90.0, 300.0, 5.0)
    first = tune.best(stage1, goal)
    row = first.per_snr[10.0]
    assert first.setting.smoothing.threshold <= 0.6
    assert row["matched_pct"] == 100.0 and row["other_fa"] == 5
    assert row["class_matched_pct"] == {"left": 100.0, "yes": 100.0}
    # Without a setting on target, the one matching most.
    assert tune.best(stage1[2:], goal).setting.smoothing.threshold == 0.7
    # Nor when the latency budget is too tight.
    assert first.per_snr[10.0]["latency_median_ms"] == pytest.approx(100.0)
    assert not tune.Goal(10.0, 90.0, 50.0).on_target(first)
    steps = tune.tune_classes(traces, first, goal, [-0.1, 0.1, 0.25, 0.45], LABELS)
    chosen = steps[-1]
    per_class = chosen.setting.smoothing.class_thresholds()
    assert set(per_class) == {"left"} and 0.7 < per_class["left"] <= 0.9
    assert chosen.per_snr[10.0]["false_activations"] == 0 and chosen.fa_events == 0
    assert chosen.per_snr[10.0]["matched_pct"] == 100.0


def test_tuner_end_to_end_writes_only_the_live_defaults(tiny_model, data_dir, tmp_path,
                                                        monkeypatch):
    art = tmp_path / "tiny"
    shutil.copytree(tiny_model, art)
    before = json.loads((art / "card.json").read_text())
    work = tmp_path / "work"
    assert tune.main(["--data", str(data_dir), "--model", str(art), "--work", str(work),
                      "--snrs", "10", "--minutes", "0.5", "--neg-minutes", "0.5",
                      "--averages", "0,250", "--thresholds", "0.3:0.6:0.1",
                      "--offsets=-0.1,0.2", "--write-card"]) == 0
    after = json.loads((art / "card.json").read_text())
    live = set(tune.CARD_KEYS)
    assert {k: v for k, v in after.items() if k not in live} == \
        {k: v for k, v in before.items() if k not in live}
    result = json.loads((work / "tune-result.json").read_text())
    chosen = result["chosen"]
    assert after["threshold"] == pytest.approx(chosen["threshold"])
    assert after.get("thresholds", {}) == pytest.approx(chosen["thresholds"])
    assert after["smoothing"]["average_window_ms"] == chosen["average_window_ms"]
    assert after["tuning"]["tool"] == "python -m training.tune"
    # The other-speech streams were dense and validation speakers only.
    other = [p for p in result["streams"]["other_speech"]]
    assert other and all("val-other" in p for p in other)
    # The engine reads the written card: the card loads and applies.
    config = Config().with_card(after)
    for label, value in chosen["thresholds"].items():
        assert config.smoothing.threshold_for(label) == pytest.approx(value, abs=1e-3)
    assert NEGATIVE_GAP_S == (0.2, 1.5)


@pytest.mark.parametrize("value", ["90:320", "90:x:1", "90:320:1,,", "90:-5:1", "nan:320:1"])
def test_malformed_confirm_is_a_one_line_usage_error(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        tune.parse_args(["--data", str(tmp_path), f"--confirm={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("python -m training.tune: error: argument --confirm:")
    assert "pause_ms:wait_ms:ratio" in last and "Traceback" not in err
    bad = next(item for item in value.split(",") if item not in ("90:320:1",))
    assert repr(bad) in last


def test_confirm_triples_parse():
    args = tune.parse_args(["--data", ".", "--confirm", "90:320:1,0:300:0.5"])
    assert args.confirm == [(90.0, 320.0, 1.0), (0.0, 300.0, 0.5)]
    assert tune.parse_args(["--data", "."]).confirm is None
