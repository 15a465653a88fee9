"""False activations per source word and the worst recordings (issue 11):
the scorer on hand-made events, and `evaluate-stream` on a real other-speech
stream."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kwsapp.streaming.scoring import Event, TruthWord, false_activations, read_truth, \
    score_events, write_truth

HOUR = 3600.0
TRUTH = [
    TruthWord("unknown", 1.0, 1.6, "ww/alexa/1.flac", "alexa"),
    TruthWord("unknown", 2.0, 2.8, "ww/snowboy/a.flac", "snowboy"),
    TruthWord("yes", 4.0, 4.4, "yes/x.wav", "yes"),
    TruthWord("unknown", 6.0, 6.6, "ww/alexa/1.flac", "alexa"),
    TruthWord("unknown", 8.0, 8.6, "ww/alexa/2.flac", "alexa"),
    TruthWord("unknown", 12.0, 12.5, "_unknown_/dog_0a1b2c3d_nohash_0.wav"),  # older CSV: no word
]


def ev(label: str, start: float, end: float) -> Event:
    return Event(label, 0.9, start, end, end + 0.1)


def test_false_activations_go_to_the_word_they_lie_on():
    events = [ev("left", 1.1, 1.5), ev("left", 6.2, 6.5), ev("no", 2.3, 2.9),
              ev("no", 2.5, 2.9),  # the same utterance again, after refractory say
              ev("yes", 4.0, 4.4),  # matches the command: not a false activation
              ev("go", 10.0, 10.4),  # in a pause: no word
              ev("stop", 12.1, 12.4)]
    score = score_events(TRUTH, events, HOUR)
    assert score.false_activations == 6 and score.matched == 1
    fa = false_activations(TRUTH, score)
    by_word = {r["word"]: r for r in fa.by_word()}
    assert by_word["alexa"] == {"word": "alexa", "said": 3, "false_activations": 2,
                                "utterances_fired": 2, "labels": {"left": 2},
                                "per_hour": 2.0}
    assert by_word["snowboy"]["false_activations"] == 2
    assert by_word["snowboy"]["utterances_fired"] == 1
    assert by_word["dog"]["false_activations"] == 1  # word from the file-name prefix
    assert by_word[None]["false_activations"] == 1 and by_word[None]["said"] == 0
    assert sum(r["false_activations"] for r in fa.by_word()) == score.false_activations
    assert [r["word"] for r in fa.by_word()][:2] == ["alexa", "snowboy"]  # most first
    worst = fa.worst_files(2)
    assert [(r["file"], r["false_activations"], r["said"]) for r in worst] == [
        ("ww/alexa/1.flac", 2, 2), ("ww/snowboy/a.flac", 2, 1)]


def test_an_event_between_two_words_goes_to_the_one_it_overlaps_most():
    truth = [TruthWord("unknown", 1.0, 2.0, "a/x.wav", "a"),
             TruthWord("unknown", 2.3, 3.0, "b/y.wav", "b")]
    score = score_events(truth, [ev("up", 1.5, 2.4)], HOUR)
    (_, row), = false_activations(truth, score).sources
    assert row.word == "a"


def test_truth_word_column_round_trip_and_older_files(tmp_path):
    path = tmp_path / "t.csv"
    write_truth(path, TRUTH)
    assert read_truth(path) == TRUTH
    assert path.read_text().splitlines()[0] == "label,start,end,file,word"
    path.write_text("label,start,end,file\nunknown,1.0,1.5,_unknown_/cat_00000000_nohash_0.wav\n")
    (row,) = read_truth(path)
    assert row.word == ""
    score = score_events([row], [ev("on", 1.0, 1.4)], HOUR)
    assert false_activations([row], score).by_word()[0]["word"] == "cat"


def test_evaluate_stream_reports_words_and_worst_files(repo_root, data_dir, bundled_model_dir,
                                                      tmp_path):
    wake_words = data_dir.parent / "wake_words"
    if not (wake_words / "alexa").is_dir():
        pytest.skip(f"real other-speech recordings not found at {wake_words}")
    out = tmp_path / "ww"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "kwsapp", *args], cwd=repo_root,
                              capture_output=True, text=True, timeout=300)

    r = cli("make-stream", str(data_dir), "--out", str(out), "--minutes", "1.5",
            "--negatives", str(wake_words), "--seed", "3")
    assert r.returncode == 0, r.stderr
    r = cli("evaluate-stream", str(out) + ".wav", "--truth", str(out) + ".csv", "--json",
            "--worst", "3", "--model", str(bundled_model_dir))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    truth = read_truth(str(out) + ".csv")
    assert got["words"] == 0 and got["duration_s"] == pytest.approx(90.0)
    by_word = {row["word"]: row for row in got["false_by_word"]}
    assert {w: by_word[w]["said"] for w in ("alexa", "snowboy", "smart mirror")} == {
        w: sum(t.word == w for t in truth) for w in ("alexa", "snowboy", "smart mirror")}
    assert sum(row["false_activations"] for row in got["false_by_word"]) == \
        got["false_activations"]
    for row in got["false_by_word"]:
        assert row["per_hour"] == pytest.approx(row["false_activations"] / 0.025)
        assert row["utterances_fired"] <= row["said"] or row["word"] is None
    counts = [row["false_activations"] for row in got["worst_files"]]
    assert len(counts) <= 3 and counts == sorted(counts, reverse=True)
    assert all(row["file"] in {t.file for t in truth} for row in got["worst_files"])
    # The second opinion's drops, scored as if fired: on a stream without
    # command words each is a false activation it avoided.
    assert got["unverified_outcomes"]["false"] == got["unverified"]
    assert sum(got["unverified_outcomes"].values()) == got["unverified"]
    text = cli("evaluate-stream", str(out) + ".wav", "--truth", str(out) + ".csv",
               "--model", str(bundled_model_dir))
    assert text.returncode == 0, text.stderr
    assert "no command words" in text.stdout and "false activations by source word" in text.stdout
    assert "smart mirror" in text.stdout
