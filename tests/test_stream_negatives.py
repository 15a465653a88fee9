"""`kwsapp make-stream --negatives`: dense other-speech streams from folders
of recordings of any length and format (issue 11). Properties: no overlap,
the pauses asked for, every word at the speech level, the noise at the SNR,
a truth file naming each word's source file and word."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kwsapp import COMMAND_LABELS
from kwsapp.audio.io import load_audio
from kwsapp.errors import BadInputError
from kwsapp.speakers import which_set
from kwsapp.streaming.scoring import read_truth
from kwsapp.streaming.synth import PAD_MS, SPEECH_RMS, StreamSpec, list_negatives, \
    load_negative, make_stream, speech_runs, word_of

SR = 16000


@pytest.fixture(scope="module")
def wake_words(data_dir) -> Path:
    path = data_dir.parent / "wake_words"
    if not (path / "alexa").is_dir():
        pytest.skip(f"real other-speech recordings not found at {path}")
    return path


def make(repo_root, data_dir, out, *extra):
    return subprocess.run([sys.executable, "-m", "kwsapp", "make-stream", str(data_dir),
                           "--out", str(out), *extra],
                          cwd=repo_root, capture_output=True, text=True, timeout=120)


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12)


@pytest.mark.parametrize("path,word", [
    ("_unknown_/backward_0c540988_nohash_0.wav", "backward"),
    ("speech_commands_extra/dog/23add12a_nohash_0.wav", "dog"),
    ("wake_words/smart_mirror/7.flac", "smart mirror"),
    ("tv/News/part1.ogg", "news"),
])
def test_word_of(path, word):
    assert word_of(path) == word


def test_list_leaves_out_commands_training_speakers_and_noise(data_dir, wake_words, tmp_path):
    extra = data_dir.parent / "speech_commands_extra"
    dirs = tuple(str(d) for d in (wake_words, data_dir) + ((extra,) if extra.is_dir() else ()))
    files = list_negatives(dirs, ("validation",))
    words = {word_of(p) for p, _ in files}
    assert {"alexa", "snowboy", "smart mirror"} <= words
    assert not words & set(COMMAND_LABELS) and not words & {"silence", "background noise"}
    assert all(which_set(p.name) == "validation" for p, _ in files if "_nohash_" in p.name)
    assert sum("_nohash_" in p.name for p, _ in files) > 10  # subset's _unknown_ kept
    assert all(not n.startswith("/") and Path(n).parts[0] in {d.name for d in map(Path, dirs)}
               for _, n in files)
    with pytest.raises(BadInputError, match="no such folder"):
        list_negatives((str(tmp_path / "nope"),), ("validation",))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no other-speech recordings"):
        list_negatives((str(tmp_path / "empty"),), ("validation",))


def test_list_only_the_words_asked_for(data_dir, wake_words, tmp_path, repo_root):
    """``--words``: a model's held-out words alone, from folders holding
    others (the subset's ``_unknown_`` names its word in the file name)."""
    dirs = (str(wake_words), str(data_dir / "_unknown_"))
    every = {word_of(p) for p, _ in list_negatives(dirs, ("validation",))}
    files = list_negatives(dirs, ("validation",), ("smart mirror", "happy", "six"))
    assert {word_of(p) for p, _ in files} == {"smart mirror", "happy", "six"} < every
    with pytest.raises(BadInputError, match="no recording of hapy"):
        list_negatives(dirs, ("validation",), ("happy", "hapy"))
    r = make(repo_root, data_dir, tmp_path / "s", "--words", "happy")
    assert r.returncode != 0 and "--words: only with --negatives" in r.stderr
    r = make(repo_root, data_dir, tmp_path / "s", "--negatives", *dirs, "--words", "smart_mirror",
             "six", "--minutes", "0.3", "--no-noise", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert set(summary["words"]) <= {"smart mirror", "six"} and summary["unknown"] > 5
    assert summary["only_words"] == ["smart mirror", "six"]


def test_a_long_recording_is_cut_into_its_utterances(wake_words, tmp_path):
    """Four real recordings' speech with 1 s pauses in one 12 s WAV: four
    utterances, each found where its speech was put."""
    parts, places, t = [np.zeros(SR, np.float32)], [], SR
    for word in ("alexa", "snowboy", "smart_mirror", "alexa"):
        (clip,) = load_negative(sorted((wake_words / word).glob("*.flac"))[3], "x")
        speech = clip.audio[clip.speech_start:clip.speech_end]
        parts += [speech, np.zeros(SR, np.float32)]
        places.append((t, t + len(speech)))
        t += len(speech) + SR
    audio = np.concatenate(parts + [np.zeros(4 * SR, np.float32)])
    runs = speech_runs(audio)
    assert len(runs) == len(places)
    for (a, b), (start, end) in zip(places, runs):
        # Inside its place (frame rounding aside), and most of it: a word's
        # soft tail may fall under the VAD's threshold.
        assert a - 160 <= start < end <= b + 160
        assert end - start > 0.5 * (b - a)
    long = tmp_path / "talk" / "long.wav"
    long.parent.mkdir()
    sf.write(long, audio, SR)
    clips = load_negative(long, "talk/long.wav")
    assert [(c.word, c.file, c.label) for c in clips] == [("talk", "talk/long.wav", "unknown")] * 4
    assert [c.speech_end - c.speech_start for c in clips] == [b - a for a, b in runs]


def test_make_stream_negatives_properties(repo_root, data_dir, wake_words, tmp_path):
    out = tmp_path / "ww"
    r = make(repo_root, data_dir, out, "--negatives", str(wake_words), "--minutes", "1.5",
             "--no-noise", "--seed", "4", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    truth = read_truth(out.with_suffix(".csv"))
    audio = load_audio(out.with_suffix(".wav"))
    assert summary["commands"] == 0 and summary["unknown"] == len(truth) > 30
    assert set(summary["words"]) == {"alexa", "snowboy", "smart mirror"}
    # Truth: every row names an existing recording and the word it says.
    for w in truth:
        assert w.label == "unknown"
        assert (wake_words.parent / w.file).is_file(), w.file
        assert w.word == word_of(w.file) == Path(w.file).parent.name.replace("_", " ")
    # Dense and never overlapping: speech-to-speech pauses of 0.2-1.5 s
    # plus the padding around each cut.
    pad = PAD_MS / 1000
    gaps = np.array([b.start - a.end for a, b in zip(truth, truth[1:])])
    assert gaps.min() >= 0.2 + 2 * pad - 0.002 and gaps.max() <= 1.5 + 2 * pad + 0.25
    assert truth[-1].end <= len(audio) / SR
    # Every word's speech at the speech level; silence between words.
    levels = [rms_db(audio[int(w.start * SR):int(w.end * SR)]) for w in truth]
    assert np.median(levels) == pytest.approx(20 * np.log10(SPEECH_RMS), abs=0.5)
    assert min(levels) > 20 * np.log10(SPEECH_RMS) - 3
    between = np.ones(len(audio), bool)
    for w in truth:
        between[max(0, int((w.start - pad) * SR) - 1):int((w.end + pad) * SR) + 1] = False
    assert np.abs(audio[between]).max() < 1e-3


def test_negatives_over_noise_at_the_snr_and_seeded(data_dir, wake_words):
    spec = StreamSpec(minutes=1.0, seed=9, snr_db=5.0, negatives=(str(wake_words),),
                      gap_s=(0.2, 1.5))
    audio, truth = make_stream(data_dir, spec)
    # The same words without noise; the mix may have been scaled down as a
    # whole to avoid clipping (k), so the noise is audio / k - words.
    quiet, quiet_truth = make_stream(data_dir, StreamSpec(**{**spec.__dict__, "snr_db": None}))
    assert quiet_truth == truth
    k = float(np.dot(audio, quiet) / np.dot(quiet, quiet))
    assert 0.3 < k <= 1.0 + 1e-3
    noise = audio / k - quiet
    # The noise bed is SNR dB under the speech level (its recordings have
    # unit RMS as a whole; the stretches cut from them vary by about a dB).
    assert rms_db(noise) == pytest.approx(20 * np.log10(SPEECH_RMS) - 5.0, abs=1.5)
    again, truth2 = make_stream(data_dir, spec)
    assert np.array_equal(audio, again) and truth == truth2


def test_a_corrupt_recording_is_skipped(data_dir, wake_words, tmp_path):
    folder = tmp_path / "other" / "hello"
    folder.mkdir(parents=True)
    for f in sorted((wake_words / "snowboy").glob("*.flac"))[:3]:
        shutil.copy(f, folder / f.name)
    (folder / "broken.flac").write_bytes(b"fLaC" + bytes(100))
    skipped = []
    audio, truth = make_stream(data_dir, StreamSpec(minutes=0.5, seed=1, snr_db=None,
                                                    negatives=(str(tmp_path / "other"),),
                                                    gap_s=(0.2, 1.5)), skipped.append)
    assert truth and {w.word for w in truth} == {"hello"}
    assert "other/hello/broken.flac" not in {w.file for w in truth}
    assert [e.path for e in skipped] == [str(folder / "broken.flac")]


def test_unreadable_recordings_are_named_and_exit_2(repo_root, data_dir, wake_words, tmp_path):
    """One unreadable file among good ones: the stream is still written from
    the good ones, the file named, a count at the end, exit 2 (as classify
    and evaluate do; it was exit 0). None readable: said so, not "no
    recording holds speech"."""
    folder = tmp_path / "other" / "hello"
    folder.mkdir(parents=True)
    for f in sorted((wake_words / "snowboy").glob("*.flac"))[:3]:
        shutil.copy(f, folder / f.name)
    (folder / "text.wav").write_text("not audio at all\n")
    r = make(repo_root, data_dir, tmp_path / "s", "--negatives", str(tmp_path / "other"),
             "--minutes", "0.3", "--json")
    assert r.returncode == 2, r.stderr
    assert f"{folder / 'text.wav'}: not a readable audio file" in r.stderr
    assert "1 file(s) could not be read (skipped)" in r.stderr.splitlines()[-1]
    summary = json.loads(r.stdout)
    assert summary["unreadable"] == [str(folder / "text.wav")] and summary["unknown"] > 3
    assert {w.file for w in read_truth(tmp_path / "s.csv")} == {
        f"other/hello/{f.name}" for f in folder.glob("*.flac")}
    for f in folder.glob("*.flac"):
        f.write_bytes(b"fLaC" + bytes(100))
    r = make(repo_root, data_dir, tmp_path / "s", "--negatives", str(tmp_path / "other"),
             "--minutes", "0.3")
    assert r.returncode == 2
    assert "none of the 4 recording(s) could be read" in r.stderr.splitlines()[-1]
    assert "holds speech" not in r.stderr


def test_an_unreadable_recording_the_seed_never_drew_is_named_too(data_dir, wake_words,
                                                                  tmp_path):
    """A stream too short to draw every file still names a broken one: it
    was said only when the seed happened to draw it."""
    folder = tmp_path / "other" / "hello"
    folder.mkdir(parents=True)
    for f in sorted((wake_words / "snowboy").glob("*.flac"))[:40]:
        shutil.copy(f, folder / f.name)
    for k in range(5):
        (folder / f"zz-broken{k}.wav").write_text("not audio at all\n")
    skipped = []
    audio, truth = make_stream(data_dir, StreamSpec(minutes=0.05, seed=1, snr_db=None,
                                                    negatives=(str(tmp_path / "other"),),
                                                    gap_s=(0.2, 1.5)), skipped.append)
    assert truth and len({w.file for w in truth}) < 10  # most files never drawn
    assert sorted(e.path for e in skipped) == [str(folder / f"zz-broken{k}.wav")
                                               for k in range(5)]


def test_bad_negatives_exit_2(repo_root, data_dir, tmp_path):
    r = make(repo_root, data_dir, tmp_path / "x", "--negatives", str(tmp_path / "nope"))
    assert r.returncode == 2 and "nope: no such folder" in r.stderr
    r = make(repo_root, data_dir, tmp_path / "x", "--negatives", str(tmp_path),
             "--gaps", "2", "1")
    assert r.returncode == 2 and "--gaps" in r.stderr
