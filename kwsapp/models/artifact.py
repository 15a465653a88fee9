"""Load a model artifact: ``model.tflite`` + ``card.json``, run with LiteRT.

A card (``card.json``) states what the model takes in and gives out; the
engine takes the window length and front end from :class:`ModelCard`, and
the live defaults (hop, thresholds, smoother, VAD) reach it through
:func:`kwsapp.config.runtime_settings`, which reads them from ``raw``.
Minimal card::

    {
      "format_version": 1,
      "name": "embed", "arch": "embed",
      "labels": ["silence", "unknown", "yes", ...],      # output order
      "sample_rate_hz": 16000,                           # of the window
      "window_ms": 1500, "hop_ms": 250,
      "input": {"kind": "waveform", "sample_rate_hz": 16000}
        # or {"kind": "log_spectrogram", "sample_rate_hz": 8000,
        #     "params": {"window_ms": 20, "step_ms": 10}}
        # (any kwsapp.features kind; normalization lives inside the graph)
      "threshold": 0.6, "smoothing": {...}, "vad": {...},   # live defaults
      "thresholds": {"left": 0.8},         # optional per-class thresholds
      "clip_weights": {"unknown": 0.5},    # optional, clips only (contracts 2)
      "training": {...}, "metrics": {...}, "created": "...", "code_version": "..."
    }

Only this module imports LiteRT (``ai_edge_litert``); nothing in the runtime
imports TensorFlow.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from kwsapp import features
from kwsapp.errors import ModelError

log = logging.getLogger(__name__)

CARD_FILE = "card.json"
TFLITE_FILE = "model.tflite"
SUPPORTED_FORMAT = 1
#: Hidden folder inside an artifact folder where ``kwsapp train``, ``kwsapp
#: export`` and ``make models`` write a new artifact before it replaces the
#: one in place (training/artifact_write.py); never loaded, never listed.
STAGING_DIR = ".kwsapp-staging"
#: The staging folder's swap manifest, written once the new artifact there
#: is whole: from then on the swap is only ever finished, never undone.
SWAP_FILE = "swap.json"
INPUT_KINDS = ("waveform", *features.FEATURES)


@dataclass(frozen=True)
class ModelCard:
    """The parts of ``card.json`` the runtime relies on (the rest is kept in
    ``raw``)."""

    name: str
    labels: tuple[str, ...]
    sample_rate_hz: int
    window_ms: float
    input_kind: str
    input_rate_hz: int
    input_params: dict[str, Any] = field(default_factory=dict)
    #: Multipliers of a clip's class probabilities (``clip_weights``,
    #: docs/contracts.md 2): a head trained with many negatives over-calls
    #: ``unknown`` on single clips; streams use the raw probabilities.
    clip_weights: dict[str, float] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def window_samples(self) -> int:
        """Window length in samples at ``sample_rate_hz`` (the engine's rate)."""
        return int(round(self.window_ms * self.sample_rate_hz / 1000.0))

    @classmethod
    def from_dict(cls, card: dict[str, Any], where: str = "card.json") -> "ModelCard":
        """Validate a card dict; a :class:`ModelError` names what is wrong."""
        version = card.get("format_version", SUPPORTED_FORMAT)
        if not isinstance(version, int) or version < 1:
            raise ModelError(f"{where}: card format {version!r} is not a format version")
        if version > SUPPORTED_FORMAT:
            raise ModelError(f"{where}: card format {version} is newer than this kwsapp reads "
                             f"(format {SUPPORTED_FORMAT}): upgrade kwsapp to use this model")
        if version != SUPPORTED_FORMAT:
            raise ModelError(f"{where}: card format {version} is not supported "
                             f"(this kwsapp reads format {SUPPORTED_FORMAT})")
        missing = [k for k in ("labels", "sample_rate_hz", "window_ms", "input") if k not in card]
        if missing:
            raise ModelError(f"{where}: missing {', '.join(missing)}")
        inp = _section(card, "input", where)
        kind = inp.get("kind")
        if kind not in INPUT_KINDS:
            raise ModelError(f"{where}: input kind {kind!r} is not supported "
                             f"(supported: {', '.join(INPUT_KINDS)})")
        raw_labels = card["labels"]
        if not isinstance(raw_labels, list) or not all(
                isinstance(x, str) and x for x in raw_labels):
            raise ModelError(f"{where}: labels must be a list of names, not {raw_labels!r}")
        labels = tuple(raw_labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ModelError(f"{where}: labels must be two or more distinct names")
        rate = _rate(card, "sample_rate_hz", where)
        input_rate = _rate(inp, "sample_rate_hz", where, "input.") if "sample_rate_hz" in inp \
            else rate
        params = _section(inp, "params", where, "input.")
        window_ms = _number(card, "window_ms", where, 0.0, MAX_WINDOW_MS)
        _check_thresholds(card, labels, where)
        clip_weights = _clip_weights(card, labels, where)
        _check_live_defaults(card, labels, where)
        return cls(
            name=str(card.get("name", "model")),
            labels=labels,
            sample_rate_hz=rate,
            window_ms=window_ms,
            input_kind=kind,
            input_rate_hz=input_rate,
            input_params=params,
            clip_weights=clip_weights,
            raw=card,
        )


#: Longest window (and hop) a card may state: a minute (the models' are 1-1.5 s).
MAX_WINDOW_MS = 60000.0
#: Sample rates a card may state (the rates audio files may have).
MIN_RATE_HZ, MAX_RATE_HZ = 4000, 192000
#: webrtcvad's modes and frame lengths (kwsapp/audio/vad.py).
VAD_MODES, VAD_FRAMES_MS = (0, 1, 2, 3), (10, 20, 30)


def _is_number(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def _section(card: dict[str, Any], key: str, where: str, prefix: str = "") -> dict[str, Any]:
    """The card's optional object ``key`` (absent or null: empty)."""
    value = card.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelError(f"{where}: {prefix}{key} must be an object, not {value!r}")
    return dict(value)


def _number(card: dict[str, Any], key: str, where: str, lo: float, hi: float | None = None,
            prefix: str = "", open_lo: bool = True) -> float:
    """``card[key]``: a finite number above ``lo`` (or ``lo`` itself when
    not ``open_lo``) and at most ``hi``."""
    value = card[key]
    if (not _is_number(value) or value < lo or (open_lo and value == lo)
            or (hi is not None and value > hi)):
        span = (f"{'above' if open_lo else 'at least'} {lo:g}" if hi is None
                else f"in {'(' if open_lo else '['}{lo:g}, {hi:g}]")
        raise ModelError(f"{where}: {prefix}{key} must be a number {span}, not {value!r}")
    return float(value)


def _rate(card: dict[str, Any], key: str, where: str, prefix: str = "") -> int:
    value = card[key]
    if not _is_number(value) or not float(value).is_integer() \
            or not MIN_RATE_HZ <= value <= MAX_RATE_HZ:
        raise ModelError(f"{where}: {prefix}{key} must be a whole number of Hz in "
                         f"[{MIN_RATE_HZ}, {MAX_RATE_HZ}], not {value!r}")
    return int(value)


def _check_live_defaults(card: dict[str, Any], labels: tuple[str, ...], where: str) -> None:
    """The live defaults a card may state (``hop_ms``, ``smoothing``,
    ``vad``, ``verify``; :meth:`kwsapp.config.Config.with_card` reads them)
    have the types and ranges the engine runs with: a hop of 0 or less
    held ``classify`` in an endless loop, a string or a list gave a
    traceback, a VAD mode of 9 webrtcvad's own error."""
    from kwsapp.config import SmoothingConfig, VadConfig, VerifyConfig

    if "hop_ms" in card:
        _number(card, "hop_ms", where, 0.0, MAX_WINDOW_MS)
    smoothing = _section(card, "smoothing", where)
    for key in set(SmoothingConfig.__dataclass_fields__) - {"class_offsets"}:
        if key == "threshold" and key in smoothing:
            _number(smoothing, key, where, 0.0, 1.0, "smoothing.")
        elif key in smoothing:
            _number(smoothing, key, where, 0.0, None, "smoothing.", open_lo=False)
    vad = _section(card, "vad", where)
    if "enabled" in vad and not isinstance(vad["enabled"], bool):
        raise ModelError(f"{where}: vad.enabled must be true or false, not {vad['enabled']!r}")
    for key, choices in (("aggressiveness", VAD_MODES), ("frame_ms", VAD_FRAMES_MS)):
        if key in vad and (isinstance(vad[key], bool) or vad[key] not in choices):
            raise ModelError(f"{where}: vad.{key} must be one of "
                             f"{', '.join(map(str, choices))}, not {vad[key]!r}")
    for key in set(VadConfig.__dataclass_fields__) - {"enabled", "aggressiveness", "frame_ms"}:
        if key == "min_level_dbfs" and key in vad:
            _number(vad, key, where, -200.0, 0.0, "vad.", open_lo=False)
        elif key in vad:
            _number(vad, key, where, 0.0, None, "vad.", open_lo=False)
    verify = _section(card, "verify", where)
    levels = _per_label(verify, "levels", "log-probability", labels, where, "verify.")
    for label, level in levels.items():
        if not _is_number(level):
            raise ModelError(f"{where}: verify.levels.{label} must be a number, not {level!r}")
    for key in ("before_ms", "after_ms"):
        if key in verify:
            _number(verify, key, where, 0.0, None, "verify.", open_lo=False)
    for key in set(VerifyConfig.__dataclass_fields__) & {"score_weight", "score_pivot",
                                                          "other_word_margin"}:
        if key in verify and not _is_number(verify[key]):
            raise ModelError(f"{where}: verify.{key} must be a number, not {verify[key]!r}")


def _per_label(card: dict[str, Any], key: str, what: str, labels: tuple[str, ...],
               where: str, prefix: str = "") -> dict[str, Any]:
    """The card's optional ``key``: an object keyed by the model's labels
    (absent or null: empty); its values are the caller's to check."""
    mapping = card.get(key)
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise ModelError(f"{where}: {prefix}{key} must be an object {{label: {what}}}")
    unknown = sorted(set(mapping) - set(labels))
    if unknown:
        raise ModelError(f"{where}: {prefix}{key} name labels the model lacks: "
                         f"{', '.join(unknown)}")
    return mapping


def _check_thresholds(card: dict[str, Any], labels: tuple[str, ...], where: str) -> None:
    """``threshold`` in (0, 1]; ``thresholds`` (per class, docs/contracts.md 2)
    an object of the card's labels to numbers in (0, 1]."""
    values = {"threshold": card.get("threshold", 0.5)}
    per_class = _per_label(card, "thresholds", "value", labels, where)
    values.update({f"thresholds.{k}": v for k, v in per_class.items()})
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ModelError(f"{where}: {key} must be a number in (0, 1], not {value!r}")


def _clip_weights(card: dict[str, Any], labels: tuple[str, ...], where: str
                  ) -> dict[str, float]:
    """``clip_weights``: an object of the card's labels to positive finite
    numbers (absent: every weight 1)."""
    weights = _per_label(card, "clip_weights", "weight", labels, where)
    for key, value in weights.items():
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value <= 0):
            raise ModelError(f"{where}: clip_weights.{key} must be a positive number, "
                             f"not {value!r}")
    return {str(k): float(v) for k, v in weights.items()}


def artifact_file(artifact_dir: str | Path, name: str) -> Path:
    """The file a card names, resolved inside ``artifact_dir``: a name that
    leads outside it (``..``, an absolute path, a link out) is refused, so a
    downloaded card cannot make kwsapp open files elsewhere.

    Raises:
        ModelError: the name leaves the folder.
    """
    root = Path(artifact_dir).resolve()
    path = (root / str(name)).resolve()
    if not path.is_relative_to(root):
        raise ModelError(f"{artifact_dir}: its card names {name!r}, outside the artifact "
                         "folder; refused")
    return path


def read_card(artifact_dir: str | Path) -> ModelCard:
    """Read and validate ``artifact_dir/card.json``."""
    return _read_card(artifact_dir)[0]


#: A file's identity and version: device, inode, size, mtime and ctime (ns).
#: A card put in place is a new file renamed over the path (new inode, new
#: ctime), never one rewritten in place; an unchanged stamp is the same card.
Stamp = tuple[int, int, int, int, int]


def _stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _stamp(path: Path) -> Stamp | None:
    """``path``'s stamp; None when there is nothing there."""
    try:
        return _stamp_of(os.stat(path))
    except OSError:
        return None


def _being_put_in_place(artifact_dir: str | Path) -> ModelError:
    return ModelError(f"{artifact_dir}: a new model is being put in place here (from "
                      f"{STAGING_DIR}); if no kwsapp train, export or make models is "
                      f"writing it now, one was stopped part way: run it again to finish")


def _read_card(artifact_dir: str | Path) -> tuple[ModelCard, Stamp]:
    """:func:`read_card`, and the stamp of the card file it read (taken
    from the open file: the one read, whatever replaced it since)."""
    path = Path(artifact_dir) / CARD_FILE
    if not Path(artifact_dir).is_dir():
        problem = "not a folder" if Path(artifact_dir).exists() else "no such folder"
        raise ModelError(f"{artifact_dir}: {problem} (a model artifact is a folder with "
                         f"{CARD_FILE})")
    try:
        if not path.is_file():
            raise FileNotFoundError(path)
        with open(path, "rb") as f:
            stamp = _stamp_of(os.fstat(f.fileno()))
            data = f.read()
    except FileNotFoundError:  # none, or removed just now by a swap
        if (Path(artifact_dir) / STAGING_DIR / SWAP_FILE).is_file():
            # Between the old card's removal and the new one's arrival: the
            # folder holds part of each artifact, so it is loaded as neither.
            raise _being_put_in_place(artifact_dir) from None
        raise ModelError(f"{artifact_dir}: not a model artifact (no {CARD_FILE})") from None
    except OSError as exc:
        raise ModelError(f"{path}: unreadable card ({exc})") from None
    try:
        card = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable card ({exc})") from None
    if not isinstance(card, dict):
        raise ModelError(f"{path}: card must be a JSON object")
    if card.get("kind") == "user_word":
        from kwsapp.models.registry import DEFAULT_MODEL

        # Its card lacks a model's fields: "missing labels, sample_rate_hz,
        # window_ms, input" left the user guessing what was wrong.
        raise ModelError(f"{artifact_dir}: a word of your own ({card.get('name', '?')!r}), not "
                         f"a model: your words are listened for beside the commands of the "
                         f"{DEFAULT_MODEL} model (Words > Add word… lists them; kwsapp words)")
    return ModelCard.from_dict(card, str(path)), stamp


Loaded = TypeVar("Loaded")


def load_whole(artifact_dir: str | Path,
               load_files: Callable[[ModelCard], Loaded]) -> tuple[ModelCard, Loaded]:
    """The artifact's card and ``load_files(card)`` (its model files,
    loaded as the card says), from one artifact.

    A new artifact is put in place by renames, card last, after the old
    card is removed (training/artifact_write.py): a load that read the old
    card, then files a swap had replaced meanwhile, paired one model's card
    with another's files. So the card's stamp (and the swap manifest's)
    is taken before and looked at again once the files are loaded: if
    either changed, a swap overlapped the load, which is done again after
    a pause (``ArtifactConfig``), and refused as a model being put in place
    after the last try. An error of the files' load (ModelError, OSError)
    is raised only when no swap overlapped it (a file missing because it
    was being replaced is no fault of the artifact).

    Raises:
        ModelError: the artifact cannot be loaded, or a model was being put
            in place on each try.
    """
    import time

    from kwsapp.config import ArtifactConfig

    config = ArtifactConfig()
    card_path = Path(artifact_dir) / CARD_FILE
    swap_path = Path(artifact_dir) / STAGING_DIR / SWAP_FILE
    for attempt in range(1, config.swap_tries + 1):
        last = attempt == config.swap_tries
        swap = _stamp(swap_path)  # before the card: a swap committed after it is seen
        try:
            card, stamp = _read_card(artifact_dir)
        except ModelError:
            # The card-less moment of a swap (or the card replaced as it was
            # opened): a new card is a few renames away.
            if last or (swap is None and _stamp(swap_path) is None):
                raise
            time.sleep(config.swap_pause_s)
            continue
        error: Exception | None = None
        try:
            loaded = load_files(card)
        except (ModelError, OSError) as exc:  # a file it names gone, or not yet whole
            error = exc
        if _stamp(card_path) == stamp and _stamp(swap_path) == swap:
            if error is not None:
                raise error
            return card, loaded
        log.info("%s: a new model was put in place while it loaded (try %d of %d)",
                 artifact_dir, attempt, config.swap_tries)
        if not last:
            time.sleep(config.swap_pause_s)
    raise _being_put_in_place(artifact_dir)


def _interpreter(path: Path, num_threads: int) -> Any:
    """A LiteRT interpreter for ``path`` with its tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelError("LiteRT is not installed: pip install ai-edge-litert") from exc
    if not path.is_file():
        raise ModelError(f"{path}: model file missing")
    try:
        interp = Interpreter(model_path=str(path), num_threads=num_threads)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a loadable .tflite model ({exc})") from None
    return interp


class TfliteModel:
    """A ``.tflite`` file bound to a one-thread LiteRT interpreter.

    ``invoke(x)`` takes one model input without its batch axis and returns the
    first output without its batch axis, float32.
    """

    def __init__(self, path: str | Path, num_threads: int = 1) -> None:
        self.path = Path(path)
        self._interp = _interpreter(self.path, num_threads)
        inp = self._interp.get_input_details()[0]
        out = self._interp.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_dtype = inp["dtype"]
        self._in_quant = inp.get("quantization", (0.0, 0))
        self._out_quant = out.get("quantization", (0.0, 0))
        self.input_shape: tuple[int, ...] = tuple(int(x) for x in inp["shape"][1:])
        self.output_shape: tuple[int, ...] = tuple(int(x) for x in out["shape"][1:])

        self._batch = int(inp["shape"][0])
        # -1 in the signature: the file lets the batch be resized.
        self.resizable_batch = int(inp.get("shape_signature", inp["shape"])[0]) == -1

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """One input without its batch axis -> the first output without it."""
        x = np.asarray(x, dtype=np.float32).reshape((1, *self.input_shape))
        return self._run(x)[0]

    def invoke_batch(self, x: np.ndarray) -> np.ndarray:
        """``[B, *input_shape]`` -> ``[B, *output_shape]`` float32: one call
        when the file's batch is resizable (``resize_tensor_input``, redone
        only when ``B`` changes), else one call per row."""
        x = np.asarray(x, dtype=np.float32).reshape((-1, *self.input_shape))
        if len(x) == 0:
            return np.zeros((0, *self.output_shape), np.float32)
        if not self.resizable_batch:
            return np.stack([self._run(row[None])[0] for row in x])
        return self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        scale, zero = self._in_quant
        if self._in_dtype != np.float32 and scale:
            # Full-integer model: quantize the input as its metadata says.
            info = np.iinfo(self._in_dtype)
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        if len(x) != self._batch:
            self._interp.resize_tensor_input(self._in_index, [len(x), *self.input_shape])
            self._interp.allocate_tensors()
            self._batch = len(x)
        # set_tensor copies its input and get_tensor returns a copy: no more
        # copies here (the live engine calls the head cold, every 80 ms).
        self._interp.set_tensor(self._in_index, x.astype(self._in_dtype, copy=False))
        self._interp.invoke()
        y = self._interp.get_tensor(self._out_index)
        scale, zero = self._out_quant
        if y.dtype != np.float32 and scale:
            y = (y.astype(np.float32) - zero) * scale
        return y.astype(np.float32, copy=False)


class TfliteGraph:
    """A ``.tflite`` with several named inputs and outputs (a streaming step:
    audio + kept state in, result + next state out), one LiteRT thread.

    Inputs are known by their Keras names, outputs by their Keras order
    (the converter names them ``serving_default_<name>:0`` and
    ``StatefulPartitionedCall...:<k>``).
    """

    def __init__(self, path: str | Path, num_threads: int = 1) -> None:
        self.path = Path(path)
        self._interp = _interpreter(self.path, num_threads)
        try:
            ins = self._interp.get_input_details()
            outs = self._interp.get_output_details()
            self.inputs = {d["name"].removeprefix("serving_default_").split(":")[0]:
                           (d["index"], tuple(int(x) for x in d["shape"])) for d in ins}
            order = sorted(outs, key=lambda d: int(d["name"].rsplit(":", 1)[-1]))
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path}: not a loadable .tflite model ({exc})") from None
        self._outs = [d["index"] for d in order]
        self.output_shapes = [tuple(int(x) for x in d["shape"]) for d in order]

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Set every named input, invoke, return the outputs in order (copies)."""
        for name, x in inputs.items():
            self._interp.set_tensor(self.inputs[name][0], x)
        self._interp.invoke()
        return [self._interp.get_tensor(i) for i in self._outs]


def load_tflite(artifact_dir: str | Path, card: ModelCard,
                filename: str = TFLITE_FILE) -> TfliteModel:
    """Load the artifact's ``.tflite`` and check it against its card."""
    model = TfliteModel(Path(artifact_dir) / filename)
    if model.output_shape[-1:] != (len(card.labels),):
        raise ModelError(f"{model.path}: gives {model.output_shape} outputs but its card "
                         f"names {len(card.labels)} labels")
    return model
