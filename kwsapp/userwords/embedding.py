"""The embedding user words stand on: the bundled ``embed`` artifact's
frozen embedding (``embedding.tflite``, its card's ``streaming`` section) and
its negative pool, both found through the model registry."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kwsapp.errors import ModelError

if TYPE_CHECKING:
    from kwsapp.models.artifact import ModelCard
    from kwsapp.userwords.pool import NegativePool

#: The bundled model whose embedding and pool user words use.
EMBED_MODEL = "embed"


def embed_dir() -> Path:
    """The bundled ``embed`` artifact's folder."""
    from kwsapp.models.registry import resolve

    return resolve(EMBED_MODEL)


class Embedder:
    """``embed(audio) -> [T, 96]`` through the split artifact's embedding."""

    def __init__(self, artifact_dir: Path | None = None) -> None:
        from kwsapp.models.artifact import load_whole
        from kwsapp.models.split import SplitModel

        self.path = Path(artifact_dir or embed_dir())

        def load_files(card: ModelCard) -> tuple[SplitModel, str]:
            streaming = card.raw.get("streaming")
            if not streaming:
                raise ModelError(f"{self.path}: user words need the split embed artifact "
                                 "(a card with a 'streaming' section)")
            model = SplitModel(self.path, streaming)
            return model, embedding_id(self.path, card.name, model.spec.embedding_file)

        # The card and its files from one artifact (`make models` may put a
        # new embed in place meanwhile): kwsapp/models/artifact.py load_whole.
        _card, (self._model, embedding) = load_whole(self.path, load_files)
        #: names the embedding a detector was trained on (stored in its card)
        self.id = embedding

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return self._model.embed(np.asarray(audio, np.float32))


def embedding_id(artifact_dir: Path, name: str, embedding_file: str) -> str:
    """``NAME/FILE:SHA1[:12]`` of an artifact's one-shot embedding file: it
    changes with the embedding's weights and precision (a float and an int8
    artifact, card ``embedding_weights``, give different ids)."""
    data = (Path(artifact_dir) / embedding_file).read_bytes()
    return f"{name}/{embedding_file}:{hashlib.sha1(data).hexdigest()[:12]}"


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The bundled artifact's embedder, loaded once per process."""
    return Embedder()


def default_pool() -> NegativePool:
    """The bundled artifact's negative pool (cached by :func:`load_pool`)."""
    from kwsapp.userwords.pool import load_pool, pool_path

    return load_pool(pool_path(embed_dir()))
