"""One streaming pass over the clips: per-clip measures folded into running
sums and bounded reservoir samples, so memory does not grow with the number
of clips (only with the number of words, speakers, and listed files).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Generic, Iterable, TypeVar

import numpy as np

from kwsapp.audio.io import fit_length, load_audio, resample
from kwsapp.audio.vad import speech_flags
from kwsapp.config import SAMPLE_RATE_HZ, VadConfig, ms_to_samples
from training.config import ExploreConfig
from kwsapp.errors import AudioFileError
from kwsapp.features import log_spectrogram, power_spectrogram
from kwsapp.speakers import SILENCE_DIR
from training.explore.layout import Clip

log = logging.getLogger(__name__)

T = TypeVar("T")


class Reservoir(Generic[T]):
    """A uniform random sample of at most ``size`` items of a stream
    (Vitter's algorithm R), seeded."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.items: list[T] = []
        self.seen = 0
        self._rng = rng

    def add(self, item: T) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        else:
            j = self._rng.randrange(self.seen)
            if j < self.size:
                self.items[j] = item


def spectrum_hz(cfg: ExploreConfig, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Frequencies (Hz) of the bins of :func:`mean_power_spectrum`."""
    n_fft = ms_to_samples(cfg.fft_window_ms, sample_rate_hz)
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)


def mean_power_spectrum(audio: np.ndarray, cfg: ExploreConfig,
                        sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Mean Hann-window power spectrum of a clip (a smoothed FFT).

    Returns:
        ``[n_fft // 2 + 1]`` float64 power density, bins at :func:`spectrum_hz`.
    """
    # power_spectrogram's step is the window overlap; equal to the hop at 50 %.
    spec = power_spectrogram(audio, sample_rate_hz, cfg.fft_window_ms, cfg.fft_step_ms)
    return spec.mean(axis=0, dtype=np.float64)


def db(power: np.ndarray | float) -> np.ndarray:
    """10 log10 with a floor at -200 dB (digital silence stays finite)."""
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def spectral_shape(power: np.ndarray, n_bins: int) -> np.ndarray:
    """Level-free spectral shape of a clip for the PCA: the spectrum (DC bin
    dropped) averaged down to ``n_bins`` bands, in dB, minus its mean, so a
    louder recording of the same sound gives the same vector.

    Returns:
        ``[n_bins]`` float32.
    """
    bands = power[1:1 + (power.shape[0] - 1) // n_bins * n_bins].reshape(n_bins, -1).mean(axis=1)
    shape = db(bands)
    return (shape - shape.mean()).astype(np.float32)


def speech_span(flags: np.ndarray, frame_samples: int, n_samples: int) -> tuple[int, int] | None:
    """Sample range ``[start, end)`` from the first to the last speech frame,
    or None when webrtcvad heard no speech."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return None
    return int(idx[0]) * frame_samples, min(n_samples, (int(idx[-1]) + 1) * frame_samples)


@dataclass
class ClipMeasures:
    """What one clip contributes to the statistics (16 kHz unless stated)."""

    n_samples: int  # length at 16 kHz
    rms_db: float  # level, dBFS
    log_spec: np.ndarray  # [99, 81] 8 kHz log-spectrogram of the clip fit to clip_ms
    power: np.ndarray  # [n_fft // 2 + 1] mean power spectrum
    share_above: float  # share of energy above low_rate_hz / 2 (lost when resampling)
    high_band_db: float  # level of cfg.high_band_hz relative to cfg.ref_band_hz (dB)
    shape: np.ndarray  # [cfg.fft_bins] normalized spectrum for the PCA
    band_value: float  # mean log-spectrogram value in cfg.band_hz
    trim_samples: int  # samples VAD trimming would cut (leading + trailing non-speech)


def measure(audio: np.ndarray, cfg: ExploreConfig, vad: VadConfig) -> ClipMeasures:
    """The per-clip measures of mono float32 16 kHz ``audio``."""
    n = audio.shape[0]
    power = mean_power_spectrum(audio, cfg)
    freqs = spectrum_hz(cfg)
    total = float(power.sum()) or 1e-30
    low = resample(fit_length(audio, ms_to_samples(cfg.clip_ms)), SAMPLE_RATE_HZ, cfg.low_rate_hz)
    log_spec = log_spectrogram(low, cfg.low_rate_hz)
    band = band_rows(cfg, log_spec.shape[1])
    flags = speech_flags(audio, SAMPLE_RATE_HZ, vad.aggressiveness, vad.frame_ms)
    span = speech_span(flags, ms_to_samples(vad.frame_ms), n)
    return ClipMeasures(
        n_samples=n,
        rms_db=float(db(np.mean(np.square(audio, dtype=np.float64)))),
        log_spec=log_spec,
        power=power,
        share_above=float(power[freqs > cfg.low_rate_hz / 2].sum() / total),
        high_band_db=high_band_db(power, freqs, cfg),
        shape=spectral_shape(power, cfg.fft_bins),
        band_value=float(log_spec[:, band].mean()),
        trim_samples=n if span is None else n - (span[1] - span[0]),
    )


def high_band_db(power: np.ndarray, freqs: np.ndarray, cfg: ExploreConfig) -> float:
    """Mean level (dB) of ``cfg.high_band_hz`` minus that of ``cfg.ref_band_hz``:
    about -20 dB for a full-band recording of speech, below -45 dB for a
    band-limited (phone-like, 8 kHz upsampled) one."""
    level = db(power)

    def mean_in(band: tuple[float, float]) -> float:
        return float(level[(freqs >= band[0]) & (freqs <= band[1])].mean())

    return mean_in(cfg.high_band_hz) - mean_in(cfg.ref_band_hz)


def band_rows(cfg: ExploreConfig, n_rows: int) -> np.ndarray:
    """Indices of the 8 kHz log-spectrogram bins inside ``cfg.band_hz``
    (at least one bin)."""
    hz = np.linspace(0.0, cfg.low_rate_hz / 2, n_rows)
    lo, hi = cfg.band_hz
    rows = np.flatnonzero((hz >= lo) & (hz <= hi))
    return rows if rows.size else np.array([int(np.argmin(np.abs(hz - lo)))])


#: Per-clip scalar values kept (in reservoirs) for the violin and box plots.
VALUE_NAMES = ("share_above", "band_value", "high_band_db", "rms_db", "trim_share")


@dataclass
class WordStats:
    """Running sums and samples of one word."""

    n: int = 0
    samples: int = 0
    trim_samples: int = 0
    sum_log_spec: np.ndarray | None = None
    sum_power: np.ndarray | None = None
    values: Reservoir[tuple[float, ...]] | None = None
    candidates: Reservoir[tuple[Clip, int, float]] | None = None

    def add(self, clip: Clip, m: ClipMeasures) -> None:
        self.n += 1
        self.samples += m.n_samples
        self.trim_samples += m.trim_samples
        if self.sum_log_spec is None:
            self.sum_log_spec = np.zeros(m.log_spec.shape, np.float64)
            self.sum_power = np.zeros(m.power.shape, np.float64)
        self.sum_log_spec += m.log_spec
        self.sum_power += m.power
        self.values.add((m.share_above, m.band_value, m.high_band_db, m.rms_db,
                         m.trim_samples / max(m.n_samples, 1)))
        self.candidates.add((clip, m.n_samples, m.rms_db))

    def value(self, name: str) -> np.ndarray:
        """The sampled per-clip values of ``name`` (one of :data:`VALUE_NAMES`)."""
        i = VALUE_NAMES.index(name)
        return np.array([v[i] for v in self.values.items], dtype=np.float64)

    @property
    def mean_log_spec(self) -> np.ndarray:
        return self.sum_log_spec / max(self.n, 1)

    @property
    def mean_power(self) -> np.ndarray:
        return self.sum_power / max(self.n, 1)


@dataclass
class DatasetStats:
    """Everything the report shows about the clips, built by :meth:`add`."""

    cfg: ExploreConfig
    label_counts: Counter = field(default_factory=Counter)
    word_counts: Counter = field(default_factory=Counter)
    speakers_per_label: dict[str, set[str]] = field(default_factory=dict)
    clips_per_speaker: Counter = field(default_factory=Counter)
    split_counts: Counter = field(default_factory=Counter)
    split_speakers: dict[str, set[str]] = field(default_factory=dict)
    length_hist: np.ndarray | None = None  # clips per length bin; last bin: longer
    n_short: int = 0
    short: list[tuple[str, float]] = field(default_factory=list)  # (name, ms), capped
    n_failed: int = 0
    n_narrowband: int = 0  # word clips with high_band_db below cfg.narrowband_db
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, problem), capped
    words: dict[str, WordStats] = field(default_factory=dict)
    pca: Reservoir[tuple[Clip, np.ndarray]] | None = None
    narrowband: list[tuple[float, Clip]] = field(default_factory=list)  # lowest high_band_db

    def __post_init__(self) -> None:
        self._rng = random.Random(self.cfg.seed)
        n_bins = int(np.ceil(self.cfg.length_max_ms / self.cfg.length_bin_ms))
        self.length_hist = np.zeros(n_bins + 1, np.int64)
        self.pca = Reservoir(self.cfg.pca_clips, self._rng)

    @property
    def n_ok(self) -> int:
        return sum(w.n for w in self.words.values())

    @property
    def short_samples(self) -> int:
        return ms_to_samples(self.cfg.clip_ms)

    def word(self, word: str) -> WordStats:
        if word not in self.words:
            self.words[word] = WordStats(
                values=Reservoir(self.cfg.values_per_word, self._rng),
                candidates=Reservoir(self.cfg.example_candidates, self._rng))
        return self.words[word]

    def add_failure(self, clip: Clip, problem: str) -> None:
        self.n_failed += 1
        if len(self.failed) < self.cfg.max_listed:
            self.failed.append((clip.name, problem))

    def add(self, clip: Clip, m: ClipMeasures) -> None:
        self.label_counts[clip.label] += 1
        self.word_counts[clip.word] += 1
        if clip.speaker is not None:
            self.speakers_per_label.setdefault(clip.label, set()).add(clip.speaker)
            self.clips_per_speaker[clip.speaker] += 1
            self.split_speakers.setdefault(clip.split, set()).add(clip.speaker)
        self.split_counts[clip.split] += 1
        length_ms = 1000.0 * m.n_samples / SAMPLE_RATE_HZ
        self.length_hist[min(int(length_ms // self.cfg.length_bin_ms),
                             self.length_hist.size - 1)] += 1
        if m.n_samples < self.short_samples:
            self.n_short += 1
            if len(self.short) < self.cfg.max_listed:
                self.short.append((clip.name, length_ms))
        self.word(clip.word).add(clip, m)
        if clip.word != SILENCE_DIR:  # recording conditions of speech, not of noise
            self.pca.add((clip, m.shape))
            self.n_narrowband += m.high_band_db < self.cfg.narrowband_db
            self._add_narrowband(clip, m.high_band_db)

    def _add_narrowband(self, clip: Clip, level_db: float) -> None:
        """Keep the ``cfg.narrowband_clips`` clips of least high-band level, one per speaker."""
        keep = self.narrowband
        same = [i for i, (_, c) in enumerate(keep) if c.speaker == clip.speaker]
        if same:
            if level_db < keep[same[0]][0]:
                keep[same[0]] = (level_db, clip)
        else:
            keep.append((level_db, clip))
        keep.sort(key=lambda rc: rc[0])
        del keep[self.cfg.narrowband_clips:]

    def speech_words(self) -> list[str]:
        return [w for w in self.words if w != SILENCE_DIR]

    def summary(self) -> dict[str, Any]:
        """Headline numbers (JSON-ready)."""
        speech = [self.words[w] for w in self.speech_words()]
        total = sum(w.samples for w in speech)
        return {
            "clips": self.n_ok, "unreadable": self.n_failed, "short": self.n_short,
            "labels": dict(self.label_counts), "speakers": len(self.clips_per_speaker),
            "vad_trim_share": (sum(w.trim_samples for w in speech) / total) if total else None,
        }


def collect(clips: Iterable[Clip], cfg: ExploreConfig, vad: VadConfig,
            total: int | None = None, progress: bool = True) -> DatasetStats:
    """Read and measure every clip (a tqdm bar on stderr); unreadable files
    are counted and listed, not fatal."""
    from tqdm import tqdm

    stats = DatasetStats(cfg)
    for clip in tqdm(clips, total=total, unit="clip", desc="reading clips",
                     disable=not progress, dynamic_ncols=True):
        try:
            audio = load_audio(clip.path, SAMPLE_RATE_HZ)
        except AudioFileError as exc:
            log.warning("skipped %s", exc)
            stats.add_failure(clip, exc.problem)
            continue
        stats.add(clip, measure(audio, cfg, vad))
    return stats
