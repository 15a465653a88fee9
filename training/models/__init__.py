"""Architecture registry: name -> module (listed once, here).

Each architecture module exposes:

- ``DEFAULTS: dict`` hyperparameters of the full model, ``TINY: dict`` a tiny
  configuration for tests (a few thousand parameters, seconds to train);
- ``WINDOW_MS: float`` the window the model classifies (1000 or 1500);
- ``INPUT: dict`` the card's ``input`` entry (see kwsapp/models/artifact.py),
  e.g. ``{"kind": "log_spectrogram", "sample_rate_hz": 8000,
  "params": {"window_ms": 20, "step_ms": 10}}`` or
  ``{"kind": "waveform", "sample_rate_hz": 16000}``;
- ``build(params: dict, n_classes: int) -> keras.Model`` taking the front
  end's output for one window (batched) and giving softmax probabilities.

Optional hooks training/train.py and training/prepare.py use when present:

- ``frontend(windows: np.ndarray) -> np.ndarray``: ``[n, window]`` 16 kHz
  -> ``build``'s input (default: the card ``INPUT``'s features through
  kwsapp.features), with ``FRONTEND_ID: str`` naming it in cache keys;
- ``export_model(trained, params) -> keras.Model``: the deployable model
  taking the card's input, if not the trained one (``embed`` prepends the
  frozen embedding);
- ``SPEC_AUGMENT: bool``: SpecAugment each epoch on the front-end output;
- ``TRAIN: dict``: TrainConfig fields this architecture trains with
  (e.g. ``{"epochs": 80}``), used by ``make models``;
- ``AUGMENT: dict``: AugmentConfig fields it trains with (``make models``).

Imports are lazy so that listing the registry does not import TensorFlow.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ARCHS: dict[str, str] = {
    "embed": "training.models.embed_head",
    "cnn": "training.models.cnn",
    "wavception": "training.models.wavception",
}


def arch_module(name: str) -> ModuleType:
    """The module of architecture ``name`` (ValueError names the known ones)."""
    try:
        return importlib.import_module(ARCHS[name])
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHS)}") from None


def ensemble_head(heads: list) -> "keras.Model":  # noqa: F821 (lazy import)
    """One model averaging the probabilities of ``heads`` (same input and
    labels): what ``TrainConfig.ensemble`` trains and exports as one head."""
    import keras

    if len(heads) == 1:
        return heads[0]
    inp = keras.Input(tuple(heads[0].inputs[0].shape[1:]), name="embeddings")
    # Each member wrapped under its own name: the members share a layout,
    # so their own names (and their layers') repeat.
    outs = [keras.Model(h.inputs[0], h.outputs[0], name=f"member_{k}")(inp)
            for k, h in enumerate(heads)]
    out = keras.layers.Average(name="mean_probabilities")(outs)
    return keras.Model(inp, out, name=f"ensemble_of_{len(heads)}")
