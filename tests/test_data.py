"""Speech Commands reader on generated folders in both layouts, and the
speaker-disjoint split on the real subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kwsapp import LABELS
from training.config import TrainConfig
from training import data

RATE = 16000
SPEAKERS = [f"{i:08x}" for i in range(0x1a2b3c00, 0x1a2b3c00 + 40)]


def _wav(path: Path, n: int = RATE, value: float = 0.1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.full(n, value, np.float32), RATE, subtype="PCM_16")


@pytest.fixture(scope="module")
def subset_layout(tmp_path_factory) -> Path:
    """The 12-class layout: _unknown_/<word>_<spk>_nohash_n, _silence_/<n>."""
    root = tmp_path_factory.mktemp("subset")
    for i, spk in enumerate(SPEAKERS):
        for label in ("yes", "no", "stop"):
            _wav(root / label / f"{spk}_nohash_0.wav", n=RATE if i % 5 else 9000)
        _wav(root / "_unknown_" / f"bed_{spk}_nohash_1.wav")
        _wav(root / "_silence_" / f"{100 + i}.wav", value=0.0)
    _wav(root / "_background_noise_" / "white_noise.wav", n=3 * RATE)
    return root


@pytest.fixture(scope="module")
def full_layout(tmp_path_factory) -> Path:
    """The v0.02 layout: 35 word folders, background noise, official lists."""
    root = tmp_path_factory.mktemp("full")
    for spk in SPEAKERS[:20]:
        for word in ("yes", "go", "bed", "marvin", "forward"):
            _wav(root / word / f"{spk}_nohash_0.wav")
    _wav(root / "_background_noise_" / "pink_noise.wav", n=5 * RATE, value=0.05)
    (root / "validation_list.txt").write_text(f"yes/{SPEAKERS[0]}_nohash_0.wav\n"
                                               f"bed/{SPEAKERS[0]}_nohash_0.wav\n")
    (root / "testing_list.txt").write_text(f"go/{SPEAKERS[1]}_nohash_0.wav\n")
    return root


def test_speaker_is_the_id_before_nohash():
    assert data.speaker_of("yes/0c540988_nohash_3.wav") == "0c540988"
    assert data.speaker_of("_unknown_/backward_0c540988_nohash_0.wav") == "0c540988"
    assert data.speaker_of("_silence_/1024.wav") is None


def test_subset_layout_split_is_speaker_disjoint_and_seeded(subset_layout):
    split = data.split_clips(subset_layout)
    assert sum(map(len, split.values())) == 40 * 5
    speakers = {name: {c.speaker for c in clips if c.speaker} for name, clips in split.items()}
    assert not speakers["train"] & speakers["validation"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["validation"] & speakers["test"]
    assert speakers["validation"] and speakers["train"]
    # The unknown word keeps its speaker; silence clips have none and split
    # by name.
    unknown = [c for c in data.scan(subset_layout) if c.label == "unknown"]
    assert {c.word for c in unknown} == {"bed"} and all(c.speaker in SPEAKERS for c in unknown)
    assert any(c.label == "silence" for c in split["validation"] + split["test"])
    assert data.validation_speakers(subset_layout) == speakers["validation"]
    # Same seed, same split; another seed, another one.
    again = data.split_clips(subset_layout)
    assert [c.path for c in again["validation"]] == [c.path for c in split["validation"]]
    other = data.validation_speakers(subset_layout, TrainConfig(seed=5))
    assert other != speakers["validation"]


def test_full_layout_maps_words_cuts_silence_and_uses_lists(full_layout):
    clips = data.scan(full_layout)
    labels = {c.label for c in clips}
    assert labels == {"yes", "go", "unknown", "silence"}
    assert {c.word for c in clips if c.label == "unknown"} <= {"bed", "marvin", "forward"}
    n_commands = 40
    # unknown and silence are each 10% of the set: 40 / 0.8 * 0.1 = 5.
    assert sum(c.label == "unknown" for c in clips) == 5
    silence = [c for c in clips if c.label == "silence"]
    assert len(silence) == 5 and all(c.path.parent.name == "_background_noise_" for c in silence)
    assert all(0 <= c.start <= 4 * RATE for c in silence)
    assert sum(c.label in ("yes", "go") for c in clips) == n_commands
    split = data.split_clips(full_layout)
    val_names = {c.path.relative_to(full_layout).as_posix() for c in split["validation"]
                 if c.speaker}
    assert f"yes/{SPEAKERS[0]}_nohash_0.wav" in val_names
    assert all(c.speaker is None or c.speaker == SPEAKERS[0] for c in split["validation"])
    assert [c.word for c in split["test"] if c.speaker] == ["go"]
    assert "validation_list" in data.split_description(full_layout)
    audio, kept = data.load_clips(silence, cache=full_layout.parent / "cache-full")
    assert audio.shape == (5, RATE) and np.allclose(audio, 0.05, atol=1e-3)


@pytest.mark.parametrize("listed", ["", "speech_commands/yes/{spk}_nohash_0.wav\n",
                                    "yes\\{spk}_nohash_0.wav\n"])
def test_lists_that_name_no_word_clip_for_validation_are_refused(tmp_path, listed):
    """An empty validation_list.txt, or names not relative to the folder
    (another root, Windows separators), left cut silence alone to validate
    on: the run trained (exit 0) and picked its epoch on silence."""
    root = tmp_path / "data"
    for spk in SPEAKERS[:10]:
        for word in ("yes", "no"):
            _wav(root / word / f"{spk}_nohash_0.wav")
    _wav(root / "_background_noise_" / "pink_noise.wav", n=5 * RATE, value=0.05)
    (root / "validation_list.txt").write_text(listed.format(spk=SPEAKERS[0]))
    (root / "testing_list.txt").write_text(f"no/{SPEAKERS[1]}_nohash_0.wav\n")
    with pytest.raises(data.BadInputError, match=r"validation_list\.txt: names none of the "
                                                 r"word clips of .*relative to it"):
        data.split_clips(root)
    (root / "validation_list.txt").write_text(f"yes/{SPEAKERS[0]}_nohash_0.wav\n")
    assert [c.speaker for c in data.split_clips(root)["validation"] if c.speaker] == \
        [SPEAKERS[0]]


def test_load_pads_short_clips_caches_and_skips_bad_files(subset_layout, tmp_path):
    clips = [c for c in data.scan(subset_layout) if c.label == "yes"][:6]
    bad = subset_layout.parent / "bad" / "yes" / f"{SPEAKERS[0]}_nohash_9.wav"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"RIFF not really a wav")
    clips.append(data.Clip(bad, "yes", "yes", SPEAKERS[0]))
    audio, kept = data.load_clips(clips, cache=tmp_path)
    assert audio.shape == (6, RATE) and bad not in [c.path for c in kept]
    short = audio[0]  # speaker 0 has a 9,000-sample clip: centred, zero-padded
    assert short[:3000].max() == 0 and short[-3000:].max() == 0
    assert abs(short[RATE // 2] - 0.1) < 1e-3
    cached, kept2 = data.load_clips(clips, cache=tmp_path)
    assert isinstance(cached, np.memmap)
    np.testing.assert_array_equal(cached, audio)
    assert kept2 == kept
    assert list(data.label_indices(kept)) == [LABELS.index("yes")] * 6


def test_a_cache_on_a_full_disk_costs_time_not_results(subset_layout, tmp_path, caplog):
    """The decoded audio (384 kB) cached on a real 64 kB tmpfs (needs root to
    mount; skipped otherwise): the write's DiskFullError is logged, the
    audio still returned, and no partial file is left."""
    import subprocess

    cache = tmp_path / "small"
    cache.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(cache)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        clips = [c for c in data.scan(subset_layout) if c.label == "no"][:6]
        with caplog.at_level("WARNING", logger=data.__name__):
            audio, kept = data.load_clips(clips, cache=cache)
        assert audio.shape == (6, RATE) and kept == clips
        assert f"could not cache decoded audio in {cache}" in caplog.text
        assert "disk full" in caplog.text
        assert not [p.name for p in cache.iterdir() if p.name.startswith(".tmp-")]
    finally:
        subprocess.run(["umount", str(cache)], check=False)


def test_real_subset_split(data_dir):
    split = data.split_clips(data_dir)
    assert sum(map(len, split.values())) == 3662
    val, train = data.validation_speakers(data_dir), {c.speaker for c in split["train"]}
    assert len(val) >= 15 and not val & train
    assert {c.label for c in split["validation"]} == set(LABELS)


def test_missing_folder_is_bad_input(tmp_path):
    from kwsapp.errors import BadInputError

    with pytest.raises(BadInputError, match="no such data folder"):
        data.scan(tmp_path / "nope")
    with pytest.raises(BadInputError, match="class folders"):
        data.scan(tmp_path)


@pytest.mark.parametrize("damage, what", [
    (lambda root: (root, 0o000), "data folder"),
    (lambda root: (root / "no", 0o000), "label folder"),
    (lambda root: (root / "yes", 0o644), "label folder"),  # names listed, none looked at
    (lambda root: (root / "validation_list.txt", 0o000), "split list"),
    (lambda root: (root / "_background_noise_", 0o000), "background noise folder"),
], ids=["data folder", "label folder", "label folder without x", "split list",
        "background noise folder"])
def test_train_on_data_that_cannot_be_read_names_the_path(tmp_path, damage, what):
    """`kwsapp train --data DIR` on a data folder, a label folder, a split
    list or the background noise that cannot be read (as a user, not root:
    run_cli obey_file_modes) says which and why in one line, exit 2 (it was
    `kwsapp: PermissionError: .../validation_list.txt: Permission denied`,
    and an unreadable data folder was blamed on its list); said before
    TensorFlow loads, nothing written."""
    import importlib.util

    from conftest import run_cli

    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("the train extra (TensorFlow) is not installed")
    root = tmp_path / "data"
    for spk in SPEAKERS[:6]:
        for word in ("yes", "no"):
            _wav(root / word / f"{spk}_nohash_0.wav")
    _wav(root / "_background_noise_" / "pink_noise.wav", n=3 * RATE, value=0.05)
    (root / "validation_list.txt").write_text(f"yes/{SPEAKERS[0]}_nohash_0.wav\n")
    path, mode = damage(root)
    path.chmod(mode)
    try:
        proc = run_cli("train", "--data", str(root), "--arch", "cnn", "--config", "tiny",
                       "--out", str(tmp_path / "out"), obey_file_modes=True)
    finally:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("kwsapp:")]
    assert lines == [f"kwsapp: BadInputError: {path}: cannot read this {what} (Permission "
                     "denied); make it readable (e.g. chmod u+rX) and run again"], proc.stderr
    assert not (tmp_path / "out").exists()
