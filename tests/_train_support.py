"""A tiny `embed` artifact trained once per test session by real
`kwsapp train --config tiny` runs that are SIGKILLed at seeded-random
moments (while a checkpoint is written, during an epoch, while the artifact
is exported, while it is put in place) and re-run with the same command
each time; the artifact the export tests use is the last run's result."""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_EPOCHS = 4
#: Seed of the kill moments (another seed: KWSAPP_KILL_SEED=N).
KILL_SEED = int(os.environ.get("KWSAPP_KILL_SEED", "0"))
#: Generous bound for one tiny run's phase on a loaded 2-core machine.
PHASE_TIMEOUT_S = 300


def env(cache: Path) -> dict[str, str]:
    """The subprocess environment: a private feature cache, quiet TF."""
    return {**os.environ, "KWSAPP_CACHE_DIR": str(cache), "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": ""}


@lru_cache(maxsize=1)
def workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="kwsapp-train-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def training_cache(conversions: Path, folder: Path | None = None) -> Path:
    """A private training cache (``folder``, default this process's) whose
    conversion folder is the session's shared one (conftest ``conversions``):
    decoded audio and features stay private, conversions are made once."""
    from training.export import TFLITE_CACHE_FOLDER

    folder = folder or workdir() / "cache"
    link = folder / TFLITE_CACHE_FOLDER
    if not link.is_symlink():
        folder.mkdir(parents=True, exist_ok=True)
        link.symlink_to(conversions, target_is_directory=True)
    return folder


def training_env(conversions: Path, folder: Path | None = None) -> dict[str, str]:
    """:func:`env` of :func:`training_cache`."""
    return env(training_cache(conversions, folder))


def train_cmd(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kwsapp", "-v", "train", "--data", str(data_dir),
            "--arch", "embed", "--out", str(out), "--config", "tiny", *extra]


class Kill(NamedTuple):
    """One SIGKILL of a training run and what it left behind."""

    kind: str  # "checkpoint write", "epoch", "export" or "swap"
    #: The partial file the kill interrupted (still there after the kill,
    #: so the kill landed in the middle of its write), or None.
    interrupted: str | None
    state: dict | None  # the checkpoint state left (None: no whole checkpoint)
    whole: dict[str, str]  # every checkpoint file left -> why it is whole
    log: str  # the killed run's stderr
    #: The output folder's files and those of its staging folder (where
    #: the artifact is written before it is put in place).
    files: list[str] = []
    staged: list[str] = []


class KilledRuns(NamedTuple):
    out: Path
    kills: list[Kill]
    log: str  # stderr of the last run, the one that finished


class _Run:
    """A training subprocess whose stderr is read live (tqdm writes "\\r")."""

    def __init__(self, cmd: list[str], cache: Path) -> None:
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env(cache),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.err = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while chunk := self.proc.stderr.read1(4096):
            self.err += chunk

    def text(self) -> str:
        return self.err.decode(errors="replace")

    def kill(self) -> str:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.reader.join(10)
        return self.text()


def _partial(folder: Path) -> set[str]:
    try:
        return {n for n in os.listdir(folder) if n.startswith(".tmp-")}
    except FileNotFoundError:
        return set()


def _wait_until(run: _Run, what: str, ready) -> object:
    """Poll ``ready()`` (every millisecond: a checkpoint write lasts tens of
    them) until it returns something true; fail if the run ends first."""
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        if run.proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {run.text()[-3000:]}")
        time.sleep(0.001)
    run.kill()
    raise AssertionError(f"no {what} within {PHASE_TIMEOUT_S} s: {run.text()[-3000:]}")


def _kill_in_write(run: _Run, folder: Path, nth: int, after: set[str]) -> str | None:
    """SIGKILL the run as soon as the ``nth`` new partial file (``.tmp-``,
    kwsapp/atomic.py) appears in ``folder``; returns the partial file's name
    if it is still there after the kill (the write was cut), else None."""
    seen = set(after)
    name = None
    for _ in range(nth):
        new = _wait_until(run, f"a write in {folder.name}", lambda: _partial(folder) - seen)
        name = sorted(new)[0]
        seen |= new
    run.kill()
    return name if name in _partial(folder) else None


def _whole_checkpoint(ckpt: Path) -> tuple[dict | None, dict[str, str]]:
    """The checkpoint state left in ``ckpt`` and proof that each complete
    file there is whole (a half-written one fails here)."""
    import zipfile

    whole: dict[str, str] = {}
    state_path = ckpt / "state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else None
    if state is not None:
        whole["state.json"] = "parses"
        model = ckpt / state["model"]
        assert model.is_file(), f"state names {state['model']}, not there"
    for path in sorted(ckpt.glob("*")) if ckpt.is_dir() else []:
        if path.name.startswith(".tmp-") or path.name == "state.json":
            continue
        if path.suffix in (".keras", ".npz"):  # .npz: the running weight mean
            with zipfile.ZipFile(path) as z:  # raises on a truncated zip
                assert z.testzip() is None, f"{path}: damaged member"
            whole[path.name] = "zip, every member's CRC right"
        elif path.name.endswith(".h5"):
            import h5py

            with h5py.File(path, "r") as f:
                f.visit(lambda _: None)  # walks every group: fails on a truncated file
            whole[path.name] = "HDF5 opens, every group read"
        else:
            raise AssertionError(f"unexpected file in the checkpoint: {path.name}")
    return state, whole


#: Files the tiny embed artifact moves into its folder when it is put in
#: place: model.keras, model.tflite, the split's seven, card.json.
SWAP_RENAMES = 10


def killed_and_resumed(data_dir: Path, conversions: Path) -> KilledRuns:
    """Four SIGKILLs at seeded-random moments, then the same command run to
    the end. Kill moments (seed ``KILL_SEED``):

    1. while a checkpoint after epoch 1's commit is written (the n-th
       partial file, n random in 1..2: a model file; the run averages its
       last two epochs' weights, so it keeps no best weights);
    2. a random 0.2-2 s after the resumed run said it resumed (inside the
       next epoch: a resumed run traces its graph again, seconds here);
    3. while the finished run writes its artifact (the n-th partial file of
       the output folder's staging folder, n random in 1..2: model.keras or
       model.tflite);
    4. while the finished run puts its artifact in place: before its n-th
       rename into the output folder, n random in 2..SWAP_RENAMES - 1 (a
       Python audit hook, tests/kill_at_rename_run.py: the swap is a few
       renames, too quick to catch from outside).
    """
    from kwsapp.models.artifact import STAGING_DIR

    rng = random.Random(KILL_SEED)
    out = workdir() / "tiny_embed"
    cache = training_cache(conversions)
    ckpt = out / ".checkpoint"
    staging = out / STAGING_DIR
    # The last two epochs' weights averaged: their running mean is part of
    # what a resumed run must take over (training/checkpoint.py add_to_average).
    cmd = train_cmd(data_dir, out, "--epochs", str(TINY_EPOCHS), "--average-last", "2")
    kills: list[Kill] = []

    def record(kind: str, interrupted: str | None, log: str) -> None:
        state, whole = _whole_checkpoint(ckpt)
        kills.append(Kill(kind, interrupted, state, whole, log, sorted(os.listdir(out)),
                          sorted(os.listdir(staging)) if staging.is_dir() else []))

    run = _Run(cmd, cache)
    _wait_until(run, "its first checkpoint", lambda: (ckpt / "state.json").is_file())
    name = _kill_in_write(run, ckpt, rng.randint(1, 2), after=_partial(ckpt))
    record("checkpoint write", name, run.text())

    run = _Run(cmd, cache)
    _wait_until(run, "saying it resumed", lambda: "resuming after epoch" in run.text())
    time.sleep(rng.uniform(0.2, 2.0))
    record("epoch", None, run.kill())

    run = _Run(cmd, cache)
    _wait_until(run, "saying it resumed", lambda: "resuming after epoch" in run.text())
    name = _kill_in_write(run, staging, rng.randint(1, 2), after=_partial(staging))
    record("export", name, run.text())

    killer = [sys.executable, str(REPO_ROOT / "tests" / "kill_at_rename_run.py"),
              str(rng.randint(2, SWAP_RENAMES - 1)), str(out), "kwsapp", *cmd[3:]]
    run = _Run(killer, cache)
    if run.proc.wait(PHASE_TIMEOUT_S) != -signal.SIGKILL:
        raise AssertionError(f"the run was not killed in its swap: {run.kill()[-3000:]}")
    run.reader.join(10)
    record("swap", None, run.text())

    final = subprocess.run(cmd, cwd=REPO_ROOT, env=env(cache), capture_output=True,
                           text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]
    return KilledRuns(out, kills, final.stderr)


def resumed_epoch(log: str) -> int | None:
    """The k of "resuming after epoch k" in a run's log (None: started afresh)."""
    found = re.search(r"resuming after epoch (\d+)", log)
    return int(found.group(1)) if found else None
