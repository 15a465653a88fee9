"""training/artifact_write.py: a new artifact is written in its folder's
hidden staging folder and put in place once whole, so that the folder holds
the earlier artifact or the new one, never a card beside another model's
files. Real files and renames, real models loaded by the runtime, and
processes really SIGKILLed before a chosen rename
(tests/kill_at_rename_run.py); no TensorFlow. The real `kwsapp train`,
`kwsapp export` and `make models` runs through it are in test_train.py,
test_export.py and test_make_models.py."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, cluttered_cnn
from kwsapp.errors import BadInputError, ModelError
from kwsapp.inference.recognizer import Recognizer
from kwsapp.models.artifact import STAGING_DIR, SWAP_FILE, read_card
from training.artifact_write import finish_swap

KILLER = REPO_ROOT / "tests" / "kill_at_rename_run.py"
#: The new artifact's files, in the order they are written (card last).
NEW_FILES = ("model.tflite", "model_int8.tflite", "card.json")
#: What a run writing the new artifact does (in a subprocess or here).
WRITE = """
from pathlib import Path
from kwsapp.atomic import write_atomic
from training.artifact_write import StagedArtifact
new = Path({new!r})
with StagedArtifact({art!r}) as stage:
    for name in {files!r}:
        write_atomic(stage.path / name, (new / name).read_bytes())
    stage.commit()
"""


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (the staging folder aside) -> its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and STAGING_DIR not in p.relative_to(folder).parts}


def old_artifact(tmp_path: Path) -> Path:
    """:func:`conftest.cluttered_cnn`, with a training run's checkpoint too."""
    art = cluttered_cnn(tmp_path / "model")
    (art / ".checkpoint").mkdir()
    (art / ".checkpoint" / "state.json").write_text("{}")
    return art


@pytest.fixture
def new_files(tmp_path, tiny_model) -> Path:
    """Another real model's files: the tiny fixture's card and model, and
    its model again as the int8 file (three files to move in)."""
    new = tmp_path / "new"
    new.mkdir()
    shutil.copy(tiny_model / "card.json", new / "card.json")
    shutil.copy(tiny_model / "model.tflite", new / "model.tflite")
    shutil.copy(tiny_model / "model.tflite", new / "model_int8.tflite")
    return new


def runs(artifact: Path) -> np.ndarray:
    """The runtime loads ``artifact`` and classifies a window with it."""
    rec = Recognizer(artifact)
    window = np.random.default_rng(0).normal(0, 0.1, rec.card.window_samples)
    return rec.probabilities(window.astype(np.float32))


def assert_new_artifact(art: Path, new: Path, before: dict[str, str]) -> None:
    """``art`` holds the new artifact whole, none of the earlier one's
    files, and every file of the user's (and the checkpoint) as it was."""
    users = {k: v for k, v in before.items() if k in ("notes.txt", "runs/model.tflite",
                                                      ".checkpoint/state.json")}
    want = {**users, **{n: hashlib.sha256((new / n).read_bytes()).hexdigest()
                        for n in NEW_FILES}}
    assert snapshot(art) == want
    assert not (art / STAGING_DIR).exists()
    assert Recognizer(art).card.name == "tiny-structural"
    assert runs(art).shape == (12,)


def test_a_new_artifact_replaces_the_earlier_one_whole_and_keeps_the_users_files(
        tmp_path, new_files):
    art = old_artifact(tmp_path)
    before = snapshot(art)
    assert Recognizer(art).card.name == "cnn"
    exec(WRITE.format(new=str(new_files), art=str(art), files=NEW_FILES), {})
    # model.keras (the cnn's), head.tflite and the earlier int8 file are gone.
    assert_new_artifact(art, new_files, before)


def test_in_a_folder_that_held_no_model_files_named_like_an_artifacts_stay(tmp_path,
                                                                            new_files):
    """No card: every file there is the user's, whatever its name."""
    art = tmp_path / "home"
    art.mkdir()
    (art / "head.tflite").write_text("mine")
    (art / "model.keras").write_text("mine too")
    exec(WRITE.format(new=str(new_files), art=str(art), files=NEW_FILES), {})
    assert (art / "head.tflite").read_text() == "mine"
    assert (art / "model.keras").read_text() == "mine too"
    assert (art / "model.tflite").read_bytes() == (new_files / "model.tflite").read_bytes()
    assert read_card(art).name == "tiny-structural"


def test_a_write_that_fails_leaves_the_earlier_artifact_and_no_staging(tmp_path, new_files):
    """A user's folder named model_int8.tflite is in the way of the new
    file: the commit refuses before it changes anything (os.replace would
    fail there half way through the swap)."""
    art = old_artifact(tmp_path)
    (art / "model_int8.tflite").unlink()
    (art / "model_int8.tflite").mkdir()
    (art / "model_int8.tflite" / "readme.txt").write_text("a folder of mine")
    before = snapshot(art)
    expected = runs(art)
    with pytest.raises(BadInputError, match=r"model_int8.tflite is a folder: the new model's"):
        exec(WRITE.format(new=str(new_files), art=str(art), files=NEW_FILES), {})
    assert snapshot(art) == before
    assert not (art / STAGING_DIR).exists()
    np.testing.assert_array_equal(runs(art), expected)


@pytest.mark.parametrize("where,nth", [("staging", k) for k in (1, 2, 3, 4)]
                         + [("folder", k) for k in (1, 2, 3)])
def test_a_run_killed_at_any_rename_leaves_one_whole_model_after_the_next_run(
        tmp_path, new_files, where, nth, caplog):
    """SIGKILL before each rename of the run: into the staging folder (the
    three files, then the swap manifest: the commit point) the earlier
    artifact is untouched and loads as before; into the model folder (the
    swap, card last) the folder holds no card, and the runtime says a model
    is being put in place rather than load a mix. The next run first puts
    right what was left: an unfinished staging folder is deleted, a
    committed swap finished; then it writes its own artifact."""
    art = old_artifact(tmp_path)
    before = snapshot(art)
    expected = runs(art)
    code = WRITE.format(new=str(new_files), art=str(art), files=NEW_FILES)
    folder = art / STAGING_DIR if where == "staging" else art
    run = subprocess.run([sys.executable, str(KILLER), str(nth), str(folder), "-c", code],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]
    assert "kill_at_rename: killed before" in run.stderr
    committed = (art / STAGING_DIR / SWAP_FILE).is_file()
    assert committed == (where == "folder")
    if where == "staging":
        assert snapshot(art) == before
        np.testing.assert_array_equal(runs(art), expected)
    else:
        assert not (art / "card.json").exists()
        with pytest.raises(ModelError, match="a new model is being put in place here"):
            Recognizer(art)
        # Killed half way: the files before the nth are in, the rest staged.
        for name in NEW_FILES[:nth - 1]:
            assert (art / name).read_bytes() == (new_files / name).read_bytes()
        assert set(snapshot(art / STAGING_DIR)) == {*NEW_FILES[nth - 1:], SWAP_FILE}
    # The next run puts it right first (here alone, then as a whole run).
    with caplog.at_level(logging.WARNING, logger="training.artifact_write"):
        assert finish_swap(art) == ("finished" if committed else "discarded")
    said = caplog.text
    assert ("that is now done" in said) if committed else ("removed the unfinished" in said)
    if committed:
        assert_new_artifact(art, new_files, before)
    else:
        assert snapshot(art) == before
        assert not (art / STAGING_DIR).exists()
    exec(code, {})
    assert_new_artifact(art, new_files, before)


def test_the_registry_lists_no_staging_folder(tmp_path, tiny_model, monkeypatch):
    """Staged models have a card: in a model's folder, in the models folder
    itself (`kwsapp train --out` of it), and a model half swapped (its card
    not yet in place) is none either; the GUI's list and `--version` read
    bundled_models()."""
    from kwsapp.models.registry import bundled_models, bundled_versions, resolve

    for where in ("cnn", f"cnn/{STAGING_DIR}", STAGING_DIR, "embed", f"embed/{STAGING_DIR}"):
        shutil.copytree(tiny_model, tmp_path / where)
    (tmp_path / "embed" / "card.json").unlink()  # embed: half swapped
    (tmp_path / "embed" / STAGING_DIR / SWAP_FILE).write_text(json.dumps({
        "format": 1, "files": ["card.json"], "artifact": ["card.json", "model.tflite"],
        "held_artifact": True}))
    monkeypatch.setenv("KWSAPP_MODELS_DIR", str(tmp_path))
    assert bundled_models() == ["cnn"]
    assert list(bundled_versions()) == ["cnn"]
    with pytest.raises(ModelError, match="being put in place"):
        Recognizer(resolve("embed"))
    assert finish_swap(tmp_path / "embed") == "finished"
    assert bundled_models() == ["cnn", "embed"]


def test_what_is_in_the_staging_folders_way_is_said_not_deleted(tmp_path, new_files):
    art = old_artifact(tmp_path)
    (art / STAGING_DIR).write_text("a file of mine")
    with pytest.raises(BadInputError, match="in the way of the model's staging folder"):
        exec(WRITE.format(new=str(new_files), art=str(art), files=NEW_FILES), {})
    assert (art / STAGING_DIR).read_text() == "a file of mine"
    (art / STAGING_DIR).unlink()
    (art / STAGING_DIR).mkdir()
    (art / STAGING_DIR / SWAP_FILE).write_text("{not json")
    with pytest.raises(BadInputError, match="damaged swap manifest"):
        finish_swap(art)
    assert read_card(art).name == "cnn"


def swap_before_each_file_load(monkeypatch, art: Path, sources: list[Path]) -> list[str]:
    """Make the runtime's load of ``art`` run a real swap (the writers' own
    code, WRITE) between its card read and its file read: each time the
    Recognizer loads its ``.tflite``, first ``sources[k]`` (the next of
    them, while there are) is put in place. Returns the card names the loads
    had. A writer in another process would land there only by chance; run
    at that very moment here, the race happens on every run."""
    import kwsapp.inference.recognizer as recognizer_module

    real_load, cards = recognizer_module.load_tflite, []

    def load_tflite(artifact_dir, card, *args):
        cards.append(card.name)
        if len(cards) <= len(sources):
            new = sources[len(cards) - 1]
            files = tuple(sorted(p.name for p in new.iterdir() if p.name != "card.json"))
            exec(WRITE.format(new=str(new), art=str(art), files=(*files, "card.json")), {})
        return real_load(artifact_dir, card, *args)

    monkeypatch.setattr(recognizer_module, "load_tflite", load_tflite)
    return cards


def test_a_load_a_swap_overlaps_is_done_again_not_paired_with_the_new_files(
        tmp_path, new_files, monkeypatch):
    """The runtime read the earlier card (the cnn's), then a swap put the
    tiny model in place before it read the model file: it loaded the cnn's
    card with the tiny model's file (the front end then refused it, or
    worse, ran it). The card's stamp is looked at again after the files:
    it changed, so the load is done again, and gives the new model whole."""
    art = old_artifact(tmp_path)
    cards = swap_before_each_file_load(monkeypatch, art, [new_files])
    rec = Recognizer(art)
    assert cards == ["cnn", "tiny-structural"]  # the first try had the earlier card
    assert rec.card.name == "tiny-structural"
    assert rec.model.path.read_bytes() == (new_files / "model.tflite").read_bytes()
    assert rec.model.input_shape == Recognizer(new_files).model.input_shape
    assert runs(art).shape == (12,)


def test_a_load_a_swap_overlaps_on_every_try_is_refused_as_being_put_in_place(
        tmp_path, new_files, monkeypatch):
    """Swaps back and forth during each of the load's tries (more than it
    makes): refused with the message of a model being put in place after
    ``ArtifactConfig.swap_tries``, never a mix; the next load, with no swap
    running, loads the model in place."""
    from kwsapp.config import ArtifactConfig

    art = old_artifact(tmp_path)
    cnn = tmp_path / "cnn"
    cnn.mkdir()
    for name in ("card.json", "model.tflite"):
        shutil.copy(art / name, cnn / name)
    tries = ArtifactConfig().swap_tries
    cards = swap_before_each_file_load(monkeypatch, art, [new_files, cnn] * tries)
    with pytest.raises(ModelError, match="a new model is being put in place here"):
        Recognizer(art)
    assert len(cards) == tries, cards
    assert cards[:3] == ["cnn", "tiny-structural", "cnn"], cards
    monkeypatch.undo()
    expected = "tiny-structural" if tries % 2 else "cnn"  # the last swap's model
    assert Recognizer(art).card.name == expected
