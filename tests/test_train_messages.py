"""Issue 15 item 10 for `train`: Ctrl-C says where the run stopped and how
to resume (a real tiny run, interrupted with SIGINT after its first
checkpoint); a model near chance level is called so."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

import _train_support as support
from conftest import sigint_default

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_chance_warning_only_near_chance():
    from kwsapp.commands.train import chance_warning

    def card(acc):
        return {"labels": list("abcdefghijkl"), "metrics": {"validation": {"accuracy": acc}}}

    assert "near chance" in chance_warning(card(0.09))
    assert "--epochs" in chance_warning(card(0.12))
    assert chance_warning(card(0.6)) is None
    assert chance_warning({"labels": ["a", "b"], "metrics": {}}) is None


def test_ctrl_c_then_resume_say_so(data_dir, tmp_path, conversions):
    out = tmp_path / "run"
    # Forty epochs that early stopping cannot end: the Ctrl-C sent after the
    # first checkpoint always lands in training, never after the run.
    cmd = [c for c in support.train_cmd(data_dir, out, "--epochs", "40", "--patience", "40")
           if c != "-v"]
    env = support.training_env(conversions)
    state = out / ".checkpoint" / "state.json"
    proc = subprocess.Popen(cmd, cwd=support.REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    deadline = time.monotonic() + 300
    while not state.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before its first checkpoint"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    done = json.loads(state.read_text())["epoch"] + 1
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert f"interrupted after epoch {done}; run the same command to resume" in err, err[-2000:]
    # The resumed run's "resuming after epoch N" (printed without -v) is
    # checked by test_train.py's SIGKILL-and-resume run.


def test_damaged_checkpoint_state_says_what_to_do(tmp_path):
    """A state file kwsapp never writes half (atomic replace) but a disk can
    damage: one message naming it and what to do, not a JSON traceback."""
    from kwsapp.errors import BadInputError
    from kwsapp.atomic import write_json_atomic
    from training.checkpoint import STATE_FILE, read_checkpoint_state

    ckpt = tmp_path / ".checkpoint"
    assert read_checkpoint_state(ckpt, "fp") is None  # nothing to resume
    ckpt.mkdir()
    (ckpt / STATE_FILE).write_bytes(b'{"epoch": 3, "mod\x00\x9f')
    with pytest.raises(BadInputError, match=r"damaged checkpoint state .*delete .*\.checkpoint"):
        read_checkpoint_state(ckpt, "fp")
    write_json_atomic(ckpt / STATE_FILE, {"fingerprint": "other", "model": None})
    with pytest.raises(BadInputError, match="different run"):
        read_checkpoint_state(ckpt, "fp")
    write_json_atomic(ckpt / STATE_FILE, {"fingerprint": "fp", "model": "epoch-0001.keras",
                                          "epoch": 0})
    assert read_checkpoint_state(ckpt, "fp") is None  # its model file is not there
    (ckpt / "epoch-0001.keras").write_bytes(b"x")
    assert read_checkpoint_state(ckpt, "fp")["epoch"] == 0


def test_sigkill_while_a_checkpoint_is_written_keeps_the_last_whole_one(tmp_path):
    """A process SIGKILLed in the middle of write_atomic (the way every
    checkpoint and state file is written) leaves the previous file whole."""
    import sys

    target = tmp_path / "state.json"
    target.write_text('{"epoch": 1}')
    code = ("import sys, time; from pathlib import Path; "
            "from training.train import write_atomic\n"
            "def slow(p):\n"
            "    with open(p, 'w') as f:\n"
            "        f.write('{\"epoch\": 2, '); f.flush(); print('writing', flush=True)\n"
            "        time.sleep(60)\n"
            f"write_atomic(Path({str(target)!r}), slow)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=support.REPO_ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert json.loads(target.read_text()) == {"epoch": 1}


def _speaker_clips(data_dir, label: str, n: int) -> list:
    """``n`` clips of ``label`` from the shared data, one per speaker."""
    seen, out = set(), []
    for path in sorted((data_dir / label).glob("*.wav")):
        if path.name.split("_")[0] not in seen:
            seen.add(path.name.split("_")[0])
            out.append(path)
    return out[:n]


def _train_rc(data: Path, out: Path, capsys) -> tuple[int, str]:
    from kwsapp.cli import main

    rc = main(["train", "--data", str(data), "--arch", "cnn", "--out", str(out),
               "--config", "tiny", "--epochs", "1"])
    return rc, capsys.readouterr().err


def test_data_without_two_usable_classes_is_refused(data_dir, tmp_path, monkeypatch, capsys,
                                                    caplog):
    """A folder of one class (or whose other classes' files are all
    unreadable) once trained to exit 0 a model that says that class to
    everything; unreadable training or validation clips, all of them, ended
    in an IndexError or a Keras shape traceback (exit 1). Each is one line
    naming the folder and the problem now, exit 2, before any training."""
    import shutil

    from training.config import TrainConfig
    from training.data import split_clips
    from training.prepare import _check_classes

    monkeypatch.setenv("KWSAPP_CACHE_DIR", str(tmp_path / "cache"))
    one = tmp_path / "one"
    (one / "yes").mkdir(parents=True)
    for path in _speaker_clips(data_dir, "yes", 40):
        shutil.copy(path, one / "yes" / path.name)
    rc, err = _train_rc(one, tmp_path / "out1", capsys)
    assert rc == 2, err
    assert f"{one}: the training clips are all of one class (yes)" in err
    # Every clip of the second class unreadable: one class again, after decoding.
    (one / "no").mkdir()
    for path in _speaker_clips(data_dir, "no", 40):
        (one / "no" / path.name).write_bytes(b"not audio")
    rc, err = _train_rc(one, tmp_path / "out2", capsys)
    assert rc == 2 and "all of one class (yes)" in err, err
    assert "Traceback" not in err
    # No readable training clip at all.
    for path in (one / "yes").iterdir():
        path.write_bytes(b"not audio")
    rc, err = _train_rc(one, tmp_path / "out3", capsys)
    assert rc == 2, err
    assert f"{one}: none of the" in err and "training clips could be read" in err, err
    assert "Traceback" not in err
    # Every validation clip unreadable, the training clips fine.
    both = tmp_path / "both"
    for label in ("yes", "no", "stop"):
        (both / label).mkdir(parents=True)
        for path in _speaker_clips(data_dir, label, 40):
            shutil.copy(path, both / label / path.name)
    for clip in split_clips(both, TrainConfig.tiny())["validation"]:
        clip.path.write_bytes(b"not audio")
    rc, err = _train_rc(both, tmp_path / "out4", capsys)
    assert rc == 2, err
    assert f"{both}: none of the validation clips could be read" in err, err
    assert "Traceback" not in err
    # Classes with no training clip are named.
    caplog.clear()
    _check_classes(both, split_clips(both, TrainConfig.tiny())["train"])
    assert "no training clips of silence, unknown, up, down, left, right, on, off, go" \
        in caplog.text


def test_a_bad_architecture_parameter_is_refused(data_dir, tmp_path, monkeypatch, capsys):
    """`--param` with a key the architecture does not take (a typo) once
    trained without it, exit 0; a value it cannot build with ended in a
    ValueError traceback (exit 1). Both are one line, exit 2."""
    from kwsapp.cli import main

    monkeypatch.setenv("KWSAPP_CACHE_DIR", str(tmp_path / "cache"))

    def train(*param: str) -> tuple[int, str]:
        rc = main(["train", "--data", str(data_dir), "--arch", "cnn", "--out",
                   str(tmp_path / "out"), "--config", "tiny", "--epochs", "1", *param])
        return rc, capsys.readouterr().err

    rc, err = train("--param", "dens_units=4")
    assert rc == 2, err
    assert "--param dens_units: not a parameter of this architecture (it takes " in err
    assert "dense_units" in err
    assert not (tmp_path / "out").exists()
    rc, err = train("--param", "kernel_sizes=[2, 3]")
    assert rc == 2, err
    assert "--param: cannot build the cnn model with these parameters (" in err
    assert "Traceback" not in err


def test_only_the_runs_own_partial_files_are_removed(tmp_path, monkeypatch, capsys):
    """A run removes the partial files (.tmp-*) a killed run left where runs
    write, but it once removed every .tmp-* file anywhere under --out (a
    home folder's), even when it then failed on a bad --data."""
    from kwsapp.cli import main

    monkeypatch.setenv("KWSAPP_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "home"
    theirs = out / "project" / "build" / ".tmp-draft.txt"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("precious")
    ours = [out / ".tmp-abc.keras", out / ".checkpoint" / ".tmp-def.keras",
            out / ".ensemble" / "member-0" / ".checkpoint" / ".tmp-ghi.json"]
    for path in ours:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half")
    rc = main(["train", "--data", str(tmp_path / "missing"), "--arch", "cnn", "--out",
               str(out), "--config", "tiny"])
    assert rc == 2 and "no such data folder" in capsys.readouterr().err
    assert theirs.read_text() == "precious"
    assert not [p for p in ours if p.exists()]


def test_interrupted_names_the_mining_round_or_ensemble_member(tmp_path):
    """The `embed` recipe trains a mining round, then three ensemble members,
    each with its checkpoint in its own folder; Ctrl-C once said
    "interrupted before the first checkpoint" however far such a run was,
    reading only --out/.checkpoint."""
    from kwsapp.commands.train import interrupted_where
    from training.train import write_json_atomic

    def checkpoint(folder, epoch):
        write_json_atomic(folder / ".checkpoint" / "state.json", {"epoch": epoch - 1})

    out = tmp_path / "run"
    assert interrupted_where(out) == "before the first checkpoint"
    checkpoint(out, 2)
    assert interrupted_where(out) == "after epoch 2"
    out = tmp_path / "recipe"
    checkpoint(out / ".mining" / "round-1", 7)
    assert interrupted_where(out) == "after epoch 7 of mining round 1"
    (out / ".mining" / "round-1" / "mined.json").write_text("[]")
    (out / ".mining" / "round-1" / ".checkpoint" / "state.json").unlink()
    assert interrupted_where(out) == "after 1 mining round"
    member = out / ".ensemble" / "member-0"
    checkpoint(member, 12)
    assert interrupted_where(out) == "after epoch 12 of ensemble member 1"
    (member / "member.keras").write_bytes(b"PK")
    (member / ".checkpoint" / "state.json").unlink()
    assert interrupted_where(out) == "with 1 ensemble member done"
    checkpoint(out / ".ensemble" / "member-1", 3)
    assert interrupted_where(out) == "after epoch 3 of ensemble member 2 (1 ensemble member done)"
