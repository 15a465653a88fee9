"""`kwsapp make-stream`: deterministic, held-out speakers only, truth in place."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kwsapp.streaming.scoring import read_truth
from kwsapp.speakers import speaker_of, which_set
from kwsapp.streaming.synth import SPEECH_RMS, StreamSpec, list_clips, make_stream


def make(repo_root, data_dir, out, *extra):
    return subprocess.run([sys.executable, "-m", "kwsapp", "make-stream", str(data_dir),
                           "--out", str(out), "--minutes", "0.5", *extra],
                          cwd=repo_root, capture_output=True, text=True, timeout=60)


def test_same_seed_same_bytes(repo_root, data_dir, tmp_path):
    for name in ("a", "b"):
        r = make(repo_root, data_dir, tmp_path / name, "--seed", "7", "--snr-db", "5")
        assert r.returncode == 0, r.stderr
    for ext in (".wav", ".csv"):
        assert (tmp_path / f"a{ext}").read_bytes() == (tmp_path / f"b{ext}").read_bytes()
    r = make(repo_root, data_dir, tmp_path / "c", "--seed", "8", "--snr-db", "5")
    assert (tmp_path / "c.wav").read_bytes() != (tmp_path / "a.wav").read_bytes()


def test_never_training_speakers(data_dir):
    audio, truth = make_stream(data_dir, StreamSpec(minutes=2.0, seed=1))
    assert len(truth) > 20
    assert {which_set(w.file) for w in truth} == {"validation"}
    commands, unknowns = list_clips(data_dir, ("validation",))
    used = {speaker_of(w.file) for w in truth}
    train = {speaker_of(p.name) for p in data_dir.glob("*/*_nohash_*.wav")
             if which_set(p.name) == "train"}
    assert used and not used & train


def test_split_agrees_with_training_package(data_dir):
    """The runtime restates the split rule; it must be the trainer's split."""
    data = pytest.importorskip("training.data", reason="training package not importable")
    if not hasattr(data, "split_clips"):
        pytest.skip("training.data has no split_clips yet")
    theirs = {c.path.name: split for split, clips in data.split_clips(data_dir).items()
              for c in clips if c.speaker}
    assert theirs
    assert {name: which_set(name) for name in theirs} == theirs


def test_no_commands_stream_and_truth_places(data_dir):
    audio, truth = make_stream(data_dir, StreamSpec(minutes=1.0, seed=2, commands=False,
                                                    snr_db=None))
    assert truth and {w.label for w in truth} == {"unknown"}
    # Without noise, the signal is silent outside the padded words and
    # carries the words' speech level inside them.
    inside = np.zeros(len(audio), bool)
    for w in truth:
        inside[int((w.start - 0.1) * 16000):int((w.end + 0.1) * 16000)] = True
        seg = audio[int(w.start * 16000):int(w.end * 16000)]
        assert np.sqrt(np.mean(seg ** 2)) == pytest.approx(SPEECH_RMS, rel=0.05)
    assert np.all(audio[~inside] == 0.0)


def test_repeats_and_snr(repo_root, data_dir, tmp_path):
    r = make(repo_root, data_dir, tmp_path / "s", "--minutes", "3", "--seed", "4")
    assert r.returncode == 0, r.stderr
    truth = read_truth(tmp_path / "s.csv")
    audio, rate = sf.read(tmp_path / "s.wav", dtype="float32")
    assert rate == 16000 and len(audio) == 180 * 16000
    onsets = [(a.start, b.start) for a, b in zip(truth, truth[1:])
              if a.label == b.label and a.file == b.file and a.label != "unknown"]
    assert onsets and all(b - a == pytest.approx(1.5, abs=0.002) for a, b in onsets)
    # Noise in the pauses at about SPEECH_RMS / 10 dB.
    gaps = np.ones(len(audio), bool)
    for w in truth:
        gaps[int((w.start - 0.2) * 16000):int((w.end + 0.2) * 16000)] = False
    noise_rms = float(np.sqrt(np.mean(audio[gaps] ** 2)))
    assert 20 * np.log10(SPEECH_RMS / noise_rms) == pytest.approx(10.0, abs=1.0)


def test_refuses_training_speakers(repo_root, data_dir, tmp_path):
    r = make(repo_root, data_dir, tmp_path / "x", "--speakers", "training")
    assert r.returncode == 2 and "never go in a test stream" in r.stderr


def test_bad_inputs_exit_2(repo_root, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "kwsapp", *args], cwd=repo_root,
                              capture_output=True, text=True, timeout=60)

    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("make-stream", str(empty), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "no command clips" in r.stderr
    r = cli("make-stream", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "no such folder" in r.stderr
    r = cli("evaluate-stream", str(tmp_path / "x.wav"), "--truth", str(tmp_path / "none.csv"))
    assert r.returncode == 2 and "none.csv" in r.stderr


def test_unreadable_folders_are_one_line(repo_root, data_dir, tmp_path):
    """DATA_DIR, a command folder or a --negatives folder that cannot be
    listed: one line naming it, exit 2, nothing written (a PermissionError
    traceback, or a stream silently made without that command)."""
    from conftest import without_root_file_access

    root = tmp_path / "data"
    for folder in ("yes", "stop", "_background_noise_"):
        root.joinpath(folder).mkdir(parents=True)
        for f in sorted((data_dir / folder).glob("*.wav"))[:40]:
            (root / folder / f.name).write_bytes(f.read_bytes())
    (root / "_unknown_").mkdir()

    def make_(locked, *extra):
        locked.chmod(0)
        try:
            return subprocess.run([*without_root_file_access(), sys.executable, "-m", "kwsapp",
                                   "make-stream", str(root), "--out", str(tmp_path / "s"),
                                   "--minutes", "0.2", "--speakers", "validation,test",
                                   *extra], cwd=repo_root, capture_output=True, text=True,
                                  timeout=60)
        finally:
            locked.chmod(0o755)

    for locked, extra in ((root, ()), (root / "stop", ()),
                          (root / "_unknown_", ("--negatives", str(root / "_unknown_")))):
        r = make_(locked, *extra)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert f"BadInputError: {locked}: no permission to read this folder" in r.stderr
        assert not (tmp_path / "s.wav").exists()


def test_out_is_checked_before_the_work_and_never_replaces_other_files(repo_root, data_dir,
                                                                       tmp_path):
    """NAME.csv a folder was a traceback once the stream was made (NAME.wav
    written); a NAME.wav of the user's (no truth CSV beside it) or a NAME.csv
    that is not a truth file was overwritten. An earlier stream is replaced."""
    (tmp_path / "s.csv").mkdir()
    r = make(repo_root, data_dir, tmp_path / "s")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"--out {tmp_path / 's.csv'}: is a folder, not a file" in r.stderr
    assert not (tmp_path / "s.wav").exists()

    mine = tmp_path / "talk.wav"
    sf.write(mine, np.zeros(1600, np.float32), 16000)
    before = mine.read_bytes()
    r = make(repo_root, data_dir, tmp_path / "talk")
    assert r.returncode == 2
    assert f"--out: {mine} exists without a truth CSV beside it (talk.csv)" in r.stderr
    assert mine.read_bytes() == before and not (tmp_path / "talk.csv").exists()
    (tmp_path / "notes.csv").write_text("my notes\n")
    r = make(repo_root, data_dir, tmp_path / "notes")
    assert r.returncode == 2 and "notes.csv exists and is not a truth CSV" in r.stderr
    assert (tmp_path / "notes.csv").read_text() == "my notes\n"

    for seed in ("1", "2"):  # an earlier stream of that name is replaced
        r = make(repo_root, data_dir, tmp_path / "again.wav", "--seed", seed)
        assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.glob("again*")) == ["again.csv", "again.wav"]


@pytest.mark.parametrize("gaps", [("0", "0"), ("0.05", "0.05"), ("0", "0.01")])
def test_pauses_shorter_than_a_clips_lead_in(repo_root, data_dir, tmp_path, gaps):
    """``--gaps 0 0`` is legal: the first word, whose pause is shorter than
    its clip's faded lead-in, starts at the stream's start, not before it
    (a traceback once); no two words overlap and all lie inside the audio."""
    # Seed 0 (the default): its first clip has a lead-in before its speech.
    r = make(repo_root, data_dir, tmp_path / "s", "--gaps", *gaps)
    assert r.returncode == 0, r.stderr
    truth = read_truth(tmp_path / "s.csv")
    audio, rate = sf.read(tmp_path / "s.wav", dtype="float32")
    assert len(truth) > 20
    assert 0.0 <= truth[0].start and truth[-1].end <= len(audio) / rate
    assert all(w.start < w.end for w in truth)
    assert all(b.start >= a.end for a, b in zip(truth, truth[1:]))


def test_no_noise_is_said_and_excludes_an_snr(repo_root, data_dir, tmp_path):
    """``--no-noise`` says "no noise" (it said "SNR None dB"); with
    ``--snr-db`` too, one of them would be ignored: a usage error."""
    r = make(repo_root, data_dir, tmp_path / "s", "--minutes", "0.2", "--no-noise")
    assert r.returncode == 0, r.stderr
    assert "no noise;" in r.stdout and "None" not in r.stdout
    r = make(repo_root, data_dir, tmp_path / "s", "--snr-db", "5", "--no-noise")
    assert r.returncode == 2 and "--no-noise: not allowed with argument --snr-db" in r.stderr
