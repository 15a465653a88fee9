"""A tiny `embed` artifact trained once per test session, by a real
`kwsapp train --config tiny` run that is SIGKILLed after its first
checkpoint and then resumed (so the artifact the export tests use is also
the resume test's result)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_EPOCHS = 4


def env(cache: Path) -> dict[str, str]:
    """The subprocess environment: a private feature cache, quiet TF."""
    return {**os.environ, "KWSAPP_CACHE_DIR": str(cache), "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": ""}


@lru_cache(maxsize=1)
def workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="kwsapp-train-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def train_cmd(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kwsapp", "-v", "train", "--data", str(data_dir),
            "--arch", "embed", "--out", str(out), "--config", "tiny", *extra]


@lru_cache(maxsize=1)
def killed_and_resumed(data_dir: Path) -> tuple[Path, dict, str]:
    """``(artifact, state at kill, log of the resumed run)``."""
    out = workdir() / "tiny_embed"
    cache = workdir() / "cache"
    cmd = train_cmd(data_dir, out, "--epochs", str(TINY_EPOCHS))
    state_path = out / ".checkpoint" / "state.json"
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env(cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if state_path.is_file():
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no checkpoint before the run ended: {proc.communicate()[1]}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    state = json.loads(state_path.read_text())
    resumed = subprocess.run(cmd, cwd=REPO_ROOT, env=env(cache), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return out, state, resumed.stderr
