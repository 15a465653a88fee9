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


#: Smallest and largest threshold a class can have (a shifted per-class
#: threshold is clipped into this range).
THRESHOLD_RANGE = (0.01, 1.0)


@dataclass(frozen=True)
class SmoothingConfig:
    """Window probabilities -> commands (see inference/smoothing.py).

    Per-class thresholds are held as offsets from the global ``threshold``
    (the card states absolute values; :meth:`Config.with_card` converts), so
    moving the global threshold (the GUI's sensitivity slider, ``--threshold``)
    moves every class with it and the tuned differences between classes stay.
    """

    average_window_ms: float = 500.0  # mean of the windows in this span
    threshold: float = 0.6  # fire when a command's mean probability passes it
    refractory_ms: float = 1000.0  # no second event this soon after one
    # (label, threshold - global threshold) per class tuned apart; a class
    # not named uses `threshold`. Pairs, not a dict, so the config stays hashable.
    class_offsets: tuple[tuple[str, float], ...] = ()

    def threshold_for(self, label: str) -> float:
        """The threshold ``label`` fires at (clipped to :data:`THRESHOLD_RANGE`)."""
        offset = dict(self.class_offsets).get(label, 0.0)
        if not offset:
            return self.threshold
        return float(min(max(self.threshold + offset, THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1]))

    def class_thresholds(self) -> dict[str, float]:
        """``{label: absolute threshold}`` of the classes tuned apart (the
        card's ``thresholds``)."""
        return {label: round(self.threshold_for(label), 4) for label, _ in self.class_offsets}

    def with_class_thresholds(self, thresholds: Mapping[str, float]) -> "SmoothingConfig":
        """This config with absolute per-class ``thresholds`` (replacing any)."""
        offsets = tuple(sorted((str(k), float(v) - self.threshold) for k, v in thresholds.items()))
        return replace(self, class_offsets=offsets)


@dataclass(frozen=True)
class SplitConfig:
    """The seeded speaker-disjoint split of data without official lists
    (kwsapp/speakers.py). Training's ``TrainConfig`` carries the same three
    fields, so either can be given where a split is asked for."""

    seed: int = 0
    # A speaker's seeded hash decides its share.
    validation_share: float = 0.15
    test_share: float = 0.10


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
        """This config with the window, hop, threshold (and per-class
        ``thresholds``), smoother and VAD defaults a model card states
        (``card.json``)."""
        out = replace(self, window_ms=float(card.get("window_ms", self.window_ms)))
        if "hop_ms" in card:
            out = replace(out, hop_ms=float(card["hop_ms"]))
        smoothing = dict(card.get("smoothing", {}))
        if "threshold" in card:
            smoothing.setdefault("threshold", card["threshold"])
        known = set(SmoothingConfig.__dataclass_fields__) - {"class_offsets"}
        out = replace(out, smoothing=replace(
            out.smoothing, **{k: float(v) for k, v in smoothing.items() if k in known}))
        # Per-class thresholds are relative to the card's own threshold.
        out = replace(out, smoothing=out.smoothing.with_class_thresholds(
            dict(card.get("thresholds") or {})))
        vad = {k: v for k, v in dict(card.get("vad", {})).items()
               if k in VadConfig.__dataclass_fields__}
        if vad:
            out = replace(out, vad=replace(out.vad, **vad))
        return out
