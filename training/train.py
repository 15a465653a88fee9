"""Train an architecture of the registry on a Speech Commands folder and
write a model artifact (``model.keras``, ``model.tflite``, ``card.json``).

The run, in order:

1. split the data by speaker (training/data.py) and decode it (cached);
2. place each 1 s clip in the model's window (1 s, or 1.5 s for ``embed``:
   0.25 s context each side) and make ``aug_copies`` augmented copies of each
   training clip (training/augment.py; copy 0 is clean); run the model's front
   end on all of them once and cache the result on disk (for ``embed`` this
   is the frozen embedding, the costly part): training/prepare.py;
3. train with a tqdm bar (ETA, validation accuracy per epoch); each epoch
   draws one copy per clip, seeded by (seed, epoch), so a resumed run is the
   same run; after each epoch a checkpoint (model + optimizer, state JSON
   with the dropout layers' generator states, which Keras does not save)
   is written atomically (training/checkpoint.py); early stopping on the
   validation speakers keeps the best weights;
4. write the artifact and its card, export ``.tflite`` and check that it
   agrees with Keras on real validation clips, all in the folder's hidden
   staging folder, then put it in place (training/artifact_write.py): the
   folder holds the earlier artifact until the new one is whole, then the
   new one; the files an earlier artifact left there that this one does
   not hold are removed (e.g. an ``embed`` model's ``head.tflite`` under a
   ``cnn`` card), the user's own stay.

Several devices train through ``tf.distribute`` (MirroredStrategy; with
``TF_CONFIG`` set, MultiWorkerMirroredStrategy). Known limit: Keras 3's
``fit`` fails with two or more workers under MultiWorkerMirroredStrategy
(keras-team/keras#20585, open); one worker per cluster runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from kwsapp import LABELS
from kwsapp.audio.io import fit_length
from kwsapp.config import SAMPLE_RATE_HZ, SmoothingConfig
from training.config import AugmentConfig, TrainConfig
from kwsapp.atomic import PARTIAL_PREFIX, json_default, write_atomic, write_json_atomic
from kwsapp.errors import BadInputError, ModelError
from training import data
from training.checkpoint import (CHECKPOINT_DIR, add_to_average, read_checkpoint_state,
                                 restore_seed_states, saved_average, weights_bytes,
                                 write_checkpoint)
from training.models import arch_module
from training.models.embedding import load_keras
from training.prepare import Prepared, frontend_of, prepare, window_samples
from training.progress import bar_interval

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ training

def strategy_for(cpu_devices: int = 1) -> Any:
    """The tf.distribute strategy: multi-worker when ``TF_CONFIG`` is set,
    mirrored over several GPUs or ``cpu_devices`` logical CPUs, else the
    default (one device)."""
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cpu_devices > 1:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
        except RuntimeError:  # already initialized: use what exists
            pass
        logical = tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in logical[:cpu_devices]])
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief() -> bool:
    """Whether this process writes checkpoints and the artifact: always
    without ``TF_CONFIG``; with it, the chief (or worker 0 when the cluster
    names no chief). Other workers train alongside and write to a scratch
    folder, as Keras advises for multi-worker runs."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return ("chief" not in config.get("cluster", {}) and task.get("type") == "worker"
            and int(task.get("index", 0)) == 0)


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=json_default)
                        .encode()).hexdigest()[:16]


def _epoch_arrays(prep: Prepared, epoch: int, cfg: TrainConfig, module: ModuleType
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's inputs: a seeded copy per clip, shuffled, SpecAugment for
    spectrogram models that ask for it (``SPEC_AUGMENT = True``)."""
    rng = np.random.default_rng([cfg.seed, epoch])
    n = len(prep.y_train)
    index = np.arange(n)
    if cfg.unknown_oversample > 1:
        unknown = np.flatnonzero(prep.y_train == LABELS.index("unknown"))
        index = np.concatenate([index] + [unknown] * (cfg.unknown_oversample - 1))
    n_neg = _negatives_per_epoch(prep, cfg)
    if n_neg:  # negatives are numbered after the clips
        drawn = rng.choice(prep.x_neg.shape[1], n_neg, replace=False)
        index = np.concatenate([index, n + drawn])
    order = index[rng.permutation(len(index))]
    if cfg.steps_per_epoch is not None:
        order = order[:cfg.steps_per_epoch * cfg.batch_size]
    is_neg = order >= n
    copy = rng.integers(prep.x_train.shape[0], size=len(order))
    x = np.empty((len(order), *prep.x_train.shape[2:]), np.float32)
    x[~is_neg] = prep.x_train[copy[~is_neg], order[~is_neg]]
    if is_neg.any():
        neg_copy = rng.integers(prep.x_neg.shape[0], size=int(is_neg.sum()))
        x[is_neg] = prep.x_neg[neg_copy, order[is_neg] - n]
    y = np.where(is_neg, LABELS.index("unknown"), prep.y_train[np.minimum(order, n - 1)])
    if getattr(module, "SPEC_AUGMENT", False):
        from training.augment import spec_augment

        x = np.stack([spec_augment(row, rng) for row in x])
    return x, y.astype(prep.y_train.dtype)


def _negatives_per_epoch(prep: Prepared, cfg: TrainConfig) -> int:
    """How many negative windows an epoch draws (0 without negatives)."""
    available = 0 if prep.x_neg is None else prep.x_neg.shape[1]
    if cfg.negatives_per_epoch is None:
        return available
    return min(available, cfg.negatives_per_epoch)


def _dataset(x: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> Any:
    """Batches (global batch size) for ``fit``/``evaluate``; a tf.data set
    so that every tf.distribute strategy, multi-worker included, can shard
    it (by batch: each worker takes its share of every global batch)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return (tf.data.Dataset.from_tensor_slices((x, y)).batch(cfg.batch_size)
            .with_options(options))


def _compile(model: Any, cfg: TrainConfig, steps_per_epoch: int) -> None:
    import keras

    # Cosine decay over the whole run: late epochs move little, so the
    # epoch early stopping keeps is less a matter of luck.
    lr = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=max(1, cfg.epochs * steps_per_epoch), alpha=0.05)
    model.compile(optimizer=keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
                  metrics=["accuracy"])


def train(data_dir: str | Path, arch: str, out_dir: str | Path,
          cfg: TrainConfig = TrainConfig(), params: dict[str, Any] | None = None,
          tiny: bool = False, aug: AugmentConfig = AugmentConfig(), cpu_devices: int = 1,
          command: str | None = None, cache: Path | None = None,
          export: bool = True, card_updates: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``arch`` and write the artifact to ``out_dir`` (through its
    staging folder: training/artifact_write.py; a swap a stopped run left
    there is finished first).

    Args:
        params: overrides of the architecture's ``DEFAULTS`` (or ``TINY``).
        tiny: start from the architecture's ``TINY`` parameters.
        cpu_devices: split the CPU into this many logical devices and mirror
            over them (tests and multi-socket machines).
        command: the command line recorded in the card.
        card_updates: keys set over the trained card before it is written
            (``make models``: the live defaults of the model it replaces).

    Returns:
        The card written (with its metrics).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not is_chief():
        scratch = Path(tempfile.mkdtemp(prefix="kwsapp-worker-"))
        try:
            return _train(data_dir, arch, scratch / "out", cfg, params, tiny, aug, cpu_devices,
                          command, cache, export=False)[0]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    member_configs(cfg)  # bad member overrides fail before any training
    model_params(arch_module(arch), params, tiny)  # and unknown parameters
    from training.artifact_write import finish_swap

    finish_swap(out_dir)  # a whole artifact in out_dir while this one trains
    remove_partial_files(out_dir)
    mined = _mining_rounds(data_dir, arch, out_dir, cfg, params, tiny, aug, cpu_devices, cache)
    if cfg.ensemble > 1:
        card = _train_ensemble(data_dir, arch, out_dir, cfg, params, tiny, aug, cpu_devices,
                               command, cache, export, mined, card_updates)
    else:
        card = _train(data_dir, arch, out_dir, cfg, params, tiny, aug, cpu_devices, command,
                      cache, export, mined, card_updates=card_updates)[0]
    shutil.rmtree(out_dir / MINING_DIR, ignore_errors=True)
    return card


ENSEMBLE_DIR = ".ensemble"


def model_params(module: ModuleType, params: dict[str, Any] | None, tiny: bool
                 ) -> dict[str, Any]:
    """The architecture's ``DEFAULTS`` (or ``TINY``) with ``params`` over them.

    Raises:
        BadInputError: a key of ``params`` is none of the architecture's
            parameters (a misspelt one was ignored: the model trained
            without it).
    """
    unknown = sorted(set(params or {}) - set(module.DEFAULTS))
    if unknown:
        raise BadInputError(f"--param {', '.join(unknown)}: not a parameter of this "
                            f"architecture (it takes {', '.join(sorted(module.DEFAULTS))})")
    return {**(module.TINY if tiny else module.DEFAULTS), **(params or {})}


def _train_ensemble(data_dir: Path, arch: str, out_dir: Path, cfg: TrainConfig,
                    params: dict[str, Any] | None, tiny: bool, aug: AugmentConfig,
                    cpu_devices: int, command: str | None, cache: Path | None, export: bool,
                    mined: Sequence[data.Clip], card_updates: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """``cfg.ensemble`` heads, member ``k`` trained with seed
    :func:`member_seed` (init and epoch draws only: the split and the cached
    features stay those of ``cfg.seed``) on ``cfg``'s data or, with ``cfg.member_overrides``,
    its own (:func:`member_configs`), then averaged into one
    model and exported as one. Each finished member is kept under
    ``out_dir/.ensemble/member-k`` until the whole run ends, so a killed run
    resumes with the next member (and inside it, from its checkpoint)."""
    from training.models import ensemble_head
    from training.models.embedding import load_keras

    module = arch_module(arch)
    configs = member_configs(cfg)
    heads, states, prep = [], [], None
    for k in range(cfg.ensemble):
        folder = out_dir / ENSEMBLE_DIR / f"member-{k}"
        done = folder / "member.keras"
        if done.is_file() and (folder / "state.json").is_file():
            heads.append(load_keras(done))
            states.append(json.loads((folder / "state.json").read_text()))
            log.info("ensemble member %d of %d: from %s", k + 1, cfg.ensemble, folder)
            continue
        log.info("ensemble member %d of %d (seed %d%s)", k + 1, cfg.ensemble, member_seed(cfg, k),
                 "".join(f", {name} {value}" for name, value in _overrides(cfg, k)))
        # No artifact per member (finish=False): the head alone is kept, for resuming.
        _, model, member_prep, state = _train(data_dir, arch, folder, configs[k], params, tiny,
                                              aug, cpu_devices, None, cache, False, mined,
                                              member=k, finish=False)
        if configs[k] == cfg:  # the card describes (and _finish scores with) cfg's data
            prep = member_prep
        write_atomic(done, lambda p: model.save(p))
        write_json_atomic(folder / "state.json", {key: state[key] for key in
                                                  ("history", "best_epoch", "best_accuracy",
                                                   "averaged", "final_accuracy") if key in state})
        heads.append(model)
        states.append(state)
    if prep is None:  # members came from a killed run's folder, or all had overrides
        prep = prepare(data_dir, module, arch, cfg, aug, cache, mined)
    combined = ensemble_head(heads)
    state = {"history": states[0]["history"], "best_epoch": states[0]["best_epoch"],
             "members": [{"seed": member_seed(cfg, k), "best_epoch": st["best_epoch"] + 1,
                          "epochs_run": len(st["history"]),
                          "validation_accuracy": st.get("final_accuracy", st["best_accuracy"]),
                          **({"averaged_epochs": st["averaged"]} if st.get("averaged") else {}),
                          **({"overrides": dict(_overrides(cfg, k))}
                             if _overrides(cfg, k) else {})}
                         for k, st in enumerate(states)]}
    card = _finish(combined, module, arch, model_params(module, params, tiny), cfg, aug, prep,
                   data_dir, out_dir, state, command, export, cache, card_updates)
    shutil.rmtree(out_dir / ENSEMBLE_DIR, ignore_errors=True)
    return card


#: Fields a member may not override: they would change the split (so the
#: members' validation clips), or the ensemble itself.
_MEMBER_FIXED = frozenset({"seed", "validation_share", "test_share", "unknown_share",
                           "silence_share", "max_val_clips", "extra_data", "ensemble",
                           "member_overrides", "member_seed_offset"})


def member_seed(cfg: TrainConfig, k: int) -> int:
    """The seed of member ``k``'s training loop (init and epoch draws):
    ``cfg.seed + cfg.member_seed_offset + k``; ``cfg.seed`` alone still
    fixes the split and the cached features."""
    return cfg.seed + cfg.member_seed_offset + k


def _overrides(cfg: TrainConfig, k: int) -> tuple[tuple[str, Any], ...]:
    return tuple(cfg.member_overrides[k]) if cfg.member_overrides else ()


def member_configs(cfg: TrainConfig) -> list[TrainConfig]:
    """The training settings of each of ``cfg.ensemble`` members: ``cfg``
    with member k's ``member_overrides`` over it.

    Raises:
        ValueError: ``member_overrides`` is not one entry per member, or
            overrides an unknown field or one that would change the split.
    """
    if cfg.member_overrides and cfg.ensemble < 2:
        raise ValueError("member_overrides needs an ensemble of two or more members")
    if cfg.member_overrides and len(cfg.member_overrides) != cfg.ensemble:
        raise ValueError(f"member_overrides has {len(cfg.member_overrides)} entries for "
                         f"an ensemble of {cfg.ensemble}: give one per member (() for none)")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    out = []
    for k in range(cfg.ensemble):
        pairs = dict(_overrides(cfg, k))
        bad = sorted(set(pairs) - known) + sorted(set(pairs) & _MEMBER_FIXED)
        if bad:
            raise ValueError(f"member {k}'s overrides cannot set {', '.join(bad)} "
                             "(unknown, or it would change the split or the ensemble)")
        out.append(dataclasses.replace(cfg, **pairs))
    return out


def remove_partial_files(out_dir: Path) -> None:
    """Delete the partial files (kwsapp/atomic.py's ``.tmp-*``) a killed run
    left in its output folder: a SIGKILL skips write_atomic's clean-up, and
    the complete files beside them are whole (they are only ever replaced).
    Only where a run writes: the folder itself and its checkpoint, ensemble
    and mining folders, never the user's own subfolders (``--out ~`` once
    deleted every ``.tmp-*`` file of the home folder)."""
    if not out_dir.is_dir():
        return
    partial = [p for p in out_dir.glob(PARTIAL_PREFIX + "*") if p.is_file()]
    for name in (CHECKPOINT_DIR, ENSEMBLE_DIR, MINING_DIR):
        if (out_dir / name).is_dir():
            partial += [p for p in (out_dir / name).rglob(PARTIAL_PREFIX + "*") if p.is_file()]
    for path in partial:
        path.unlink(missing_ok=True)
    if partial:
        log.info("removed %d partial file(s) an interrupted run left in %s", len(partial),
                 out_dir)


MINING_DIR = ".mining"
#: Mining stops when a round finds fewer new windows than this.
MINING_MIN_NEW = 10


def _mining_rounds(data_dir: Path, arch: str, out_dir: Path, cfg: TrainConfig,
                   params: dict[str, Any] | None, tiny: bool, aug: AugmentConfig,
                   cpu_devices: int, cache: Path | None) -> list[data.Clip]:
    """``cfg.mining_rounds`` rounds of: train (no export), run the model over
    the training split's other speech (training/negatives/mining.py), keep
    the windows that fire and are new. Each round's finds are saved in
    ``out_dir/.mining/round-N/mined.json``, so a killed run resumes."""
    from training.negatives import mining

    if cfg.mining_rounds and cfg.embedding_weights != "float":
        # mining.stream_embeddings runs the float embedding
        raise BadInputError("mining_rounds: only with float embedding weights")
    mining.banked_windows([], cfg.mining_windows)  # a bad kind fails now, not after a round
    mined: list[data.Clip] = []
    module = arch_module(arch)
    for r in range(1, cfg.mining_rounds + 1):
        folder = out_dir / MINING_DIR / f"round-{r}"
        saved = folder / "mined.json"
        if saved.is_file():
            found = [_clip_from_json(row) for row in json.loads(saved.read_text())]
        else:
            _, model, prep, _ = _train(data_dir, arch, folder, cfg, params, tiny, aug,
                                       cpu_devices, None, cache, False, mined, finish=False)
            fresh = []
            if cfg.mining_tts_words:
                from training.negatives import tts

                fresh = tts.fresh_words(tts.training_tts_config(cfg), cfg.mining_tts_words,
                                        cache)
            found = mining.mine_training_speech(
                model, prep.clips.get("negatives", []), prep.clips["train"], data_dir,
                cache or data.cache_dir(), cfg.seed, module.N_EMBEDDINGS,
                window_samples(module), cfg.mining_threshold, cfg.mining_windows, fresh)
            write_json_atomic(saved, [_clip_json(c) for c in found])
        new = [c for c in found if not any(c.path == m.path and
                                           abs(c.start - m.start) < c.frames // 2
                                           for m in mined)]
        log.info("mining round %d: %d windows fire, %d new", r, len(found), len(new))
        mined += new
        if len(new) < MINING_MIN_NEW:
            break
    return mined


def _clip_json(c: data.Clip) -> dict[str, Any]:
    return {"path": str(c.path), "word": c.word, "start": c.start, "frames": c.frames,
            "source": c.source}


def _clip_from_json(row: dict[str, Any]) -> data.Clip:
    return data.Clip(Path(row["path"]), "unknown", row["word"], None, row["start"],
                     source=row["source"], frames=row["frames"])


def _train(data_dir: Path, arch: str, out_dir: Path, cfg: TrainConfig,
           params: dict[str, Any] | None, tiny: bool, aug: AugmentConfig, cpu_devices: int,
           command: str | None, cache: Path | None, export: bool,
           mined: Sequence[data.Clip] = (), member: int = 0, finish: bool = True,
           card_updates: dict[str, Any] | None = None
           ) -> tuple[dict[str, Any] | None, Any, Prepared, dict[str, Any]]:
    """One training run: ``(card, trained model, prepared data, its state)``
    (epochs' history, best epoch). ``member`` k of an ensemble trains with
    seed :func:`member_seed` (init and epoch draws; data and split unchanged).
    ``finish=False`` (an ensemble member, a mining round: their caller keeps
    the model) writes no artifact and returns no card."""
    import keras
    from tqdm import tqdm

    module = arch_module(arch)
    params = model_params(module, params, tiny)
    strategy = strategy_for(cpu_devices)
    # Said by us, not only by TensorFlow's logging (hidden below -vv).
    try:
        devices = ", ".join(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy names no devices
        devices = "one device"
    log.info("training with %s on %s", type(strategy).__name__, devices)
    prep = prepare(data_dir, module, arch, cfg, aug, cache, mined)
    n_classes = len(LABELS)
    y_val_1h = keras.utils.to_categorical(prep.y_val, n_classes)
    log.info("data: %s", json.dumps(data.summary(prep.clips)))

    ckpt = out_dir / CHECKPOINT_DIR
    run_cfg = dataclasses.replace(cfg, seed=member_seed(cfg, member))  # the training loop's seeds
    fingerprint = _fingerprint(arch, params, dataclasses.asdict(run_cfg), dataclasses.asdict(aug),
                               [c.key(data_dir) for c in prep.clips["train"]],
                               [c.key(data_dir) for c in prep.clips.get("negatives", [])])
    state = {"epoch": -1, "best_accuracy": -1.0, "best_epoch": -1, "bad_epochs": 0,
             "history": [], "fingerprint": fingerprint, "model": None}
    n_unknown = int(np.sum(prep.y_train == LABELS.index("unknown")))
    per_epoch = (len(prep.y_train) + n_unknown * (max(cfg.unknown_oversample, 1) - 1)
                 + _negatives_per_epoch(prep, cfg))
    steps = (cfg.steps_per_epoch or int(np.ceil(per_epoch / cfg.batch_size)))
    with strategy.scope():
        model = None
        saved = read_checkpoint_state(ckpt, fingerprint)
        if saved is not None:
            state = saved
            try:
                model = load_keras(ckpt / state["model"], compile=True)
            except ModelError as exc:  # names the file and what is wrong with it
                raise BadInputError(f"{exc} (a damaged checkpoint); "
                                    f"delete {ckpt} to train from the start") from None
            restore_seed_states(model, state)
            # Said without -v: a resumed run must never look like a new one.
            print(f"resuming after epoch {state['epoch'] + 1} from {ckpt}", file=sys.stderr)
        if model is None:
            keras.utils.set_random_seed(run_cfg.seed)
            try:
                model = module.build(params, n_classes)
            except (ValueError, TypeError) as exc:  # a parameter's value (--param)
                raise BadInputError(f"--param: cannot build the {arch} model with these "
                                    f"parameters ({exc})") from None
            _compile(model, cfg, steps)
    first = state["epoch"] + 1
    bar = tqdm(total=cfg.epochs * steps, initial=first * steps, desc=f"train {arch}",
               unit="step", file=sys.stderr, dynamic_ncols=True, mininterval=bar_interval())
    if state["history"]:
        bar.set_postfix(val_acc=f"{state['history'][-1]['val_accuracy']:.4f}",
                        best=f"{state['best_accuracy']:.4f}")

    class Progress(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            bar.update(1)

    try:
        for epoch in range(first, cfg.epochs):
            if state["bad_epochs"] >= cfg.patience and not cfg.average_last_epochs:
                break
            keras.utils.set_random_seed(run_cfg.seed * 1000 + epoch)
            x, y = _epoch_arrays(prep, epoch, run_cfg, module)
            hist = model.fit(_dataset(x, keras.utils.to_categorical(y, n_classes), cfg),
                             epochs=1, verbose=0, callbacks=[Progress()],
                             shuffle=False)  # _epoch_arrays shuffled it
            val = model.evaluate(_dataset(prep.x_val, y_val_1h, cfg), verbose=0,
                                 return_dict=True)
            row = {"epoch": epoch + 1, "loss": float(hist.history["loss"][-1]),
                   "accuracy": float(hist.history["accuracy"][-1]),
                   "val_loss": float(val["loss"]), "val_accuracy": float(val["accuracy"])}
            state["history"].append(row)
            improved = row["val_accuracy"] > state["best_accuracy"]
            if improved:
                state.update(best_accuracy=row["val_accuracy"], best_epoch=epoch, bad_epochs=0)
                if not cfg.average_last_epochs:  # the mean is kept instead
                    write_atomic(ckpt / "best.weights.h5", weights_bytes(model))
            else:
                state["bad_epochs"] += 1
            previous_average = state.get("average")
            if cfg.average_last_epochs and epoch >= cfg.epochs - cfg.average_last_epochs:
                add_to_average(model, ckpt, state, epoch)
            write_checkpoint(model, ckpt, state, epoch)
            if previous_average and previous_average != state.get("average"):
                (ckpt / previous_average).unlink(missing_ok=True)
            bar.set_postfix(val_acc=f"{row['val_accuracy']:.4f}",
                            best=f"{state['best_accuracy']:.4f}")
            log.info("epoch %d: loss %.4f acc %.4f val_loss %.4f val_acc %.4f", epoch + 1,
                     row["loss"], row["accuracy"], row["val_loss"], row["val_accuracy"])
            bar.write(f"epoch {epoch + 1}/{cfg.epochs}: val accuracy "
                      f"{row['val_accuracy']:.4f} (best {state['best_accuracy']:.4f})",
                      file=sys.stderr)
    finally:
        bar.close()
    if state.get("average"):
        model.set_weights(saved_average(ckpt, state))
        state["final_accuracy"] = float(model.evaluate(_dataset(prep.x_val, y_val_1h, cfg),
                                                       verbose=0, return_dict=True)["accuracy"])
    elif (ckpt / "best.weights.h5").is_file():
        model.load_weights(ckpt / "best.weights.h5")
    card = _finish(model, module, arch, params, cfg, aug, prep, data_dir, out_dir, state,
                   command, export, cache, card_updates) if finish else None
    shutil.rmtree(ckpt, ignore_errors=True)
    return card, model, prep, state


def code_version() -> str:
    """``git`` commit of this code (``-dirty`` with uncommitted changes)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("-dirty" if dirty else "")) if sha else "unknown"


def _finish(model: Any, module: ModuleType, arch: str, params: dict[str, Any],
            cfg: TrainConfig, aug: AugmentConfig, prep: Prepared, data_dir: Path,
            out_dir: Path, state: dict[str, Any], command: str | None,
            export: bool, cache: Path | None = None,
            card_updates: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score the best weights, write ``model.keras``, ``card.json`` (with
    ``card_updates`` over it) and the ``.tflite`` (checked against Keras on
    real validation clips; the frozen embedding's conversions cached under
    ``cache``) into ``out_dir``'s staging folder, then put them in place
    (training/artifact_write.py): in a folder that held an artifact (a
    ``card.json``), the files of the earlier one that this one does not hold
    are removed, the user's own stay."""
    from training.evaluate import metrics

    result, probs = {}, {}
    for name, x, y in (("validation", prep.x_val, prep.y_val), ("test", prep.x_test, prep.y_test)):
        if len(y):
            probs[name] = model.predict(x, batch_size=cfg.batch_size, verbose=0)
            result[name] = metrics(y, probs[name].argmax(1))
            result[name]["speakers"] = len({c.speaker for c in prep.clips[name] if c.speaker})
    deployable = module.export_model(model, params) if hasattr(module, "export_model") else model
    smoothing = SmoothingConfig()
    card = {
        "format_version": 1,
        "name": arch, "arch": arch,
        "labels": list(LABELS),
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "window_ms": float(module.WINDOW_MS), "hop_ms": float(getattr(module, "HOP_MS", 250.0)),
        "input": module.INPUT,
        # The frozen embedding's precision (docs/contracts.md 1; absent: float).
        **({"embedding_weights": cfg.embedding_weights} if hasattr(module, "frontend_id")
           else {}),
        "threshold": smoothing.threshold,
        "smoothing": smoothing.card_fields(),
        "parameters": int(deployable.count_params()),
        "trainable_parameters": int(sum(int(np.prod(w.shape))
                                        for w in model.trainable_weights)),
        "training": {
            "command": command or f"kwsapp train --data {data_dir} --arch {arch}",
            "data": str(data_dir),
            "split": data.split_description(data_dir, cfg),
            "clips": data.summary(prep.clips),
            "validation_speakers": sorted({c.speaker for c in prep.clips["validation"]
                                           if c.speaker}),
            "negatives": dict(sorted(Counter(c.source.split("/")[0] or "other"
                                             for c in prep.clips.get("negatives", [])).items())),
            "params": params, "config": dataclasses.asdict(cfg),
            "augment": dataclasses.asdict(aug),
            "epochs_run": len(state["history"]), "best_epoch": state["best_epoch"] + 1,
            **({"averaged_epochs": [len(state["history"]) - state["averaged"] + 1,
                                    len(state["history"])]} if state.get("averaged") else {}),
            "history": state["history"],
            **({"ensemble": state["members"]} if "members" in state else {}),
        },
        "metrics": result,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }
    if cfg.negatives and "validation" in probs:
        # Negatives inflate the unknown prior: a clip's decision takes it
        # back out (training/clip_weights.py); streams keep raw probabilities.
        from training import clip_weights

        card = clip_weights.apply_to_card(card, clip_weights.choose(
            probs["validation"], prep.y_val, [c.speaker for c in prep.clips["validation"]],
            LABELS, seed=cfg.seed))
    from training.artifact_write import StagedArtifact

    # Written beside out_dir's artifact, put in place once whole (an embed's
    # split files under a cnn card, an int8 export of the earlier
    # model.keras: the earlier artifact's files this one lacks go then).
    with StagedArtifact(out_dir) as stage:
        write_atomic(stage.path / "model.keras", lambda p: deployable.save(p))
        if export:
            from training.export import export_artifact

            n = min(len(prep.audio_val), 64)
            windows = np.stack([fit_length(np.asarray(a, np.float32), window_samples(module))
                                for a in prep.audio_val[:n]])
            x_raw = windows if hasattr(module, "export_model") else frontend_of(module)(windows)
            card["export"] = export_artifact(stage.path, x_raw, prep.y_val[:n], cache=cache,
                                             embedding_weights=cfg.embedding_weights)
            if "streaming" in card["export"]:  # embed: split files for streaming
                card["streaming"] = card["export"].pop("streaming")
        card.update(card_updates or {})
        write_json_atomic(stage.path / "card.json", card)
        stage.commit()
    val = result.get("validation", {})
    log.info("%s: validation accuracy %s on %s clips", out_dir, val.get("accuracy"), val.get("n"))
    return card
