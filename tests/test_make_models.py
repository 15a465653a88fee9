"""training/make_models.py: the recipe a bundled model is trained with, and
the live defaults a rebuilt (or held-out) model takes from a card."""

from __future__ import annotations

import dataclasses
import json
import shutil

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
    previous, new = tmp_path / "previous", tmp_path / "new"
    previous.mkdir(), new.mkdir()
    live = {"threshold": 0.55, "smoothing": {"average_window_ms": 250.0}, "hop_ms": 80.0}
    (previous / "card.json").write_text(json.dumps({**live, "name": "old", "metrics": {"a": 1}}))
    (new / "card.json").write_text(json.dumps({"name": "new", "threshold": 0.9,
                                               "metrics": {"b": 2}}))
    make_models.keep_live_defaults(previous, new)
    card = json.loads((new / "card.json").read_text())
    assert card == {"name": "new", "metrics": {"b": 2}, **live}
    # No card to copy from (a first build): the new card stays as trained.
    make_models.keep_live_defaults(tmp_path / "missing", new)
    assert json.loads((new / "card.json").read_text()) == card


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


def test_a_folder_that_is_not_a_model_is_never_replaced(tmp_path, capsys):
    """--out's <arch>/ is replaced by the trained model (renamed away and
    deleted): a folder of the user's own of that name was lost after the
    training."""
    mine = tmp_path / "stuff" / "cnn"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    rc = make_models.main(["--data", str(tmp_path), "--out", str(tmp_path / "stuff"),
                           "--only", "cnn"])
    assert rc == 2
    assert f"{mine} is not a model folder (no card.json)" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "mine"


def test_a_make_models_runs_own_folders_are_no_bundled_models(tmp_path, monkeypatch,
                                                              tiny_model):
    """A killed `make models` leaves its staging folder (.cnn.new, kept to
    resume) and maybe the model it was replacing (.cnn.old), each with a
    card: `kwsapp --version` and the GUI's model list named them as models."""
    import shutil

    from kwsapp.models.registry import bundled_models, bundled_versions

    for name in ("cnn", ".cnn.new", ".cnn.old"):
        shutil.copytree(tiny_model, tmp_path / name)
    monkeypatch.setenv("KWSAPP_MODELS_DIR", str(tmp_path))
    assert bundled_models() == ["cnn"]
    assert list(bundled_versions()) == ["cnn"]


def test_a_rebuilt_model_keeps_the_folders_other_files_not_the_earlier_artifacts(
        tmp_path, monkeypatch, capsys):
    """The model folder is replaced by the one trained beside it (.cnn.new):
    what the folder held beside its artifact comes along (the user words'
    pool, a file of the user's; only negatives.npz did, the rest was
    deleted with the old folder); the earlier artifact's files do not."""
    from training import train as train_module

    def fake_train(data_dir, arch, out_dir, cfg, **kwargs):
        out_dir.mkdir(parents=True)
        for name in ("model.keras", "model.tflite"):
            (out_dir / name).write_text("new")
        card = {"metrics": {"validation": {"accuracy": 0.5, "n": 2, "speakers": 1}}}
        (out_dir / "card.json").write_text(json.dumps(card))
        return card

    monkeypatch.setattr(train_module, "train", fake_train)
    old = tmp_path / "models" / "cnn"
    old.mkdir(parents=True)
    for name in ("card.json", "model.keras", "model.tflite", "model_int8.tflite",
                 "head.tflite", "negatives.npz", "notes.txt"):
        (old / name).write_text("{}" if name == "card.json" else "old")
    (old / "plots").mkdir()
    (old / "plots" / "model.tflite").write_text("mine")
    rc = make_models.main(["--data", str(tmp_path), "--out", str(tmp_path / "models"),
                           "--only", "cnn"])
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["cnn"]
    assert sorted(p.name for p in old.iterdir()) == [
        "card.json", "model.keras", "model.tflite", "negatives.npz", "notes.txt", "plots"]
    assert (old / "model.tflite").read_text() == "new"
    assert (old / "notes.txt").read_text() == "old"
    assert (old / "plots" / "model.tflite").read_text() == "mine"


@pytest.mark.parametrize("staged", [True, False])
def test_a_run_killed_mid_swap_is_put_right_before_the_next(tmp_path, monkeypatch, capsys,
                                                           staged):
    """Killed between renaming the model to .cnn.old and .cnn.new to cnn, a
    run left no cnn/: the re-run read no live defaults (the card's tuned
    threshold was lost) and trained from scratch beside a model it never
    restored. The next run first puts the finished model in place (or the
    old one back when there is none), and keeps its live defaults."""
    from training import train as train_module

    seen = {}

    def fake_train(data_dir, arch, out_dir, cfg, **kwargs):
        seen["before"] = sorted(p.name for p in out_dir.parent.iterdir())
        shutil.rmtree(out_dir, ignore_errors=True)  # (train replaces its staging folder)
        out_dir.mkdir(parents=True)
        card = {"metrics": {"validation": {"accuracy": 0.5, "n": 2, "speakers": 1}}}
        (out_dir / "card.json").write_text(json.dumps(card))
        return card

    monkeypatch.setattr(train_module, "train", fake_train)
    models = tmp_path / "models"
    for name, threshold in ((".cnn.old", 0.7), (".cnn.new", 0.45)):
        if name == ".cnn.new" and not staged:
            continue
        (models / name).mkdir(parents=True)
        (models / name / "card.json").write_text(json.dumps({"threshold": threshold}))
    rc = make_models.main(["--data", str(tmp_path), "--out", str(models), "--only", "cnn"])
    assert rc == 0, capsys.readouterr().err
    assert seen["before"] == ["cnn"]  # put right before it trained
    assert sorted(p.name for p in models.iterdir()) == ["cnn"]
    card = json.loads((models / "cnn" / "card.json").read_text())
    assert card["threshold"] == (0.45 if staged else 0.7)
