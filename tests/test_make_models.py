"""training/make_models.py: the recipe a bundled model is trained with, and
the live defaults a rebuilt (or held-out) model takes from a card."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from training import make_models
from training.models import arch_module


def test_leave_out_is_the_same_recipe_without_those_words():
    module = arch_module("embed")
    full = make_models.train_config(module)
    held = make_models.train_config(module, ["alexa", "smart mirror"])
    assert full.negatives and full.ensemble == module.TRAIN["ensemble"]
    assert held.negatives_exclude == full.negatives_exclude + ("alexa", "smart mirror")
    assert dataclasses.replace(held, negatives_exclude=full.negatives_exclude) == full


def test_live_defaults_come_from_the_given_card_and_nothing_else(tmp_path):
    previous = tmp_path / "previous"
    previous.mkdir()
    live = {"threshold": 0.55, "smoothing": {"average_window_ms": 250.0}, "hop_ms": 80.0}
    (previous / "card.json").write_text(json.dumps({**live, "name": "old", "metrics": {"a": 1}}))
    assert make_models.live_defaults(previous) == live
    # No card to copy from (a first build): the new card stays as trained.
    assert make_models.live_defaults(tmp_path / "missing") == {}


def test_set_takes_a_typed_field_or_says_what_is_wrong():
    import argparse

    import pytest

    assert make_models.setting("tts_words=16000") == ("tts_words", 16000)
    assert make_models.setting("learning_rate=1") == ("learning_rate", 1.0)
    assert make_models.setting("negatives=[\"tts\",\"hard\"]") == ("negatives", ("tts", "hard"))
    assert make_models.setting("member_overrides=[[], [[\"tts_words\", 16000]]]") == (
        "member_overrides", ((), (("tts_words", 16000),)))
    for bad, says in (("tts_words", "FIELD=VALUE"), ("no_such=1", "FIELD=VALUE"),
                      ("epochs=many", "type int"), ("epochs=true", "type int"),
                      ("negatives=tts", "type tuple")):
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            make_models.setting(bad)
    assert make_models.setting("synthetic_commands=false") == ("synthetic_commands", False)
    assert make_models.setting("tts_words=null") == ("tts_words", None)
    with pytest.raises(argparse.ArgumentTypeError, match="type bool"):
        make_models.setting("synthetic_commands=1")


def test_param_takes_a_json_value_or_a_word():
    import argparse

    import pytest

    assert make_models.parameter("window_mean=true") == ("window_mean", True)
    assert make_models.parameter("filters=64") == ("filters", 64)
    assert make_models.parameter("head=linear") == ("head", "linear")
    for bad in ("window_mean", "=1"):
        with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
            make_models.parameter(bad)


def test_bad_data_or_out_folder_is_one_line_exit_2(tmp_path, capsys):
    """`python -m training.make_models` let a bad --data end in a
    BadInputError traceback (exit 1), and found an --out it cannot write
    only after training."""
    import pytest

    pytest.importorskip("tensorflow")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    rc = make_models.main(["--data", str(tmp_path), "--out", str(a_file / "models"),
                           "--only", "cnn"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err == (f"python -m training.make_models: --out {a_file / 'models'}: cannot "
                   f"create it, {a_file} is not a folder\n")
    missing = tmp_path / "missing"
    rc = make_models.main(["--data", str(missing), "--out", str(tmp_path / "models"),
                           "--only", "cnn"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"python -m training.make_models: {missing}: no such data folder\n" in err
    assert "Traceback" not in err


def test_a_make_models_runs_own_folders_are_no_bundled_models(tmp_path, monkeypatch,
                                                              tiny_model):
    """A killed `make models` of an earlier kwsapp left its staging folder
    (.cnn.new, kept to resume) and maybe the model it was replacing
    (.cnn.old), each with a card: `kwsapp --version` and the GUI's model
    list named them as models. (Today's staging folders:
    tests/test_artifact_write.py.)"""
    import shutil

    from kwsapp.models.registry import bundled_models, bundled_versions

    for name in ("cnn", ".cnn.new", ".cnn.old"):
        shutil.copytree(tiny_model, tmp_path / name)
    monkeypatch.setenv("KWSAPP_MODELS_DIR", str(tmp_path))
    assert bundled_models() == ["cnn"]
    assert list(bundled_versions()) == ["cnn"]


@pytest.mark.train
@pytest.mark.slow
def test_a_stopped_swap_is_finished_then_the_model_is_replaced_in_its_folder(
        data_dir, repo_root, tmp_path):
    """models/cnn is the bundled cnn (its card's threshold made 0.77) with
    the user words' pool, a file and a folder of the user's and an embed's
    head an older kwsapp left; a `kwsapp export --int8` of it was SIGKILLed
    half way through putting its files in place (no card in the folder).
    `make models` (the cnn recipe, tiny) first finishes that swap, so it
    reads the card's live defaults (a run that did not trained without
    them); then it trains in the folder (once in .cnn.new beside it, the
    folder renamed away and the user's files copied over) and puts its
    model in place: the new card with those live defaults, none of the
    earlier artifact's files (model_int8.tflite is an export of the earlier
    model.keras), the others as they were."""
    pytest.importorskip("tensorflow")
    import subprocess
    import sys

    import _train_support as support
    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.models.artifact import STAGING_DIR, SWAP_FILE

    models = tmp_path / "models"
    cnn = models / "cnn"
    shutil.copytree(repo_root / "assets" / "models" / "cnn", cnn)
    card = json.loads((cnn / "card.json").read_text())
    (cnn / "card.json").write_text(json.dumps({**card, "threshold": 0.77}))
    (cnn / "head.tflite").write_bytes(b"an embed's head an older kwsapp left")
    (cnn / "negatives.npz").write_bytes(b"the user words' pool")
    (cnn / "notes.txt").write_text("mine")
    (cnn / "plots").mkdir()
    (cnn / "plots" / "model.tflite").write_text("mine too")
    env = support.env(tmp_path / "cache")
    run = subprocess.run([sys.executable, str(repo_root / "tests" / "kill_at_rename_run.py"),
                          "2", str(cnn), "kwsapp", "export", str(cnn), "--int8", "--data",
                          str(data_dir), "--clips", "8"], cwd=repo_root, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == -9 and "kill_at_rename: killed before" in run.stderr, \
        run.stderr[-3000:]
    assert not (cnn / "card.json").exists() and (cnn / STAGING_DIR / SWAP_FILE).is_file()

    tiny = [("epochs", 1), ("batch_size", 8), ("aug_copies", 1), ("steps_per_epoch", 2),
            ("max_train_clips", 48), ("max_val_clips", 16)]
    run = subprocess.run([sys.executable, "-m", "training.make_models", "--data", str(data_dir),
                          "--out", str(models), "--only", "cnn",
                          *[a for k, v in tiny for a in ("--set", f"{k}={v}")],
                          "--param", "conv_filters=[2, 4, 4]", "--param", "dense_units=8"],
                         cwd=repo_root, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "that is now done (the new model is in place)" in run.stderr
    assert sorted(p.name for p in models.iterdir()) == ["cnn"]
    assert sorted(p.name for p in cnn.iterdir()) == [
        "card.json", "model.keras", "model.tflite", "negatives.npz", "notes.txt", "plots"]
    new = json.loads((cnn / "card.json").read_text())
    assert new["threshold"] == 0.77 and new["smoothing"] == card["smoothing"]
    assert new["training"]["params"]["dense_units"] == 8 and new["created"] != card["created"]
    assert (cnn / "negatives.npz").read_bytes() == b"the user words' pool"
    assert (cnn / "notes.txt").read_text() == "mine"
    assert (cnn / "plots" / "model.tflite").read_text() == "mine too"
    assert Recognizer(cnn).probabilities(np.zeros(16000, np.float32)).shape == (12,)


def test_an_earlier_kwsapps_make_models_folders_are_said(tmp_path, capsys, caplog):
    """A make models of an earlier kwsapp trained in .cnn.new beside cnn/ and
    swapped the folders (.cnn.old: the one replaced). Stopped between its
    two renames, it left no cnn/: this one says which folder to rename back
    rather than train without the model's live defaults; beside a cnn/,
    such folders are named in a warning, never used nor deleted."""
    pytest.importorskip("tensorflow")
    models = tmp_path / "models"
    for name, threshold in ((".cnn.old", 0.7), (".cnn.new", 0.45)):
        (models / name).mkdir(parents=True)
        (models / name / "card.json").write_text(json.dumps({"threshold": threshold}))
    rc = make_models.main(["--data", str(tmp_path / "missing"), "--out", str(models),
                           "--only", "cnn"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert (f"{models / 'cnn'}: no model, and a make models of an earlier kwsapp stopped "
            f"while it replaced it left {models / '.cnn.new'} and {models / '.cnn.old'}: "
            f"rename {models / '.cnn.new'} to {models / 'cnn'}") in err
    assert sorted(p.name for p in models.iterdir()) == [".cnn.new", ".cnn.old"]
    (models / ".cnn.new").rename(models / "cnn")
    rc = make_models.main(["--data", str(tmp_path / "missing"), "--out", str(models),
                           "--only", "cnn"])
    err = capsys.readouterr().err
    assert rc == 2 and "no such data folder" in err, err
    assert (f"{models / '.cnn.old'}: left by a make models of an earlier kwsapp, which trained "
            f"there; this one trains in {models / 'cnn'} and does not use it: delete it"
            ) in caplog.text
    assert sorted(p.name for p in models.iterdir()) == [".cnn.old", "cnn"]
