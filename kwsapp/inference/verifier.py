"""A second opinion on each command from a speech recogniser.

The head knows the commands and the few other words it trained on; a real
word it never heard fires it about fifty times an hour in dense speech
(docs/streaming.md). A recogniser trained on far more real voices knows
"two" from "go": Moonshine base-en (Useful Sensors, MIT licence; 61 M
parameters), whose model files ship in the ``moonshine-cpp`` wheel and run
here through onnxruntime. Given the audio of a command's word, it gives

- its own transcription (greedy decoding), and
- the log-probability of the command's spellings ("Go.", "Go", ...),
  teacher-forced.

A command is kept when the transcription says it, or when its spelling is
at least as likely as the card's level for it (``verify.levels``, which the
head's score moves: :meth:`~kwsapp.config.VerifyConfig.level`; a
transcription of another word raises it by ``verify.other_word_margin``);
else it is not emitted. Levels are chosen from commands alone (a low quantile of
other speakers' matched commands: ``training.tune_verify``), never from
other speech.

Only the runtime imports this, and only when a card asks for it; nothing
here imports TensorFlow or the ``moonshine_cpp`` package itself (its
native library is not needed: its files are read where pip put them).

The ``.ort`` files keep their weights as int8 and dequantise every weight
at every call, and the decoder transposes its 32,768-word embedding for
the output layer each time: 80 of a decoder call's 85 ms. So each file is
saved once as ONNX in the cache (:func:`loadable`). The encoder's copy is
folded to float weights at load (onnxruntime's constant folding); the
decoder's is saved with onnxruntime's dynamic int8 matrix products, which
read a quarter of the bytes: a decoder call takes 14 ms instead of 33, and
its log-probabilities move by 0.1 nats (at most 0.4 on 60 real commands),
where the encoder's, quantised alike, moved by 1.1 for no time saved. The
encoder runs on one thread (``verify.threads``): 25 ms; two gained only on
calls back to back, not after the pauses between live commands. Both of a
command's spellings are scored on one decoder row (:func:`_rows`), 10 ms.
A command's check takes about 36 ms live (145 from the ``.ort`` files as
they ship; docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.atomic import PARTIAL_PREFIX, write_atomic, write_json_atomic
from kwsapp.cache import cache_dir
from kwsapp.config import SAMPLE_RATE_HZ, Config
from kwsapp.errors import DiskFullError, ModelError

log = logging.getLogger(__name__)

#: The recogniser a card names (``verify.model``).
MODEL_NAME = "moonshine-base-en"
_PACKAGE, _SUBDIR = "moonshine_cpp", ("models", "base-en")
_BOS, _EOS = 1, 2
_MAX_TOKENS = 12  # a command's word and a neighbour or two
_PEAK = 0.5  # the recogniser hears levels: a quiet word is raised to this peak
# Copies that other installs may load (another onnxruntime, other files,
# code with a float decoder or older names) are left this long after their
# last load: deleted at once, two installs would remake each other's
# copies at every start (6 s each). Installs of the same files share one.
_UNUSED_DAYS = 30.0
# A copy takes seconds to write (6 s with int8): a partial file this old
# was left by a process that died writing it.
_PARTIAL_DEAD_S = 3600.0
#: What the recogniser hears is high-passed here first: the noise beds'
#: rumble (the data set's bike, tap, dishes) made it surer of commands in
#: other words (a tenth fewer false activations at equal commands kept,
#: docs/streaming.md, session 18).
HIGH_PASS_HZ = 100.0

#: How each command may be written out ("Go.", "Go"). One decoder row
#: scores both: "Go" is "Go." less its last token (:func:`_rows`). "Go!",
#: "go.", "Know." and "Write." were scored too until session 20: none was
#: ever the likeliest, on 525 events of the validation and TTS streams.
SPELLINGS: dict[str, tuple[str, ...]] = {
    c: (f"{c.capitalize()}.", c.capitalize()) for c in COMMAND_LABELS
}
#: Words of a transcription that count as saying the command.
SAYS: dict[str, frozenset[str]] = {c: frozenset({c}) for c in SPELLINGS} | {
    "no": frozenset({"no", "know"}), "right": frozenset({"right", "write"}),
    "yes": frozenset({"yes", "yeah"})}


def model_dir() -> Path | None:
    """Where pip put the recogniser's files (None: not installed)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]).joinpath(*_SUBDIR)
    return folder if (folder / "encoder_model.ort").is_file() else None


def why_unavailable(card: Mapping[str, Any]) -> str | None:
    """Why a model's second opinion cannot run (None: it can): its card sets
    no levels, or the recogniser is not installed."""
    if not Config().with_card(card).verify.levels:
        return "This model's card sets no levels for a second opinion: the model decides alone."
    if model_dir() is None or importlib.util.find_spec("onnxruntime") is None:
        return ("The speech recogniser is not installed (pip install 'kwsapp[verify]'): "
                "the model decides alone.")
    return None


def loadable(ort_file: Path, cache: Path | None = None, int8: bool = False) -> Path:
    """The file onnxruntime should load for ``ort_file``: its graph saved as
    ONNX in the cache (made at the first use, about a second, 6 s with
    ``int8``; needs the ``onnx`` package), with ``int8`` as dynamic int8
    matrix products (where those cannot be made, the float copy), else,
    where no copy can be made, the ``.ort`` file itself (the same opinions,
    about twice as slow).

    A copy is named by its ``.ort`` file's contents (:func:`_copy_path`):
    every install of the same files, at any path, loads one copy."""
    folder = cache or cache_dir() / "verifier"
    try:
        onnx_file = _copy_path(ort_file, folder, int8)
    except OSError:  # unreadable: loading it says why (_session)
        return ort_file
    if onnx_file.is_file():
        _mark_used(onnx_file)
        _forget_unused(folder, ort_file.stem, onnx_file)
        return onnx_file
    try:
        _to_onnx(ort_file, onnx_file, int8)
    except Exception as exc:  # noqa: BLE001 (any failure: the .ort file still works)
        if int8:  # the float copy may still be made: a third slower, not twice
            log.warning("the recogniser's %s runs from its float copy, slower: could not "
                        "quantise it (%s)", ort_file.name, exc)
            return loadable(ort_file, cache)
        log.warning("the recogniser runs from %s, slower: could not save it as ONNX in %s "
                    "(%s)", ort_file, onnx_file.parent, exc)
        return ort_file
    _forget_unused(folder, ort_file.stem, onnx_file)
    return onnx_file


#: The cache's note of each ``.ort`` file's sha256, by path (:func:`_digest`).
_DIGESTS_FILE = "sources.json"


def _copy_path(ort_file: Path, folder: Path, int8: bool) -> Path:
    """Where ``ort_file``'s copy is kept in ``folder``: its name holds the
    first 16 hex digits of the file's sha256 and onnxruntime's version (a
    copy is saved by, and loaded in, that version). The contents, not the
    file's size and time: a reinstall of the same wheel gives the files a
    new time, which made a new copy (6 s) beside the old ones each time."""
    import onnxruntime as ort

    return folder / (f"{ort_file.stem}-{_digest(ort_file, folder)[:16]}"
                     f"-ort{ort.__version__}{'-int8' if int8 else ''}.onnx")


def _digest(ort_file: Path, folder: Path) -> str:
    """``ort_file``'s sha256 (hex), remembered in ``folder/sources.json``
    beside the file's stamp (device, inode, size, mtime, ctime): hashing
    both files takes 0.15 s and reads 63 MB a start would not otherwise
    read, so they are hashed once per install, and again only when a file's
    stamp changes (a reinstall replaces the files: a new inode and time).
    The note is only ever a shortcut: unreadable, or not writable (a
    read-only cache), the file is hashed again."""
    st = ort_file.stat()
    stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    key = str(ort_file.resolve())
    notes = _read_digests(folder / _DIGESTS_FILE)
    note = notes.get(key)
    if isinstance(note, dict) and note.get("stamp") == stamp \
            and isinstance(note.get("sha256"), str):
        return note["sha256"]
    sha = hashlib.sha256()
    with open(ort_file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    # Files of other installs stay noted while they are there; a removed
    # install's note goes. Two processes noting at once: the last write
    # wins, and the other's file is hashed again at its next start.
    notes = {k: v for k, v in notes.items() if k != key and Path(k).is_file()}
    notes[key] = {"stamp": stamp, "sha256": sha.hexdigest()}
    try:
        write_json_atomic(folder / _DIGESTS_FILE, notes, follow_symlinks=False)
    except (OSError, DiskFullError) as exc:  # a read-only or full cache: hashed each start
        log.debug("could not note the recogniser files' hashes in %s (%s)", folder, exc)
    return sha.hexdigest()


def _read_digests(path: Path) -> dict[str, Any]:
    """``sources.json``'s notes ({} where there is none, or it is damaged)."""
    try:
        notes = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return notes if isinstance(notes, dict) else {}


def _forget_unused(folder: Path, stem: str, in_use: Path) -> None:
    """Delete the copies of the ``.ort`` file ``stem`` (but ``in_use``) that
    nothing has loaded for ``_UNUSED_DAYS``: another onnxruntime's, a
    changed file's, and those named by the file's size and time before
    copies were named by contents; 20-70 MB each. Looked at every load, not
    only when a copy is made: one is made only when the files or
    onnxruntime change."""
    unused = time.time() - _UNUSED_DAYS * 86400
    for old in folder.glob(f"{stem}-*.onnx"):
        try:
            if old != in_use and old.stat().st_atime < unused:
                old.unlink()
        except OSError:  # gone meanwhile, or not ours to delete
            pass
    # A copy's half-written file, left by a process killed while it wrote
    # (SIGKILL skips write_atomic's clean-up): as big as the copy. One being
    # written now is seconds old.
    dead = time.time() - _PARTIAL_DEAD_S
    for partial in folder.glob(f"{PARTIAL_PREFIX}*.onnx"):
        try:
            if partial.stat().st_mtime < dead:
                partial.unlink()
        except OSError:
            pass


def _mark_used(path: Path) -> None:
    """Set ``path``'s access time to now (its modification time kept): the
    mark :func:`loadable` reads before deleting another install's copies
    (mounts with ``noatime`` or ``relatime`` would not set it on a load)."""
    try:
        os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns))
    except OSError:  # a read-only cache still loads
        pass


def _session(ort, ort_file: Path, cache: Path | None, opts, int8: bool = False):
    """An onnxruntime session on :func:`loadable`'s file; a cached copy that
    does not load (damaged on disk) is deleted, with a warning, and the
    ``.ort`` file runs instead (the copy is made again at the next start)."""
    path = loadable(ort_file, cache, int8)
    if path != ort_file:
        try:
            return ort.InferenceSession(str(path), opts)
        except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own kinds)
            log.warning("%s does not load (%s): deleted; running from %s", path, exc, ort_file)
            path.unlink(missing_ok=True)
    try:
        return ort.InferenceSession(str(ort_file), opts)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{ort_file}: the recogniser's model does not load ({exc})") from None


def _to_onnx(ort_file: Path, onnx_file: Path, int8: bool = False) -> None:
    """``ort_file``'s graph as ONNX: unoptimised (its int8 weights kept: 20
    MB for the encoder), or with ``int8`` its float weights folded and then
    quantised again for onnxruntime's dynamic int8 matrix products (70 MB
    for the decoder). onnxruntime writes it, ``onnx`` mends it."""
    import onnx
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = str(Path(tmp) / "model.onnx")
        ort.InferenceSession(str(ort_file), opts)
        model = onnx.load(opts.optimized_model_filepath)
        # onnxruntime leaves the graph and the If node's branches (the decoder's
        # cache and no-cache paths) without the names ONNX requires.
        model.graph.name = model.graph.name or ort_file.stem
        for node in model.graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH and not attr.g.name:
                    attr.g.name = f"{node.name}_{attr.name}"
        onnx.checker.check_model(model)
        if int8:
            model = _dynamic_int8(model, Path(tmp))
    write_atomic(onnx_file, lambda path: onnx.save(model, str(path)), follow_symlinks=False)


def _dynamic_int8(model: Any, tmp: Path) -> Any:
    """``model`` with float weights folded (onnxruntime's basic
    optimisations turn the ``.ort`` file's dequantising nodes into
    constants) and its matrix products made dynamic int8 (``MatMulInteger``
    kernels, weights per tensor; per channel moved the log-probabilities no
    less), the If node's branches included."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx.save(model, str(tmp / "named.onnx"))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(tmp / "float.onnx")
    # The float weights (270 MB for the decoder) beside the graph: one file
    # may not exceed protobuf's 2 GB, and the quantiser reads them from there.
    opts.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", "float.data")
    ort.InferenceSession(str(tmp / "named.onnx"), opts)
    with _quiet_root_warnings():  # "consider pre-processing": for static quantisation
        quantize_dynamic(str(tmp / "float.onnx"), str(tmp / "int8.onnx"),
                         weight_type=QuantType.QInt8, extra_options={"EnableSubgraph": True})
    # Not checked by onnx.checker: the quantiser leaves an outer-scope
    # weight that the branches share listed after its use, which onnxruntime
    # loads (a copy that does not load is deleted and the .ort file runs).
    return onnx.load(str(tmp / "int8.onnx"))


@contextmanager
def _quiet_root_warnings() -> Iterator[None]:
    """onnxruntime's quantiser warns on the root logger, whatever is
    quantised; only its records are dropped (a filter on the root logger
    sees only what is logged on it, not its children's records)."""
    def not_quantiser(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname

    root = logging.getLogger()
    root.addFilter(not_quantiser)
    try:
        yield
    finally:
        root.removeFilter(not_quantiser)


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc): folding the
    weights at load leaves freed buffers that the process would otherwise
    keep (280 MB when both files were folded: 720 -> 440 MB resident); a
    no-op elsewhere."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl, Windows)
        pass


class Tokenizer:
    """Moonshine's token table (``tokenizer.bin``: one length-prefixed
    byte string per id, ``▁`` for a space)."""

    def __init__(self, path: Path) -> None:
        raw = path.read_bytes()
        self.tokens: list[bytes] = []
        i = 0
        while i < len(raw):
            n = raw[i]
            i += 1
            if n >= 128:  # a two-byte length
                n = (n & 0x7F) | (raw[i] << 7)
                i += 1
            self.tokens.append(raw[i:i + n])
            i += n
        self._ids = {t: k for k, t in enumerate(self.tokens)}
        self._longest = max(len(t) for t in self.tokens)

    def encode(self, text: str) -> list[int]:
        """Greedy longest match over the table (exact for the short words
        here: each command is one or two tokens)."""
        data = ("▁" + text.replace(" ", "▁")).encode()
        out, j = [], 0
        while j < len(data):
            for k in range(min(len(data), j + self._longest), j, -1):
                piece = self._ids.get(data[j:k])
                if piece is not None and (k - j > 1 or piece > _EOS):
                    out.append(piece)
                    j = k
                    break
            else:
                raise ValueError(f"cannot tokenise {text!r}")
        return out

    def decode(self, ids: Sequence[int]) -> str:
        text = b"".join(self.tokens[t] for t in ids).decode(errors="replace")
        return text.replace("▁", " ").strip()


@dataclass(frozen=True)
class Opinion:
    """What the recogniser made of a command's audio."""

    transcript: str
    says: bool  # the transcript holds the command (or a homophone)
    logp: float  # log-probability of the command's likeliest spelling


class Verifier:
    """Moonshine base-en on onnxruntime: the encoder on ``threads`` threads,
    the decoder on one (it runs only when a command is about to fire)."""

    def __init__(self, directory: Path | None = None, threads: int = 1,
                 cache: Path | None = None) -> None:
        directory = directory or model_dir()
        if directory is None:
            raise ModelError(f"the {MODEL_NAME} recogniser is not installed "
                             "(pip install 'kwsapp[verify]')")
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("onnxruntime is not installed (pip install 'kwsapp[verify]')"
                             ) from None
        def options(n_threads: int):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = n_threads, 1
            # With more than one: threads that spin after a check burnt 55 ms
            # of CPU for a 2.5 ms gain (the check is a burst once per command),
            # and a file's replay took 18% more CPU and 18% longer.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # Every check has another length: a memory pattern per shape grew
            # the process by ~10 MB a check; without them it stays flat after
            # the first check (the arena stays: without it a check took 240 ms
            # against 140).
            opts.enable_mem_pattern = False
            return opts

        self.encoder = _session(ort, directory / "encoder_model.ort", cache, options(threads))
        # One thread: its calls are too small to share (14 ms on one or two).
        self.decoder = _session(ort, directory / "decoder_model_merged.ort", cache,
                                options(1), int8=True)
        _trim_heap()
        self.tokenizer = Tokenizer(directory / "tokenizer.bin")
        self._past = [i for i in self.decoder.get_inputs() if i.name.startswith("past_key")]
        self._spelled = {c: _rows([self.tokenizer.encode(s) for s in v])
                         for c, v in SPELLINGS.items()}
        from scipy.signal import butter, sosfilt_zi

        self._high_pass = butter(4, HIGH_PASS_HZ, "highpass", fs=SAMPLE_RATE_HZ, output="sos")
        self._high_pass_zi = sosfilt_zi(self._high_pass)

    def _logits(self, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Decoder logits for token rows ``ids`` (no cache: a few tokens)."""
        n = ids.shape[0]
        feeds = {"input_ids": ids, "encoder_hidden_states": np.repeat(hidden, n, 0),
                 "use_cache_branch": np.array([False])}
        for inp in self._past:
            feeds[inp.name] = np.zeros((n, inp.shape[1], 0, inp.shape[3]), np.float32)
        return self.decoder.run(["logits"], feeds)[0]

    def hears(self, audio: np.ndarray) -> np.ndarray:
        """The encoder's states for ``audio`` (16 kHz mono), as
        :meth:`confirms` computes them: ``[1, frames, 416]`` float32. The
        same to the bit whichever thread asks, on however many threads, and
        while other calls run (a file's replay runs them ahead of the
        checks); not in a batch (:meth:`_hidden`)."""
        return self._hidden(audio)

    def _hidden(self, audio: np.ndarray) -> np.ndarray:
        # One clip a call: several of the same length in one call move the
        # states by 1e-5, which the decoder's int8 products make up to 0.3
        # nats of a spelling's log-probability (docs/benchmarks.md); shorter
        # ones padded to the longest move them by 1 (no attention mask).
        audio = np.asarray(audio, np.float32)
        if audio.size:  # the noise beds' rumble below speech (zi: no step at the start)
            from scipy.signal import sosfilt

            zi = self._high_pass_zi * audio[0]
            audio = sosfilt(self._high_pass, audio, zi=zi)[0].astype(np.float32)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        audio = audio * (_PEAK / peak) if peak > 0 else audio
        return self.encoder.run(None, {"input_values": audio[None]})[0]

    def _logp(self, hidden: np.ndarray, label: str) -> float:
        """Log-probability of ``label``'s likeliest spelling, teacher-forced
        (one decoder call for all its spellings)."""
        rows, spellings = self._spelled[label]
        logits = self._logits(hidden, rows)
        top = logits.max(-1, keepdims=True)
        logp = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
        # A spelling's tokens, then the end, read off the row it begins.
        return max(sum(float(logp[k, j, t]) for j, t in enumerate(list(s) + [_EOS]))
                   for k, s in spellings)

    def _transcript(self, hidden: np.ndarray) -> str:
        """Greedy decoding (no cache: a few tokens)."""
        ids: list[int] = []
        for _ in range(_MAX_TOKENS):
            nxt = int(self._logits(hidden, np.array([[_BOS] + ids], np.int64))[0, -1].argmax())
            if nxt == _EOS:
                break
            ids.append(nxt)
        return self.tokenizer.decode(ids)

    def _says(self, transcript: str, label: str) -> bool:
        words = {w.strip(".,!?;:'\"").lower() for w in transcript.split()}
        return bool(words & SAYS[label])

    def opinion(self, audio: np.ndarray, label: str) -> Opinion:
        """The recogniser's whole view of ``audio`` (16 kHz mono) as the
        command ``label``: its transcript and the spelling's log-probability."""
        if label not in self._spelled:  # not a command: nothing to check
            return Opinion("", True, 0.0)
        hidden = self._hidden(audio)
        transcript = self._transcript(hidden)
        return Opinion(transcript, self._says(transcript, label), self._logp(hidden, label))

    def confirms(self, audio: np.ndarray, label: str, level: float | None,
                 other_word_margin: float = 0.0, hidden: np.ndarray | None = None
                 ) -> tuple[bool, Opinion]:
        """:func:`accepts` of :meth:`opinion`, decoding a transcript only when
        the spelling falls short of ``level`` plus ``other_word_margin`` (a
        command about to fire waits for one decoder call, not a dozen);
        ``hidden``: :meth:`hears` of ``audio``, when already computed."""
        if level is None or label not in self._spelled:
            return True, Opinion("", False, 0.0)
        hidden = self._hidden(audio) if hidden is None else hidden
        logp = self._logp(hidden, label)
        if logp >= level + max(0.0, other_word_margin):
            return True, Opinion("", False, logp)
        transcript = self._transcript(hidden)
        opinion = Opinion(transcript, self._says(transcript, label), logp)
        return accepts(opinion, level, other_word_margin), opinion


def _rows(spellings: Sequence[Sequence[int]]
          ) -> tuple[np.ndarray, list[tuple[int, list[int]]]]:
    """Decoder rows for ``spellings`` (token ids): ``[BOS, tokens..., EOS]``,
    one row for every spelling that is not the beginning of another (the
    decoder is causal: "Go" ends where "Go." goes on), padded with EOS; and
    each spelling with the row that scores it."""
    kept = [list(s) for s in spellings
            if not any(len(o) > len(s) and list(o[:len(s)]) == list(s) for o in spellings)]
    kept = [s for k, s in enumerate(kept) if s not in kept[:k]]
    rows = np.full((len(kept), max(map(len, kept)) + 1), _EOS, np.int64)
    rows[:, 0] = _BOS
    for k, s in enumerate(kept):
        rows[k, 1:len(s) + 1] = s
    scored = [(next(k for k, r in enumerate(kept) if r[:len(s)] == list(s)), list(s))
              for s in spellings]
    return rows, scored


def heard_span(end_s: float, decided_s: float, before_ms: float, after_ms: float
               ) -> tuple[float, float]:
    """Seconds of audio the recogniser hears for a command whose speech run
    ends at ``end_s``, decided at ``decided_s``: from ``before_ms`` before
    that end to ``after_ms`` after it, but not past the decision (what a
    live engine has heard by then)."""
    return max(0.0, end_s - before_ms / 1000.0), min(end_s + after_ms / 1000.0, decided_s)


def needed(opinion: Opinion, level: float, other_word_margin: float = 0.0) -> float:
    """The log-probability ``opinion``'s spelling must reach: ``level``,
    raised by ``other_word_margin`` when the transcription is another word."""
    return level + (other_word_margin if opinion.transcript.strip() else 0.0)


def accepts(opinion: Opinion, level: float | None, other_word_margin: float = 0.0) -> bool:
    """Whether a command stands: said, or likely enough (no level: always)."""
    return level is None or opinion.says or opinion.logp >= needed(opinion, level,
                                                                   other_word_margin)


def heard_as(transcript: str) -> str:
    """What the recogniser heard, as a person reads it: the transcription in
    quotes, or "no word"."""
    return f"“{transcript}”" if transcript else "no word"
