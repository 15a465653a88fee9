"""Issue 15 item 10 for `train`: Ctrl-C says where the run stopped and how
to resume (a real tiny run, interrupted with SIGINT after its first
checkpoint); a model near chance level is called so."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

import _train_support as support

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


def test_ctrl_c_then_resume_say_so(data_dir, tmp_path):
    out = tmp_path / "run"
    cmd = [c for c in support.train_cmd(data_dir, out, "--epochs", "3") if c != "-v"]
    env = support.env(support.workdir() / "cache")
    state = out / ".checkpoint" / "state.json"
    proc = subprocess.Popen(cmd, cwd=support.REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
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
