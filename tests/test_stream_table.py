"""training/stream_table.py: README's streaming tables in one command, on
short streams of the shared data (skipped where it is absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kwsapp.errors import BadInputError
from training import stream_table

DATA = Path("../shared/data")
pytestmark = pytest.mark.skipif(not (DATA / "speech_commands_subset").is_dir(),
                                reason="../shared/data/speech_commands_subset absent")


def test_streams_are_the_readme_ones():
    """The names, seeds and settings README's make-stream lines give."""
    by_name = {s.name: s for s in stream_table.streams(DATA, Path("/tts"))}
    assert set(by_name) == {"val-20", "val-10", "val-5", "val30-10", "valnc60-10",
                            "valother-10", "ww-alexa", "ww-snowboy-13", "ww-smart_mirror",
                            "tts-heldout", "ww-alexa-45min", "tts-heldout-45min",
                            "words1-10", "words2-10", "words3-10"}
    assert (by_name["val-10"].spec.seed, by_name["val-10"].spec.snr_db) == (401, 10.0)
    assert (by_name["val30-10"].spec.minutes, by_name["val30-10"].spec.seed) == (30, 411)
    assert by_name["valnc60-10"].spec.minutes == 60 and not by_name["valnc60-10"].spec.commands
    assert by_name["ww-snowboy-13"].spec.seed == 13 and by_name["ww-snowboy-13"].words == ("snowboy",)
    assert by_name["tts-heldout"].spec.negatives == tuple(
        f"/tts/{v}" for v in stream_table.HELDOUT_TTS_VOICES)
    # the longer ones are the 15-minute ones' settings, three times as long
    for name in ("ww-alexa", "tts-heldout"):
        long = by_name[f"{name}-45min"]
        assert long.spec == replace(by_name[name].spec, minutes=45)
        assert long.words == by_name[name].words
    # The data set's other words: every one in exactly one group, each group
    # a validation-speaker stream of its words alone.
    groups = [by_name[f"words{k}-10"].spec.words for k in (1, 2, 3)]
    assert sorted(w for g in groups for w in g) == sorted(
        {p.name.split("_")[0] for p in (DATA / "speech_commands_subset" / "_unknown_").glob("*.wav")})
    assert all(by_name[f"words{k}-10"].words == groups[k - 1] for k in (1, 2, 3))


def _evaluate_stream(wav: Path, csv: Path, model: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "kwsapp", "evaluate-stream", str(wav),
                          "--truth", str(csv), "--model", model, "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_table_measures_what_evaluate_stream_measures(tmp_path, capsys):
    """Short versions of two streams, the bundled model and a "rotation"
    (the bundled model again, so the rows can be checked): the tables are
    printed, every row's figures are ``kwsapp evaluate-stream --json``'s on
    the same files, and a second run reuses the built streams."""
    out = tmp_path / "table.json"
    group = ",".join(stream_table.WORD_GROUPS[0])
    args = ["--data", str(DATA), "--work", str(tmp_path), "--only", "val-10", "ww-alexa",
            "words1-10", "--minutes", "0.4", "--heldout", "alexa=embed", "--heldout",
            f"{group}=embed", "--heldout", "five,six=embed", "--json", str(out)]
    assert stream_table.main(args) == 0
    text = capsys.readouterr().out
    assert "| validation, 10 dB |" in text
    assert '| "alexa", trained on |' in text and '| "alexa", never trained on |' in text
    assert text.count("backward, cat, five") == 2 and "speakers, never trained on |" in text
    rows = json.loads(out.read_text())
    # a rotation without only some of a group's words measures nothing there
    assert [r["stream"] for r in rows] == ["val-10-0.4min", "ww-alexa-0.4min", "ww-alexa-0.4min",
                                           "words1-10-0.4min", "words1-10-0.4min"]
    for r in rows:
        wav, csv = tmp_path / f"{r['stream']}.wav", tmp_path / f"{r['stream']}.csv"
        ref = _evaluate_stream(wav, csv, "embed")
        for key in ("words", "matched", "wrong", "missed", "false_activations", "duplicates",
                    "fa_per_hour_ci95", "matched_pct_ci95", "latency_median_ms"):
            assert r[key] == ref[key], key
    assert rows[0]["words"] > 0 and rows[1]["other_words"] > 0
    built = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.wav")}
    assert stream_table.main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.wav")} == built


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(BadInputError, match="--only"):
        stream_table.main(["--data", str(DATA), "--work", str(tmp_path), "--only", "val-11"])
    with pytest.raises(BadInputError, match="no such folder"):
        stream_table.main(["--data", str(tmp_path), "--work", str(tmp_path)])
    with pytest.raises(SystemExit):
        stream_table.main(["--data", str(DATA), "--heldout", "alexa"])
    run = subprocess.run([sys.executable, "-m", "training.stream_table", "--data",
                          str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 2 and "no such folder" in run.stderr
    assert "Traceback" not in run.stderr


def test_tts_rows_count_the_near_misses_apart():
    """The held-out TTS clips that are curated near-misses are known by
    file, and the false activations on them are counted apart."""
    from kwsapp.streaming.scoring import Event, TruthWord

    near = stream_table.near_miss_files()
    assert near and all(f.count("/") == 1 and f.endswith(".wav") for f in near)
    voices = {f.split("/")[0] for f in near}
    assert voices <= set(stream_table.HELDOUT_TTS_VOICES)
    one = sorted(near)[0]
    truth = [TruthWord("unknown", 1.0, 1.5, one, "x"),
             TruthWord("unknown", 3.0, 3.5, "flite-rms/table_r1.wav", "x"),
             TruthWord("unknown", 5.0, 5.5, one, "x")]
    ev = Event("left", 0.6, 1.0, 1.5, 1.7)
    sources = [(ev, truth[0]), (ev, truth[1]), (ev, None), (ev, truth[0])]
    assert stream_table.near_miss_counts(truth, sources, near) == {
        "said": 2, "false_activations": 2}
    row = stream_table.other_row("TTS", {"other_words": 3, "fa_per_hour": 4.0,
                                         "fa_per_hour_ci95": [1.0, 9.0], "false_activations": 4,
                                         "near_misses": {"said": 2, "false_activations": 2}}, "m")
    assert "| 4 (2 on the 2 near-misses) | m |" in row
