"""`kwsapp evaluate`: JSON metrics on a Speech-Commands layout folder."""

import json
import os

import numpy as np
import pytest

from conftest import run_cli
from kwsapp import LABELS
from kwsapp.inference.metrics import metrics


def test_metrics_by_hand():
    m = metrics(["yes", "yes", "no", "stop"], ["yes", "no", "no", "yes"], LABELS)
    assert m["n"] == 4 and m["accuracy"] == 0.5
    assert m["per_class"]["yes"] == {"precision": 0.5, "recall": 0.5, "n": 2}
    assert m["per_class"]["no"] == {"precision": 0.5, "recall": 1.0, "n": 1}
    assert m["per_class"]["stop"] == {"precision": 0.0, "recall": 0.0, "n": 1}
    matrix = np.array(m["confusion"]["matrix"])
    assert matrix.sum() == 4 and matrix[LABELS.index("yes"), LABELS.index("no")] == 1


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, data_dir):
    """Links to 3 clips of each folder (the real layout, incl. _silence_,
    _unknown_ and a raw word folder that maps to unknown), plus a bad file."""
    d = tmp_path_factory.mktemp("eval")
    for folder in ("yes", "stop", "_silence_", "_unknown_", "_background_noise_"):
        (d / folder).mkdir()
        for f in sorted((data_dir / folder).glob("*.wav"))[-3:]:
            os.symlink(f, d / folder / f.name)
    (d / "bed").mkdir()
    os.symlink(sorted((data_dir / "_unknown_").glob("*.wav"))[0], d / "bed" / "x.wav")
    return d


def test_evaluate_json(tiny_model, small_set, tmp_path):
    # --png draws with matplotlib (the explore/train extra); the runtime-only
    # install scores without it.
    try:
        import matplotlib  # noqa: F401
        draw = True
    except ImportError:
        draw = False
    png = tmp_path / "cm.png"
    proc = run_cli("evaluate", "--json", "--model", str(tiny_model), str(small_set),
                   *(["--png", str(png)] if draw else []))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 13  # background noise skipped, "bed" counted as unknown
    assert 0.0 <= out["accuracy"] <= 1.0
    assert out["per_class"]["unknown"]["n"] == 4 and out["per_class"]["silence"]["n"] == 3
    matrix = np.array(out["confusion"]["matrix"])
    assert out["confusion"]["labels"] == list(LABELS) and matrix.sum() == 13
    assert out["accuracy"] == pytest.approx(np.trace(matrix) / 13, abs=1e-4)
    if draw:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_bad_inputs(tiny_model, small_set, tmp_path):
    proc = run_cli("evaluate", "--model", str(tiny_model), str(tmp_path / "nope"))
    assert proc.returncode == 2 and "not a folder" in proc.stderr
    bad = small_set / "yes" / "broken.wav"
    bad.write_text("not audio")
    try:
        proc = run_cli("evaluate", "--json", "--model", str(tiny_model), str(small_set))
    finally:
        bad.unlink()
    assert proc.returncode == 2
    out = json.loads(proc.stdout)
    assert out["n"] == 13 and out["errors"][0]["file"] == str(bad)


def test_evaluate_reads_the_audio_suffixes_classify_reads(tiny_model, data_dir, tmp_path):
    """.WAV, .flac and .ogg clips count as classify reads them, not only *.wav."""
    import soundfile as sf

    from kwsapp.audio.io import load_audio

    d = tmp_path / "ev3"
    (d / "yes").mkdir(parents=True)
    (d / "stop").mkdir()
    yes = sorted((data_dir / "yes").glob("*.wav"))
    stop = sorted((data_dir / "stop").glob("*.wav"))
    for src, dest in ((yes[0], d / "yes" / "a.wav"), (yes[1], d / "yes" / "A.WAV"),
                      (stop[0], d / "stop" / "s.wav"), (stop[1], d / "stop" / "x.flac"),
                      (stop[2], d / "stop" / "y.ogg")):
        sf.write(dest, load_audio(src), 16000, format=dest.suffix[1:].upper())
    (d / "stop" / "notes.txt").write_text("not a clip")
    proc = run_cli("evaluate", "--json", "--model", str(tiny_model), str(d))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 5 and out["errors"] == []
    assert out["per_class"]["yes"]["n"] == 2 and out["per_class"]["stop"]["n"] == 3


def test_an_unreadable_label_folder_is_an_error_not_left_out(tiny_model, data_dir, tmp_path):
    """A label folder that cannot be listed: its clips were left out without
    a word (exit 0); a DATA_DIR that cannot be listed was a traceback."""
    d = tmp_path / "set"
    for folder in ("yes", "stop"):
        (d / folder).mkdir(parents=True)
        for f in sorted((data_dir / folder).glob("*.wav"))[:2]:
            (d / folder / f.name).write_bytes(f.read_bytes())
    (d / "stop").chmod(0)
    try:
        proc = run_cli("evaluate", "--json", "--model", str(tiny_model), str(d),
                       obey_file_modes=True)
        d.chmod(0)
        shut = run_cli("evaluate", "--model", str(tiny_model), str(d), obey_file_modes=True)
    finally:
        d.chmod(0o755)
        (d / "stop").chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 2 and out["per_class"]["yes"]["n"] == 2
    assert out["errors"] == [{"file": str(d / "stop"),
                              "error": "no permission to read this folder"}]
    assert "kwsapp: 1 folder(s) could not be read (skipped)" in proc.stderr, proc.stderr
    assert shut.returncode == 2 and "Traceback" not in shut.stderr
    assert f"kwsapp: BadInputError: {d}: no permission to read this folder" in shut.stderr
