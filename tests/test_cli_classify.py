"""`kwsapp classify`: every supported encoding, bad files in a batch, the
JSON shape, long files as a timeline. Plumbing runs on the structural tiny
model; recognition of real words on the bundled default model."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO_ROOT, real_clip, run_cli
from kwsapp import LABELS
from kwsapp.audio.io import load_audio, resample


@pytest.fixture(scope="module")
def clips(tmp_path_factory, data_dir):
    """One real 'stop' clip in many encodings, bad files, and a long file."""
    d = tmp_path_factory.mktemp("clips")
    x = load_audio(real_clip(data_dir, "stop", 3))
    good = {}
    for name, subtype in [("u8", "PCM_U8"), ("s16", "PCM_16"), ("s24", "PCM_24"),
                          ("s32", "PCM_32"), ("f32", "FLOAT"), ("f64", "DOUBLE")]:
        good[name] = d / f"{name}.wav"
        sf.write(good[name], x, 16000, subtype=subtype)
    good["flac"] = d / "clip.flac"
    sf.write(good["flac"], x, 16000, format="FLAC")
    good["ogg"] = d / "clip.ogg"
    sf.write(good["ogg"], x, 16000, format="OGG")
    good["stereo"] = d / "stereo.wav"
    sf.write(good["stereo"], np.stack([x, x * 0.5], axis=1), 16000)
    for rate in (8000, 44100, 48000):
        good[f"r{rate}"] = d / f"r{rate}.wav"
        sf.write(good[f"r{rate}"], resample(x, 16000, rate), rate)
    bad = {}
    bad["empty"] = d / "empty.wav"
    bad["empty"].write_bytes(b"")
    bad["truncated"] = d / "truncated.wav"
    bad["truncated"].write_bytes(good["s16"].read_bytes()[:5000])
    bad["text"] = d / "notes.wav"
    bad["text"].write_text("not audio at all\n" * 50)
    bad["folder"] = d / "folder.wav"
    bad["folder"].mkdir()
    bad["dangling"] = d / "dangling.wav"
    bad["dangling"].symlink_to(d / "nowhere.wav")
    parts = [np.zeros(8000, np.float32)]
    for i, word in enumerate(("stop", "go", "yes")):
        parts += [load_audio(real_clip(data_dir, word, i)), np.zeros(16000, np.float32)]
    long = d / "long.wav"
    sf.write(long, np.concatenate(parts), 16000)
    return good, bad, long


#: Encodings that keep the clip's samples (up to float rounding) or its
#: whole band; 8-bit, OGG, 8 kHz and the stereo down-mix do not.
LOSSLESS = ("s16.wav", "s24.wav", "s32.wav", "f32.wav", "f64.wav", "clip.flac",
            "r44100.wav", "r48000.wav")


def test_every_encoding_gives_the_same_label(tiny_model, clips):
    good, _, _ = clips
    proc = run_cli("classify", "--json", "--model", str(tiny_model),
                   *[str(p) for p in good.values()])
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["files"]
    assert [r["file"] for r in rows] == [str(p) for p in good.values()]
    ref = rows[1]  # 16-bit PCM
    for row in rows:
        assert set(row) == {"file", "duration", "label", "probs", "events", "not_emitted",
                            "notes"}
        assert row["notes"] == []  # a 1-s clip is a whole word: nothing to note
        assert row["duration"] == pytest.approx(1.0, abs=0.02)
        assert list(row["probs"]) == list(LABELS)
        assert sum(row["probs"].values()) == pytest.approx(1.0, abs=1e-3)
        if any(row["file"].endswith(k) for k in LOSSLESS):
            # Same samples (or the same band, resampled): the same answer.
            assert row["label"] == ref["label"], row["file"]
            diff = max(abs(row["probs"][k] - ref["probs"][k]) for k in LABELS)
            assert diff < 0.05, (row["file"], diff)
        for ev in row["events"]:
            assert set(ev) == {"label", "score", "start", "end"}
            assert ev["label"] in LABELS and 0 <= ev["start"] < ev["end"] <= row["duration"]


def test_bad_files_are_reported_and_the_batch_goes_on(tiny_model, clips):
    good, bad, _ = clips
    files = [str(bad["empty"]), str(good["s16"]), str(bad["truncated"]), str(bad["text"]),
             str(bad["folder"]), str(bad["dangling"]), str(good["flac"])]
    proc = run_cli("classify", "--json", "--model", str(tiny_model), *files)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    rows = {r["file"]: r for r in json.loads(proc.stdout)["files"]}
    assert list(rows) == files
    assert rows[str(good["s16"])]["label"] in LABELS
    assert rows[str(good["flac"])]["label"] in LABELS
    expected = {"empty": "empty", "truncated": "truncated", "text": "not a readable audio",
                "folder": "folder", "dangling": "a symbolic link to"}
    for key, words in expected.items():
        row = rows[str(bad[key])]
        assert words in row["error"], row
        assert row["label"] is None and row["events"] == []
        assert str(bad[key]) in proc.stderr  # the log line names the file


def test_one_bad_file_alone_exits_2_naming_it(tiny_model, clips):
    _, bad, _ = clips
    proc = run_cli("classify", "--model", str(tiny_model), str(bad["text"]))
    assert proc.returncode == 2
    assert str(bad["text"]) in proc.stdout and "not a readable audio" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_missing_model_is_a_clear_error(clips, tmp_path):
    good, _, _ = clips
    proc = run_cli("classify", "--model", str(tmp_path), str(good["s16"]))
    assert proc.returncode == 2
    assert "not a model artifact" in proc.stderr and "Traceback" not in proc.stderr


def test_a_model_file_for_its_folder_is_named_as_a_file(tiny_model, clips):
    """--model path/model.tflite: the folder is what is meant; it said "no
    such model" of a file that is there."""
    good, _, _ = clips
    proc = run_cli("classify", "--model", str(tiny_model / "model.tflite"), str(good["s16"]))
    assert proc.returncode == 2
    assert "model.tflite: a file, not a model" in proc.stderr, proc.stderr
    assert f"such as {tiny_model}" in proc.stderr and "no such model" not in proc.stderr


def _set(path: tuple[str, ...], value):
    def edit(card: dict) -> None:
        *parents, key = path
        for p in parents:
            card = card[p]
        card[key] = value
    return edit


@pytest.mark.parametrize("edit, problem", [
    # hop_ms 0 or below held classify in an endless loop (the test's timeout).
    (_set(("hop_ms",), 0), "hop_ms must be a number in (0, 60000], not 0"),
    (_set(("hop_ms",), -5), "hop_ms must be a number in (0, 60000], not -5"),
    # The rest were tracebacks (ValueError, AttributeError, TypeError) or
    # webrtcvad's own error, exit 1.
    (_set(("sample_rate_hz",), "abc"), "sample_rate_hz must be a whole number of Hz"),
    (_set(("window_ms",), -100), "window_ms must be a number in (0, 60000], not -100"),
    (_set(("input",), "log_mel"), "input must be an object, not 'log_mel'"),
    (_set(("input", "params"), [1]), "input.params must be an object"),
    (_set(("input", "params", "foo"), 1), "input params {'n_mels': 20, 'hop_ms': 20.0, "
                                           "'foo': 1} do not fit the log_mel front end"),
    (_set(("labels",), "yes"), "labels must be a list of names, not 'yes'"),
    (_set(("smoothing",), [1]), "smoothing must be an object, not [1]"),
    (_set(("smoothing",), {"refractory_ms": "x"}), "smoothing.refractory_ms must be a number"),
    (_set(("vad",), {"aggressiveness": 9}), "vad.aggressiveness must be one of 0, 1, 2, 3"),
    (_set(("vad",), {"frame_ms": 17}), "vad.frame_ms must be one of 10, 20, 30, not 17"),
    (_set(("verify",), {"levels": [1, 2]}), "verify.levels must be an object"),
])
def test_a_card_with_bad_values_is_one_line_naming_it(tiny_model, clips, tmp_path, edit,
                                                      problem):
    """A hand-edited or damaged card: one line naming the card and the
    value, exit 2, before any file is read."""
    good, _, _ = clips
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    card = json.loads((model / "card.json").read_text())
    edit(card)
    (model / "card.json").write_text(json.dumps(card))
    proc = run_cli("classify", "--model", str(model), str(good["s16"]), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert problem in proc.stderr and f"{model}" in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_a_card_stating_null_sections_loads(tiny_model, clips, tmp_path):
    """``"vad": null`` (and the other live sections) mean none: it was a
    TypeError."""
    good, _, _ = clips
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    card = json.loads((model / "card.json").read_text())
    card.update(vad=None, smoothing=None, verify=None, thresholds=None)
    (model / "card.json").write_text(json.dumps(card))
    proc = run_cli("classify", "--model", str(model), str(good["s16"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{good['s16']} (")


def test_long_file_gives_a_timeline(tiny_model, clips):
    _, _, long = clips
    proc = run_cli("classify", "--json", "--threshold", "0.3", "--model", str(tiny_model), str(long))
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["files"]
    assert row["label"] is None and row["probs"] is None
    assert row["duration"] == pytest.approx(6.5, abs=0.01)
    assert row["events"], "the tiny model fires on at least one of three words"
    starts = [e["start"] for e in row["events"]]
    assert starts == sorted(starts)


def test_bundled_model_recognizes_real_stop_clips(bundled_model_dir, data_dir):
    files = [str(real_clip(data_dir, "stop", i)) for i in range(10, 16)]
    proc = run_cli("classify", "--json", *files)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    rows = out["files"]
    # the clips were judged with the card's clip weights, and the output says so
    card = json.loads((bundled_model_dir / "card.json").read_text())
    assert out["clip_weights"] == card["clip_weights"] and out["clip_weights"]
    labels = [r["label"] for r in rows]
    assert labels.count("stop") >= 5, labels
    assert sum(any(e["label"] == "stop" for e in r["events"]) for r in rows) >= 4, rows


def test_a_folder_stands_for_its_audio_files(tiny_model, clips, tmp_path):
    good, _, _ = clips
    top = tmp_path / "recordings"
    (top / "more").mkdir(parents=True)
    (top / "a.wav").write_bytes(good["s16"].read_bytes())
    (top / "b.flac").write_bytes(good["flac"].read_bytes())
    (top / "notes.txt").write_text("not audio, and not named like it\n")
    (top / "more" / "c.wav").write_bytes(good["s16"].read_bytes())
    flat = run_cli("classify", "--json", "--model", str(tiny_model), str(top))
    assert flat.returncode == 0, flat.stderr
    assert [r["file"] for r in json.loads(flat.stdout)["files"]] == [
        str(top / "a.wav"), str(top / "b.flac")]
    deep = run_cli("classify", "--json", "-r", "--model", str(tiny_model), str(top))
    assert deep.returncode == 0, deep.stderr
    rows = json.loads(deep.stdout)["files"]
    assert [r["file"] for r in rows] == [str(top / "a.wav"), str(top / "b.flac"),
                                         str(top / "more" / "c.wav")]
    assert rows[0]["label"] == rows[2]["label"] in LABELS  # the same clip


def test_a_folder_without_audio_is_reported(tiny_model, clips, tmp_path):
    good, _, _ = clips
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    proc = run_cli("classify", "--model", str(tiny_model), str(tmp_path / "empty"),
                   str(good["s16"]))
    assert proc.returncode == 2
    assert f"{tmp_path / 'empty'}: ERROR no audio files in this folder (-r looks" in proc.stdout
    assert str(good["s16"]) in proc.stdout  # the rest is still classified
    assert "Traceback" not in proc.stderr


def test_a_broken_link_in_a_folder_is_reported_as_when_named(tiny_model, clips, tmp_path):
    good, _, _ = clips
    top = tmp_path / "recordings"
    top.mkdir()
    (top / "a.wav").write_bytes(good["s16"].read_bytes())
    (top / "d.wav").symlink_to(tmp_path / "gone.wav")
    proc = run_cli("classify", "--model", str(tiny_model), str(top))
    assert proc.returncode == 2
    assert (f"{top / 'd.wav'}: ERROR a symbolic link to {tmp_path / 'gone.wav'}, which does "
            f"not exist") in proc.stdout, proc.stdout
    assert f"{top / 'a.wav'} (" in proc.stdout  # the rest is still classified
    assert "Traceback" not in proc.stderr


def test_unreadable_folders_are_reported_and_the_rest_classified(tiny_model, clips, tmp_path):
    """A folder that cannot be listed: named (it was "no audio files in this
    folder"), and with -r a subfolder that cannot be listed too (its files
    were left out without a word, exit 0); the rest is classified."""
    good, _, _ = clips
    top, shut = tmp_path / "recordings", tmp_path / "shut"
    (top / "locked").mkdir(parents=True)
    shut.mkdir()
    for folder in (top, top / "locked", shut):
        (folder / "a.wav").write_bytes(good["s16"].read_bytes())
    (top / "locked").chmod(0)
    shut.chmod(0)
    try:
        proc = run_cli("classify", "--model", str(tiny_model), "-r", str(top), str(shut),
                       obey_file_modes=True)
    finally:
        (top / "locked").chmod(0o755)
        shut.chmod(0o755)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert lines == [f"{top / 'a.wav'} (1.00 s): " + lines[0].split(": ", 1)[1],
                     f"{top / 'locked'}: ERROR no permission to read this folder",
                     f"{shut}: ERROR no permission to read this folder"], proc.stdout
    assert "kwsapp: 2 of 3 file(s) could not be read" in proc.stderr


def test_an_empty_file_name_is_not_the_current_folder(tiny_model, clips, tmp_path):
    """``kwsapp classify ""`` (an unset shell variable) classified every
    audio file of the current folder: Path("") is ".". """
    good, _, _ = clips
    (tmp_path / "here.wav").write_bytes(good["s16"].read_bytes())
    proc = subprocess.run([sys.executable, "-m", "kwsapp", "classify", "--model",
                           str(tiny_model), ""], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ": ERROR no such file (an empty name)\n"
    assert "here.wav" not in proc.stdout


def test_a_file_name_that_is_not_utf8_is_classified_and_printed(tiny_model, clips, tmp_path):
    """A name holding bytes that are not UTF-8 (from an old archive): it
    was a UnicodeEncodeError traceback in soundfile that ended the batch,
    and printing it one under a strict stdout (a UTF-8 locale other than
    C.UTF-8: PYTHONIOENCODING here)."""
    good, _, _ = clips
    odd = tmp_path / os.fsdecode(b"caf\xe9.wav")
    odd.write_bytes(good["s16"].read_bytes())
    (tmp_path / "z.wav").write_bytes(good["s16"].read_bytes())
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    proc = subprocess.run([sys.executable, "-m", "kwsapp", "classify", "--model",
                           str(tiny_model), str(tmp_path)], cwd=REPO_ROOT, capture_output=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    heads = [line for line in proc.stdout.splitlines() if not line.startswith(b" ")]
    assert heads[0].startswith(os.fsencode(odd) + b" (1.00 s): ")  # the name's own bytes
    assert heads[1].startswith(os.fsencode(tmp_path / "z.wav") + b" (1.00 s): ")
    js = subprocess.run([sys.executable, "-m", "kwsapp", "classify", "--json", "--model",
                         str(tiny_model), str(odd)], cwd=REPO_ROOT, capture_output=True,
                        env=env, timeout=120)
    assert js.returncode == 0
    assert json.loads(js.stdout)["files"][0]["file"] == str(odd)


def test_a_clip_shorter_than_a_word_is_labelled_with_a_note(bundled_model_dir, data_dir,
                                                            tmp_path):
    """50 ms of a real "yes" still gets a label, and a note that it is far
    shorter than the model's 1.5-s window, so the label may be wrong (text
    and JSON); the whole clip (1 s) gets none."""
    whole = real_clip(data_dir, "yes", 0)
    x = load_audio(whole)
    peak = int(np.argmax(np.abs(x)))
    short = tmp_path / "short.wav"
    sf.write(short, x[peak - 400:peak + 400], 16000)
    proc = run_cli("classify", "--json", str(short), str(whole))
    assert proc.returncode == 0, proc.stderr
    cut, full = json.loads(proc.stdout)["files"]
    assert cut["label"] in LABELS and full["notes"] == []
    (note,) = cut["notes"]
    assert note.startswith("only 50 ms of audio, shorter than the model's 1.50 s window")
    assert "the label may be wrong" in note

    proc = run_cli("classify", str(short))
    assert proc.returncode == 0, proc.stderr
    head, said = proc.stdout.splitlines()[:2]
    assert head.startswith(f"{short} (0.05 s): {cut['label']}")
    assert said == f"  note: {note}"
