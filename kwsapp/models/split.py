"""An ``embed`` artifact split for streaming: the frozen embedding and the
trained head as separate ``.tflite`` files (docs/contracts.md, section 1).

Embedding ``j`` of a signal covers its 16 kHz samples
``[j * hop, j * hop + input_samples)`` (hop 1280 = 80 ms, input 12400 =
775 ms); the head reads ``frames`` (10) consecutive embeddings. The head on
embeddings ``j-9 .. j`` equals the whole-window model on the 24,000 samples
that start at ``(j - 9) * 1280``.

Two ways to the embeddings: ``embedding.tflite`` computes one from its 775 ms
(batchable, no state), and the optional streaming step
(``embedding_step.tflite``, :class:`EmbeddingStream`) computes embedding
``j`` from the newest 1520 samples and the rows it kept from step ``j - 1``
(several times less work per embedding). The optional streaming models
(``embedding_stream{1,2,3}.tflite``, card key ``stream``) keep the rows of
every layer instead (each row computed once) and give one, two or three
consecutive embeddings per call: a live engine that wakes once for several
steps reads the weights once for them all. Every way gives the same values.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from kwsapp.errors import ModelError
from kwsapp.models.artifact import TfliteGraph, TfliteModel, artifact_file

#: Embeddings computed per model call on files (bounded memory: one batch
#: of inputs is 64 x 12400 float32 = 3 MB).
EMBED_BATCH = 64


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """The file at ``path``: device, inode, size and mtime (None: no file
    there). A new model's file is renamed over the old one (a new inode);
    the ctime is left out, as a hard link to the same file changes it (an
    export stages a file it keeps unchanged as a link)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class StreamingSpec:
    """A card's ``streaming`` section."""

    embedding_file: str
    input_samples: int  # samples one embedding covers (its receptive field)
    hop_samples: int  # samples between consecutive embeddings
    dim: int
    head_file: str
    frames: int  # embeddings the head reads
    step_file: str | None = None  # the streaming step (optional)
    step_samples: int = 0  # newest samples one step reads
    step_warmup: int = 0  # steps before its embeddings are exact from any state
    chunk_file: str | None = None  # many embeddings per call (files; optional)
    chunk_embeddings: int = 0
    # The streaming models (optional): {embeddings per call: file}, the
    # samples a one-embedding call reads, the calls before it is exact.
    stream_files: tuple[tuple[int, str], ...] = ()
    stream_samples: int = 0
    stream_warmup: int = 0

    @classmethod
    def from_dict(cls, section: Mapping[str, Any], where: str = "card.json") -> "StreamingSpec":
        try:
            emb, head = section["embedding"], section["head"]
            step = section.get("step") or {}
            chunk = section.get("chunk") or {}
            stream = section.get("stream") or {}
            files = tuple(sorted((int(k), str(v)) for k, v in stream.get("files", {}).items()))
            if stream and (not files or files[0][0] != 1 or any(k < 1 for k, _ in files)):
                raise ValueError("stream.files must name a 1-embedding file, counts >= 1")
            return cls(str(emb["file"]), int(emb["input_samples"]), int(emb["hop_samples"]),
                       int(emb["dim"]), str(head["file"]), int(head["frames"]),
                       str(step["file"]) if step else None, int(step.get("samples", 0)),
                       int(step.get("warmup", 0)),
                       str(chunk["file"]) if chunk else None, int(chunk.get("embeddings", 0)),
                       files, int(stream.get("samples", 0)), int(stream.get("warmup", 0)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{where}: bad 'streaming' section ({exc!r})") from None

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the section names (the optional ones it names too)."""
        return (self.embedding_file, self.head_file,
                *([self.step_file] if self.step_file else []),
                *([self.chunk_file] if self.chunk_file else []),
                *(name for _, name in self.stream_files))

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
        # Every file the card names is there before any is loaded (a look,
        # not a load: the step file is loaded only when asked for, and went
        # unnoticed when missing). An artifact copied in part is refused as
        # a whole, at load, rather than by whichever way of embedding first
        # needs the file.
        identities = {}
        for name in spec.files:
            path = artifact_file(artifact_dir, name)
            identities[name] = _identity(path)
            if identities[name] is None:
                raise ModelError(f"{path}: model file missing (the card's 'streaming' section "
                                 "names it: copy the artifact folder whole)")
        # The step file seen now, within the card's load (artifact.py
        # load_whole, which loads again when a new model is put in place
        # meanwhile), is the one its later load must find: see _load_step.
        self._step_identity = identities.get(spec.step_file) if spec.step_file else None
        self.embedding = TfliteModel(artifact_file(artifact_dir, spec.embedding_file))
        self.head_model = TfliteModel(artifact_file(artifact_dir, spec.head_file))
        if (self.embedding.input_shape != (spec.input_samples,)
                or self.embedding.output_shape != (spec.dim,)):
            raise ModelError(f"{self.embedding.path}: takes {self.embedding.input_shape} and "
                             f"gives {self.embedding.output_shape}, its card says "
                             f"({spec.input_samples},) -> ({spec.dim},)")
        if self.head_model.input_shape != (spec.frames, spec.dim):
            raise ModelError(f"{self.head_model.path}: takes {self.head_model.input_shape}, "
                             f"its card says ({spec.frames}, {spec.dim})")
        self.chunk: TfliteModel | None = None
        if spec.chunk_file:
            self.chunk = TfliteModel(artifact_file(artifact_dir, spec.chunk_file))
            want = (spec.input_samples + (spec.chunk_embeddings - 1) * spec.hop_samples,)
            if (self.chunk.input_shape != want
                    or self.chunk.output_shape != (spec.chunk_embeddings, spec.dim)):
                raise ModelError(f"{self.chunk.path}: takes {self.chunk.input_shape} -> "
                                 f"{self.chunk.output_shape}, its card says {want} -> "
                                 f"({spec.chunk_embeddings}, {spec.dim})")
        self._dir = artifact_dir
        self._step: TfliteGraph | None = None
        self.streams: dict[int, TfliteGraph] = {}
        for count, name in spec.stream_files:
            graph = TfliteGraph(artifact_file(artifact_dir, name))
            audio, state = graph.inputs.get("audio"), graph.inputs.get("state")
            first = next(iter(self.streams.values()), graph).inputs.get("state")
            want = (1, spec.stream_samples + (count - 1) * spec.hop_samples)
            if (audio is None or audio[1] != want or state is None or state[1] != first[1]
                    or graph.output_shapes != [(1, count, spec.dim), state[1]]):
                raise ModelError(f"{graph.path}: takes {sorted(graph.inputs.items())} -> "
                                 f"{graph.output_shapes}; its card says audio {want} and "
                                 f"{count} embeddings, one state shape for all stream files")
            self.streams[count] = graph
        if not self.streams:
            self._load_step()  # what streams run: checked now

    @property
    def step(self) -> TfliteGraph | None:
        """The streaming step (None without one). With streaming models it
        is not what runs (older runtimes use it), so it is only loaded when
        asked for: the cold start loads one interpreter fewer (and a
        step file replaced since the model loaded is refused, never paired
        with its card)."""
        if self._step is None:
            self._load_step()
        return self._step

    def _load_step(self) -> None:
        """Load the step file, refused when it is no longer the file seen
        with the card: loaded lazily, outside the card's whole load, it
        would otherwise be whichever model's step a swap has put in place
        since (training/artifact_write.py renames each new file over the
        old), paired with this card and the other files loaded with it."""
        spec = self.spec
        if not spec.step_file:
            return
        path = artifact_file(self._dir, spec.step_file)
        error: ModelError | None = None
        try:
            step = TfliteGraph(path)
        except ModelError as exc:  # a file missing mid-swap is a swap, said as one
            error = exc
        # Looked at after the load: a file replaced before it or while it
        # read shows a new identity now (a replaced file's is never back).
        if _identity(path) != self._step_identity:
            raise ModelError(f"{path}: replaced since the model in {self._dir} was loaded "
                             "(a new model was put in place there): load the model again, "
                             "so that its card and files are of one model")
        if error is not None:
            raise error
        audio = step.inputs.get("audio")
        if audio is None or audio[1] != (1, spec.step_samples):
            raise ModelError(f"{step.path}: takes audio {audio and audio[1]}, its "
                             f"card says (1, {spec.step_samples})")
        self._step = step

    @property
    def frames(self) -> int:
        return self.spec.frames

    @property
    def step_span(self) -> int:
        """Samples one step of :meth:`stream` reads (ending at its
        embedding's end): the streaming models', else the step's, else the
        whole 775 ms."""
        spec = self.spec
        return (spec.stream_samples if self.streams else
                spec.step_samples if self.step is not None else spec.input_samples)

    def embed_segments(self, segments: np.ndarray) -> np.ndarray:
        """``[B, input_samples]`` float32 -> ``[B, dim]`` embeddings."""
        return self.embedding.invoke_batch(segments)

    def stream(self) -> "EmbeddingStream":
        """A fresh per-stream state: through the streaming models, else the
        streaming step, when the artifact has them, else one-shot embeddings
        (stateless)."""
        return EmbeddingStream(None if self.streams else self.step, self.spec, self.embedding,
                               self.streams)

    def embed(self, audio: np.ndarray, batch: int = EMBED_BATCH) -> np.ndarray:
        """Every whole embedding of 16 kHz ``audio`` of any length:
        ``[T, dim]`` float32, embedding ``j`` from samples
        ``[j * hop, j * hop + input_samples)`` (T = 0 under 775 ms).
        Through the chunk model for a quarter chunk or more, else the
        streaming step (the same values), else the one-shot model ``batch``
        at a time."""
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        spec = self.spec
        n = spec.n_embeddings(audio.shape[0])
        if n == 0:
            return np.zeros((0, spec.dim), np.float32)
        if self.chunk is not None and n >= self.spec.chunk_embeddings // 4:
            return self.embed_chunks(audio)[:n]
        if self.streams or self.step is not None:
            return self.stream().embed_range(audio, 0, n)
        # Strided views: no copy of the overlapping segments until a batch.
        views = np.lib.stride_tricks.sliding_window_view(audio, spec.input_samples)
        views = views[::spec.hop_samples][:n]
        return np.concatenate([self.embed_segments(views[i:i + batch])
                               for i in range(0, n, batch)])

    def chunk_samples(self) -> int:
        """Samples one chunk call reads (0: no chunk model)."""
        spec = self.spec
        return spec.input_samples + (spec.chunk_embeddings - 1) * spec.hop_samples if \
            self.chunk is not None else 0

    def embed_chunks(self, audio: np.ndarray) -> np.ndarray:
        """Embeddings ``0, 1, ...`` of ``audio`` from the chunk model,
        ``chunk_embeddings`` per call (zeros past the end; the last chunk's
        embeddings that reach past it are included: drop them)."""
        spec, n = self.spec, self.chunk_samples()
        count = max(1, spec.n_embeddings(audio.shape[0]))
        out = []
        for first in range(0, count, spec.chunk_embeddings):
            part = audio[first * spec.hop_samples:first * spec.hop_samples + n]
            if part.shape[0] < n:
                part = np.pad(part, (0, n - part.shape[0]))
            out.append(self.chunk.invoke_batch(part[None])[0])
        return np.concatenate(out)

    def head(self, embeddings: np.ndarray) -> np.ndarray:
        """``[N, frames, dim]`` embedding sequences -> ``[N, n_labels]``
        probabilities (one model call)."""
        return self.head_model.invoke_batch(embeddings)


class EmbeddingStream:
    """One stream's embeddings, one per step of ``hop_samples``.

    ``step(audio)`` takes the samples :meth:`bounds` gives for embedding
    ``j`` and returns embedding ``j``; ``steps(audio, n)`` the samples of
    embeddings ``j .. j + n - 1`` (:meth:`span_of`) and returns them all.
    Through the streaming models (the rows of every layer kept; the largest
    call that fits, so two or three embeddings cost one call) or else the
    streaming step (the newest ``step_samples``, rows kept from the step
    before), embeddings are exact once the previous ``warmup`` steps were
    fed in order (:meth:`warm_up`); without either it runs the one-shot
    model on ``input_samples`` (``warmup`` 0). Not thread-safe: one stream,
    one thread.
    """

    def __init__(self, graph: TfliteGraph | None, spec: StreamingSpec,
                 one_shot: TfliteModel | None = None,
                 streams: Mapping[int, TfliteGraph] | None = None) -> None:
        self._streams = dict(streams or {})
        self._graph = None if self._streams else graph
        self._one_shot = one_shot
        self.spec = spec
        if self._streams:
            self.warmup, self._span = spec.stream_warmup, spec.stream_samples
        elif graph is not None:
            self.warmup, self._span = spec.step_warmup, spec.step_samples
        else:
            self.warmup, self._span = 0, spec.input_samples
        self._names = sorted(n for n in graph.inputs if n.startswith("state")) \
            if self._graph is not None else []
        self._counts = sorted(self._streams, reverse=True)
        self.reset()

    def bounds(self, j: int) -> tuple[int, int]:
        """``(start, end)``: the samples step ``j`` reads."""
        end = j * self.spec.hop_samples + self.spec.input_samples
        return end - self._span, end

    def span_of(self, n: int) -> int:
        """Samples that ``n`` consecutive steps read together."""
        return self._span + (n - 1) * self.spec.hop_samples

    def reset(self) -> None:
        """Forget the kept rows (the next ``warmup`` steps are inexact)."""
        if self._streams:
            self._flat = np.zeros(self._streams[1].inputs["state"][1], np.float32)
        elif self._graph is not None:
            self._state = {n: np.zeros(self._graph.inputs[n][1], np.float32)
                           for n in self._names}

    def step(self, audio: np.ndarray) -> np.ndarray:
        """The samples of :meth:`bounds` -> the next embedding ``[dim]`` (a copy)."""
        x = np.asarray(audio, np.float32).reshape(1, -1)
        if self._streams:
            return self._run_stream(1, x)[0]
        if self._graph is None:
            return self._one_shot.invoke_batch(x)[0]
        out = self._graph.run({"audio": x, **self._state})
        self._state = dict(zip(self._names, out[1:]))
        return out[0][0].copy()

    def steps(self, audio: np.ndarray, n: int) -> np.ndarray:
        """The samples of ``n`` consecutive steps (``span_of(n)``, from the
        first one's start) -> their embeddings ``[n, dim]`` (a copy), in as
        few calls as the streaming models allow."""
        audio = np.asarray(audio, np.float32).reshape(-1)
        hop = self.spec.hop_samples
        out, done = [], 0
        while done < n:
            k = next((c for c in self._counts if c <= n - done), 1)
            part = audio[done * hop:done * hop + self.span_of(k)]
            out.append(self._run_stream(k, part[None]) if self._streams
                       else self.step(part)[None])
            done += k
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _run_stream(self, count: int, x: np.ndarray) -> np.ndarray:
        emb, self._flat = self._streams[count].run({"audio": x, "state": self._flat})
        return emb[0]  # get_tensor gave a copy

    def _segment(self, audio: np.ndarray, j: int, n: int = 1) -> np.ndarray:
        """The samples steps ``j .. j + n - 1`` read (zeros before the signal's start)."""
        start, end = self.bounds(j)
        end += (n - 1) * self.spec.hop_samples
        if start >= 0:
            return audio[start:end]
        out = np.zeros(end - start, np.float32)
        if end > 0:
            out[-end:] = audio[:end]
        return out

    def warm_up(self, audio: np.ndarray, j: int) -> None:
        """Reset, then feed the ``warmup`` steps before embedding ``j`` of
        ``audio`` (indexed from its first sample; zeros before it)."""
        self.reset()
        if self.warmup:
            self.steps(self._segment(audio, j - self.warmup, self.warmup), self.warmup)

    def embed_range(self, audio: np.ndarray, first: int, last: int) -> np.ndarray:
        """Embeddings ``first .. last - 1`` of ``audio`` (``[n, dim]``),
        warmed up from scratch."""
        self.warm_up(audio, first)
        return self.steps(self._segment(audio, first, last - first), last - first)
