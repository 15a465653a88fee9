"""Decode audio files to mono float32 at the engine's rate.

soundfile (libsndfile) reads WAV of any PCM width and float, FLAC and OGG;
scipy's polyphase ``resample_poly`` converts the rate. Every failure is an
:class:`~kwsapp.errors.AudioFileError` naming the file and the problem.
"""

from __future__ import annotations

import os
import stat
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from kwsapp.config import SAMPLE_RATE_HZ
from kwsapp.errors import AudioFileError

#: Longest file `load_audio` decodes whole (longer ones: `AudioFileBlocks`).
MAX_SECONDS = 3 * 3600
#: Sample rates the resampler handles: a header outside them is damage, and
#: decoding it would give a silently wrong answer (a 2 GHz claim: 0.00 s).
MIN_RATE_HZ, MAX_RATE_HZ = 4000, 192000
#: What a ``.wav`` name may hold (libsndfile reads MP3 or FLAC under any name).
WAV_FORMATS = ("WAV", "WAVEX", "RF64")


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample mono float32 ``audio`` from ``from_hz`` to ``to_hz``
    (polyphase FIR; the identity when the rates agree)."""
    audio = np.asarray(audio, dtype=np.float32)
    if from_hz == to_hz or audio.size == 0:
        return audio
    import scipy.signal  # lazy: only resampling needs it (~0.5 s to import)

    g = gcd(int(from_hz), int(to_hz))
    return scipy.signal.resample_poly(audio, to_hz // g, from_hz // g).astype(np.float32)


def _prebuilt_upfirdn(h: np.ndarray, up: int, down: int):
    """``scipy.signal.upfirdn(h, x, up, down)`` for float64 ``x`` with its
    polyphase filter made once, not at every call (0.48 -> 0.36 ms per
    80 ms block at 48 kHz when called every 80 ms); scipy's public function
    where its private class is missing or gives other samples."""
    import scipy.signal

    public = scipy.signal.upfirdn
    try:
        from scipy.signal._upfirdn import _UpFIRDn

        ufd = _UpFIRDn(h, np.float64, up, down)
        probe = np.random.default_rng(0).standard_normal(4 * h.shape[0])
        if np.array_equal(ufd.apply_filter(probe), public(h, probe, up, down)):
            return lambda h_, x, up_, down_: ufd.apply_filter(x)
    except Exception:  # another scipy: its public function then
        pass
    return public


class _Decimator:
    """:class:`StreamResampler`'s path when it only decimates (``up`` 1:
    48 or 32 kHz to 16 kHz): output ``n`` is
    ``sum_i hrev[i] x[n * down - half_len + i]``, run as ``down``
    polyphase correlations over a float64 buffer kept from block to block
    (no concatenation of the kept input, no zero padding, no filter setup
    per block). The live pipeline calls it once per 80 ms, cold: 0.40 ->
    about 0.30 ms per 48 kHz block. Its float64 sums add the same products as
    ``upfirdn`` in another order; as float32 the samples are the same
    (``tests/test_io.py``, and none differed on the 30 s speech stream)."""

    def __init__(self, h: np.ndarray, down: int, half_len: int) -> None:
        hrev = np.ascontiguousarray(h[::-1], dtype=np.float64)
        self.down, self.taps = down, hrev.shape[0]
        self._phases = [hrev[r::down].copy() for r in range(down)]
        self._buf = np.zeros(max(4 * self.taps, 16384), np.float64)
        # _buf[0] is the first input of the next output (zeros before the stream).
        self._fill = half_len  # samples held

    def _room(self, n: int) -> None:
        if n > self._buf.shape[0]:
            grown = np.zeros(2 * n, np.float64)
            grown[:self._fill] = self._buf[:self._fill]
            self._buf = grown

    def push(self, block: np.ndarray) -> None:
        n = block.shape[0]
        self._room(self._fill + n)
        self._buf[self._fill:self._fill + n] = block
        self._fill += n

    def emit(self, k: int) -> np.ndarray:
        """The next ``k`` outputs (inputs not held read as zeros: the flush)."""
        down = self.down
        reach = (k - 1) * down + self.taps  # the inputs they read
        if reach > self._fill:
            self._room(reach)
            self._buf[self._fill:reach] = 0.0
        y = None
        for r, hp in enumerate(self._phases):
            c = np.correlate(self._buf[r:r + (k + hp.shape[0] - 1) * down:down], hp, "valid")
            y = c if y is None else np.add(y, c, out=y)
        used = k * down
        rest = max(0, self._fill - used)
        self._buf[:rest] = self._buf[used:used + rest]
        self._fill = rest
        return y.astype(np.float32)


class StreamResampler:
    """Block-wise rate conversion that gives exactly what one
    ``scipy.signal.resample_poly`` call on the whole signal gives (same
    Kaiser FIR), whatever the block sizes; used in the pipeline thread for
    devices at 8, 44.1 or 48 kHz.

    Output sample ``n`` is ``sum_m x[m] * h[n * down + half_len - m * up]``
    (resample_poly's definition); it is emitted once every input sample it
    depends on has arrived, so the delay is ``half_len / up`` input samples.
    """

    def __init__(self, from_hz: int, to_hz: int) -> None:
        g = gcd(int(from_hz), int(to_hz))
        self.up, self.down = int(to_hz) // g, int(from_hz) // g
        self.identity = self.up == self.down
        self._n_in = self._n_out = 0
        if self.identity:
            return
        import scipy.signal  # lazy, as in resample()

        max_rate = max(self.up, self.down)
        self.half_len = 10 * max_rate  # resample_poly's default filter
        self._h = scipy.signal.firwin(2 * self.half_len + 1, 1.0 / max_rate,
                                      window=("kaiser", 5.0)) * self.up
        self._dec = _Decimator(self._h, self.down, self.half_len) if self.up == 1 else None
        self._upfirdn = None if self._dec else _prebuilt_upfirdn(self._h, self.up, self.down)
        self._taps = -(-self._h.shape[0] // self.up)  # taps per output sample
        self._up_inv = pow(self.up, -1, self.down)  # up and down are coprime
        self._buf = np.zeros(0, dtype=np.float64)  # input not yet fully used
        self._buf_start = 0  # absolute index of _buf[0]
        self._n_in = 0  # input samples received
        self._n_out = 0  # output samples emitted

    def _emit(self, n_end: int) -> np.ndarray:
        """Outputs ``[_n_out, n_end)``: the polyphase filter (scipy's
        ``upfirdn``, as ``resample_poly`` runs it) over the kept input. Its
        output ``i`` is ``sum_k xs[k] h[i * down - k * up]``; ``pad`` zeros
        before the kept input make that our output ``i - offset``."""
        if n_end <= self._n_out:
            return np.zeros(0, dtype=np.float32)
        if self._dec is not None:
            out = self._dec.emit(n_end - self._n_out)
            self._n_out = n_end
            return out
        start = self._buf_start
        pad = ((start * self.up - self.half_len) * self._up_inv) % self.down
        offset = (self.half_len - (start - pad) * self.up) // self.down  # exact
        xs = np.concatenate([np.zeros(pad), self._buf]) if pad else self._buf
        y = self._upfirdn(self._h, xs, self.up, self.down)
        first, last = self._n_out + offset, n_end + offset
        if last > y.shape[0]:  # past the filter's reach: zeros (the flush)
            y = np.concatenate([y, np.zeros(last - y.shape[0])])
        out = y[first:last].astype(np.float32)
        self._n_out = n_end
        # Keep only the input that later outputs still need.
        keep_from = max(0, (self._n_out * self.down + self.half_len) // self.up - self._taps)
        if keep_from > self._buf_start:
            self._buf = self._buf[keep_from - self._buf_start:]
            self._buf_start = keep_from
        return out

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed mono float32 input; returns the output samples now complete."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if self.identity:
            return block
        if self._dec is not None:
            self._dec.push(block)
        else:
            self._buf = np.concatenate([self._buf, block.astype(np.float64)])
        self._n_in += block.shape[0]
        # Output n needs inputs up to m = (n*down + half_len) // up.
        n_end = (self._n_in * self.up - self.half_len - 1) // self.down + 1
        return self._emit(max(self._n_out, n_end))

    def inputs_for(self, n_out: int) -> int:
        """How many input samples :meth:`process` needs before it has given
        ``n_out`` output samples (the inverse of its ``n_end``)."""
        if self.identity or n_out <= 0:
            return max(0, n_out)
        return max(0, -(-((n_out - 1) * self.down + self.half_len + 1) // self.up))

    def flush(self) -> np.ndarray:
        """The remaining outputs, treating the input as ended (zeros after)."""
        if self.identity:
            return np.zeros(0, dtype=np.float32)
        total = -(-self._n_in * self.up // self.down)  # resample_poly's length
        return self._emit(max(self._n_out, total))


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mean of the channels of ``[frames, channels]`` float32 audio (mono
    passes), summed a channel at a time: numpy's ``mean(axis=1)`` over 2
    channels took 1.4 ms per 2 s block at 48 kHz (2.6 s of an hour's
    decode), this 0.07 ms; the samples are the same up to 7 channels (the
    order numpy adds them in), within float rounding beyond."""
    if audio.ndim == 1:
        return audio
    mono = audio[:, 0].astype(np.float32)  # a copy
    for c in range(1, audio.shape[1]):
        mono += audio[:, c]
    mono /= np.float32(audio.shape[1])
    return mono


def _wav_chunks(path: Path) -> list[tuple[bytes, int, int]]:
    """``(id, data offset, claimed size)`` of the chunks of a RIFF/WAVE file
    (empty for any other file): libsndfile gives no sample rate for a header
    it refuses, and reads a cut-off ``data`` chunk quietly."""
    chunks = []
    try:
        with path.open("rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return []
            size = path.stat().st_size
            pos = 12
            while pos + 8 <= size and len(chunks) < 64:
                f.seek(pos)
                chunk = f.read(8)
                n = int.from_bytes(chunk[4:8], "little")
                chunks.append((chunk[:4], pos + 8, n))
                if chunk[:4] == b"data":
                    break
                pos += 8 + n + (n & 1)
    except OSError:
        return []
    return chunks


def _wav_header_rate(path: Path) -> int | None:
    """The sample rate a WAV ``fmt`` chunk claims (None: not a WAV)."""
    for cid, offset, n in _wav_chunks(path):
        if cid == b"fmt " and n >= 8:
            with path.open("rb") as f:
                f.seek(offset + 4)
                return int.from_bytes(f.read(4), "little")
    return None


def _wav_data_shortfall(path: Path) -> tuple[int, int] | None:
    """For a RIFF/WAVE file whose ``data`` chunk claims more bytes than the
    file holds: ``(claimed, present)`` bytes; else None."""
    for cid, offset, n in _wav_chunks(path):
        if cid == b"data":
            present = path.stat().st_size - offset
            # 0 and 0xFFFFFFFF mean "unknown length" (streamed WAV).
            if n not in (0, 0xFFFFFFFF) and n > present:
                return n, present
    return None


def _check_rate(path: Path, rate: int | None) -> None:
    if rate is not None and not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise AudioFileError(path, f"unsupported sample rate {rate} Hz (supported: "
                                   f"{MIN_RATE_HZ}-{MAX_RATE_HZ} Hz)")


def _open(path: Path) -> sf.SoundFile:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        if path.is_symlink():  # "no such file" beside a file listed by ls puzzles
            raise AudioFileError(path, f"a symbolic link to {os.readlink(path)}, which does "
                                       f"not exist") from None
        raise AudioFileError(path, "no such file") from None
    except OSError as exc:  # a name too long, a link loop: Path.exists() raised them,
        # and the batch ended there
        raise AudioFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioFileError(path, "is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):  # a pipe or a device: "file is empty (0 bytes)" before
        raise AudioFileError(path, "not a regular file (a pipe or a device), not an audio "
                                   "file")
    if st.st_size == 0:
        raise AudioFileError(path, "file is empty (0 bytes)")
    try:
        path.open("rb").close()
    except PermissionError:
        raise AudioFileError(path, "no permission to read it") from None
    except OSError as exc:
        raise AudioFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    _check_rate(path, _wav_header_rate(path))
    try:
        # As bytes: soundfile encodes a str name strictly, and a file name
        # that is not UTF-8 (copied from an old archive) was a
        # UnicodeEncodeError traceback that ended the whole batch.
        f = sf.SoundFile(str(path) if os.name == "nt" else os.fsencode(path))
    except sf.LibsndfileError as exc:
        raise AudioFileError(path, f"not a readable audio file ({exc.error_string})") from None
    except (RuntimeError, OSError) as exc:
        raise AudioFileError(path, f"cannot be read ({exc})") from None
    try:
        _check_rate(path, f.samplerate)
        if path.suffix.lower() in (".wav", ".wave") and f.format not in WAV_FORMATS:
            raise AudioFileError(path, f"named .wav but holds {f.format} data (rename it to "
                                       f"its real type, e.g. .{f.format.lower()})")
    except AudioFileError:
        f.close()
        raise
    return f


def audio_info(path: str | Path) -> tuple[int, int, float]:
    """``(sample_rate_hz, channels, seconds)`` of a file without decoding it.

    Raises:
        AudioFileError: as :class:`AudioFileBlocks` does on opening (a WAV
            cut short gave the length of what is left: ``evaluate-stream``
            then said its truth rows ran past the stream's end).
    """
    path = Path(path)
    with _open(path) as f:
        info = f.samplerate, f.channels, f.frames / float(f.samplerate)
    _check_whole(path, f.frames, f.format)
    return info


def _ogg_cut_short(path: Path) -> str | None:
    """Why an Ogg file is cut short (its last page runs past the end of the
    file, or the last whole page lacks the end-of-stream mark), else None.
    An Ogg stream states no length: libsndfile gives the length of what is
    left, so half a recording was classified as a shorter one, without a
    word. Pages are walked by their headers (27 bytes + segment table); a
    file that is not a clean chain of pages is left to the decoder."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            pos, flags = 0, None
            while pos < size:
                f.seek(pos)
                head = f.read(27)
                if len(head) < 27 or head[:4] != b"OggS":
                    if len(head) < 27 and head == b"OggS"[:len(head)]:
                        return "its last Ogg page is cut off"
                    return None  # not a clean chain of pages: the decoder says
                table = f.read(head[26])
                if len(table) < head[26]:
                    return "its last Ogg page is cut off"
                flags = head[5]
                pos += 27 + head[26] + sum(table)
            if pos > size:
                return "its last Ogg page is cut off"
            if flags is not None and not flags & 0x04:
                return "the Ogg stream has no end-of-stream page"
    except OSError:
        return None
    return None


def _check_whole(path: Path, frames: int, format_: str = "") -> None:
    short = _wav_data_shortfall(path)
    if short is not None:
        raise AudioFileError(path, f"truncated: header says {short[0]} bytes of "
                                   f"audio, only {short[1]} present")
    if format_ == "OGG":
        cut = _ogg_cut_short(path)
        if cut is not None:
            raise AudioFileError(path, f"truncated: {cut} (the file was cut short)")
    if frames == 0:
        raise AudioFileError(path, "holds no audio samples")


def load_audio(path: str | Path, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Decode ``path`` to mono float32 in [-1, 1] at ``sample_rate_hz``.

    Raises:
        AudioFileError: the file is missing, empty, truncated, not audio, or
            holds no samples.
    """
    blocks = AudioFileBlocks(path, block_frames=-1)
    rate = blocks.sample_rate_hz
    if blocks.frames > MAX_SECONDS * rate:
        raise AudioFileError(blocks.path, f"too long ({blocks.frames / rate / 3600:.1f} h; "
                                          f"at most {MAX_SECONDS // 3600} h)")
    parts = list(blocks)
    data = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return resample(data, rate, sample_rate_hz)


#: Frames per block when a long file is decoded block by block (at its own
#: rate): 2 s at 48 kHz, small against any ring, large against call overhead.
BLOCK_FRAMES = 96000


class AudioFileBlocks:
    """A file decoded block by block: mono float32 at its own rate, with the
    checks of :func:`load_audio` (memory independent of the file's length).

    Opening checks the header (missing, empty, not audio, truncated WAV);
    iterating raises :class:`AudioFileError` for undecodable data, NaN or
    infinite samples, or fewer samples than the header says.
    """

    def __init__(self, path: str | Path, block_frames: int = BLOCK_FRAMES) -> None:
        """``block_frames`` -1: the whole file in one block."""
        self.path = Path(path)
        with _open(self.path) as f:
            self.sample_rate_hz, self.frames, fmt = f.samplerate, f.frames, f.format
        _check_whole(self.path, self.frames, fmt)
        self.block_frames = int(block_frames)

    @property
    def duration_s(self) -> float:
        return self.frames / float(self.sample_rate_hz)

    def __iter__(self):
        return self.read()

    def read(self, start_frame: int = 0, stop_frame: int | None = None):
        """Mono float32 blocks of frames ``[start_frame, stop_frame)`` (None:
        to the end of the file), reached by a seek: what comes before is
        not decoded (a minute at the end of an hour reads a minute).

        Raises:
            AudioFileError: as iterating (a range the file does not hold
                in full is truncated).
        """
        start = max(0, int(start_frame))
        want = None if stop_frame is None else max(0, int(stop_frame) - start)
        expected = self.frames - start if want is None else min(want, self.frames - start)
        got = 0
        with _open(self.path) as f:
            if start:
                try:
                    f.seek(min(start, self.frames))
                except (sf.LibsndfileError, RuntimeError) as exc:
                    detail = str(getattr(exc, "error_string", exc)).removeprefix("Error : ")
                    raise AudioFileError(self.path, f"cannot seek in its {f.format} data "
                                                    f"({detail.rstrip('.')})") from None
            while want is None or got < want:
                n = self.block_frames if want is None else (
                    want - got if self.block_frames < 0 else min(self.block_frames, want - got))
                try:
                    data = f.read(n, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    detail = str(getattr(exc, "error_string", exc)).removeprefix("Error : ")
                    raise AudioFileError(self.path, f"corrupt {f.format} data, cannot be "
                                                    f"decoded ({detail.rstrip('.')})") from None
                if data.shape[0] == 0:
                    if got == 0 and expected > 0:
                        raise AudioFileError(self.path, "holds no audio samples")
                    break
                if not np.all(np.isfinite(data)):
                    raise AudioFileError(self.path, "holds NaN or infinite samples")
                got += data.shape[0]
                yield to_mono(data)
                if self.block_frames < 0 and want is None:
                    break
        if 0 < expected and got < expected:
            raise AudioFileError(self.path, f"truncated: header says {self.frames} samples, "
                                            f"only {start + got} present")


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre-crop or zero-pad (both sides evenly) ``audio`` to ``n_samples``."""
    n = audio.shape[0]
    if n == n_samples:
        return audio
    if n > n_samples:
        start = (n - n_samples) // 2
        return audio[start:start + n_samples]
    left = (n_samples - n) // 2
    return np.pad(audio, (left, n_samples - n - left))
