"""Issue 15: what a new user found at the command line. Every bad input is
one line naming the path and the problem, exit 2, never a traceback and
never a silently wrong answer; numbers out of range are refused with their
range; output paths are checked before the work; native libraries' noise
stays off stderr unless -vv."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO_ROOT, real_clip, run_cli


def one_error_line(proc, *words: str) -> str:
    """The run failed with exit 2 and one clear line holding ``words``."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    hits = [line for line in lines if all(w in line for w in words)]
    assert hits, (words, proc.stderr[-2000:])
    return hits[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rel")
    rng = np.random.default_rng(0)
    sf.write(d / "s.wav", (0.01 * rng.standard_normal(32000)).astype(np.float32), 16000)
    (d / "notes.txt").write_text("hello\nworld\n")
    (d / "oneline.txt").write_text("just some words\n")
    (d / "empty.csv").write_text("")
    (d / "good.csv").write_text("label,start,end,file\nyes,0.5,1.0,x.wav\n")
    return d


def wav_with_rate(path: Path, rate: int) -> Path:
    """A valid 16-bit WAV whose header then claims ``rate`` Hz."""
    sf.write(path, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", rate * 2)  # byte rate to match
    path.write_bytes(bytes(data))
    return path


# ---------------------------------------------------------------- item 1
def test_explore_out_that_is_a_file_is_one_line(files, data_dir):
    proc = run_cli("explore", str(data_dir), "--out", str(files / "notes.txt"),
                   "--max-clips-per-label", "1", "--no-progress")
    one_error_line(proc, str(files / "notes.txt"), "not a folder")


def test_explore_out_that_cannot_be_made_is_one_line(data_dir):
    proc = run_cli("explore", str(data_dir), "--out", "/proc/nope",
                   "--max-clips-per-label", "1", "--no-progress")
    one_error_line(proc, "/proc/nope", "cannot")


# ------------------------------------------------------------- items 2, 3
@pytest.mark.parametrize("truth, problem", [
    ("s.wav", "not a text"),  # binary
    ("notes.txt", "label,start,end"),  # text without the header
    ("oneline.txt", "label,start,end"),  # one line, no rows: still no header
    ("empty.csv", "empty"),
    ("missing.csv", "cannot read"),
])
def test_evaluate_stream_refuses_a_bad_truth_file(files, truth, problem):
    proc = run_cli("evaluate-stream", str(files / "s.wav"), "--truth", str(files / truth))
    one_error_line(proc, str(files / truth), problem)


def test_truth_reader_reads_a_good_file(files):
    from kwsapp.streaming.scoring import read_truth

    words = read_truth(files / "good.csv")
    assert [(w.label, w.start, w.end, w.file) for w in words] == [("yes", 0.5, 1.0, "x.wav")]



@pytest.fixture(scope="module")
def made_streams(data_dir, tmp_path_factory):
    """A command stream and an other-speech stream (12 s each) as make-stream
    writes them, and a user word's card in a home of their own."""
    d = tmp_path_factory.mktemp("truth")
    for name, extra in (("cmd", ()), ("neg", ("--negatives", str(data_dir / "_unknown_")))):
        proc = run_cli("make-stream", str(data_dir), "--out", str(d / name), "--minutes", "0.2",
                       *extra)
        assert proc.returncode == 0, proc.stderr
    word = d / "home" / "words" / "hey_computer"
    word.mkdir(parents=True)
    (word / "card.json").write_text('{"kind": "user_word", "name": "hey computer"}')
    return d


def test_evaluate_stream_takes_the_truth_files_make_stream_writes(tiny_model, made_streams):
    """Both kinds (command words; other speech labelled unknown with its
    word). A row of a user word's name is refused, saying why: the replay
    runs the model alone, and would count it a missed command."""
    d = made_streams
    assert {row.split(",")[0] for row in (d / "neg.csv").read_text().splitlines()[1:]} == \
        {"unknown"}
    for stem in ("cmd", "neg"):
        proc = run_cli("evaluate-stream", str(d / f"{stem}.wav"), "--truth",
                       str(d / f"{stem}.csv"), "--model", str(tiny_model), "--json",
                       env={"KWSAPP_HOME": str(d / "home")})
        assert proc.returncode == 0, (stem, proc.stderr[-2000:])
    (d / "user.csv").write_text((d / "cmd.csv").read_text() + "hey computer,11.0,11.5,,\n")
    proc = run_cli("evaluate-stream", str(d / "cmd.wav"), "--truth", str(d / "user.csv"),
                   "--model", str(tiny_model), env={"KWSAPP_HOME": str(d / "home")})
    one_error_line(proc, str(d / "user.csv"), "'hey computer' is a user word")


@pytest.mark.parametrize("row, problem", [
    ("yes,500,501", "line 6: word at 500.0-501.0 s is past the stream's end (12.0 s)"),
    ("yes,11.9,12.1", "line 6: word at 11.9-12.1 s is past the stream's end"),
    ("yes,-3,-2", "line 6: word at -3.0 to -2.0 s starts before the stream"),
    ("banana,1,2", "line 6: unknown label 'banana' (labels: silence, unknown, yes,"),
    ("YES,1,2", "line 6: unknown label 'YES'"),
])
def test_evaluate_stream_refuses_truth_rows_that_do_not_fit_the_stream(
        tiny_model, made_streams, row, problem):
    """Scored, such rows were words missed (exit 0); refused, naming the CSV
    and its line (line 6: a blank line before it counts)."""
    lines = (made_streams / "cmd.csv").read_text().splitlines()
    bad = made_streams / "bad.csv"
    bad.write_text("\n".join(lines[:4] + ["", row] + lines[4:]) + "\n")
    proc = run_cli("evaluate-stream", str(made_streams / "cmd.wav"), "--truth", str(bad),
                   "--model", str(tiny_model), env={"KWSAPP_HOME": str(made_streams / "home")})
    one_error_line(proc, str(bad), problem)


def test_evaluate_stream_names_a_stream_cut_short(tiny_model, made_streams, tmp_path):
    """A WAV cut short (a copy stopped midway): said to be truncated. Its
    header was read for the length of what is left, and the truth was
    refused instead: "word at ... is past the stream's end"."""
    whole = (made_streams / "cmd.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[:len(whole) // 2])
    proc = run_cli("evaluate-stream", str(cut), "--truth", str(made_streams / "cmd.csv"),
                   "--model", str(tiny_model), env={"KWSAPP_HOME": str(made_streams / "home")})
    one_error_line(proc, str(cut), "truncated: header says")
    assert "past the stream's end" not in proc.stderr


# ---------------------------------------------------------------- item 4
@pytest.mark.parametrize("rate", [2_000_000_000, 0, 100, 1_000_000])
def test_unsupported_sample_rates_are_refused(tmp_path, rate):
    from kwsapp.audio.io import load_audio
    from kwsapp.errors import AudioFileError

    path = wav_with_rate(tmp_path / f"r{rate}.wav", rate)
    with pytest.raises(AudioFileError, match=f"unsupported sample rate {rate} Hz"):
        load_audio(path)


def test_classify_absurd_rate_is_exit_2_and_the_batch_goes_on(tiny_model, tmp_path):
    bad = wav_with_rate(tmp_path / "ghz.wav", 2_000_000_000)
    zero = wav_with_rate(tmp_path / "zero.wav", 0)
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(16000, np.float32), 16000)
    proc = run_cli("classify", "--model", str(tiny_model), str(bad), str(good), str(zero))
    assert proc.returncode == 2, proc.stderr
    assert "unsupported sample rate 2000000000 Hz" in proc.stdout
    assert "unsupported sample rate 0 Hz" in proc.stdout
    assert f"{good} (1.00 s):" in proc.stdout
    assert "SF_INFO" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- item 7
@pytest.mark.parametrize("args, option", [
    (["evaluate", "DATA", "--per-class", "-3"], "--per-class"),
    (["evaluate", "DATA", "--per-class", "0"], "--per-class"),
    (["listen", "--seconds", "-1"], "--seconds"),
    (["listen", "--seconds", "nan"], "--seconds"),
    (["listen", "--threshold", "1.5"], "--threshold"),
    (["classify", "x.wav", "--threshold", "0"], "--threshold"),
    (["evaluate-stream", "x.wav", "--truth", "t.csv", "--tolerance-ms", "-5"], "--tolerance-ms"),
    (["make-stream", "DATA", "--out", "x", "--minutes", "0"], "--minutes"),
    (["make-stream", "DATA", "--out", "x", "--seed", "-1"], "--seed"),
    (["train", "--data", "D", "--out", "o", "--epochs", "0"], "--epochs"),
    (["train", "--data", "D", "--out", "o", "--batch-size", "0"], "--batch-size"),
    (["train", "--data", "D", "--out", "o", "--aug-copies", "0"], "--aug-copies"),
    (["train", "--data", "D", "--out", "o", "--cpu-devices", "0"], "--cpu-devices"),
    (["export", "A", "--clips", "0"], "--clips"),
    (["explore", "D", "--out", "o", "--max-clips-per-label", "0"], "--max-clips-per-label"),
    (["explore", "D", "--out", "o", "--band-hz", "100", "9000"], "--band-hz"),
])
def test_numbers_out_of_range_are_usage_errors_naming_the_range(args, option, capsys):
    from kwsapp.cli import main

    with pytest.raises(SystemExit) as exit_:  # argparse's usage error
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if option in line and "must be" in line)
    assert any(c in line for c in "[(>"), line


# ---------------------------------------------------------------- item 8
def test_evaluate_checks_its_png_path_before_scoring(tiny_model, data_dir, tmp_path):
    proc = run_cli("evaluate", "--model", str(tiny_model), str(data_dir),
                   "--png", str(tmp_path / "no" / "such" / "cm.png"))
    one_error_line(proc, str(tmp_path / "no" / "such" / "cm.png"), "does not exist")
    assert "accuracy" not in proc.stdout  # nothing was scored


def test_evaluate_checks_an_existing_png_can_be_written_before_scoring(tiny_model, data_dir,
                                                                      tmp_path):
    """A read-only cm.png from an earlier run: refused before the scoring
    run, not after it ("ro.png: cannot write ([Errno 13] ...)")."""
    png = tmp_path / "cm.png"
    png.write_bytes(b"earlier")
    png.chmod(0o444)
    proc = run_cli("evaluate", "--model", str(tiny_model), str(data_dir), "--per-class", "1",
                   "--png", str(png), obey_file_modes=True)
    one_error_line(proc, f"--png {png}: exists and cannot be written (Permission denied)")
    assert "accuracy" not in proc.stdout and png.read_bytes() == b"earlier"


@pytest.mark.parametrize("name", ["cm.txt", "cm"])
def test_evaluate_refuses_a_png_path_not_ending_in_png_before_scoring(name, tiny_model,
                                                                      data_dir, tmp_path):
    proc = run_cli("evaluate", "--model", str(tiny_model), str(data_dir), "--per-class", "1",
                   "--png", str(tmp_path / name))
    one_error_line(proc, f"--png {tmp_path / name}", "must end in .png")
    assert "accuracy" not in proc.stdout  # nothing was scored
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("args", [
    ["make-stream", "DATA", "--out", "{tmp}/no/such/stream"],
    ["train", "--data", "DATA", "--out", "{tmp}/afile/out"],
])
def test_other_outputs_are_checked_first(args, data_dir, tmp_path):
    (tmp_path / "afile").write_text("x")
    args = [a.replace("DATA", str(data_dir)).replace("{tmp}", str(tmp_path)) for a in args]
    proc = run_cli(*args)
    one_error_line(proc, "--out", str(tmp_path))


# ---------------------------------------------------------------- item 9
def test_no_litert_info_line_unless_vv(tiny_model, files):
    proc = run_cli("classify", "--model", str(tiny_model), str(files / "s.wav"))
    assert proc.returncode == 0, proc.stderr
    assert "XNNPACK" not in proc.stderr and proc.stderr.strip() == ""
    proc = run_cli("-vv", "classify", "--model", str(tiny_model), str(files / "s.wav"))
    assert "XNNPACK" in proc.stderr


def test_tensorflow_noise_hidden_unless_vv():
    """What TensorFlow prints as it starts in `train` and `export` (oneDNN,
    CUDA drivers, cuInit errors) is hidden without -vv (with -vv nothing is
    filtered: the LiteRT test above checks that side)."""
    pytest.importorskip("tensorflow")
    import subprocess
    import sys

    from conftest import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys; from kwsapp.cli import quiet_native_libraries as q; q(0); "
         "import tensorflow as tf; tf.config.list_physical_devices('GPU'); "
         "print('kept', file=sys.stderr); print('ok')"],
        cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
    assert proc.stderr.strip() == "kept", proc.stderr[-2000:]  # ours passes, theirs not


# --------------------------------------------------------------- item 10
def test_no_device_says_what_devices_says(tiny_model):
    env = {"JACK_DEFAULT_SERVER": "kwsapp-no-such-server", "JACK_NO_START_SERVER": "1"}
    devices = run_cli("devices", env=env)
    if devices.returncode == 0:
        pytest.skip("PortAudio finds an input device here even without JACK")
    listen = run_cli("listen", "--model", str(tiny_model), "--seconds", "1", env=env)
    line = one_error_line(listen, "no audio input device found")
    assert "Error querying device" not in listen.stderr, line


def test_evaluate_table_headers_are_whole(tiny_model, data_dir):
    proc = run_cli("evaluate", "--model", str(tiny_model), str(data_dir), "--per-class", "1")
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "yes" in line and "no" in line
                  and "stop" in line)
    for label in ("silence", "unknown", "right"):
        assert label in header.split(), header


# --------------------------------------------------------------- item 11
def corrupt_flac(path: Path) -> Path:
    """A FLAC whose frames are damaged in the middle: libFLAC "lost sync",
    as in several recordings of the wake-word benchmark's source."""
    rng = np.random.default_rng(1)
    x = (0.3 * np.sin(np.arange(48000) * 0.05) + 0.05 * rng.standard_normal(48000))
    sf.write(path, x.astype(np.float32), 16000, format="FLAC")
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 2000] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def test_corrupt_flac_is_one_clear_line(tiny_model, tmp_path):
    """Said once: the engine that replays a file (3 s: longer than a clip)
    logged it too, so the same error was on stderr beside the row (text),
    twice (--json) and twice in evaluate-stream."""
    bad = corrupt_flac(tmp_path / "bad.flac")
    proc = run_cli("classify", "--model", str(tiny_model), str(bad))
    assert proc.returncode == 2
    assert f"{bad}: ERROR corrupt FLAC data" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
    assert "corrupt" not in proc.stderr, proc.stderr  # the row says it
    js = run_cli("classify", "--json", "--model", str(tiny_model), str(bad))
    assert js.returncode == 2 and js.stderr.count("corrupt FLAC data") == 1, js.stderr
    truth = tmp_path / "bad.csv"
    truth.write_text("label,start,end\nyes,0.5,1.0\n")
    stream = run_cli("evaluate-stream", str(bad), "--truth", str(truth), "--model",
                     str(tiny_model))
    assert stream.returncode == 2 and stream.stderr.count("corrupt FLAC data") == 1, \
        stream.stderr


def test_training_data_skips_corrupt_files_with_a_count(tmp_path, data_dir, caplog):
    from training import data

    clips = data.split_clips(data_dir)["validation"][:3]
    broken = data.Clip(corrupt_flac(tmp_path / "bad.flac"), clips[0].label, "x", "x")
    with caplog.at_level("WARNING"):
        audio, kept = data.load_clips([*clips, broken], cache=tmp_path / "cache")
    assert len(kept) == len(audio) == 3 and broken not in kept
    assert "skipped 1 of 4 clips" in caplog.text, caplog.text


def test_a_corrupt_cache_file_is_decoded_again(tmp_path, data_dir):
    from training import data

    clips = data.split_clips(data_dir)["validation"][:3]
    first, _ = data.load_clips(clips, cache=tmp_path)
    first = np.array(first)
    for cached in tmp_path.glob("audio-*.npy"):
        cached.write_bytes(b"garbage" * 10)
    again, kept = data.load_clips(clips, cache=tmp_path)
    assert len(kept) == 3 and np.array_equal(np.array(again), first)


def test_evaluate_skips_a_corrupt_file_with_a_count(tiny_model, data_dir, tmp_path):
    (tmp_path / "yes").mkdir()
    for src in sorted((data_dir / "yes").glob("*.wav"))[:2]:
        (tmp_path / "yes" / src.name).symlink_to(src)
    bad = tmp_path / "yes" / "zz_corrupt.wav"
    sf.write(bad, np.zeros(16000, np.float32), 16000)
    bad.write_bytes(bad.read_bytes()[:3000])  # cut off: truncated
    proc = run_cli("evaluate", "--model", str(tiny_model), str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "accuracy" in proc.stdout and "on 2 clips" in proc.stdout
    assert "1 of 3 file(s) could not be read (skipped)" in proc.stderr, proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("classify",), ("classify", "--json"),
                                  ("evaluate", "--per-class", "1")])
def test_output_on_a_full_disk_is_one_line(tiny_model, data_dir, args):
    """stdout redirected to a full disk (``> out.txt``): one line saying so,
    exit 1 (an OSError traceback); nothing else on stderr."""
    target = real_clip(data_dir, "yes", 0) if args[0] == "classify" else data_dir
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "kwsapp", *args, "--model",
                               str(tiny_model), str(target)], cwd=REPO_ROOT, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == "kwsapp: OSError: No space left on device\n", proc.stderr
