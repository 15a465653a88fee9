"""Ctrl-C (SIGINT) in the middle of a batch: the command exits 130 with what
it finished kept (``classify --json`` and ``evaluate --json`` printed nothing
at all before), says how far it got, and leaves no engine thread in a model
call under the exiting process (it was aborted: "terminate called without
an active exception").

The signal is sent once the process is seen (in /proc) to have a file open
that comes after the ones it must have finished: no sleeps, no timings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO_ROOT, label_clips, real_clip, sigint_default
from kwsapp.audio.io import load_audio
from kwsapp.audio.source import FileSource
from kwsapp.config import Config
from kwsapp.inference.engine import Engine
from kwsapp.inference.recognizer import Recognizer

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(),
                                reason="watches the process's open files in /proc")


def _open_files(pid: int) -> set[str]:
    out = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return out


def _interrupt_when(proc: subprocess.Popen, seen, limit_s: float = 300.0) -> None:
    """SIGINT to ``proc`` as soon as ``seen(open files)`` holds (the test
    fails if the process ends first)."""
    deadline = time.monotonic() + limit_s  # a guard against a hang only
    while proc.poll() is None and time.monotonic() < deadline:
        if seen(_open_files(proc.pid)):
            proc.send_signal(signal.SIGINT)
            return
        time.sleep(0.002)
    pytest.fail(f"the process ended (code {proc.poll()}) before it could be interrupted")


def _kwsapp(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kwsapp", *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_default)


@pytest.fixture
def sigint_raises():
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever
    this process was started with (conftest's ``sigint_default``)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="module")
def batch(tmp_path_factory, data_dir) -> tuple[Path, Path, Path]:
    """A clip, then two 4-minute files of real words (pauses between)."""
    d = tmp_path_factory.mktemp("interrupt")
    clip = d / "a_clip.wav"
    clip.write_bytes(real_clip(data_dir, "yes", 0).read_bytes())
    words = [load_audio(p) for label in ("yes", "no", "stop", "go")
             for p in label_clips(data_dir, label)[:15]]
    pause = np.zeros(8000, np.float32)
    long = np.concatenate([np.concatenate([w, pause]) for w in words] * 3)[:240 * 16000]
    first, second = d / "b_long.wav", d / "c_long.wav"
    sf.write(first, long, 16000)
    sf.write(second, long, 16000)
    return clip, first, second


@pytest.mark.parametrize("json_out", [True, False], ids=["json", "text"])
def test_classify_ctrl_c_keeps_the_files_done(tiny_model, batch, json_out):
    clip, first, second = batch
    proc = _kwsapp("classify", "--model", str(tiny_model), *(["--json"] if json_out else []),
                   str(clip), str(first), str(second))
    _interrupt_when(proc, lambda files: str(first) in files)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "terminate called" not in err, err
    assert "kwsapp: interrupted: 1 of 3 file(s) classified, 2 not" in err, err
    if json_out:
        result = json.loads(out)  # valid JSON, with the file done
        assert result["interrupted"] is True
        (row,) = result["files"]
        assert row["file"] == str(clip) and row["label"] is not None and "error" not in row
    else:
        assert out.startswith(f"{clip} (1.00 s): ")
        assert str(first) not in out and str(second) not in out


def test_evaluate_ctrl_c_reports_the_clips_scored(tiny_model, data_dir):
    """The shared subset's 3,600 clips; interrupted once two have been
    opened (so at least one is scored)."""
    root = str(data_dir.resolve())
    opened: set[str] = set()

    def two_clips(files: set[str]) -> bool:
        opened.update(f for f in files if f.startswith(root) and f.endswith(".wav"))
        return len(opened) >= 2

    proc = _kwsapp("evaluate", "--model", str(tiny_model), "--json", str(data_dir))
    _interrupt_when(proc, two_clips)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    result = json.loads(out)
    total = sum(len(label_clips(data_dir, p.name)) for p in data_dir.iterdir()
                if p.is_dir() and p.name != "_background_noise_")
    assert result["interrupted"] is True
    assert 1 <= result["n"] < total
    assert sum(sum(row) for row in result["confusion"]["matrix"]) == result["n"]
    assert (f"kwsapp: interrupted after {result['n'] + len(result['errors'])} of {total} "
            f"clip(s): the scores are of those only") in err, err


class _SlowRecognizer:
    """The tiny model, 3 s slower per window (a TEST DOUBLE: a model call
    that outlasts Engine.stop()'s 1 s, as a file's 128-embedding chunk did
    on a loaded machine)."""

    def __init__(self, inner: Recognizer) -> None:
        self._inner = inner
        self.card, self.labels, self.path = inner.card, inner.labels, inner.path
        self.calls = 0
        self.started = threading.Event()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.started.set()
        time.sleep(3.0)
        return self._inner.probabilities(window)


def test_an_interrupted_file_run_leaves_no_thread_in_a_model_call(tiny_model, data_dir,
                                                                 sigint_raises):
    """Ctrl-C while the inference thread is in a model call: run() returns
    (raising KeyboardInterrupt) only once its threads have ended, and the
    windows still queued are dropped, not run. Before, run() left after 1 s
    with the thread still in the call (and going on with the queue), and
    the process exiting under it was aborted."""
    words = np.concatenate([load_audio(real_clip(data_dir, w, 0)) for w in ("yes", "no")] * 4)
    slow = _SlowRecognizer(Recognizer(tiny_model))
    engine = Engine(slow, Config(), FileSource(words, 320))

    def interrupt() -> None:
        if slow.started.wait(60):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        engine.run()
    assert [t.name for t in engine._threads if t.is_alive()] == []
    assert slow.calls == 1
