"""Every runtime tunable, in one place, with defaults.

Times are given in milliseconds and converted to samples here only (as
kws_streaming's ``update_flags`` does), so no other module repeats the
arithmetic. A model's card may override the window, hop, threshold and
smoother defaults: :meth:`Config.with_card` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

#: Every model and the engine work at this rate; devices at other rates are
#: resampled in the pipeline thread (never in the audio callback).
SAMPLE_RATE_HZ = 16000


def ms_to_samples(ms: float, sample_rate_hz: int = SAMPLE_RATE_HZ) -> int:
    """Milliseconds to a whole number of samples at ``sample_rate_hz``."""
    return int(round(ms * sample_rate_hz / 1000.0))


@dataclass(frozen=True)
class AudioConfig:
    """Input stream and ring buffer."""

    device: str | int | None = None  # None: the system default input
    device_rate_hz: int | None = None  # None: the device's default rate
    block_ms: float = 20.0  # PortAudio block per callback
    ring_seconds: float = 20.0  # history kept for the engine and the GUI
    # The pipeline thread looks for new device audio this often (it never
    # waits on the audio callback, which must not take locks).
    poll_ms: float = 10.0


@dataclass(frozen=True)
class VadConfig:
    """webrtcvad speech gate."""

    enabled: bool = True
    aggressiveness: int = 2  # 0 (least) .. 3 (most aggressive filtering)
    frame_ms: int = 30  # webrtcvad accepts 10, 20 or 30 ms frames
    # Gate stays open this long after the last speech frame, so the
    # window that holds the word's end still gets classified.
    hangover_ms: float = 800.0
    # Speech needs this many voiced ms in a row to open the gate.
    onset_ms: float = 60.0
    # Voiced frames closer than this belong to one word (a "speech run"):
    # stop closures inside a word are shorter, pauses between words longer.
    word_gap_ms: float = 250.0
    # Frames quieter than this (RMS, dB re full scale) are never speech:
    # webrtcvad alone calls even -60 dBFS white noise speech. The loudest
    # frame of 360 shared command clips was at least -33 dBFS.
    min_level_dbfs: float = -50.0


@dataclass(frozen=True)
class SmoothingConfig:
    """Window probabilities -> commands (see inference/smoothing.py)."""

    average_window_ms: float = 500.0  # mean of the windows in this span
    threshold: float = 0.6  # fire when a command's mean probability passes it
    refractory_ms: float = 1000.0  # no second event this soon after one


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (training/augment.py); no TensorFlow here."""

    noise_prob: float = 0.8  # share of clips that get noise mixed in
    snr_db_range: tuple[float, float] = (0.0, 20.0)
    # Colours of generated noise, besides real _background_noise_ files.
    noise_colors: tuple[str, ...] = ("white", "pink", "blue", "brown", "violet")
    background_share: float = 0.6  # of noisy clips, share with real noise
    shift_ms: float = 100.0  # random time shift up to +- this
    speed_range: tuple[float, float] = (0.9, 1.1)  # speed/pitch perturbation
    speed_prob: float = 0.5
    spec_freq_masks: int = 2  # SpecAugment (spectrogram models only)
    spec_freq_width: int = 8
    spec_time_masks: int = 2
    spec_time_width: int = 10


@dataclass(frozen=True)
class GuiConfig:
    """Desktop window (kwsapp/gui): drawing rates, spans and looks."""

    redraw_hz: float = 30.0  # live spectrogram/waveform/meter repaint rate
    status_hz: float = 2.0  # status bar text (xruns, drops, timings)
    spectrogram_seconds: float = 6.0  # span of the scrolling spectrogram
    spectrogram_n_mels: int = 64
    spectrogram_window_ms: float = 25.0
    spectrogram_hop_ms: float = 10.0
    spectrogram_n_fft: int = 512
    # Fixed image levels (natural-log mel power); autoLevels would flicker.
    spectrogram_levels: tuple[float, float] = (-11.0, 4.0)
    colormap: str = "inferno"  # perceptual map (pyqtgraph.colormap.get)
    waveform_seconds: float = 3.0
    waveform_buckets: int = 1000  # min/max segments drawn per frame (>= plot width)
    meter_span_ms: float = 50.0  # level meter RMS span
    meter_floor_db: float = -60.0
    result_hold_ms: float = 1500.0  # command shown at full strength this long
    result_fade_ms: float = 1200.0  # then fades out over this long
    history_rows: int = 200  # oldest rows dropped past this
    file_max_columns: int = 3000  # long-file spectrogram pooled to this width


@dataclass(frozen=True)
class TrainConfig:
    """Data split and training loop (training/data.py, training/train.py);
    pure Python, no TensorFlow. ``TrainConfig.tiny()`` is the test preset."""

    seed: int = 0
    # Speaker-disjoint split when the data set has no validation/testing lists:
    # a speaker's seeded hash decides its share.
    validation_share: float = 0.15
    test_share: float = 0.10
    # Full v0.02 layout only: unknown words kept and silence clips cut from
    # _background_noise_, each as this share of the resulting set.
    unknown_share: float = 0.1
    silence_share: float = 0.1
    batch_size: int = 64
    epochs: int = 40
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    patience: int = 12  # epochs without a better validation accuracy before stopping
    # Augmented copies of each training clip computed once (front end and,
    # for `embed`, the embedding cached on disk); each epoch draws one copy.
    aug_copies: int = 6
    # Random level change of augmented copies (dB), so that a quiet word is
    # not taken for silence.
    gain_db_range: tuple[float, float] = (-20.0, 6.0)
    steps_per_epoch: int | None = None  # None: one pass over the training clips
    max_train_clips: int | None = None  # None: every training clip
    max_val_clips: int | None = None  # None: every validation (and test) clip
    # Extra `unknown` training clips from espeak-ng (training/negatives/tts.py legacy_espeak_unknown):
    # streams showed false activations come from unknown words taken for commands.
    synthetic_unknown: bool = False
    # Each epoch draws the unknown training clips this many times (>= 1).
    unknown_oversample: int = 1

    @classmethod
    def tiny(cls) -> "TrainConfig":
        """A few steps on a few clips: the tests' preset."""
        return cls(batch_size=8, epochs=2, patience=2, aug_copies=2, steps_per_epoch=3,
                   max_train_clips=48, max_val_clips=16)


@dataclass(frozen=True)
class Config:
    """All runtime settings. Build variants with ``dataclasses.replace``."""

    model: str = "embed"  # registry name or artifact directory
    hop_ms: float = 250.0  # one window classified every hop while gated open
    window_ms: float = 1000.0  # overridden by the model card
    queue_size: int = 2  # windows waiting for inference; oldest dropped
    # `classify`: files up to this long get one centred window (label +
    # probabilities); longer ones a timeline of events from the engine.
    clip_max_ms: float = 1550.0
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)

    @property
    def hop_samples(self) -> int:
        return ms_to_samples(self.hop_ms)

    @property
    def window_samples(self) -> int:
        return ms_to_samples(self.window_ms)

    def with_card(self, card: Mapping[str, Any]) -> "Config":
        """This config with the window, hop, threshold, smoother and VAD
        defaults a model card states (``card.json``)."""
        out = replace(self, window_ms=float(card.get("window_ms", self.window_ms)))
        if "hop_ms" in card:
            out = replace(out, hop_ms=float(card["hop_ms"]))
        smoothing = dict(card.get("smoothing", {}))
        if "threshold" in card:
            smoothing.setdefault("threshold", card["threshold"])
        known = SmoothingConfig.__dataclass_fields__
        out = replace(out, smoothing=replace(
            out.smoothing, **{k: float(v) for k, v in smoothing.items() if k in known}))
        vad = {k: v for k, v in dict(card.get("vad", {})).items()
               if k in VadConfig.__dataclass_fields__}
        if vad:
            out = replace(out, vad=replace(out.vad, **vad))
        return out


@dataclass(frozen=True)
class ExploreConfig:
    """Data-set exploration report (training/explore/; `kwsapp explore`).

    Every cap below bounds memory on large folders: statistics are running
    sums per word, per-clip values are kept in seeded reservoir samples of at
    most these sizes, and figures are drawn from sampled clips only.
    """

    clip_ms: float = 1000.0  # clips shorter than this are "short" (padded in training)
    low_rate_hz: int = 8000  # the CNN's input rate (log-spectrogram 99x81)
    fft_window_ms: float = 32.0  # spectrum per clip: mean Hann-window power
    fft_step_ms: float = 16.0
    fft_bins: int = 128  # normalized spectrum length fed to the PCA
    band_hz: tuple[float, float] = (2500.0, 3500.0)  # violin-plot band (< low_rate_hz / 2)
    # Band-limited (phone-like) recordings: level of high_band_hz relative to
    # ref_band_hz, dB; clips below narrowband_db are counted as narrow-band.
    high_band_hz: tuple[float, float] = (5000.0, 7000.0)
    ref_band_hz: tuple[float, float] = (1000.0, 3000.0)
    narrowband_db: float = -45.0
    values_per_word: int = 2000  # reservoir of per-clip values per word (violins, boxes)
    pca_clips: int = 5000  # reservoir of normalized spectra for the PCA
    outliers: int = 10  # clips listed (with players) as PCA outliers
    narrowband_clips: int = 4  # lowest-bandwidth clips (distinct speakers) plotted
    example_candidates: int = 8  # reservoir per word from which the example is picked
    max_listed: int = 10000  # short / unreadable files listed by name (all are counted)
    length_bin_ms: float = 20.0  # clip-length histogram bin
    length_max_ms: float = 2000.0  # longer clips fall in the last bin
    noise_excerpt_s: float = 5.0  # background-noise excerpt written for the player
    noise_max_s: float = 600.0  # background-noise files are analysed up to this length
    seed: int = 0
    jobs: int = 2  # processes drawing figures
