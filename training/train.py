"""Train an architecture of the registry on a Speech Commands folder and
write a model artifact (``model.keras``, ``model.tflite``, ``card.json``).

The run, in order:

1. split the data by speaker (training/data.py) and decode it (cached);
2. place each 1 s clip in the model's window (1 s, or 1.5 s for ``embed``:
   0.25 s context each side) and make ``aug_copies`` augmented copies of each
   training clip (training/augment.py; copy 0 is clean); run the model's front
   end on all of them once and cache the result on disk (for ``embed`` this
   is the frozen embedding, the costly part);
3. train with a tqdm bar (ETA, validation accuracy per epoch); each epoch
   draws one copy per clip, seeded by (seed, epoch), so a resumed run is the
   same run; after each epoch a checkpoint (model + optimizer, state JSON)
   is written atomically; early stopping on the validation speakers keeps
   the best weights;
4. write the artifact and its card, export ``.tflite`` and check that it
   agrees with Keras on real validation clips.

Several devices train through ``tf.distribute`` (MirroredStrategy; with
``TF_CONFIG`` set, MultiWorkerMirroredStrategy). Known limit: Keras 3's
``fit`` fails with two or more workers under MultiWorkerMirroredStrategy
(keras-team/keras#20585, open); one worker per cluster runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

from kwsapp import LABELS
from kwsapp.audio.io import fit_length, resample
from kwsapp.config import SAMPLE_RATE_HZ, AugmentConfig, SmoothingConfig, TrainConfig
from kwsapp.errors import BadInputError, KwsError
from training import data
from training.models import arch_module
from training.models.embedding import load_keras

log = logging.getLogger(__name__)

CHECKPOINT_DIR = ".checkpoint"
STATE_FILE = "state.json"
REPO_ROOT = Path(__file__).resolve().parents[1]


class DiskFullError(KwsError):
    """No space left where the run writes its checkpoints or artifact."""

    exit_code = 1


# --------------------------------------------------------------- file writing

def write_atomic(path: Path, payload: bytes | Callable[[Path], None]) -> None:
    """Write ``path`` through a temporary file in its folder and ``os.replace``.

    Args:
        payload: the bytes, or a function writing the temporary path it gets.

    Raises:
        DiskFullError: the disk is full (the old file, if any, is kept).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps every suffix: Keras checks ".weights.h5".
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-",
                                suffix="".join(path.suffixes) or ".tmp")
    tmp = Path(name)
    try:
        if isinstance(payload, (bytes, bytearray)):
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        else:
            os.close(fd)
            payload(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if _is_disk_full(exc, path.parent):
            free = shutil.disk_usage(path.parent).free
            raise DiskFullError(f"{path}: disk full while writing ({free / 1e6:.1f} MB free); "
                                f"free some space or train with another --out. The last "
                                f"complete checkpoint is kept, so re-running resumes.") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_disk_full(exc: BaseException, folder: Path) -> bool:
    seen: BaseException | None = exc
    while seen is not None:  # h5py/zipfile may wrap the OSError
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left" in str(seen) or "ENOSPC" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return isinstance(exc, Exception) and shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


def write_json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


# ------------------------------------------------------------- front end, bank

def window_samples(module: ModuleType) -> int:
    return int(round(module.WINDOW_MS * SAMPLE_RATE_HZ / 1000.0))


def frontend_of(module: ModuleType) -> Callable[[np.ndarray], np.ndarray]:
    """``[n, window] float32 16 kHz -> [n, ...]`` model inputs: the module's
    own ``frontend`` (``embed``: the embedding) or the card input's."""
    if hasattr(module, "frontend"):
        return module.frontend
    spec = module.INPUT
    rate = int(spec.get("sample_rate_hz", SAMPLE_RATE_HZ))

    def run(windows: np.ndarray) -> np.ndarray:
        rows = []
        for w in windows:
            x = resample(w, SAMPLE_RATE_HZ, rate)
            if spec["kind"] != "waveform":
                from kwsapp import features

                x = features.compute(spec["kind"], x, sample_rate_hz=rate,
                                     **spec.get("params", {}))
            rows.append(x.astype(np.float32))
        return np.stack(rows)

    return run


def _augmenter(data_dir: Path, aug: AugmentConfig, cfg: TrainConfig
               ) -> Callable[..., np.ndarray]:
    """training/augment.py's Augmenter, then a random gain: without it
    quiet words look like silence to a level-sensitive front end."""
    from training.augment import Augmenter

    augment = Augmenter(data.background_noise(data_dir), aug, seed=cfg.seed)
    low, high = cfg.gain_db_range

    def run(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        y = augment(window, rng) * np.float32(10.0 ** (rng.uniform(low, high) / 20.0))
        return np.clip(y, -1.0, 1.0)

    return run


def feature_bank(module: ModuleType, audio: np.ndarray, copies: int, cache_key: str,
                 cache: Path, augment: Callable[..., np.ndarray] | None, seed: int,
                 chunk: int = 256) -> np.ndarray:
    """Front-end output of ``copies`` versions of each clip, cached.

    Copy 0 is the clip as is; copies 1.. are augmented with
    ``augment(window, rng)``, ``rng`` seeded by (seed, copy, clip index).

    Returns:
        ``[copies, n, ...]`` float32, memory-mapped from the cache.
    """
    path = cache / f"features-{cache_key}.npy"
    if path.is_file():
        try:
            bank = np.load(path, mmap_mode="r")
            if bank.shape[:2] == (copies, len(audio)):
                log.info("front-end features from cache %s", path)
                return bank
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache %s (%s)", path, exc)
    n_window = window_samples(module)
    front = frontend_of(module)
    out = None
    from tqdm import tqdm

    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=".features-", suffix=".npy")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tqdm(total=copies * len(audio), desc="front end", unit="clip",
                  file=sys.stderr, leave=False, mininterval=_bar_interval()) as bar:
            for k in range(copies):
                for start in range(0, len(audio), chunk):
                    windows = []
                    for i in range(start, min(start + chunk, len(audio))):
                        w = fit_length(np.asarray(audio[i], np.float32), n_window)
                        if k > 0 and augment is not None:
                            w = augment(w, np.random.default_rng([seed, k, i]))
                        windows.append(w)
                    feats = front(np.stack(windows))
                    if out is None:
                        out = np.lib.format.open_memmap(
                            tmp, mode="w+", dtype=np.float32,
                            shape=(copies, len(audio), *feats.shape[1:]))
                    out[k, start:start + len(feats)] = feats
                    bar.update(len(feats))
        assert out is not None
        out.flush()
        del out
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if _is_disk_full(exc, cache):
            raise DiskFullError(f"{cache}: disk full while caching features") from None
        raise
    return np.load(path, mmap_mode="r")


@dataclasses.dataclass
class Prepared:
    """Model inputs by split. ``x_train`` is ``[copies, n, ...]``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    clips: dict[str, list[data.Clip]]
    audio_val: np.ndarray


def _subsample(clips: list[data.Clip], limit: int | None, seed: int) -> list[data.Clip]:
    if limit is None or len(clips) <= limit:
        return clips
    order = np.random.default_rng(seed).permutation(len(clips))[:limit]
    return [clips[i] for i in sorted(order)]


def prepare(data_dir: Path, module: ModuleType, arch: str, cfg: TrainConfig,
            aug: AugmentConfig, cache: Path | None = None) -> Prepared:
    """Split, decode, augment and run the front end (all cached)."""
    cache = cache or data.cache_dir()
    split = data.split_clips(data_dir, cfg)
    split["train"] = _subsample(split["train"], cfg.max_train_clips, cfg.seed)
    split["validation"] = _subsample(split["validation"], cfg.max_val_clips, cfg.seed)
    split["test"] = _subsample(split["test"], cfg.max_val_clips, cfg.seed)
    if cfg.synthetic_unknown:
        from training.negatives.tts import legacy_espeak_unknown

        split["train"] = split["train"] + legacy_espeak_unknown(cache)
    if not split["train"] or not split["validation"]:
        raise BadInputError(f"{data_dir}: too few speakers for a training and a validation "
                            f"split ({data.summary(split)})")
    front_id = getattr(module, "FRONTEND_ID", json.dumps(module.INPUT, sort_keys=True))
    out: dict[str, Any] = {}
    for name in data.SPLITS:
        audio, split[name] = data.load_clips(split[name], cache=cache)
        copies = cfg.aug_copies if name == "train" else 1
        aug_fn = _augmenter(data_dir, aug, cfg) if name == "train" and copies > 1 else None
        key = data.clips_hash(split[name], arch, front_id, window_samples(module), copies,
                              dataclasses.asdict(aug) if aug_fn else None, cfg.seed,
                              cfg.gain_db_range if aug_fn else None)
        bank = feature_bank(module, audio, copies, key, cache, aug_fn, cfg.seed) \
            if len(audio) else np.zeros((1, 0), np.float32)
        out[name] = (bank if name == "train" else bank[0], data.label_indices(split[name]))
        if name == "validation":
            out["audio_val"] = audio
    return Prepared(out["train"][0], out["train"][1], out["validation"][0],
                    out["validation"][1], out["test"][0], out["test"][1], split,
                    out["audio_val"])


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


def _bar_interval() -> float:
    """Seconds between progress-bar updates: often on a terminal, rarely
    into a log file."""
    return 0.2 if sys.stderr.isatty() else 15.0


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
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=_json_default)
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
    order = index[rng.permutation(len(index))]
    if cfg.steps_per_epoch is not None:
        order = order[:cfg.steps_per_epoch * cfg.batch_size]
    copy = rng.integers(prep.x_train.shape[0], size=len(order))
    x = np.asarray(prep.x_train[copy, order], np.float32)
    if getattr(module, "SPEC_AUGMENT", False):
        from training.augment import spec_augment

        x = np.stack([spec_augment(row, rng) for row in x])
    return x, prep.y_train[order]


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
          export: bool = True) -> dict[str, Any]:
    """Train ``arch`` and write the artifact to ``out_dir``.

    Args:
        params: overrides of the architecture's ``DEFAULTS`` (or ``TINY``).
        tiny: start from the architecture's ``TINY`` parameters.
        cpu_devices: split the CPU into this many logical devices and mirror
            over them (tests and multi-socket machines).
        command: the command line recorded in the card.

    Returns:
        The card written (with its metrics).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not is_chief():
        scratch = Path(tempfile.mkdtemp(prefix="kwsapp-worker-"))
        try:
            return _train(data_dir, arch, scratch / "out", cfg, params, tiny, aug, cpu_devices,
                          command, cache, export=False)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _train(data_dir, arch, out_dir, cfg, params, tiny, aug, cpu_devices, command,
                  cache, export)


def _train(data_dir: Path, arch: str, out_dir: Path, cfg: TrainConfig,
           params: dict[str, Any] | None, tiny: bool, aug: AugmentConfig, cpu_devices: int,
           command: str | None, cache: Path | None, export: bool) -> dict[str, Any]:
    import keras
    from tqdm import tqdm

    module = arch_module(arch)
    params = {**(module.TINY if tiny else module.DEFAULTS), **(params or {})}
    strategy = strategy_for(cpu_devices)
    prep = prepare(data_dir, module, arch, cfg, aug, cache)
    n_classes = len(LABELS)
    y_val_1h = keras.utils.to_categorical(prep.y_val, n_classes)
    log.info("data: %s", json.dumps(data.summary(prep.clips)))

    ckpt = out_dir / CHECKPOINT_DIR
    fingerprint = _fingerprint(arch, params, dataclasses.asdict(cfg), dataclasses.asdict(aug),
                               [c.key(data_dir) for c in prep.clips["train"]])
    state = {"epoch": -1, "best_accuracy": -1.0, "best_epoch": -1, "bad_epochs": 0,
             "history": [], "fingerprint": fingerprint, "model": None}
    state_path = ckpt / STATE_FILE
    steps = (cfg.steps_per_epoch or int(np.ceil(len(prep.y_train) / cfg.batch_size)))
    with strategy.scope():
        model = None
        if state_path.is_file():
            saved = json.loads(state_path.read_text())
            if saved.get("fingerprint") != fingerprint:
                raise BadInputError(f"{ckpt}: checkpoint of a different run (architecture, "
                                    f"parameters, config or data differ); use another --out "
                                    f"or delete {ckpt}")
            if saved.get("model") and (ckpt / saved["model"]).is_file():
                state = saved
                model = load_keras(ckpt / state["model"], compile=True)
                log.info("resuming after epoch %d from %s", state["epoch"] + 1, ckpt)
        if model is None:
            keras.utils.set_random_seed(cfg.seed)
            model = module.build(params, n_classes)
            _compile(model, cfg, steps)
    first = state["epoch"] + 1
    bar = tqdm(total=cfg.epochs * steps, initial=first * steps, desc=f"train {arch}",
               unit="step", file=sys.stderr, dynamic_ncols=True, mininterval=_bar_interval())
    if state["history"]:
        bar.set_postfix(val_acc=f"{state['history'][-1]['val_accuracy']:.4f}",
                        best=f"{state['best_accuracy']:.4f}")

    class Progress(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            bar.update(1)

    try:
        for epoch in range(first, cfg.epochs):
            if state["bad_epochs"] >= cfg.patience:
                break
            keras.utils.set_random_seed(cfg.seed * 1000 + epoch)
            x, y = _epoch_arrays(prep, epoch, cfg, module)
            hist = model.fit(_dataset(x, keras.utils.to_categorical(y, n_classes), cfg),
                             epochs=1, verbose=0, callbacks=[Progress()])
            val = model.evaluate(_dataset(prep.x_val, y_val_1h, cfg), verbose=0,
                                 return_dict=True)
            row = {"epoch": epoch + 1, "loss": float(hist.history["loss"][-1]),
                   "accuracy": float(hist.history["accuracy"][-1]),
                   "val_loss": float(val["loss"]), "val_accuracy": float(val["accuracy"])}
            state["history"].append(row)
            improved = row["val_accuracy"] > state["best_accuracy"]
            if improved:
                state.update(best_accuracy=row["val_accuracy"], best_epoch=epoch, bad_epochs=0)
                write_atomic(ckpt / "best.weights.h5", lambda p: model.save_weights(p))
            else:
                state["bad_epochs"] += 1
            _checkpoint(model, ckpt, state, epoch)
            bar.set_postfix(val_acc=f"{row['val_accuracy']:.4f}",
                            best=f"{state['best_accuracy']:.4f}")
            log.info("epoch %d: loss %.4f acc %.4f val_loss %.4f val_acc %.4f", epoch + 1,
                     row["loss"], row["accuracy"], row["val_loss"], row["val_accuracy"])
            bar.write(f"epoch {epoch + 1}/{cfg.epochs}: val accuracy "
                      f"{row['val_accuracy']:.4f} (best {state['best_accuracy']:.4f})",
                      file=sys.stderr)
    finally:
        bar.close()
    if (ckpt / "best.weights.h5").is_file():
        model.load_weights(ckpt / "best.weights.h5")
    card = _finish(model, module, arch, params, cfg, aug, prep, data_dir, out_dir, state,
                   command, export)
    shutil.rmtree(ckpt, ignore_errors=True)
    return card


def _checkpoint(model: Any, ckpt: Path, state: dict[str, Any], epoch: int) -> None:
    """Model + optimizer to a new file, then the state naming it (the commit
    point); a kill at any moment leaves the previous complete pair."""
    name = f"epoch-{epoch + 1:04d}.keras"
    write_atomic(ckpt / name, lambda p: model.save(p))
    previous = state.get("model")
    state["model"] = name
    state["epoch"] = epoch
    write_json_atomic(ckpt / STATE_FILE, state)
    if previous and previous != name:
        (ckpt / previous).unlink(missing_ok=True)


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
            export: bool) -> dict[str, Any]:
    """Score the best weights, write ``model.keras``, ``card.json`` and the
    ``.tflite`` (checked against Keras on real validation clips)."""
    from training.evaluate import metrics

    result = {}
    for name, x, y in (("validation", prep.x_val, prep.y_val), ("test", prep.x_test, prep.y_test)):
        if len(y):
            pred = model.predict(x, batch_size=cfg.batch_size, verbose=0).argmax(1)
            result[name] = metrics(y, pred)
            result[name]["speakers"] = len({c.speaker for c in prep.clips[name] if c.speaker})
    deployable = module.export_model(model, params) if hasattr(module, "export_model") else model
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "model.keras", lambda p: deployable.save(p))
    smoothing = SmoothingConfig()
    card = {
        "format_version": 1,
        "name": arch, "arch": arch,
        "labels": list(LABELS),
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "window_ms": float(module.WINDOW_MS), "hop_ms": 250.0,
        "input": module.INPUT,
        "threshold": smoothing.threshold,
        "smoothing": {"average_window_ms": smoothing.average_window_ms,
                      "refractory_ms": smoothing.refractory_ms},
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
            "params": params, "config": dataclasses.asdict(cfg),
            "augment": dataclasses.asdict(aug),
            "epochs_run": len(state["history"]), "best_epoch": state["best_epoch"] + 1,
            "history": state["history"],
        },
        "metrics": result,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }
    if export:
        from training.export import export_artifact

        n = min(len(prep.audio_val), 64)
        windows = np.stack([fit_length(np.asarray(a, np.float32), window_samples(module))
                            for a in prep.audio_val[:n]])
        x_raw = windows if hasattr(module, "export_model") else frontend_of(module)(windows)
        card["export"] = export_artifact(out_dir, x_raw, prep.y_val[:n])
    write_json_atomic(out_dir / "card.json", card)
    val = result.get("validation", {})
    log.info("%s: validation accuracy %s on %s clips", out_dir, val.get("accuracy"), val.get("n"))
    return card
