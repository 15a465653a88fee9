"""A long file's log-mel image for the Files tab's timeline, decoded and
pooled block by block: an hour of audio decoded whole, then turned into
columns, took gigabytes (a 45-min file peaked at 3.2 GB), while the image
shown is at most ``GuiConfig.file_max_columns`` wide.

Numpy only (no Qt): it runs on the files worker's thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from kwsapp.audio.io import AudioFileBlocks, StreamResampler
from kwsapp.config import SAMPLE_RATE_HZ, GuiConfig
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

    def __init__(self, per: int, n_bins: int) -> None:
        self.per = max(1, int(per))
        self._carry = np.zeros((0, n_bins), np.float32)
        self._pooled: list[np.ndarray] = []

    def push(self, columns: np.ndarray) -> None:
        buf = np.concatenate([self._carry, columns]) if self._carry.size else columns
        whole = buf.shape[0] - buf.shape[0] % self.per
        if whole:
            self._pooled.append(buf[:whole].reshape(-1, self.per, buf.shape[1]).max(axis=1))
        self._carry = buf[whole:]

    def result(self) -> np.ndarray:
        """The pooled image ``[columns, bins]``; a last partial group is
        pooled on its own."""
        parts = self._pooled + ([self._carry.max(axis=0, keepdims=True)]
                                if self._carry.shape[0] else [])
        if not parts:
            return self._carry
        return np.concatenate(parts).astype(np.float32, copy=False)


def file_columns(path: str | Path, config: GuiConfig,
                 on_progress: Callable[[float, float], None] | None = None) -> np.ndarray:
    """The pooled log-mel image ``[columns, n_mels]`` float32 of a file, at
    most ``config.file_max_columns`` wide (near it for a long file), in
    memory independent of its length. ``on_progress(done_s, total_s)``
    follows the decoding (it may raise to stop it).

    Raises:
        AudioFileError: the file cannot be decoded.
    """
    blocks = AudioFileBlocks(path)
    mel = StreamingLogMel(config)
    frames = int(blocks.duration_s * 1000.0 / config.spectrogram_hop_ms) + 1
    pooler = ColumnPooler(-(-frames // config.file_max_columns), mel.n_mels)
    resampler = StreamResampler(blocks.sample_rate_hz, SAMPLE_RATE_HZ)
    done = 0
    for block in blocks:
        pooler.push(mel.push(resampler.process(block)))
        done += block.shape[0]
        if on_progress is not None:
            on_progress(done / blocks.sample_rate_hz, blocks.duration_s)
    pooler.push(mel.push(resampler.flush()))
    return pooler.result()
