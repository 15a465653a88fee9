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


def test_retrain_enrols_words_again_from_their_kept_takes(tmp_path, wake_dir):
    """After an update changes the embedding (or the pool) a stored word was
    trained on, `kwsapp words` names it and `words --retrain` enrols it
    again from its kept takes, keeping its role and threshold; a word whose
    take is gone is named on stderr, left as it was, and the others are
    still retrained (exit 2)."""
    env = home_env(tmp_path)
    for name, word, extra in (("snowy", "snowboy", ()), ("tv", "alexa", ("--ignore",))):
        proc = enrol_cli(tmp_path, name, recordings(wake_dir, word, 3), *extra)
        assert proc.returncode == 0, proc.stderr
    words = tmp_path / "home" / "words"
    current = json.loads((words / "tv" / "card.json").read_text())["embedding"]
    card = json.loads((words / "snowy" / "card.json").read_text())
    card.update(embedding="embed/embedding.tflite:000000000000", threshold=0.7)
    (words / "snowy" / "card.json").write_text(json.dumps(card))

    listed = json.loads(run_cli("words", "--json", env=env).stdout)["words"]
    assert [(w["name"], w["current"]) for w in listed] == [("snowy", False), ("tv", True)]
    assert "snowy; kwsapp words --retrain" in run_cli("words", env=env).stdout
    proc = run_cli("words", "--retrain", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "retrained 'snowy' from 3 takes" in proc.stdout and "'tv'" not in proc.stdout
    card = json.loads((words / "snowy" / "card.json").read_text())
    assert card["embedding"] == current and card["threshold"] == 0.7
    assert card["role"] == "word" and len(card["take_files"]) == 3
    listed = json.loads(run_cli("words", "--json", env=env).stdout)["words"]
    assert all(w["current"] for w in listed)

    (words / "tv" / "takes" / "take_2.wav").unlink()
    before = (words / "tv" / "card.json").read_text()
    proc = run_cli("words", "--retrain", "tv", "snowy", env=env)
    assert proc.returncode == 2
    assert "'tv' not retrained" in proc.stderr and "take_2.wav" in proc.stderr
    assert "retrained 'snowy'" in proc.stdout
    assert (words / "tv" / "card.json").read_text() == before
    assert sorted(p.name for p in words.iterdir()) == ["snowy", "tv"]  # nothing left aside
    # no bundled model to compare with: the words are still listed
    bare = run_cli("words", env={**env, "KWSAPP_MODELS_DIR": str(tmp_path / "no-models")})
    assert bare.returncode == 0 and "snowy" in bare.stdout, bare.stderr


def test_a_broken_word_is_listed_as_broken_and_can_be_removed(tmp_path):
    """A word whose card or detector cannot be read: `words` says so and
    what mends it, and `words --remove` deletes it even with a broken card
    (a folder with no card, or one outside the words folder, is still no
    word to remove)."""
    from kwsapp.userwords.store import check_name, save_word

    root = tmp_path / "home"
    for name in ("con", "nodet", "good"):
        save_word(name, {"threshold": 0.5, "created": "2026-01-01"},
                  {"w2": np.zeros(3, np.float32)}, [np.zeros(1600, np.float32)], root)
    words = root / "words"
    (words / "con" / "card.json").write_text("garbage\n")
    (words / "nodet" / "detector.npz").unlink()
    (words / "stray").mkdir()
    (root / "outside").mkdir()
    (root / "outside" / "card.json").write_text("garbage\n")
    env = home_env(tmp_path)

    listed = run_cli("words", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    by_name = {w["name"]: w for w in json.loads(listed.stdout)["words"]}
    assert sorted(by_name) == ["con", "good", "nodet"]
    assert "card.json: unreadable word card" in by_name["con"]["broken"]
    assert "detector.npz" in by_name["nodet"]["broken"] and by_name["good"]["broken"] is None
    lines = {line.split()[0]: line for line in run_cli("words", env=env).stdout.splitlines()}
    assert "BROKEN" in lines["con"] and "kwsapp words --remove 'con'" in lines["con"]
    assert "BROKEN" in lines["nodet"] and "kwsapp words --retrain 'nodet'" in lines["nodet"]
    assert "BROKEN" not in lines["good"]

    for name in ("stray", "..", "../outside"):
        proc = run_cli("words", "--remove", name, env=env)
        assert proc.returncode == 2 and "no such user word" in proc.stderr, proc.stderr
    assert (words / "stray").is_dir() and (root / "outside" / "card.json").is_file()
    gone = run_cli("words", "--remove", "con", env=env)
    assert gone.returncode == 0, gone.stderr
    assert "removed 'con'" in gone.stdout and not (words / "con").exists()
    assert check_name("con", root) == "con"  # the name is free again
    assert sorted(p.name for p in words.iterdir()) == ["good", "nodet", "stray"]


@pytest.mark.parametrize("damage, problem", [
    (lambda w: _edit_card(w, threshold="x"), "threshold must be a number in (0, 1], not 'x'"),
    (lambda w: _edit_card(w, threshold=5), "threshold must be a number in (0, 1], not 5"),
    (lambda w: _edit_card(w, detector="x"), "detector must be an object, not 'x'"),
    (lambda w: _edit_card(w, take_files=5), "take_files must be a list, not 5"),
    (lambda w: (w / "detector.npz").write_bytes((w / "detector.npz").read_bytes()[:100]),
     "detector.npz: unreadable detector (File is not a zip file)"),
])
def test_a_damaged_word_is_listed_broken_and_classify_goes_on(tmp_path, tiny_model, data_dir,
                                                              damage, problem):
    """A hand-edited card or a cut-off detector: `words` lists it BROKEN,
    saying why, and classify runs without it. Each was a traceback in
    `words` (ValueError, AttributeError, zipfile.BadZipFile), a string
    threshold in classify too, and a threshold of 5 a word that never fires."""
    from conftest import real_clip
    from kwsapp.userwords.store import save_word

    root = tmp_path / "home"
    save_word("lamp", {"threshold": 0.5, "created": "2026-01-01", "takes": []},
              {"w2": np.zeros(3, np.float32)}, [np.zeros(1600, np.float32)], root)
    damage(root / "words" / "lamp")
    env = home_env(tmp_path)
    listed = run_cli("words", "--json", env=env)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    (word,) = json.loads(listed.stdout)["words"]
    assert problem in word["broken"], word
    text = run_cli("words", env=env)
    assert text.returncode == 0 and "BROKEN" in text.stdout, text.stderr
    clip = real_clip(data_dir, "yes", 0)
    proc = run_cli("classify", "--model", str(tiny_model), str(clip), env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.startswith(f"{clip} (1.00 s): ")


def _edit_card(word: Path, **values) -> None:
    card = json.loads((word / "card.json").read_text())
    card.update(values)
    (word / "card.json").write_text(json.dumps(card))


def test_a_words_folder_that_cannot_be_written_is_one_line(tmp_path, wake_dir):
    """KWSAPP_HOME a file, or a read-only folder: enrol says so (a
    NotADirectoryError / PermissionError traceback), and `words --remove`
    in a read-only words folder too."""
    from kwsapp.userwords.store import save_word

    takes = recordings(wake_dir, "snowboy", 3)
    (tmp_path / "afile").write_text("not a folder\n")
    proc = run_cli("enrol", "lamp", *map(str, takes), env={"KWSAPP_HOME": str(tmp_path / "afile")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert (f"user words folder {tmp_path / 'afile' / 'words'}: cannot write there "
            "(Not a directory); set KWSAPP_HOME") in proc.stderr

    root = tmp_path / "home"
    save_word("lamp", {"threshold": 0.5}, {"w2": np.zeros(3, np.float32)},
              [np.zeros(1600, np.float32)], root)
    (root / "words").chmod(0o555)
    try:
        enrol = run_cli("enrol", "bulb", *map(str, takes), env=home_env(tmp_path),
                        obey_file_modes=True)
        remove = run_cli("words", "--remove", "lamp", env=home_env(tmp_path),
                         obey_file_modes=True)
    finally:
        (root / "words").chmod(0o755)
    assert enrol.returncode == 2 and "Traceback" not in enrol.stderr, enrol.stderr
    assert f"user words folder {root / 'words'}: cannot write there (Permission denied)" \
        in enrol.stderr
    assert remove.returncode == 2 and "Traceback" not in remove.stderr, remove.stderr
    assert f"'lamp': cannot remove {root / 'words' / 'lamp'} (Permission denied)" \
        in remove.stderr
    assert (root / "words" / "lamp" / "card.json").is_file()


def test_a_words_folder_that_cannot_be_written_is_said_before_any_training(tmp_path, wake_dir):
    """The words folder is checked before the detector is trained (seconds
    of work; recorded takes would be lost too): it was found only when the
    trained word was saved. In-process, enrol never calls the embedding
    (it raises here if called) and says why in the words save_word uses;
    `enrol --record` says it before any take is recorded (no device is
    needed to find that out); the check leaves nothing behind."""
    from kwsapp.errors import BadInputError
    from kwsapp.userwords.embedding import default_pool
    from kwsapp.userwords.enrol import enrol
    from kwsapp.userwords.takes import load_takes

    (tmp_path / "afile").write_text("not a folder\n")
    root = tmp_path / "afile"
    takes = load_takes(recordings(wake_dir, "snowboy", 3))
    embedded = []

    def embed(audio):
        embedded.append(audio.size)
        raise AssertionError("trained before the words folder was checked")

    with pytest.raises(BadInputError) as caught:
        enrol("lamp", takes, embed, default_pool(), root=root)
    assert str(caught.value) == (f"user words folder {root / 'words'}: cannot write there "
                                 "(Not a directory); set KWSAPP_HOME to a folder you can write")
    assert embedded == []

    proc = run_cli("enrol", "lamp", "--record", "3",
                   env={"KWSAPP_HOME": str(root), "JACK_DEFAULT_SERVER": "kwsapp-none",
                        "JACK_NO_START_SERVER": "1"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"kwsapp: BadInputError: user words folder {root / 'words'}: cannot "
                     "write there (Not a directory); set KWSAPP_HOME to a folder you can "
                     "write"], lines

    from kwsapp.userwords.store import check_writable

    home = tmp_path / "home"
    assert check_writable(home) == home / "words"
    assert not home.exists()  # not made: save_word makes it
    (home / "words").mkdir(parents=True)
    check_writable(home)
    assert list((home / "words").iterdir()) == []


_KILLED_SAVE = """
import os, shutil, signal, sys
from pathlib import Path
import numpy as np
from kwsapp.userwords import store

root, when = Path(sys.argv[1]), sys.argv[2]
real_rmtree, real_rename = shutil.rmtree, os.rename

def rmtree(path, *args, **kwargs):  # deleting the word replaced
    if when == "deleting the replaced word" and str(path).endswith(".replaced") \\
            and Path(path).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    return real_rmtree(path, *args, **kwargs)

def rename(src, dst):  # the finished word renamed into place
    if when == "renaming the new word" and Path(dst).name == "lights_on":
        os.kill(os.getpid(), signal.SIGKILL)
    return real_rename(src, dst)

shutil.rmtree, os.rename = rmtree, rename
store.save_word("lights on", {"threshold": 0.6, "created": "2026-01-02"},
                {"w2": np.ones(3, np.float32)}, [np.zeros(1600, np.float32)], root,
                replace=True)
"""


@pytest.mark.parametrize("when", ["deleting the replaced word", "renaming the new word"])
def test_a_save_killed_midway_leaves_no_ghost_word(tmp_path, when):
    """A SIGKILL while a word is saved (``words --retrain`` replacing it)
    leaves a hidden folder with a card: the old word being deleted, or the
    new one not yet in place. `words` listed it as a second word of that
    name, one that `words --remove` could not find once the word was gone."""
    import signal
    import subprocess
    import sys

    from kwsapp.userwords.store import BadNameError, check_name, save_word

    root = tmp_path / "home"
    save_word("lights on", {"threshold": 0.5, "created": "2026-01-01"},
              {"w2": np.zeros(3, np.float32)}, [np.zeros(1600, np.float32)], root)
    killed = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(root), when],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = [p for p in (root / "words").iterdir() if p.name.startswith(".")]
    assert left and all((p / "card.json").is_file() for p in left)  # what the kill left
    env = home_env(tmp_path)
    listed = run_cli("words", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    words = json.loads(listed.stdout)["words"]
    created = "2026-01-02" if when == "deleting the replaced word" else "2026-01-01"
    assert [(w["name"], w.get("created")) for w in words] == [("lights on", created)]
    with pytest.raises(BadNameError, match="already taken"):  # a new word would replace it
        check_name("lights on", root)
    gone = run_cli("words", "--remove", "lights on", env=env)
    assert gone.returncode == 0, gone.stderr
    assert json.loads(run_cli("words", "--json", env=env).stdout)["words"] == []
    assert check_name("lights on", root) == "lights on"



def test_a_save_sweeps_the_working_folders_killed_saves_left(tmp_path):
    """A save or removal killed midway leaves its hidden working folder
    (``.<slug>.<random>``, ``.<slug>.removed``) behind, takes and all; the
    next save of that word deletes those an hour old or more, and never a
    younger one (another process's save may be writing it) or another
    word's."""
    import os
    import time

    from kwsapp.userwords.store import save_word, words_dir

    base = words_dir(tmp_path)
    hour_ago = time.time() - 3700
    folders = {}
    for name, old in ((".lights_on.k2j4h1q0", True), (".lights_on.removed", True),
                      (".lights_on.x8d7s6a5", False), (".lights_off.k2j4h1q0", True)):
        folders[name] = base / name
        (folders[name] / "takes").mkdir(parents=True)
        (folders[name] / "takes" / "take_1.wav").write_bytes(b"x")
        if old:
            os.utime(folders[name], (hour_ago, hour_ago))
    save_word("lights on", {"threshold": 0.5}, {"w2": np.zeros(3, np.float32)},
              [np.zeros(1600, np.float32)], tmp_path)
    assert sorted(p.name for p in base.iterdir()) == [
        ".lights_off.k2j4h1q0", ".lights_on.x8d7s6a5", "lights_on"]


# ---------------------------------------------------------------- bad names
@pytest.mark.parametrize("name, problem", [
    ("stop", "bundled command"),
    ("Unknown", "bundled command"),
    ("", "needs a name"),
    ("../etc", "letters, digits"),
    ("ÄÖü", "use ASCII letters"),
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


def test_fewer_than_three_takes_are_refused_but_one_teaches_a_word_to_ignore(tmp_path,
                                                                               wake_dir):
    proc = enrol_cli(tmp_path, "snowboy", recordings(wake_dir, "snowboy", 2))
    assert proc.returncode == 2
    assert "at least 3" in proc.stderr, proc.stderr
    proc = enrol_cli(tmp_path, "snowboy", [], "--ignore")
    assert proc.returncode == 2 and "at least 1)" in proc.stderr, proc.stderr
    proc = enrol_cli(tmp_path, "snowboy", recordings(wake_dir, "snowboy", 1), "--ignore", "--json")
    assert proc.returncode == 0, proc.stderr
    card = json.loads(proc.stdout)
    assert card["role"] == "ignore" and len(card["takes"]) == 1


def test_a_file_given_twice_is_one_take(tmp_path, wake_dir):
    """The same recording named several times (or as ./x and x) counts once:
    refused when that leaves too few takes, else enrolled from the distinct ones."""
    one, two, three = recordings(wake_dir, "snowboy", 3)
    proc = enrol_cli(tmp_path, "snowboy", [one, one, one])
    assert proc.returncode == 2
    assert f"{one} given more than once" in proc.stderr and "1 take(s) given" in proc.stderr
    assert "at least 3" in proc.stderr, proc.stderr
    proc = enrol_cli(tmp_path, "snowboy", [one, two, one.parent / "." / two.name])
    assert proc.returncode == 2 and "2 take(s) given" in proc.stderr, proc.stderr
    assert not (tmp_path / "home" / "words" / "snowboy").exists()
    proc = enrol_cli(tmp_path, "snowboy", [one, two, one, three], "--json")
    assert proc.returncode == 0, proc.stderr
    assert "counted once" in proc.stderr
    assert len(json.loads(proc.stdout)["takes"]) == 3


def test_files_and_record_are_exclusive(tmp_path, wake_dir):
    proc = enrol_cli(tmp_path, "snowboy", recordings(wake_dir, "snowboy", 3), "--record", "3")
    assert proc.returncode == 2 and "not both" in proc.stderr


def take_of(wake_dir: Path, seconds: float, skip: int = 0) -> np.ndarray:
    """``seconds`` of audio as a take records them: a snowboy recording's
    word 0.3 s in, silence around it (the files have long silences)."""
    from kwsapp.userwords.takes import word_span

    audio = load_audio(recordings(wake_dir, "snowboy", 1, skip)[0])
    start, end = word_span(audio)
    out = np.zeros(int(round(seconds * 16000)), np.float32)
    word = audio[max(0, start - 1600):end + 1600][:out.size - 4800]
    out[4800:4800 + word.size] = word
    return out


def test_enrol_record_opens_the_input_before_the_countdown(wake_dir):
    """`kwsapp enrol --record`: a take's input is opened before its "3… 2…
    1…", not after "say the word now" (which came before the input ran, and
    a word said on cue lost its start); what it hears during the countdown
    is not in the take; and "now" is said only once audio flows (else the
    line says the input is opening)."""
    import threading

    from conftest import HandedSource
    from kwsapp.config import UserWordsConfig
    from kwsapp.userwords.record import record_takes

    config = UserWordsConfig()
    words = [take_of(wake_dir, config.record_s, skip=k) for k in range(2)]
    noise = 0.3 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    sources, said, handed = [], [], threading.Event()

    def hand_late(source: HandedSource, audio: np.ndarray) -> None:
        handed.set()
        source.hand(audio)

    def say(line: str) -> None:
        said.append(line)
        source = sources[-1]
        if line == "take 1/2: 3…":
            assert source.started  # open before the countdown
            source.hand(noise)  # heard during the countdown
        elif line == "take 1/2: say the word now (2.5 s)":
            source.hand(words[0])
        elif line == "take 2/2: opening the input…":  # nothing flowed in its countdown
            threading.Thread(target=hand_late, args=(source, words[1]), daemon=True).start()
        elif line == "take 2/2: say the word now (2.5 s)":
            assert handed.is_set()  # once audio flows, not before

    takes = record_takes(2, lambda: sources.append(HandedSource()) or sources[-1], config,
                         say, countdown_s=0.01)
    assert [t.audio.size for t in takes] == [w.size for w in words]
    assert all(np.array_equal(t.audio, w) for t, w in zip(takes, words))  # no countdown audio
    assert said[:4] == ["take 1/2: 3…", "take 1/2: 2…", "take 1/2: 1…",
                        "take 1/2: say the word now (2.5 s)"], said
    assert said[5:10] == ["take 2/2: 3…", "take 2/2: 2…", "take 2/2: 1…",
                          "take 2/2: opening the input…",
                          "take 2/2: say the word now (2.5 s)"], said
    assert all(s.stopped for s in sources) and len(sources) == 2


def test_a_take_recorder_shows_the_newest_dropped_audio_until_the_take():
    """Before :meth:`keep`, ``latest`` is the newest audio heard and dropped
    (a level meter shows the input during the countdown), across the end of
    its ring; from the take's start it is the take's own, none dropped in it."""
    from conftest import HandedSource
    from kwsapp.userwords.record import TakeRecorder

    source = HandedSource()
    recorder = TakeRecorder(source, 1.0, keep=False)
    recorder.start()
    assert recorder.latest(0.05).size == 0  # nothing heard yet
    heard = np.arange(16000, dtype=np.float32) / 16000  # 1 s: the ring wraps
    source.hand(heard, block=300)
    assert np.array_equal(recorder.latest(0.05), heard[-800:])
    assert recorder.latest(10.0).size == int(TakeRecorder.HEARD_S * 16000)
    recorder.keep()
    assert recorder.latest(0.05).size == 0  # the take holds nothing yet
    source.hand(-heard[:800])
    assert np.array_equal(recorder.latest(0.05), -heard[:800])
    assert np.array_equal(recorder.audio(), -heard[:800])
    recorder.stop()


def until(condition, timeout_s: float = 20.0) -> bool:
    """Whether ``condition()`` holds within ``timeout_s`` (polled)."""
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_record_takes_gives_up_on_an_input_that_never_opens():
    """`kwsapp enrol --record` on an input whose open never ends (simulated:
    a StuckSource, whose start blocks until the test releases it; no real
    device hangs on demand): past ``record_open_s`` the takes end with a
    DeviceError naming the device and saying to pick another, before any
    countdown. The open is left to a daemon thread (it never holds the
    process), which closes the input when it opens at last."""
    import threading
    from dataclasses import replace

    from conftest import StuckSource
    from kwsapp.config import UserWordsConfig
    from kwsapp.errors import DeviceError
    from kwsapp.userwords.record import record_takes

    config = replace(UserWordsConfig(), record_open_s=0.3)
    release = threading.Event()
    sources, said, raised = [], [], []

    def record() -> None:
        try:
            record_takes(3, lambda: sources.append(StuckSource(release)) or sources[-1],
                         config, said.append, countdown_s=0.01, device="mic 9")
        except Exception as exc:  # noqa: BLE001 - looked at below
            raised.append(exc)

    # On a thread of the test's: were it to wait for the input for ever,
    # the test fails instead of hanging.
    waiter = threading.Thread(target=record, daemon=True)
    try:
        waiter.start()
        waiter.join(60.0)
        assert not waiter.is_alive(), "record_takes still waits for an input that never opens"
        assert len(raised) == 1 and isinstance(raised[0], DeviceError), raised
        assert str(raised[0]) == ("input device 'mic 9' did not open in 0.3 s; "
                                  "pick another input device")
        assert said == []  # no countdown on an input that is not open
        assert len(sources) == 1 and sources[0].opening.is_set() and not sources[0].started
        openers = [t for t in threading.enumerate() if t.name == "kwsapp-open-input"]
        assert openers and all(t.daemon for t in openers)
    finally:
        release.set()
    assert until(lambda: sources[0].stopped)  # opened late: closed, nobody records from it
    assert sources[0].started and sources[0].stopped_on == "kwsapp-open-input"
    assert until(lambda: not any(t.name == "kwsapp-open-input" for t in threading.enumerate()))


@pytest.mark.parametrize("sends", ["nothing", "half a take"])
def test_record_takes_gives_up_on_an_input_that_sends_no_audio(wake_dir, sends):  # noqa: F811
    """An input that opens but sends nothing (or stops halfway through the
    take), neither reporting an error: past ``record_no_audio_s`` the takes
    end with a DeviceError naming the device by its own name and saying to
    pick another (enrol waited the take's length and 5 s, in words of its
    own); the input is closed."""
    import threading
    from dataclasses import replace

    from conftest import StuckSource
    from kwsapp.config import UserWordsConfig
    from kwsapp.errors import DeviceError
    from kwsapp.userwords.record import record_takes

    config = replace(UserWordsConfig(), record_no_audio_s=0.3)
    word = take_of(wake_dir, config.record_s)
    opened = threading.Event()
    opened.set()  # it opens at once
    sources, said = [], []

    def say(line: str) -> None:
        said.append(line)
        if line == "take 1/3: opening the input…" and sends != "nothing":
            sources[-1].hand(word[:word.size // 2])

    with pytest.raises(DeviceError) as caught:
        record_takes(3, lambda: sources.append(StuckSource(opened, "USB mic")) or sources[-1],
                     config, say, countdown_s=0.01)
    if sends == "nothing":
        assert str(caught.value) == ("input device 'USB mic' sent no audio in 0.3 s; "
                                     "pick another input device")
        assert said[-1] == "take 1/3: opening the input…", said
    else:
        assert str(caught.value) == ("input device 'USB mic' stopped sending audio (none in "
                                     "0.3 s); pick another input device")
        assert said[-1] == "take 1/3: say the word now (2.5 s)", said
    assert len(sources) == 1 and sources[0].stopped


def test_enrol_record_on_an_input_that_never_opens_exits_2(tmp_path):
    """`kwsapp enrol NAME --record 3` whose input never opens (simulated: a
    capture child that never answers, only waiting for its stdin to close,
    as one stuck in PortAudio's start on a JACK server that stopped
    answering does): one line naming the device and saying to pick
    another, exit 2; the open left waiting does not hold the process, which
    ends (and its child with it)."""
    import os
    import subprocess
    import sys

    mock = """
import functools, sys
from kwsapp import config
from kwsapp.audio import child_source
config.UserWordsConfig = functools.partial(config.UserWordsConfig, record_open_s=0.5)
child_source.CHILD_COMMAND = [sys.executable, "-c", "import sys; sys.stdin.read()"]
from kwsapp.cli import run
run()
"""
    proc = subprocess.run([sys.executable, "-c", mock, "enrol", "snowboy", "--record", "3",
                           "--device", "mic 9"], cwd=REPO_ROOT,
                          env=dict(os.environ, **home_env(tmp_path)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.splitlines() == [
        "kwsapp: DeviceError: input device 'mic 9' did not open in 0.5 s; "
        "pick another input device"], proc.stderr
    assert not (tmp_path / "home" / "words" / "snowboy").exists()


@pytest.mark.jack
def test_enrol_record_on_a_jack_server_that_stopped_answering(frozen_jack, tmp_path):
    """Real parts: `kwsapp enrol NAME --record 3` (its real capture child,
    the real PortAudio) on a JACK server that answers nobody (stopped with
    SIGSTOP), with the config's own limit: PortAudio's start hangs in the
    child, and the command says the input did not open and to pick
    another, exits 2 and ends (before, it waited 20 s per reply for the
    child). The child left hanging ends with it, the server still frozen."""
    import os
    import subprocess
    import sys

    from conftest import capture_children
    from kwsapp.config import UserWordsConfig

    env = frozen_jack.env
    limit = UserWordsConfig().record_open_s
    frozen_jack.freeze()
    # Files, not pipes: the hung child holds the command's stderr (it
    # inherits it) until it ends, and a pipe would wait for it.
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "kwsapp", "enrol", "snowboy", "--record",
                                 "3"], cwd=REPO_ROOT, stdout=out, stderr=err,
                                env=dict(os.environ, **env, **home_env(tmp_path)))
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("enrol --record still waits for a JACK server that answers nobody")
    said = (tmp_path / "err").read_text()
    assert code == 2, said
    assert said.splitlines()[-1] == (f"kwsapp: DeviceError: the default input device did not "
                                     f"open in {limit:g} s; pick another input device"), said
    assert "take 1/3: 3…" not in said  # no countdown on an input that is not open
    # Its child, hung in PortAudio, ends with it while the server is still
    # frozen (it used to stay until the server answered again).
    assert until(lambda: not capture_children(env["JACK_DEFAULT_SERVER"]), 30.0)
    frozen_jack.thaw()
    assert not (tmp_path / "home" / "words" / "snowboy").exists()


# ------------------------------------------------------ found in streams
@pytest.fixture(scope="module")
def two_words(tmp_path_factory, wake_dir) -> Path:
    """A home with 'snowboy' enrolled; 'alexa' added by the test that needs it."""
    home = tmp_path_factory.mktemp("home")
    proc = run_cli("enrol", "snowboy", *map(str, recordings(wake_dir, "snowboy", 5)),
                   env={"KWSAPP_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    return home


@pytest.fixture(scope="module")
def stream(tmp_path_factory, wake_dir, data_dir) -> tuple[Path, list[tuple[str, float, float]]]:
    """Other recordings of snowboy and alexa (never takes) and a command, with
    pauses, over quiet noise; the truth is each word's speech run."""
    from conftest import real_clip
    from kwsapp.userwords.takes import word_span

    rng = np.random.default_rng(0)
    files = [("snowboy", p) for p in recordings(wake_dir, "snowboy", 3, skip=60)]
    files += [("alexa", p) for p in recordings(wake_dir, "alexa", 3, skip=60)]
    files += [("stop", real_clip(data_dir, "stop", 5))]
    order = [files[i] for i in (0, 3, 6, 1, 4, 2, 5)]
    parts, truth, t = [np.zeros(16000, np.float32)], [], 16000
    for label, path in order:
        x = load_audio(path)
        x = 0.1 * x / np.sqrt(np.mean(x ** 2))
        s, e = word_span(x)
        truth.append((label, (t + s) / 16000, (t + e) / 16000))
        parts += [x, np.zeros(24000, np.float32)]
        t += len(x) + 24000
    audio = np.concatenate(parts)
    audio = audio + 0.003 * rng.standard_normal(audio.size).astype(np.float32)
    out = tmp_path_factory.mktemp("stream") / "stream.wav"
    sf.write(out, audio, 16000)
    return out, truth


def events_of(home: Path, wav: Path) -> list[dict]:
    proc = run_cli("classify", "--json", str(wav), env={"KWSAPP_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["files"][0]["events"]


def overlaps(event: dict, start: float, end: float, slack: float = 0.25) -> bool:
    return event["start"] <= end + slack and start - slack <= event["end"]


def test_classify_finds_the_word_where_it_is(two_words, stream):
    wav, truth = stream
    events = events_of(two_words, wav)
    found = [e for e in events if e["label"] == "snowboy"]
    places = [(s, e) for label, s, e in truth if label == "snowboy"]
    assert len(found) == len(places), events
    for (s, e), ev in zip(places, found):  # in order, one per utterance, at its place
        assert overlaps(ev, s, e), (ev, s, e)
        assert 0.0 < ev["score"] <= 1.0
    assert any(e["label"] == "stop" for e in events)  # the commands still come out


def test_a_second_word_does_not_steal_the_first_ones_events(two_words, stream, wake_dir):
    wav, truth = stream
    proc = run_cli("enrol", "alexa", *map(str, recordings(wake_dir, "alexa", 5)),
                   env={"KWSAPP_HOME": str(two_words)})
    assert proc.returncode == 0, proc.stderr
    events = events_of(two_words, wav)
    for word in ("snowboy", "alexa"):
        places = [(s, e) for label, s, e in truth if label == word]
        found = [e for e in events if e["label"] == word]
        assert len(found) == len(places), (word, events)
        assert all(overlaps(ev, s, e) for (s, e), ev in zip(places, found)), (word, events)


@pytest.mark.jack
def test_enrol_records_takes_from_the_microphone_and_retakes_a_silent_one(jack_server,
                                                                         tmp_path, wake_dir):
    import os
    import subprocess
    import sys

    takes = recordings(wake_dir, "snowboy", 3, skip=10)
    try:
        proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "enrol_record_jack_run.py"),
                               "--name", "snowboy", "--takes", *map(str, takes), "--silent-first"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=200,
                              env=dict(os.environ, **jack_server, **home_env(tmp_path)))
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"timed out: {exc.stderr!r}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["returncode"] == 0, result["stderr"]
    err = result["stderr"]
    assert "take 1/3: 3" in err and "say the word now" in err  # the countdown
    assert "silent" in err and "again" in err  # the silent take was recorded again
    assert result["ports"] == 4  # one stream per take, plus the retake
    assert result["open_at_countdown"] == 4  # each opened before its countdown, not after
    assert "take 3/3: ok" in err
    assert (tmp_path / "home" / "words" / "snowboy" / "card.json").is_file()


def test_a_running_classifier_sees_words_added_and_removed(two_words, stream, tmp_path,
                                                           monkeypatch):
    """The Files tab keeps one classifier: a word taught (or removed) since
    it was made is found (or no longer) from the next file on."""
    import shutil

    from kwsapp.inference.classify import FileClassifier

    monkeypatch.setenv("KWSAPP_HOME", str(tmp_path / "home"))
    classifier = FileClassifier.load(None)
    wav, _truth = stream

    def labels() -> set[str]:
        return {e.label for e in classifier.classify_file(wav).events}

    assert "snowboy" not in labels()
    shutil.copytree(two_words / "words" / "snowboy", tmp_path / "home" / "words" / "snowboy")
    assert "snowboy" in labels()
    shutil.rmtree(tmp_path / "home" / "words" / "snowboy")
    assert "snowboy" not in labels()


def test_a_word_the_pool_holds_under_another_name_is_still_found(tmp_path, stream,
                                                                 wake_dir):
    """The bundled pool holds "alexa" recordings; taught as "the tv", they
    must not count against the takes (they did: 6 of 30 held-out "alexa"
    found, 29 of 30 under its own name). The probe finds the pool's "alexa"
    as the same word, the card says so, and every "alexa" of the stream fires
    "the tv" and nothing else does."""
    wav, truth = stream
    proc = enrol_cli(tmp_path, "the tv", recordings(wake_dir, "alexa", 5), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pool"]["same_word"] == ["alexa"]
    assert "'alexa' sound like these takes" in proc.stderr
    events = [e for e in events_of(tmp_path / "home", wav) if e["label"] == "the tv"]
    places = [(s, e) for label, s, e in truth if label == "alexa"]
    assert len(events) == len(places), events
    assert all(overlaps(ev, s, e) for (s, e), ev in zip(places, events)), events


def test_the_pool_keeps_commands_and_noise_for_a_word_to_ignore():
    from kwsapp import COMMAND_LABELS
    from kwsapp.userwords.embedding import default_pool

    pool = default_pool()
    kept = set(pool.word[pool.keep(None, commands_only=True)].tolist())
    assert kept == set(COMMAND_LABELS) | {""}
    both = pool.keep(["alexa", "Smart_Mirror"])
    assert not set(pool.word[~both].tolist()) - {"alexa", "smart mirror"}
    assert {"alexa", "smart mirror"} <= set(pool.word[~both].tolist())


# ------------------------------------------------------ words to ignore
def test_an_ignore_word_vetoes_the_commands_on_its_utterances(tmp_path, data_dir,
                                                              bundled_model_dir):
    """Five recordings of "stop" that fire `stop` enrolled as a word to
    ignore ("halt", `enrol --ignore`): it is listed as ignored, never
    reported itself, and on a stream of three of those recordings and a "go"
    only the "go" fires (``kwsapp classify``). The stream reuses the takes
    so that the detector surely knows its word: the check is the veto, not
    how well five takes generalize (README measures that on held-out
    "alexa"). Being a command, the word also gets a raised veto level: at
    the default one it would drop other people's "stop" too."""
    from conftest import sure_clips
    from kwsapp.config import UserWordsConfig
    from kwsapp.userwords.takes import check_take

    config = UserWordsConfig()
    takes = []
    for path in sure_clips(bundled_model_dir, data_dir, "stop", 7):
        try:  # the takes a user would keep (enrol asks for a retake of the others)
            takes.append((check_take(load_audio(path), path.name, config).speech_s, path))
        except Exception:  # noqa: BLE001
            continue
    median = float(np.median([s for s, _ in takes]))  # five of like length, as one speaker's
    takes = [p for _, p in sorted(takes, key=lambda g: abs(g[0] - median))[:5]]
    go = sure_clips(bundled_model_dir, data_dir, "go", 1)[0]
    rng = np.random.default_rng(1)
    parts = [np.zeros(16000, np.float32)]
    for path in takes[:2] + [go] + takes[2:3]:
        x = load_audio(path)
        parts += [0.1 * x / np.sqrt(np.mean(x ** 2)), np.zeros(32000, np.float32)]
    audio = np.concatenate(parts)
    wav = tmp_path / "stops.wav"
    sf.write(wav, audio + 0.003 * rng.standard_normal(audio.size).astype(np.float32), 16000)
    home = tmp_path / "home"
    home.mkdir()
    before = [e["label"] for e in events_of(home, wav)]
    assert before == ["stop", "stop", "go", "stop"], before  # what the veto must remove

    proc = enrol_cli(tmp_path, "halt", takes, "--ignore", "--json")
    assert proc.returncode == 0, proc.stderr
    card = json.loads(proc.stdout)
    assert card["role"] == "ignore" and card["pool"]["negatives"] == "commands and noise"
    config = UserWordsConfig()
    vetoed = card["figures"]["command_clips_vetoed"]
    assert vetoed["default"]["stop"] > config.ignore_command_loss, vetoed
    assert card["threshold"] > config.ignore_threshold, card["threshold"]
    assert "sounds like 'stop'" in proc.stderr, proc.stderr
    listed = json.loads(run_cli("words", "--json", env=home_env(tmp_path)).stdout)["words"]
    assert [(w["name"], w["role"]) for w in listed] == [("halt", "ignore")]
    listing = run_cli("words", env=home_env(tmp_path)).stdout
    assert "halt (ignored)" in listing and "sounds like 'stop'" in listing, listing
    assert [e["label"] for e in events_of(home, wav)] == ["go"]


def test_a_word_to_ignore_vetoes_at_its_own_level(tmp_path, wake_dir):
    """A word to ignore's card threshold is its veto level: the live scores
    reach ``ignore_threshold`` exactly where its detector's own probability
    reaches that level (``kwsapp.userwords.live`` vetoes there), here with
    the level set above the default and a shared word threshold unlike the
    veto level. Its enrolment records the share of held-out command clips
    it would veto (3 "alexa" takes: none reaches the limit, so the level
    stays the default)."""
    from kwsapp.config import UserWordsConfig
    from kwsapp.userwords.detector import Detector, sliding_windows, window_features
    from kwsapp.userwords.embedding import default_embedder, default_pool
    from kwsapp.userwords.enrol import enrol
    from kwsapp.userwords.listener import UserWords
    from kwsapp.userwords.store import list_words, save_word
    from kwsapp.userwords.takes import load_takes

    config = UserWordsConfig()
    embedder, pool = default_embedder(), default_pool()
    root = tmp_path / "home"
    takes = load_takes(recordings(wake_dir, "alexa", 3), config, True)
    word = enrol("tv", takes, embedder, pool, config, root, embedding_id=embedder.id,
                 ignore=True)
    vetoed = word.card["figures"]["command_clips_vetoed"]
    assert set(vetoed["default"]) == set(vetoed["level"]) and len(vetoed["default"]) == 10
    assert max(vetoed["level"].values()) <= config.ignore_command_loss
    assert word.threshold == config.ignore_threshold  # alexa sounds like no command

    card = dict(word.card, threshold=0.95)
    save_word("tv", card, word.detector_arrays(), [t.audio for t in takes], root, replace=True)
    stored = [w for w in list_words(root) if w.name == "tv"]
    shared = UserWordsConfig(threshold=0.6)
    clips = pool.embeddings[pool.word == "alexa"].astype(np.float32)  # pool clips of the word
    windows = np.concatenate([sliding_windows(e) for e in clips])
    live = UserWords(stored, shared).scores(windows)[:, 0]
    det = Detector.from_arrays(stored[0].detector_arrays())
    raw = 1.0 / (1.0 + np.exp(-det.logits(window_features(windows))))
    clear = np.abs(raw - 0.95) > 1e-4  # away from float ties at the level
    assert np.any(raw[clear] >= 0.95) and np.any((raw[clear] >= 0.8) & (raw[clear] < 0.95))
    assert np.array_equal(live[clear] >= shared.ignore_threshold, raw[clear] >= 0.95)


@pytest.mark.parametrize("command", ["yes", "stop"])
def test_a_word_to_ignore_vetoes_its_word_at_the_start_of_a_file(tmp_path, data_dir,
                                                                 bundled_model_dir, command):
    """One recording of a command, taught as a word to ignore from itself,
    fires no command in ``classify``: on its own (a 1-s clip), at the start
    of a longer file, or in silence. In the first second of a file the head
    judges windows that begin before the file (read as silence); the
    ignore word's detector used to get embeddings from the file's start
    only, so its first window ended 1.5 s in, after the command had gone
    out (only the padded file was vetoed). A clip's label and probabilities
    stay the model's, as with any user word (its events are the timeline)."""
    from conftest import sure_clips
    from kwsapp.config import UserWordsConfig
    from kwsapp.userwords.takes import BadTakeError, check_take

    def usable(path: Path) -> bool:  # a take enrol accepts (some clips' speech is too short)
        try:
            check_take(load_audio(path), path.name, UserWordsConfig())
            return True
        except BadTakeError:
            return False

    clip = next(clips[-1] for n in (1, 2, 3)
                if usable((clips := sure_clips(bundled_model_dir, data_dir, command, n))[-1]))
    x = load_audio(clip)
    silence = np.zeros(32000, np.float32)
    files = [clip, tmp_path / "then_silence.wav", tmp_path / "in_silence.wav"]
    sf.write(files[1], np.concatenate([x, silence, silence]), 16000)  # 5 s: not a clip
    sf.write(files[2], np.concatenate([silence, x, silence]), 16000)
    home = tmp_path / "home"
    home.mkdir()

    def classify() -> list[dict]:
        proc = run_cli("classify", "--json", *map(str, files), env={"KWSAPP_HOME": str(home)})
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["files"]

    before = classify()
    assert [[e["label"] for e in f["events"]] for f in before] == [[command]] * 3, before
    assert before[0]["label"] == command and before[1]["label"] is None

    proc = enrol_cli(tmp_path, "not " + command, [clip], "--ignore")
    assert proc.returncode == 0, proc.stderr
    after = classify()
    assert [f["events"] for f in after] == [[], [], []], after
    assert (after[0]["label"], after[0]["probs"]) == (before[0]["label"], before[0]["probs"])
