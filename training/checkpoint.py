"""A training run's checkpoint (``--out/.checkpoint``): model and optimizer,
the running weight mean, and a state JSON naming them with what Keras does
not save (the dropout layers' generator states). Each file is replaced
atomically, the state last, so a killed run resumes from a whole set."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp.atomic import write_atomic, write_json_atomic
from kwsapp.errors import BadInputError

log = logging.getLogger(__name__)

CHECKPOINT_DIR = ".checkpoint"
STATE_FILE = "state.json"


def read_checkpoint_state(ckpt: Path, fingerprint: str) -> dict[str, Any] | None:
    """The state of a run to resume from ``ckpt`` (None: nothing to resume).

    Raises:
        BadInputError: the checkpoint is another run's, or damaged (never
            half-written by kwsapp: both files are replaced atomically); the
            message says what to do.
    """
    path = ckpt / STATE_FILE
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInputError(f"{path}: damaged checkpoint state ({exc}); delete {ckpt} to "
                            f"train from the start") from None
    if saved.get("fingerprint") != fingerprint:
        raise BadInputError(f"{ckpt}: checkpoint of a different run (architecture, "
                            f"parameters, config or data differ); use another --out "
                            f"or delete {ckpt}")
    if not saved.get("model") or not (ckpt / str(saved["model"])).is_file():
        return None  # killed before its first model file: start afresh
    return saved


def add_to_average(model: Any, ckpt: Path, state: dict[str, Any], epoch: int) -> None:
    """Fold this epoch's weights into the running mean (``average_last_epochs``).
    The mean goes to a new file that the state names once it is written (by
    :func:`write_checkpoint`), so a run killed in between resumes from the
    previous mean and this epoch is not counted twice."""
    n = state.get("averaged", 0)
    weights = model.get_weights()
    if n:
        weights = [m + (w - m) / (n + 1) for m, w in zip(saved_average(ckpt, state), weights)]
    name = f"average-{epoch + 1:04d}.npz"

    def save(path: Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, **{f"w{i}": w for i, w in enumerate(weights)})

    write_atomic(ckpt / name, save)
    state.update(average=name, averaged=n + 1)


def weights_bytes(model: Any) -> bytes:
    """``model.save_weights``'s ``.weights.h5`` file as bytes, written in a
    scratch folder in memory (``/dev/shm`` where there is one) and read back.
    Written straight to a full disk, HDF5 kept the half-written file open
    and its exit handler crashed the process (SIGSEGV after the
    DiskFullError, instead of exit 1); now a full disk fails in
    ``write_atomic``'s plain write. (``model.save``'s ``.keras`` files are
    zips Keras fills from memory, so they need no such detour.)"""
    scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=scratch, prefix="kwsapp-weights-") as tmp:
        path = Path(tmp) / "best.weights.h5"
        model.save_weights(path)
        return path.read_bytes()


def saved_average(ckpt: Path, state: dict[str, Any]) -> list[np.ndarray]:
    """The running weight mean the checkpoint state names."""
    with np.load(ckpt / state["average"]) as saved:
        return [saved[f"w{i}"] for i in range(len(saved.files))]


def write_checkpoint(model: Any, ckpt: Path, state: dict[str, Any], epoch: int) -> None:
    """Model + optimizer to a new file, then the state naming it (the commit
    point); a kill at any moment leaves the previous complete pair."""
    name = f"epoch-{epoch + 1:04d}.keras"
    write_atomic(ckpt / name, lambda p: model.save(p))
    previous = state.get("model")
    state["model"] = name
    state["epoch"] = epoch
    state["seed_states"] = [np.asarray(v.numpy()).tolist() for v in _seed_variables(model)]
    write_json_atomic(ckpt / STATE_FILE, state)
    if previous and previous != name:
        (ckpt / previous).unlink(missing_ok=True)


def _seed_variables(model: Any) -> list[Any]:
    """The states of the model's random-number generators (its dropout
    layers'), which Keras leaves out of a saved model."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def restore_seed_states(model: Any, state: dict[str, Any]) -> None:
    """Give a model loaded from a checkpoint the generator states saved
    with it (:func:`write_checkpoint`): a loaded model's generators start
    anew, so the resumed run drew other dropout masks than the run it
    resumes."""
    saved = state.get("seed_states")
    variables = _seed_variables(model)
    if saved is None or len(saved) != len(variables):
        log.warning("checkpoint without its random-number states: the resumed run's "
                    "dropout differs from an uninterrupted run's")
        return
    for variable, value in zip(variables, saved):
        variable.assign(np.asarray(value, dtype=np.asarray(variable.numpy()).dtype))

