"""A long file's log-mel image for the Files tab's timeline, made block by
block from the 16-kHz samples the classification's replay decodes
(:class:`FileOverview`; the file is decoded once): an hour of audio decoded
whole, then turned into columns, took gigabytes (a 45-min file peaked at
3.2 GB), while the image shown is at most ``GuiConfig.file_max_columns``
wide. Its columns so far can be shown while the replay goes on. Zoomed in,
the timeline draws :func:`detail_columns` over it: the full-resolution
columns of the part in view, read from the file by a seek.

Numpy only (no Qt): it runs on the replay's threads (the overview) and the
detail worker's (the detail).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from kwsapp.audio.io import AudioFileBlocks, StreamResampler
from kwsapp.config import SAMPLE_RATE_HZ, GuiConfig
from kwsapp.errors import Cancelled
from kwsapp.gui.spectrogram_widget import StreamingLogMel


def pool_columns(columns: np.ndarray, max_columns: int) -> np.ndarray:
    """Max-pool a ``[frames, bins]`` image along time to at most ``max_columns``
    (keeps short words visible in hour-long files)."""
    n = columns.shape[0]
    if n <= max_columns:
        return columns
    per = -(-n // max_columns)
    pad = per * (-(-n // per)) - n
    padded = np.pad(columns, ((0, pad), (0, 0)), mode="edge")
    return padded.reshape(-1, per, columns.shape[1]).max(axis=1)


class ColumnPooler:
    """Max-pools columns arriving in pieces, ``per`` frames to one column
    (what :func:`pool_columns` gives the whole image, for the same ``per``)."""

    def __init__(self, per: int, n_bins: int, expected: int = 0) -> None:
        """``expected``: how many columns there will be, if known (their
        room is made at once)."""
        self.per = max(1, int(per))
        self._carry = np.zeros((0, n_bins), np.float32)
        self._out = np.zeros((max(0, int(expected)), n_bins), np.float32)  # grown if need be
        self.n_done = 0  # whole columns pooled so far: ``_out[:n_done]``

    def push(self, columns: np.ndarray) -> None:
        buf = np.concatenate([self._carry, columns]) if self._carry.size else columns
        whole = buf.shape[0] - buf.shape[0] % self.per
        if whole:
            pooled = buf[:whole].reshape(-1, self.per, buf.shape[1]).max(axis=1)
            self._room(self.n_done + pooled.shape[0])
            self._out[self.n_done:self.n_done + pooled.shape[0]] = pooled
            self.n_done += pooled.shape[0]
        self._carry = buf[whole:]

    def _room(self, n: int) -> None:
        if n > self._out.shape[0]:
            grown = np.zeros((max(n, 2 * self._out.shape[0], 64), self._out.shape[1]),
                             np.float32)
            grown[:self.n_done] = self._out[:self.n_done]
            self._out = grown

    def done(self) -> np.ndarray:
        """The whole columns pooled so far ``[n_done, bins]`` (a copy: later
        pushes leave it as it is)."""
        return self._out[:self.n_done].copy()

    def result(self) -> np.ndarray:
        """The pooled image ``[columns, bins]``; a last partial group is
        pooled on its own."""
        if self._carry.shape[0]:
            return np.concatenate([self._out[:self.n_done],
                                   self._carry.max(axis=0, keepdims=True)]).astype(np.float32)
        return self.done()


def _frames_at_most(duration_s: float, config: GuiConfig) -> int:
    """The most 10 ms frames a ``duration_s`` file has."""
    return int(duration_s * 1000.0 / config.spectrogram_hop_ms) + 1


def frames_per_column(duration_s: float, config: GuiConfig) -> int:
    """How many 10 ms frames :class:`FileOverview` pools into one column of a
    ``duration_s`` file's image (1: not pooled)."""
    return max(1, -(-_frames_at_most(duration_s, config) // config.file_max_columns))


class FileOverview:
    """A ``duration_s`` file's pooled log-mel image, made from its 16-kHz
    samples pushed as they are decoded (the classification's replay gives
    them: ``FileClassifier.classify_file``'s ``on_audio``), in memory
    independent of the file's length.

    :meth:`push` and :meth:`done` belong to one thread at a time (the
    replay's); :meth:`result` once the samples have all come.
    """

    #: 16-kHz samples gathered before their columns are made: the replay
    #: gives 20-ms blocks, and one ``log_mel`` call per block cost a
    #: hundred thousand calls an hour.
    GATHER_SAMPLES = 16000

    def __init__(self, duration_s: float, config: GuiConfig) -> None:
        self.mel = StreamingLogMel(config)
        per = frames_per_column(duration_s, config)
        self.pooler = ColumnPooler(per, self.mel.n_mels,
                                   expected=-(-_frames_at_most(duration_s, config) // per))
        self._gathered: list[np.ndarray] = []
        self._n_gathered = 0

    def push(self, samples: np.ndarray) -> None:
        """Append ``samples`` (16 kHz mono float32, the file's next ones)."""
        self._gathered.append(np.array(samples, np.float32))  # a copy: the caller's is read only
        self._n_gathered += self._gathered[-1].shape[0]
        if self._n_gathered >= self.GATHER_SAMPLES:
            self._columns()

    def _columns(self) -> None:
        if self._gathered:
            audio = self._gathered[0] if len(self._gathered) == 1 else \
                np.concatenate(self._gathered)
            self._gathered, self._n_gathered = [], 0
            self.pooler.push(self.mel.push(audio))

    @property
    def n_done(self) -> int:
        """How many of the image's columns are whole so far."""
        return self.pooler.n_done

    def done(self) -> np.ndarray:
        """The image's whole columns so far ``[n, n_mels]`` float32 (a
        copy): column ``j`` of it is column ``j`` of :meth:`result`."""
        return self.pooler.done()

    def result(self) -> np.ndarray:
        """The whole image ``[columns, n_mels]`` float32 (the file's samples
        have all been pushed)."""
        self._columns()
        return self.pooler.result()


def file_columns(path: str | Path, config: GuiConfig,
                 on_progress: Callable[[float, float], None] | None = None) -> np.ndarray:
    """The pooled log-mel image ``[columns, n_mels]`` float32 of a file, at
    most ``config.file_max_columns`` wide (near it for a long file), in
    memory independent of its length, decoded for it alone (the Files tab
    makes it from the classification's decoding instead: :class:`FileOverview`).
    ``on_progress(done_s, total_s)`` follows the decoding (it may raise to
    stop it).

    Raises:
        AudioFileError: the file cannot be decoded.
    """
    blocks = AudioFileBlocks(path)
    overview = FileOverview(blocks.duration_s, config)
    resampler = StreamResampler(blocks.sample_rate_hz, SAMPLE_RATE_HZ)
    done = 0
    for block in blocks:
        overview.push(resampler.process(block))
        done += block.shape[0]
        if on_progress is not None:
            on_progress(done / blocks.sample_rate_hz, blocks.duration_s)
    overview.push(resampler.flush())
    return overview.result()


def detail_columns(path: str | Path, start_s: float, end_s: float, config: GuiConfig,
                   stop: Callable[[], bool] | None = None) -> tuple[int, np.ndarray]:
    """The full-resolution log-mel columns of a file's frames that overlap
    ``start_s``-``end_s``: the rows ``first:first + n`` of the whole file's
    image (``StreamingLogMel.compute`` of all of it, resampled to 16 kHz),
    within float rounding, read from a seek to a little before the range
    (the resampling filter's reach) to a little after it. Memory follows the
    range, not the file.

    Args:
        stop: called before each block is decoded; True stops the work.

    Returns:
        ``(first, columns)``: the frame index of ``columns[0]`` (frame ``k``
        is the window of 16-kHz samples ``[k * hop, k * hop + win)``) and the
        columns ``[n, n_mels]`` float32 (``n`` may be 0 past the file's end).

    Raises:
        AudioFileError: the file (or that part of it) cannot be decoded.
        Cancelled: ``stop`` said so.
    """
    blocks = AudioFileBlocks(path)
    mel = StreamingLogMel(config)
    resampler = StreamResampler(blocks.sample_rate_hz, SAMPLE_RATE_HZ)
    up, down = resampler.up, resampler.down  # 16 kHz = file rate * up / down
    first = max(0, int(np.floor(start_s * 1000.0 / config.spectrogram_hop_ms)))
    last = max(first, int(np.ceil(end_s * 1000.0 / config.spectrogram_hop_ms)))  # inclusive
    begin16, end16 = first * mel.hop, last * mel.hop + mel.win  # 16-kHz samples needed
    # Start where the resampler's outputs from begin16 on no longer depend on
    # the input before the seek, on an input sample that is a whole number of
    # outputs (a multiple of ``down``): the outputs are then the whole file's.
    reach = 0 if resampler.identity else -(-resampler.half_len // down) + 1
    j = max(0, begin16 - reach) // up
    seek, out0 = j * down, j * up
    stop_in = seek + resampler.inputs_for(end16 - out0)
    to_end = stop_in >= blocks.frames
    skip = begin16 - out0  # resampled samples before frame ``first``
    parts = []

    def take(samples: np.ndarray) -> None:
        nonlocal skip
        if skip:
            cut = min(skip, samples.shape[0])
            samples, skip = samples[cut:], skip - cut
        if samples.shape[0]:
            parts.append(mel.push(samples))

    for block in blocks.read(seek, None if to_end else stop_in):
        if stop is not None and stop():
            raise Cancelled(f"{path}: detail no longer wanted")
        take(resampler.process(block))
    if to_end:
        take(resampler.flush())
    columns = (np.concatenate(parts) if parts
               else np.zeros((0, mel.n_mels), np.float32))
    return first, np.ascontiguousarray(columns[:last + 1 - first], dtype=np.float32)
