"""The speech recogniser's second opinion (kwsapp/inference/verifier.py):
real Moonshine base-en on real clips, and the engine dropping what it does
not confirm. Skips where the recogniser (the `verify` extra) or the shared
data are absent."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import numpy as np
import pytest

from conftest import REPO_ROOT
from kwsapp.atomic import PARTIAL_PREFIX
from kwsapp.config import Config, Overrides, VerifyConfig, runtime_settings
from kwsapp.speakers import UNKNOWN_DIR, which_set
from kwsapp.streaming.synth import load_clip

verifier = pytest.importorskip("kwsapp.inference.verifier")
if verifier.model_dir() is None:
    pytest.skip("the Moonshine recogniser is not installed (pip install '.[verify]')",
                allow_module_level=True)
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the verify extra)")


@pytest.fixture(scope="module")
def recogniser():
    return verifier.Verifier()


def _clips(data_dir, folder: str, prefix: str = "", n: int = 6, every_speaker: bool = False):
    """The first ``n`` clips of the validation speakers (of any speaker:
    the recogniser never heard our data, only the head's split matters)."""
    paths = [p for p in sorted((data_dir / folder).glob(f"{prefix}*.wav"))
             if every_speaker or which_set(p.name) == "validation"][:n]
    assert len(paths) == n, f"too few validation clips in {folder}"
    return [load_clip(data_dir, f"{folder}/{p.name}", folder).audio for p in paths]


def _commands_in_a_row(data_dir) -> np.ndarray:
    """Two clips each of go, off, up, left, a second apart, over faint noise:
    the head fires on most, and the recogniser misses some of them."""
    words = [c for label in ("go", "off", "up", "left") for c in _clips(data_dir, label, n=2)]
    stream = np.concatenate([np.concatenate([w, np.zeros(16000, np.float32)]) for w in words])
    return stream + 0.0005 * np.random.default_rng(0).standard_normal(len(stream)).astype(
        np.float32)


def test_every_spelling_tokenises_and_reads_back(recogniser):
    tok = recogniser.tokenizer
    for spellings in verifier.SPELLINGS.values():
        for s in spellings:
            assert tok.decode(tok.encode(s)) == s


def test_spellings_that_begin_another_share_its_row():
    """The decoder is causal: "Go" is scored on the row of "Go." (one row
    a command instead of one a spelling); a spelling no other one
    continues keeps a row of its own."""
    rows, scored = verifier._rows([[7, 9], [7], [7, 5, 3], [8]])
    assert rows.tolist() == [[1, 7, 9, 2], [1, 7, 5, 3], [1, 8, 2, 2]]
    assert scored == [(0, [7, 9]), (0, [7]), (1, [7, 5, 3]), (2, [8])]


def test_one_row_scores_a_spelling_as_its_own_row_would(recogniser, data_dir):
    """"Go" read off the row of "Go." has the log-probability it has alone."""
    hidden = recogniser._hidden(_clips(data_dir, "go", n=1)[0])
    alone = []
    for spelling in verifier.SPELLINGS["go"]:
        tokens = recogniser.tokenizer.encode(spelling)
        logits = recogniser._logits(hidden, np.array([[1, *tokens]], np.int64))[0]
        logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
        alone.append(sum(float(logp[j, t]) for j, t in enumerate([*tokens, 2])))
    # Not to the bit: the int8 products quantise each call's activations by
    # the call's own range (here 2e-4 apart).
    assert recogniser._logp(hidden, "go") == pytest.approx(max(alone), abs=0.01)


def test_it_tells_a_command_from_a_word_that_fires_it(recogniser, data_dir):
    """Real "go" against real "two" (the data set's word the head, never
    trained on it, takes for `go` most): the recogniser hears "go" in the
    first and finds "Go." far less likely in the second."""
    go = [recogniser.opinion(a, "go") for a in _clips(data_dir, "go")]
    two = [recogniser.opinion(a, "go") for a in _clips(data_dir, UNKNOWN_DIR, "two_",
                                                                every_speaker=True)]
    assert sum(o.says for o in go) >= 4, [o.transcript for o in go]
    assert not any(o.says for o in two), [o.transcript for o in two]
    assert np.median([o.logp for o in go]) > np.median([o.logp for o in two]) + 3.0, \
        ([round(o.logp, 1) for o in go], [round(o.logp, 1) for o in two])


def test_accepts():
    said = verifier.Opinion("Go.", True, -20.0)
    unsure = verifier.Opinion("", False, -6.0)
    assert verifier.accepts(said, -5.0)
    assert verifier.accepts(unsure, -7.0) and not verifier.accepts(unsure, -5.0)
    assert verifier.accepts(unsure, None)
    # Another word heard must clear the level by the margin; no word, or
    # the command itself, need not.
    other = verifier.Opinion("Two.", False, -6.0)
    assert verifier.accepts(other, -7.0) and not verifier.accepts(other, -7.0, 1.5)
    assert verifier.accepts(other, -7.5, 1.5)
    assert verifier.accepts(unsure, -7.0, 1.5) and verifier.accepts(said, -5.0, 1.5)


def test_the_card_states_levels_and_the_user_may_switch_it_off():
    card = {"verify": {"model": verifier.MODEL_NAME, "levels": {"go": -7.0, "on": -10.5},
                       "after_ms": 200, "score_weight": 20}}
    config = Config().with_card(card)
    assert config.verify.active and config.verify.level("go") == -7.0
    assert config.verify.level("go", 0.6) == pytest.approx(-9.0)  # a surer head: lower
    assert config.verify.level("stop") is None and config.verify.after_ms == 200
    assert not Config().verify.active  # no card levels: the head alone
    assert not runtime_settings(card, Overrides(verify=False)).verify.active


def test_the_engine_drops_what_it_does_not_confirm(bundled_setup, data_dir):
    """Real commands in a row, replayed with every level out of reach: only
    the events whose word the recogniser heard are emitted, the rest are
    counted as unverified; switched off, every event is emitted."""
    from kwsapp.streaming.replay import replay

    rec, config = bundled_setup
    stream = _commands_in_a_row(data_dir)
    off = replay(stream, rec, replace(config, verify=VerifyConfig(enabled=False)))
    strict = VerifyConfig(levels=tuple((c, 1.0) for c in verifier.SPELLINGS))
    on = replay(stream, rec, replace(config, verify=strict))
    assert len(off.events) >= 6, "the head missed most words (precondition)"
    assert on.extra["unverified"] >= 1
    assert len(on.events) + on.extra["unverified"] == len(off.events)
    assert on.events, "nothing heard: every event dropped"
    # Each drop reaches on_unconfirmed: the event that would have fired
    # (one of the head's own), what was heard, and the level it missed.
    dropped = on.extra["unconfirmed"]
    assert len(dropped) == on.extra["unverified"]
    head_alone = {(e.label, e.end) for e in off.events}
    for u in dropped:
        assert (u.event.label, u.event.end) in head_alone
        assert u.logp < u.level == 1.0 and isinstance(u.heard, str)
        assert u.event.label.lower() not in u.heard.lower()  # else it was said: kept
    # The head's score moves the level (config.verify.score_weight): with a
    # pivot at 0 and a heavy weight, every event's level is out of the way.
    lifted = replace(strict, score_weight=1000.0, score_pivot=0.0)
    sure = replay(stream, rec, replace(config, verify=lifted))
    assert len(sure.events) == len(off.events) and sure.extra["unverified"] == 0


def test_a_replay_checks_beside_the_head_and_gives_the_inline_events(bundled_setup, data_dir):
    """A file's replay checks its commands on the verify thread while the
    head goes on with the file (their encoder calls run ahead on workers of
    their own), at most ``verify.replay_ahead`` commands behind: the same
    events, and the same commands withheld with the same log-probabilities
    to the bit, in the same order, as when each is checked inline on the
    inference thread (``replay_ahead`` 0). An event found beside the
    commands (a user word's, ``Engine.emit``: here a listener standing for
    one) keeps its place among them."""
    import threading

    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import CommandEvent, Engine
    from kwsapp.streaming.synth import StreamSpec, make_stream

    rec, config = bundled_setup
    audio, _truth = make_stream(data_dir, StreamSpec(minutes=1.0, seed=401, gap_s=(0.5, 1.5)))
    # The card's levels 2 nats higher: more commands fall short, and those
    # have their transcript decoded too.
    raised = replace(config.verify, levels=tuple((c, lv + 2.0) for c, lv in
                                                 config.verify.levels))

    def run(**settings):
        cfg = replace(config, verify=replace(raised, **settings))
        withheld, threads = [], set()
        engine = Engine(rec, cfg, FileSource(audio, 320), on_unconfirmed=withheld.append,
                        on_event=lambda _e: threads.add(threading.current_thread().name))

        def user_word(end_s: float, _embedding: np.ndarray) -> None:  # every 2 s
            if round(end_s / 0.08) % 25 == 0:
                engine.emit(CommandEvent("marker", 1.0, end_s - 0.5, end_s, end_s, 0.0))

        engine.add_embedding_listener(user_word)
        events = engine.run()
        return (events, [(u.event, u.heard, u.logp, u.level) for u in withheld],
                engine.checked), threads

    inline, threads = run(replay_ahead=0)
    events, withheld, checked = inline
    commands = [e for e in events if e.label != "marker"]
    assert len(commands) >= 10 and len(withheld) >= 2, "too few commands (precondition)"
    assert checked == len(commands) + len(withheld) and len(events) > len(commands)
    assert any(heard for _event, heard, _logp, _level in withheld), "no transcript decoded"
    assert threads == {"kwsapp-inference"}
    # The default, the verify thread encoding alone, and one command ahead
    # at most (the head waits for room at every command).
    for ahead, encoders in ((32, 2), (32, 0), (1, 3)):
        ahead_run, threads = run(replay_ahead=ahead, replay_encoders=encoders)
        assert ahead_run == inline, (ahead, encoders)
        assert threads == {"kwsapp-verify"}


def test_engines_share_the_process_recogniser(bundled_setup):
    """The window starts a new engine at every Listen, model or device
    change: each loaded its own recogniser (1-3 s of CPU, ~240 MB), and
    stopping one waited for that load. Now every engine's second opinion
    is the process's one recogniser."""
    from kwsapp.inference.second_opinion import SecondOpinion

    _rec, config = bundled_setup
    opinions = [SecondOpinion(config.verify, 16000, lambda lo, hi: None, None, None, None)
                for _ in range(2)]
    first, second = (o.load() for o in opinions)
    assert isinstance(first, verifier.Verifier) and second is first


def test_two_threads_checking_at_once_hear_what_one_hears(recogniser, data_dir):
    """Shared by every engine, the recogniser may be asked by the live
    engine's verify thread and the Files tab's engine at once: opinions
    given from two threads together are the ones given one by one."""
    from concurrent.futures import ThreadPoolExecutor

    clips = _clips(data_dir, "go", n=4) + _clips(data_dir, "left", n=4)
    labels = ["go"] * 4 + ["left"] * 4
    alone = [recogniser.opinion(a, lab) for a, lab in zip(clips, labels)]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(recogniser.opinion, clips * 2, labels * 2))
    for one, other in zip(alone * 2, together):
        # The int8 products quantise by each call's own range: not to the bit.
        assert other.transcript == one.transcript and other.logp == pytest.approx(one.logp,
                                                                                  abs=0.01)


def test_listen_says_what_the_second_opinion_stopped(bundled_setup, data_dir, capsys):
    """`kwsapp listen`'s loop (the engine on a file source here: a mock of
    nothing, only no sound card): commands fired on stdout, the ones the
    recogniser stopped on stderr with what it heard, both counted."""
    import argparse

    from kwsapp.audio.source import FileSource
    from kwsapp.commands.listen import _listen

    rec, config = bundled_setup
    stream = _commands_in_a_row(data_dir)
    strict = replace(config, verify=VerifyConfig(
        levels=tuple((c, 1.0) for c in verifier.SPELLINGS)))
    totals = {"commands": 0, "unconfirmed": 0, "xruns": 0, "dropped": 0}
    args = argparse.Namespace(json=False)
    source = FileSource(stream, 320)
    source.device_name, source.notice = "a file", None  # what a sound card's source says
    error = _listen(source, rec, strict, args, None, totals)
    assert error is None
    out, err = capsys.readouterr()
    fired = [ln for ln in out.splitlines() if " s  " in ln]
    stopped = [ln for ln in err.splitlines() if "not emitted: the second opinion heard" in ln]
    assert len(fired) == totals["commands"] and len(stopped) == totals["unconfirmed"] >= 1
    assert totals["commands"] + totals["unconfirmed"] >= 6, "the head missed most words"

    # --json --not-emitted: every command a JSON line on stdout, the stopped
    # ones marked and carrying what the recogniser heard; stderr has none.
    args = argparse.Namespace(json=True, not_emitted=True)
    again = {"commands": 0, "unconfirmed": 0, "xruns": 0, "dropped": 0}
    source = FileSource(stream, 320)
    source.device_name, source.notice = "a file", None
    assert _listen(source, rec, strict, args, None, again) is None
    out, err = capsys.readouterr()
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert again == totals
    assert sum(r["emitted"] for r in rows) == totals["commands"]
    held = [r for r in rows if not r["emitted"]]
    assert len(held) == totals["unconfirmed"]
    assert all(isinstance(r["heard"], str) and r["logp"] < r["level"] for r in held)
    assert "not emitted" not in err


def test_classify_lists_what_the_second_opinion_stopped(bundled_setup, data_dir, capsys):
    """A long recording through the classify service (`kwsapp classify`, the
    Files tab): the commands the recogniser did not confirm are beside its
    events, not in them, with what it heard; the JSON row carries them."""
    from kwsapp.commands.classify import to_row
    from kwsapp.inference.classify import FileClassifier

    rec, config = bundled_setup
    stream = _commands_in_a_row(data_dir)
    strict = replace(config, verify=VerifyConfig(
        levels=tuple((c, 1.0) for c in verifier.SPELLINGS)))
    found = FileClassifier(rec, strict).classify_audio(stream, "row.wav")
    off = FileClassifier(rec, replace(config, verify=VerifyConfig(enabled=False))
                         ).classify_audio(stream, "row.wav")
    assert found.withheld and found.events
    assert sorted((e.label, e.end) for e in [*found.events, *(u.event for u in found.withheld)]
                  ) == sorted((e.label, e.end) for e in off.events)
    row = to_row(found)
    assert [r["label"] for r in row["not_emitted"]] == [u.event.label for u in found.withheld]
    assert all(isinstance(r["heard"], str) for r in row["not_emitted"])
    assert to_row(off)["not_emitted"] == []
    # The text output says what was heard as the GUI does: quoted, or "no word".
    from kwsapp.commands.classify import _print_text

    _print_text(row)
    said = [ln.split("the second opinion heard ")[1] for ln in capsys.readouterr().out.splitlines()
            if "not emitted" in ln]
    assert said == [f"“{u.heard}”)" if u.heard else "no word)" for u in found.withheld]


def test_what_was_heard_reads_as_a_quote_or_no_word():
    assert verifier.heard_as("Two.") == "“Two.”" and verifier.heard_as("") == "no word"


def test_levels_come_from_matched_commands_not_heard_outright():
    """training.tune_verify: the quantile of the matched events' log-
    probabilities among those the recogniser did not hear outright; events it heard,
    and false activations, play no part. With a score weight, each is first
    moved by the head's score as the engine moves the level."""
    from training.tune_verify import levels

    op = verifier.Opinion
    rows = ([("go", "match", op("", False, -float(k)), 0.5) for k in range(1, 101)]
            + [("go", "match", op("Go.", True, -50.0), 0.5)]  # heard: not counted
            + [("go", "false", op("Two.", False, -40.0), 0.5)]  # other speech: never counted
            + [("up", "match", op("Up", True, -1.0), 0.5)])  # heard every time: no level
    chosen = levels(rows, 2.0)
    assert set(chosen) == {"go"}
    assert -99.1 < chosen["go"] < -97.9
    # Scores of 0.6: each moved up by 20 x 0.1 = 2, and so is the level.
    sure = [(lab, outcome, o, 0.6) for lab, outcome, o, _ in rows]
    moved = levels(sure, 2.0, VerifyConfig(score_weight=20.0))
    assert moved["go"] == pytest.approx(chosen["go"] + 2.0)
    # The engine gives an event of score 0.6 back the same level it had.
    config = VerifyConfig(levels=tuple(moved.items()), score_weight=20.0)
    assert config.level("go", 0.6) == pytest.approx(chosen["go"])
    assert config.level("go", 0.5) == pytest.approx(moved["go"])
    assert config.level("go") == moved["go"] and config.level("stop", 0.9) is None


def test_the_other_word_margin_comes_from_commands_alone():
    """training.tune_verify: the largest margin (steps of 0.5) that drops at
    most the budget's share more of the matched commands; commands heard as
    nothing or as themselves, and other speech, never move it."""
    from training.tune_verify import other_word_margin

    op = verifier.Opinion
    config = VerifyConfig(levels=(("go", -10.0),))
    rows = ([("go", "match", op("Go.", True, -30.0), 0.5)] * 100  # heard: never dropped
            + [("go", "match", op("", False, -9.0), 0.5)] * 50  # no word: the level alone
            # other words 1.2 and 2.2 above the level: a margin of 1.5 drops one
            + [("go", "match", op("Toe.", False, -8.8), 0.5),
               ("go", "match", op("So.", False, -7.8), 0.5)]
            + [("go", "false", op("Two.", False, -9.5), 0.5)] * 30)  # never counted
    assert other_word_margin(rows, config, budget_pct=0.0) == 1.0  # 1.5 would drop "Toe."
    assert other_word_margin(rows, config, budget_pct=0.7) == 2.0  # one of 152 allowed
    assert other_word_margin(rows, config, budget_pct=2.0) == 10.0  # both: up to the most
    assert other_word_margin(rows[:150], config, budget_pct=0.0) == 10.0  # no other word


def test_confirms_agrees_with_the_whole_opinion(recogniser, data_dir):
    """The engine's short path (transcript only when the spelling falls
    short) decides as accepts() on the whole opinion does."""
    for audio in _clips(data_dir, "go", n=3) + _clips(data_dir, UNKNOWN_DIR, "two_", n=3,
                                                       every_speaker=True):
        whole = recogniser.opinion(audio, "go")
        for level in (-30.0, whole.logp - 2.0, whole.logp - 0.5, whole.logp + 0.5, 1.0):
            for margin in (0.0, 1.5):
                assert recogniser.confirms(audio, "go", level, margin)[0] == \
                    verifier.accepts(whole, level, margin), (whole, level, margin)


def test_the_onnx_copies_give_the_ort_files_opinions(recogniser, data_dir, tmp_path, caplog,
                                                     monkeypatch):
    """The recogniser runs from its ``.ort`` files saved as ONNX in the
    cache (folded weights; the decoder's with dynamic int8 matrix products:
    3 times faster in all). The copies are made once and reused, hear what
    the ``.ort`` files hear, and where the cache cannot be written the
    ``.ort`` file is used, with a warning naming the folder."""
    import onnxruntime as ort

    source = verifier.model_dir() / "encoder_model.ort"
    # Copies from an earlier install or onnxruntime that nothing has loaded
    # for a month are deleted when a new one is made; another install's
    # copy loaded lately stays (each would remake the other's), and so do
    # the other file's copies.
    (tmp_path / "cache").mkdir()
    stale = tmp_path / "cache" / "encoder_model-1-2-ort1.0.0.onnx"
    recent = tmp_path / "cache" / "encoder_model-1-3-ort1.0.0.onnx"
    other = tmp_path / "cache" / "decoder_model_merged-1-2-ort1.0.0.onnx"
    long_ago = time.time() - 31 * 86400
    for path in (stale, recent, other):
        path.write_bytes(b"old")
        os.utime(path, (long_ago, long_ago))
    os.utime(recent, (time.time() - 29 * 86400, long_ago))
    made = verifier.loadable(source, tmp_path / "cache")
    assert made.suffix == ".onnx" and made.parent == tmp_path / "cache"
    assert not stale.exists() and recent.exists() and other.exists()
    stamp = made.stat().st_mtime_ns
    os.utime(made, ns=(int(long_ago * 1e9), stamp))
    assert verifier.loadable(source, tmp_path / "cache") == made
    assert made.stat().st_mtime_ns == stamp, "made again"
    assert made.stat().st_atime > long_ago + 86400, "a copy loaded is marked as used"

    # Where the decoder cannot be quantised (onnxruntime's quantiser made to
    # fail here: a stand-in for a release it does not support), its float
    # copy runs, with a warning.
    decoder = verifier.model_dir() / "decoder_model_merged.ort"

    def fails(*_args: object) -> None:
        raise RuntimeError("quantiser failed")

    monkeypatch.setattr(verifier, "_dynamic_int8", fails)
    fallback = verifier.loadable(decoder, tmp_path / "float", int8=True)
    assert fallback.suffix == ".onnx" and "int8" not in fallback.name
    assert "could not quantise it (quantiser failed)" in caplog.text
    monkeypatch.undo()

    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    assert verifier.loadable(source, tmp_path / "blocked") == source
    assert "blocked" in caplog.text and "slower" in caplog.text

    # A damaged copy (cut short on disk) is deleted and the .ort file runs.
    made.write_bytes(made.read_bytes()[:1000])
    damaged = verifier.Verifier(cache=tmp_path / "cache")
    assert "does not load" in caplog.text and not made.exists()
    assert damaged.encoder._model_path == str(source)
    assert damaged.decoder._model_path.endswith(".onnx")  # its copy was whole

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    direct = verifier.Verifier()
    assert direct.decoder._model_path.endswith(".onnx")  # the copy (onnxruntime keeps the path)
    folder = verifier.model_dir()
    direct.encoder = ort.InferenceSession(str(folder / "encoder_model.ort"), opts)
    direct.decoder = ort.InferenceSession(str(folder / "decoder_model_merged.ort"), opts)
    clips = _clips(data_dir, "go", n=2) + _clips(data_dir, UNKNOWN_DIR, "two_", n=2,
                                                  every_speaker=True)
    for audio in clips:
        # The encoder's copy is the same model: the same hidden states.
        assert np.allclose(recogniser._hidden(audio), direct._hidden(audio), atol=1e-3)
        # The decoder's int8 products move a spelling's log-probability by
        # 0.1 nats (at most 0.4 on 60 real commands), far less than what
        # parts a command from another word (5-14 nats).
        copy, original = recogniser.opinion(audio, "go"), direct.opinion(audio, "go")
        assert copy.transcript == original.transcript
        assert abs(copy.logp - original.logp) < 0.5, (copy.logp, original.logp)
    assert made.name.endswith(".onnx") and "int8" not in made.name
    assert recogniser.decoder._model_path.endswith("-int8.onnx")


_LOADABLE_IN = """
import sys
from pathlib import Path
from kwsapp.inference.verifier import loadable
print(loadable(Path(sys.argv[1]), Path(sys.argv[2])))
"""


def test_a_copy_is_named_by_the_ort_files_bytes(tmp_path):
    """Installs of the same ``.ort`` file (another path, another time, a
    reinstall in place) load one ONNX copy: its name holds the file's
    sha256, not its size and time, so a reinstall no longer makes a copy (6
    s) beside the others. Another file's bytes get a copy of their own. The
    hashes are noted in the cache by each file's stamp (a start does not
    read 63 MB to hash them) and a changed stamp hashes again; copies by
    the old names, unloaded for a month, go at a load that makes none; and
    a read-only cache still gives its copy (the note not written)."""
    import subprocess
    import sys

    from conftest import without_root_file_access

    data = (verifier.model_dir() / "encoder_model.ort").read_bytes()
    first, again, other = (tmp_path / name / "encoder_model.ort"
                           for name in ("one", "two", "other"))
    # A few bytes more at the end: a file onnxruntime still loads, not the same bytes.
    for path, content in ((first, data), (again, data), (other, data + bytes(16))):
        path.parent.mkdir()
        path.write_bytes(content)
    hour = 3600 * 10**9
    os.utime(again, ns=(time.time_ns(), first.stat().st_mtime_ns + hour))
    cache = tmp_path / "cache"
    made = verifier.loadable(first, cache)
    assert made.suffix == ".onnx" and made.parent == cache
    stamp = made.stat().st_mtime_ns

    # A copy by the old name (the file's size and time), unloaded for a month.
    old_name = cache / f"encoder_model-{len(data)}-{first.stat().st_mtime_ns}-ort1.32.0.onnx"
    old_name.write_bytes(b"old")
    long_ago = time.time() - 31 * 86400
    os.utime(old_name, (long_ago, long_ago))
    # Half-written copies of processes killed while writing: an hour-old one
    # goes, one being written now stays.
    dead, writing = (cache / f"{PARTIAL_PREFIX}{n}.onnx" for n in ("dead", "writing"))
    for partial in (dead, writing):
        partial.write_bytes(b"half")
    os.utime(dead, (time.time() - 7200, time.time() - 7200))
    assert verifier.loadable(again, cache) == made
    assert not old_name.exists(), "an old copy unloaded for a month is deleted"
    assert not dead.exists() and writing.exists()
    writing.unlink()
    reinstalled = first.with_name("new.ort")  # the same bytes renamed in place, later
    reinstalled.write_bytes(data)
    os.utime(reinstalled, ns=(time.time_ns(), first.stat().st_mtime_ns + 2 * hour))
    os.replace(reinstalled, first)
    assert verifier.loadable(first, cache) == made
    assert made.stat().st_mtime_ns == stamp, "made again"

    different = verifier.loadable(other, cache)
    assert different.suffix == ".onnx" and different != made
    assert sorted(cache.glob("*.onnx")) == sorted([made, different])

    # A note is believed while the file's stamp holds (a false one shows it),
    # and a file with a new stamp is hashed again.
    notes = json.loads((cache / "sources.json").read_text())
    assert set(notes) == {str(p.resolve()) for p in (first, again, other)}
    notes[str(again.resolve())]["sha256"] = "f" * 64
    (cache / "sources.json").write_text(json.dumps(notes))
    assert verifier._copy_path(again, cache, False).name.startswith("encoder_model-" + "f" * 16)
    os.utime(again, ns=(time.time_ns(), again.stat().st_mtime_ns + hour))
    assert verifier._copy_path(again, cache, False) == made

    # A read-only cache (root made to obey file modes, in a child) still
    # gives its copy; its note of a new stamp is not written.
    os.utime(again, ns=(time.time_ns(), again.stat().st_mtime_ns + hour))
    noted = (cache / "sources.json").read_bytes()
    cache.chmod(0o555)
    try:
        run = subprocess.run([*without_root_file_access(), sys.executable, "-c", _LOADABLE_IN,
                              str(again), str(cache)], capture_output=True, text=True,
                             timeout=120, cwd=REPO_ROOT)
    finally:
        cache.chmod(0o755)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == str(made)
    assert (cache / "sources.json").read_bytes() == noted


_STOPPED_AT_ONCE = """
import sys, time
import numpy as np
from kwsapp.audio.source import FileSource
from kwsapp.inference.engine import Engine
from kwsapp.inference.recognizer import load_with_config

recognizer, config = load_with_config(None)
noise = (0.01 * np.random.default_rng(0).standard_normal(16000 * 5)).astype(np.float32)
engine = Engine(recognizer, config, FileSource(noise, 320, realtime=True))
engine.start()
time.sleep(0.05)  # the verify thread is loading the recogniser
engine.stop(timeout=0.2)  # gives up on it: the load cannot be interrupted
print("stopped", flush=True)
"""


def test_a_process_that_stops_listening_at_once_exits_cleanly(bundled_setup):
    """An engine stopped while its verify thread still loads the recogniser
    (1-3 s, not interruptible; stop() waits only so long), then the process
    exits: onnxruntime, still running on that thread, aborted it
    ("terminate called without an active exception", exit code 134; 5 runs
    in 6), as `kwsapp listen` stopped in its first second would be. At
    exit the verify threads are now waited for; the stop logged "engine
    threads still running" as an error."""
    import subprocess
    import sys

    for _ in range(2):  # (the abort came in most runs, not all)
        run = subprocess.run([sys.executable, "-c", _STOPPED_AT_ONCE], capture_output=True,
                             text=True, timeout=120, cwd=REPO_ROOT)
        assert run.returncode == 0 and "stopped" in run.stdout, run.stderr[-2000:]
        # Nor is it an error worth a line: the thread ends once loaded.
        assert "still running" not in run.stderr, run.stderr[-2000:]
