"""Issue 15's battery: odd-but-valid audio files are all classified; invalid
ones each give one line naming the file and the problem, exit 2, and the
rest of the batch is still classified. Every file is generated here
(soundfile/numpy), none is committed."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO_ROOT, real_clip, run_cli, without_root_file_access
from kwsapp.audio.io import load_audio, resample


def _word(data_dir: Path) -> np.ndarray:
    return load_audio(real_clip(data_dir, "yes", 2))


@pytest.fixture(scope="module")
def valid(tmp_path_factory, data_dir) -> dict[str, Path]:
    """name -> file: one real word in every odd-but-valid shape."""
    d = tmp_path_factory.mktemp("valid")
    x = _word(data_dir)
    files: dict[str, Path] = {}

    def put(name: str, audio: np.ndarray, rate: int = 16000, **kw) -> None:
        files[name] = d / name
        sf.write(files[name], audio, rate, **kw)

    for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"):
        put(f"w_{subtype.lower()}.wav", x, subtype=subtype)
    put("extensible_24.wav", np.stack([x, x], 1), format="WAVEX", subtype="PCM_24")
    for rate in (8000, 11025, 22050, 32000, 44100, 48000, 96000):
        put(f"rate_{rate}.wav", resample(x, 16000, rate), rate)
    for ch in range(2, 7):
        put(f"ch_{ch}.wav", np.stack([x * (1 - 0.1 * c) for c in range(ch)], 1),
            format="WAVEX" if ch > 2 else "WAV")
    put("ms_10.wav", x[8000:8160])
    put("ms_1.wav", x[8000:8016])
    rng = np.random.default_rng(0)
    long = (0.003 * rng.standard_normal(10 * 60 * 16000)).astype(np.float32)
    long[5 * 60 * 16000:5 * 60 * 16000 + len(x)] += x
    put("min_10.flac", long, format="FLAC")  # 10 min (FLAC keeps the file small)
    put("dc_offset.wav", np.clip(x + 0.4, -1, 1))
    put("clipped.wav", np.clip(x * 20, -1, 1))
    put("silence.wav", np.zeros(16000, np.float32))
    put("digital_full_scale.wav", np.sign(np.sin(np.arange(16000) * 0.2)).astype(np.float32))
    put("clip.flac", x, format="FLAC")
    put("clip.ogg", x, format="OGG")
    put("clip_24.flac", x, format="FLAC", subtype="PCM_24")
    return files


def bad_files(d: Path, good_wav: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words the one-line error must hold)."""
    rng = np.random.default_rng(1)
    wav = good_wav.read_bytes()
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes, problem: str) -> None:
        (d / name).write_bytes(data)
        out[name] = (d / name, problem)

    put("zero_bytes.wav", b"", "empty")
    put("header_only.wav", wav[:44], "truncated")
    put("truncated.wav", wav[:len(wav) // 3], "truncated")
    put("random.wav", rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "not a readable")
    put("text.wav", b"this is not audio\n" * 40, "not a readable")
    put("image.wav", b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        "not a readable")
    mp3 = d / "tmp.mp3"
    sf.write(mp3, load_audio(good_wav), 16000, format="MP3")
    put("mp3_renamed.wav", mp3.read_bytes(), "holds MP3")
    mp3.unlink()
    for name, rate in (("rate_2ghz.wav", 2_000_000_000), ("rate_zero.wav", 0),
                       ("rate_1hz.wav", 1)):
        data = bytearray(wav)
        data[24:28] = struct.pack("<I", rate)
        put(name, bytes(data), f"unsupported sample rate {rate} Hz")
    (d / "folder.wav").mkdir()
    out["folder.wav"] = (d / "folder.wav", "folder")
    out["missing.wav"] = (d / "missing.wav", "no such file")
    # An Ogg stream states no length: cut short, it was classified as a
    # shorter file without a word (cut inside a page: "holds no audio
    # samples" for a clip).
    ogg = d / "tmp.ogg"
    sf.write(ogg, (0.1 * rng.standard_normal(5 * 16000)).astype(np.float32), 16000,
             format="OGG")
    data = ogg.read_bytes()
    ogg.unlink()
    put("ogg_cut.ogg", data[:len(data) // 2], "truncated: its last Ogg page is cut off")
    last = data.rfind(b"OggS")
    put("ogg_cut_at_a_page.ogg", data[:data.rfind(b"OggS", 0, last)],
        "truncated: the Ogg stream has no end-of-stream page")
    # Path.exists() raised on these: an OSError that ended the batch.
    out["long_name"] = (d / ("n" * 300 + ".wav"), "cannot be read (File name too long)")
    (d / "loop_a.wav").symlink_to(d / "loop_b.wav")
    (d / "loop_b.wav").symlink_to(d / "loop_a.wav")
    out["loop_a.wav"] = (d / "loop_a.wav", "Too many levels of symbolic links")
    if hasattr(os, "mkfifo"):  # it said "file is empty (0 bytes)"
        os.mkfifo(d / "pipe.wav")
        out["pipe.wav"] = (d / "pipe.wav", "not a regular file (a pipe or a device)")
    return out


def test_every_odd_but_valid_file_is_classified(tiny_model, valid):
    proc = run_cli("classify", "--json", "--model", str(tiny_model),
                   *map(str, valid.values()), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {Path(r["file"]).name: r for r in json.loads(proc.stdout)["files"]}
    assert set(rows) == set(valid)
    for name, row in rows.items():
        assert "error" not in row, (name, row)
        assert row["duration"] > 0, name
        if row["probs"] is not None:  # a clip: a label and honest probabilities
            assert row["label"] in row["probs"]
            assert abs(sum(row["probs"].values()) - 1.0) < 1e-3, name
    assert rows["min_10.flac"]["duration"] == pytest.approx(600.0, abs=0.01)
    assert rows["ms_10.wav"]["duration"] == pytest.approx(0.01, abs=0.001)
    assert rows["rate_96000.wav"]["duration"] == pytest.approx(rows["w_pcm_16.wav"]["duration"],
                                                                abs=0.01)


def test_lossless_shapes_decode_to_the_same_samples(valid):
    ref = load_audio(valid["w_pcm_16.wav"])
    for name in ("w_pcm_24.wav", "w_pcm_32.wav", "w_float.wav", "w_double.wav",
                 "extensible_24.wav", "clip.flac", "clip_24.flac"):
        assert np.allclose(load_audio(valid[name]), ref, atol=1e-4), name
    for ch in range(2, 7):  # the channel mean
        expected = ref * np.mean([1 - 0.1 * c for c in range(ch)])
        assert np.allclose(load_audio(valid[f"ch_{ch}.wav"]), expected, atol=1e-3), ch


def test_every_invalid_file_is_one_line_and_the_batch_goes_on(tiny_model, valid, tmp_path):
    bad = bad_files(tmp_path, valid["w_pcm_16.wav"])
    locked = tmp_path / "no_permission.wav"
    shutil.copy(valid["w_pcm_16.wav"], locked)
    locked.chmod(0)
    bad["no_permission.wav"] = (locked, "no permission")
    good = [valid["w_pcm_16.wav"], valid["clip.ogg"]]
    batch = [good[0], *(p for p, _ in bad.values()), good[1]]
    proc = subprocess.run([*without_root_file_access(), sys.executable, "-m", "kwsapp",
                           "classify", "--model", str(tiny_model), *map(str, batch)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Internal error" not in proc.stdout
    lines = proc.stdout.splitlines()
    for name, (path, problem) in bad.items():
        hits = [line for line in lines if line.startswith(f"{path}: ERROR")]
        assert len(hits) == 1, (name, proc.stdout)
        assert problem in hits[0], (name, hits[0])
    for path in good:  # before and after the bad ones: still classified
        assert any(line.startswith(f"{path} (") for line in lines), (path, proc.stdout)
    assert f"{len(bad)} of {len(batch)} file(s) could not be read" in proc.stderr
