"""User words (issue 13): enrol from files, list, remove, $KWSAPP_HOME, and a
clear message for every bad take and name. Takes are real recordings of
../shared/data/wake_words; enrolment runs the bundled embedding and pool."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO_ROOT, run_cli
from kwsapp.audio.io import load_audio

WAKE_DIR = REPO_ROOT.parent / "shared" / "data" / "wake_words"


@pytest.fixture(scope="session")
def wake_dir() -> Path:
    if not (WAKE_DIR / "snowboy").is_dir():
        pytest.skip(f"wake-word recordings not found at {WAKE_DIR}")
    return WAKE_DIR


def recordings(wake_dir: Path, word: str, n: int, skip: int = 0) -> list[Path]:
    return sorted((wake_dir / word).glob("*.flac"))[skip:skip + n]


def home_env(tmp_path: Path) -> dict:
    return {"KWSAPP_HOME": str(tmp_path / "home")}


def enrol_cli(tmp_path: Path, name: str, files: list, *extra: str):
    return run_cli("enrol", name, *map(str, files), *extra, env=home_env(tmp_path))


def test_enrol_list_remove_in_kwsapp_home(tmp_path, wake_dir):
    files = recordings(wake_dir, "snowboy", 5)
    proc = enrol_cli(tmp_path, "Snowboy", files, "--json")
    assert proc.returncode == 0, proc.stderr
    card = json.loads(proc.stdout)
    assert card["name"] == "snowboy" and len(card["takes"]) == 5
    folder = tmp_path / "home" / "words" / "snowboy"
    assert (folder / "card.json").is_file() and (folder / "detector.npz").is_file()
    assert len(list((folder / "takes").glob("*.wav"))) == 5
    with np.load(folder / "detector.npz", allow_pickle=False) as z:  # plain arrays
        assert z["w2"].shape == z["mean"].shape
    for key in ("threshold", "figures", "created", "code_version", "embedding", "pool"):
        assert key in card, key

    listed = run_cli("words", "--json", env=home_env(tmp_path))
    assert listed.returncode == 0, listed.stderr
    words = json.loads(listed.stdout)
    assert words["home"] == str(tmp_path / "home")
    assert [w["name"] for w in words["words"]] == ["snowboy"]
    assert words["words"][0]["takes"] == 5
    text = run_cli("words", env=home_env(tmp_path))
    assert "snowboy" in text.stdout

    gone = run_cli("words", "--remove", "snowboy", env=home_env(tmp_path))
    assert gone.returncode == 0, gone.stderr
    assert not folder.exists()
    assert json.loads(run_cli("words", "--json", env=home_env(tmp_path)).stdout)["words"] == []
    again = run_cli("words", "--remove", "snowboy", env=home_env(tmp_path))
    assert again.returncode == 2 and "no such user word" in again.stderr


# ---------------------------------------------------------------- bad names
@pytest.mark.parametrize("name, problem", [
    ("stop", "bundled command"),
    ("Unknown", "bundled command"),
    ("", "needs a name"),
    ("../etc", "letters, digits"),
    ("x" * 40, "at most"),
])
def test_bad_names_are_refused(tmp_path, wake_dir, name, problem):
    proc = enrol_cli(tmp_path, name, recordings(wake_dir, "alexa", 3))
    assert proc.returncode == 2
    assert problem in proc.stderr, proc.stderr
    assert not (tmp_path / "home" / "words").exists() or \
        not any((tmp_path / "home" / "words").iterdir())


def test_a_name_already_taken_is_refused(tmp_path, wake_dir):
    from kwsapp.userwords.store import BadNameError, check_name, save_word

    root = tmp_path / "home"
    save_word("lights on", {"takes": []}, {"w2": np.zeros(3)}, [], root)
    with pytest.raises(BadNameError, match="already taken"):
        check_name("Lights  On", root)
    proc = enrol_cli(tmp_path, "lights on", recordings(wake_dir, "alexa", 3))
    assert proc.returncode == 2 and "already taken" in proc.stderr


# ---------------------------------------------------------------- bad takes
@pytest.fixture(scope="module")
def bad_takes(tmp_path_factory, wake_dir) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("takes")
    word = load_audio(recordings(wake_dir, "snowboy", 1)[0])
    from kwsapp.userwords.takes import word_span

    s, e = word_span(word)
    out = {}

    def write(name: str, audio: np.ndarray) -> None:
        out[name] = d / f"{name}.wav"
        sf.write(out[name], np.asarray(audio, np.float32), 16000, subtype="FLOAT")

    write("empty", np.zeros(0))
    write("silent", np.zeros(32000))
    write("clipped", np.clip(word * 50.0, -1, 1))
    mid = s + (e - s) // 5  # 125 ms from inside the word: voiced, but no word
    write("too_short", np.concatenate([np.zeros(8000), word[mid:mid + 2000], np.zeros(8000)]))
    write("cut_off", np.concatenate([np.zeros(8000), word[s:s + (e - s) // 4],
                                     np.zeros(8000)]))
    speech = word[s:e]
    write("too_long", np.concatenate([np.zeros(4000)] + [speech, np.zeros(1600)] * 6))
    write("too_long_file", np.tile(word, 8)[:16000 * 12])
    return out


@pytest.mark.parametrize("take, problem", [
    ("empty", "empty"),
    ("silent", "silent"),
    ("clipped", "clipped"),
    ("too_short", "shorter than a word"),
    ("too_long", "longer than 3 s"),
    ("too_long_file", "too long for one take"),
    ("cut_off", "shorter than the word in the other takes"),
])
def test_bad_takes_get_a_clear_message(tmp_path, wake_dir, bad_takes, take, problem):
    good = recordings(wake_dir, "snowboy", 4, skip=1)
    proc = enrol_cli(tmp_path, "snowboy", [*good, bad_takes[take]])
    assert proc.returncode == 2
    assert problem in proc.stderr, proc.stderr
    assert bad_takes[take].name in proc.stderr  # the message names the take
    assert not (tmp_path / "home" / "words" / "snowboy").exists()


def test_fewer_than_three_takes_are_refused(tmp_path, wake_dir):
    proc = enrol_cli(tmp_path, "snowboy", recordings(wake_dir, "snowboy", 2))
    assert proc.returncode == 2
    assert "at least 3" in proc.stderr, proc.stderr


def test_files_and_record_are_exclusive(tmp_path, wake_dir):
    proc = enrol_cli(tmp_path, "snowboy", recordings(wake_dir, "snowboy", 3), "--record", "3")
    assert proc.returncode == 2 and "not both" in proc.stderr
