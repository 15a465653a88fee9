"""An ``embed`` artifact split for streaming: the frozen embedding and the
trained head as two ``.tflite`` files (docs/contracts.md, section 1).

Embedding ``j`` of a signal covers its 16 kHz samples
``[j * hop, j * hop + input_samples)`` (hop 1280 = 80 ms, input 12400 =
775 ms); the head reads ``frames`` (10) consecutive embeddings. The head on
embeddings ``j-9 .. j`` equals the whole-window model on the 24,000 samples
that start at ``(j - 9) * 1280``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from kwsapp.errors import ModelError
from kwsapp.models.artifact import TfliteModel

#: Embeddings computed per model call on files (bounded memory: one batch
#: of inputs is 64 x 12400 float32 = 3 MB).
EMBED_BATCH = 64


@dataclass(frozen=True)
class StreamingSpec:
    """A card's ``streaming`` section."""

    embedding_file: str
    input_samples: int  # samples one embedding covers (its receptive field)
    hop_samples: int  # samples between consecutive embeddings
    dim: int
    head_file: str
    frames: int  # embeddings the head reads

    @classmethod
    def from_dict(cls, section: Mapping[str, Any], where: str = "card.json") -> "StreamingSpec":
        try:
            emb, head = section["embedding"], section["head"]
            return cls(str(emb["file"]), int(emb["input_samples"]), int(emb["hop_samples"]),
                       int(emb["dim"]), str(head["file"]), int(head["frames"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: bad 'streaming' section ({exc!r})") from None

    @property
    def window_samples(self) -> int:
        """Samples under ``frames`` embeddings (without the head's tail)."""
        return self.input_samples + (self.frames - 1) * self.hop_samples

    def n_embeddings(self, n_samples: int) -> int:
        """How many whole embeddings ``n_samples`` samples give."""
        if n_samples < self.input_samples:
            return 0
        return 1 + (n_samples - self.input_samples) // self.hop_samples


class SplitModel:
    """The two halves of a split artifact, each bound to its own LiteRT
    interpreter (one thread each).

    Args:
        artifact_dir: the folder holding the files the section names.
        streaming: the card's ``streaming`` section (dict or spec).
    """

    def __init__(self, artifact_dir: str | Path,
                 streaming: Mapping[str, Any] | StreamingSpec) -> None:
        artifact_dir = Path(artifact_dir)
        spec = (streaming if isinstance(streaming, StreamingSpec)
                else StreamingSpec.from_dict(streaming, str(artifact_dir / "card.json")))
        self.spec = spec
        self.embedding = TfliteModel(artifact_dir / spec.embedding_file)
        self.head_model = TfliteModel(artifact_dir / spec.head_file)
        if (self.embedding.input_shape != (spec.input_samples,)
                or self.embedding.output_shape != (spec.dim,)):
            raise ModelError(f"{self.embedding.path}: takes {self.embedding.input_shape} and "
                             f"gives {self.embedding.output_shape}, its card says "
                             f"({spec.input_samples},) -> ({spec.dim},)")
        if self.head_model.input_shape != (spec.frames, spec.dim):
            raise ModelError(f"{self.head_model.path}: takes {self.head_model.input_shape}, "
                             f"its card says ({spec.frames}, {spec.dim})")

    @property
    def frames(self) -> int:
        return self.spec.frames

    def embed_segments(self, segments: np.ndarray) -> np.ndarray:
        """``[B, input_samples]`` float32 -> ``[B, dim]`` embeddings."""
        return self.embedding.invoke_batch(segments)

    def embed(self, audio: np.ndarray, batch: int = EMBED_BATCH) -> np.ndarray:
        """Every whole embedding of 16 kHz ``audio`` of any length:
        ``[T, dim]`` float32, embedding ``j`` from samples
        ``[j * hop, j * hop + input_samples)`` (T = 0 under 775 ms)."""
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        spec = self.spec
        n = spec.n_embeddings(audio.shape[0])
        if n == 0:
            return np.zeros((0, spec.dim), np.float32)
        # Strided views: no copy of the overlapping segments until a batch.
        views = np.lib.stride_tricks.sliding_window_view(audio, spec.input_samples)
        views = views[::spec.hop_samples][:n]
        return np.concatenate([self.embed_segments(views[i:i + batch])
                               for i in range(0, n, batch)])

    def head(self, embeddings: np.ndarray) -> np.ndarray:
        """``[N, frames, dim]`` embedding sequences -> ``[N, n_labels]``
        probabilities (one model call)."""
        return self.head_model.invoke_batch(embeddings)
