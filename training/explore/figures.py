"""The report's figures (matplotlib, Agg backend; one PNG per function).

Each function draws from the aggregated statistics or from a few reloaded
clips, writes ``path`` and closes its figure, so memory stays flat however
many figures a report has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from kwsapp.config import SAMPLE_RATE_HZ, VadConfig, ms_to_samples  # noqa: E402
from training.config import ExploreConfig  # noqa: E402
from kwsapp.features import (deltas, log_spectrogram, mel_power_spectrogram, mfcc,  # noqa: E402
                             power_spectrogram)
from kwsapp.audio.io import resample  # noqa: E402
from kwsapp.audio.vad import speech_flags  # noqa: E402
from kwsapp.speakers import SILENCE_DIR  # noqa: E402
from training.explore.layout import is_command  # noqa: E402
from training.explore.stats import (  # noqa: E402
    DatasetStats, db, mean_power_spectrum, spectrum_hz, speech_span)

DPI = 100
COMMAND_COLOR, OTHER_COLOR, SILENCE_COLOR = "#1f77b4", "#ff7f0e", "#7f7f7f"
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.grid": False})


def _subplots(*args: object, **kwargs: object) -> tuple[plt.Figure, object]:
    """``plt.subplots`` with constrained layout unless told otherwise."""
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(*args, **kwargs)


def _save(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def word_color(word: str) -> str:
    """Commands blue, other (unknown) words orange, silence grey."""
    if word == SILENCE_DIR:
        return SILENCE_COLOR
    return COMMAND_COLOR if is_command(word) else OTHER_COLOR


def _legend_words(fig: plt.Figure) -> None:
    """The colour key, above the plots (where it hides no bar)."""
    from matplotlib.patches import Patch
    fig.legend(handles=[Patch(color=COMMAND_COLOR, label="command"),
                        Patch(color=OTHER_COLOR, label="other word (unknown)"),
                        Patch(color=SILENCE_COLOR, label="silence / noise")],
               loc="outside upper right", ncol=3, fontsize=8, frameon=False)


def _bar_width(n: int) -> float:
    return max(6.0, 0.32 * n + 2)


def counts_per_label(stats: DatasetStats, labels: Sequence[str], path: Path) -> None:
    """Clips and distinct speakers per label folder, side by side."""
    clips = [stats.label_counts[l] for l in labels]
    speakers = [len(stats.speakers_per_label.get(l, ())) for l in labels]
    fig, axes = _subplots(1, 2, figsize=(2 * _bar_width(len(labels)) * 0.7, 3.8))
    colors = [word_color(l if l != "_unknown_" else "other") for l in labels]
    for ax, values, title in ((axes[0], clips, "clips per label"),
                              (axes[1], speakers, "speakers per label")):
        bars = ax.bar(labels, values, color=colors)
        ax.bar_label(bars, fontsize=7)
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=60)
        ax.margins(y=0.12)
    _legend_words(fig)
    _save(fig, path)


def counts_per_word(stats: DatasetStats, words: Sequence[str], path: Path) -> None:
    """Clips per raw word of the unknown class."""
    counts = [stats.word_counts[w] for w in words]
    fig, ax = _subplots(figsize=(_bar_width(len(words)), 3.5))
    bars = ax.bar(words, counts, color=OTHER_COLOR)
    ax.bar_label(bars, fontsize=7)
    ax.set_ylabel("clips")
    ax.set_title("clips per raw word mapped to 'unknown'")
    ax.tick_params(axis="x", rotation=60)
    ax.margins(y=0.12)
    _save(fig, path)


def clips_per_speaker(stats: DatasetStats, path: Path) -> None:
    """Histogram of how many clips each speaker recorded."""
    per = np.array(list(stats.clips_per_speaker.values()))
    fig, ax = _subplots(figsize=(7, 3.3))
    top = int(per.max()) if per.size else 1
    ax.hist(per, bins=np.arange(0.5, top + 1.5, max(1, top // 60)), color=COMMAND_COLOR)
    ax.set_xlabel("clips recorded by one speaker")
    ax.set_ylabel("speakers")
    ax.set_title(f"{per.size} speakers; median {np.median(per) if per.size else 0:.0f} "
                 f"clips each, most {top}")
    _save(fig, path)


def lengths(stats: DatasetStats, path: Path) -> None:
    """Clip-length histogram (log count), the 1 s line marked."""
    cfg = stats.cfg
    hist = stats.length_hist
    edges = np.arange(hist.size + 1) * cfg.length_bin_ms / 1000.0
    # Up to one empty bin after the last clip; the last bin (longer clips) ends it.
    last = min(int(np.flatnonzero(hist).max()) + 2, hist.size) if hist.any() else hist.size
    fig, ax = _subplots(figsize=(8, 3.3))
    ax.bar(edges[:last], hist[:last], width=cfg.length_bin_ms / 1000.0, align="edge",
           color=COMMAND_COLOR, log=True)
    ax.axvline(cfg.clip_ms / 1000.0, color="red", ls="--", lw=1, label=f"{cfg.clip_ms / 1000:g} s")
    ax.set_xlabel("clip length (s)" + ("; last bin: longer" if hist[-1] else ""))
    ax.set_ylabel("clips (log scale)")
    ax.set_title(f"{stats.n_short} of {stats.n_ok} clips are shorter than "
                 f"{cfg.clip_ms / 1000:g} s")
    ax.legend()
    _save(fig, path)


class ExampleFigure:
    """One clip per figure: waveform with the webrtcvad speech region, 8 kHz
    log-spectrogram, mel power spectrogram, MFCC and its two deltas.

    The figure is built and laid out once and only its data change from word
    to word: a fresh 6-panel figure with colour bars costs about three times
    as much to draw, and the examples are most of the report's figures.
    """

    def __init__(self, vad: VadConfig, cfg: ExploreConfig) -> None:
        from matplotlib.collections import LineCollection

        self.vad, self.cfg = vad, cfg
        # A fixed layout: with a layout engine every savefig draws twice.
        self.fig, axes = _subplots(3, 2, figsize=(11, 7.5), sharex=True, layout="none")
        self.fig.subplots_adjust(left=0.065, right=0.96, top=0.91, bottom=0.07,
                                 wspace=0.22, hspace=0.3)
        self.axes = axes
        ax = axes[0, 0]
        (self.wave,) = ax.plot([0.0, 1.0], [0.0, 0.0], lw=0.5, color="black")
        self.span = ax.axvspan(0.0, 1.0, color="tab:green", alpha=0.2,
                               label="kept by VAD trimming")
        self.frames = LineCollection([], colors="tab:green", linewidths=3,
                                     label="webrtcvad speech frames")
        ax.add_collection(self.frames)
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title(f"waveform and webrtcvad speech (aggressiveness {vad.aggressiveness})")
        ax.set_ylabel("amplitude (axis: clip peak)")
        blank = np.zeros((2, 2))
        self.images = {}
        for key, ax, cmap, title, ylabel in (
                ("logspec", axes[0, 1], "magma",
                 f"log-spectrogram at {cfg.low_rate_hz // 1000} kHz (CNN input)", "Hz"),
                ("mel", axes[1, 0], "magma", "mel power spectrogram (dB)", "mel band"),
                ("mfcc", axes[1, 1], "coolwarm", "MFCC c1-c12 (c0, the level, left out)",
                 "coefficient"),
                ("d1", axes[2, 0], "coolwarm", "MFCC delta (c0-c12)", "coefficient"),
                ("d2", axes[2, 1], "coolwarm", "MFCC delta-delta (c0-c12)", "coefficient")):
            im = ax.imshow(blank, origin="lower", aspect="auto", cmap=cmap,
                           interpolation="nearest")
            ax.set_title(title)
            ax.set_ylabel(ylabel)
            self.fig.colorbar(im, ax=ax, pad=0.015, fraction=0.05)
            if cmap == "coolwarm":
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            self.images[key] = im
        for ax in axes[2]:
            ax.set_xlabel("time (s)")
        self.title = self.fig.suptitle("", fontsize=13)

    def draw(self, audio: np.ndarray, word: str, path: Path) -> None:
        """Draw mono float32 16 kHz ``audio`` (the example of ``word``) to ``path``."""
        vad, cfg = self.vad, self.cfg
        seconds = audio.shape[0] / SAMPLE_RATE_HZ
        self.wave.set_data(np.arange(audio.shape[0]) / SAMPLE_RATE_HZ, audio)
        flags = speech_flags(audio, SAMPLE_RATE_HZ, vad.aggressiveness, vad.frame_ms)
        span = speech_span(flags, ms_to_samples(vad.frame_ms), audio.shape[0])
        self.span.set_visible(span is not None)
        if span is not None:
            self.span.set_x(span[0] / SAMPLE_RATE_HZ)
            self.span.set_width((span[1] - span[0]) / SAMPLE_RATE_HZ)
        # Scale to the clip's peak: many clips are quiet, a +-1 axis would flatten them.
        peak = max(float(np.abs(audio).max()), 1e-4)
        self.axes[0, 0].set_ylim(-1.15 * peak, 1.15 * peak)
        frame_s = vad.frame_ms / 1000.0
        self.frames.set_segments([[(i * frame_s, -1.08 * peak), ((i + 1) * frame_s, -1.08 * peak)]
                                  for i in np.flatnonzero(flags)])
        low = resample(audio, SAMPLE_RATE_HZ, cfg.low_rate_hz)
        coeffs = mfcc(audio, SAMPLE_RATE_HZ)
        d1 = deltas(coeffs)
        panels = {
            "logspec": (log_spectrogram(low, cfg.low_rate_hz), (0, cfg.low_rate_hz / 2), False),
            "mel": (db(mel_power_spectrogram(audio, SAMPLE_RATE_HZ)), None, False),
            "mfcc": (coeffs[:, 1:], (0.5, coeffs.shape[1] - 0.5), True),
            "d1": (d1, None, True),
            "d2": (deltas(d1), None, True),
        }
        for key, (values, y_range, symmetric) in panels.items():
            im = self.images[key]
            y0, y1 = y_range or (-0.5, values.shape[1] - 0.5)
            im.set_data(values.T)
            im.set_extent((0, seconds, y0, y1))
            if symmetric:
                lim = float(np.abs(values).max()) or 1.0
                im.set_clim(-lim, lim)
            else:  # the bottom 1 % is digital silence or padding: keep it from the scale
                im.set_clim(float(np.percentile(values, 1)), float(values.max()))
        self.axes[0, 0].set_xlim(0, seconds)
        self.title.set_text(f"'{word}'")
        self.fig.savefig(path, dpi=DPI)

    def close(self) -> None:
        plt.close(self.fig)


def example_grid(examples: Sequence[tuple[str, np.ndarray]], cfg: ExploreConfig,
                 path: Path) -> None:
    """One clip per word as a grid of 8 kHz log-spectrograms (one colour scale)."""
    specs = [log_spectrogram(resample(a, SAMPLE_RATE_HZ, cfg.low_rate_hz), cfg.low_rate_hz)
             for _, a in examples]
    lo, hi = (float(v) for v in np.percentile(np.concatenate([s.ravel() for s in specs]),
                                             [5, 99.9]))
    cols = min(6, len(examples))
    rows = int(np.ceil(len(examples) / cols))
    height = 1.8 * rows + 0.6
    fig, axes = _subplots(rows, cols, figsize=(2.2 * cols + 1.2, height), sharex=True,
                          sharey=True, squeeze=False, layout="none")
    fig.subplots_adjust(left=0.06, right=0.88, bottom=0.55 / height, top=1 - 0.3 / height,
                        wspace=0.12, hspace=0.3)
    for ax, (word, audio), spec in zip(axes.flat, examples, specs):
        im = ax.imshow(spec.T, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi,
                       extent=(0, audio.shape[0] / SAMPLE_RATE_HZ, 0, cfg.low_rate_hz / 2000))
        ax.set_title(word, fontsize=9, color=word_color(word))
    for ax in axes.flat[len(examples):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("kHz")
    for i, ax in enumerate(axes.flat[:len(examples)]):
        if i + cols >= len(examples):  # the lowest panel of its column
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("s")
    axes[0, 0].set_xticks([0.25, 0.5, 0.75])  # no label at the edges: they would touch
    fig.colorbar(im, cax=fig.add_axes((0.9, 0.2, 0.018, 0.6)), label="log power")
    _save(fig, path)


def vad_trim(stats: DatasetStats, words: Sequence[str], path: Path) -> None:
    """Share of each word's samples that VAD trimming would remove."""
    share = [100.0 * stats.words[w].trim_samples / max(stats.words[w].samples, 1) for w in words]
    fig, ax = _subplots(figsize=(_bar_width(len(words)), 3.5))
    ax.bar(words, share, color=[word_color(w) for w in words])
    ax.set_ylabel("% of samples trimmed")
    ax.set_ylim(0, 100)
    ax.set_title("leading + trailing non-speech (webrtcvad) per word")
    ax.tick_params(axis="x", rotation=60)
    _legend_words(fig)
    _save(fig, path)


def resample_fft(audio: np.ndarray, word: str, cfg: ExploreConfig, path: Path) -> None:
    """Spectrum of one clip at 16 kHz and after resampling to 8 kHz."""
    low = resample(audio, SAMPLE_RATE_HZ, cfg.low_rate_hz)
    p_hi = db(mean_power_spectrum(audio, cfg))
    p_lo = db(mean_power_spectrum(low, cfg, cfg.low_rate_hz))
    fig, axes = _subplots(1, 2, figsize=(11, 3.5), sharey=True)
    axes[0].plot(spectrum_hz(cfg), p_hi, color=COMMAND_COLOR)
    axes[0].axvspan(cfg.low_rate_hz / 2, SAMPLE_RATE_HZ / 2, color="red", alpha=0.1,
                    label="lost at 8 kHz")
    axes[0].legend(loc="upper right")
    axes[0].set_title(f"'{word}' at {SAMPLE_RATE_HZ // 1000} kHz")
    axes[1].plot(spectrum_hz(cfg, cfg.low_rate_hz), p_lo, color=OTHER_COLOR)
    axes[1].set_title(f"same clip resampled to {cfg.low_rate_hz // 1000} kHz")
    for ax in axes:
        ax.set_xlabel("frequency (Hz)")
        ax.set_xlim(0, SAMPLE_RATE_HZ / 2)
    axes[0].set_ylabel("power (dB)")
    axes[0].set_ylim(max(p_hi.min(), p_hi.max() - 90) - 5, p_hi.max() + 5)
    _save(fig, path)


def _boxes(stats: DatasetStats, words: Sequence[str], name: str, scale: float = 1.0
           ) -> list[np.ndarray]:
    return [stats.words[w].value(name) * scale for w in words]


def energy_above(stats: DatasetStats, words: Sequence[str], path: Path) -> None:
    """Per-word box plot of the share of energy above half the low rate."""
    data = [np.maximum(v, 1e-4) for v in _boxes(stats, words, "share_above", 100.0)]
    fig, ax = _subplots(figsize=(_bar_width(len(words)), 3.8))
    parts = ax.boxplot(data, tick_labels=words, showfliers=False, patch_artist=True,
                       medianprops={"color": "black"})
    for patch, w in zip(parts["boxes"], words):
        patch.set_facecolor(word_color(w))
    ax.set_yscale("log")
    ax.set_ylabel("% of energy above 4 kHz")
    ax.set_title(f"energy an {stats.cfg.low_rate_hz // 1000} kHz model never sees (box: "
                 f"quartiles, whiskers: 1.5 IQR)")
    ax.tick_params(axis="x", rotation=60)
    _legend_words(fig)
    _save(fig, path)


def mean_spectrograms(stats: DatasetStats, words: Sequence[str], path: Path) -> None:
    """Grid of each word's mean 8 kHz log-spectrogram, one colour scale."""
    cols = min(6, len(words))
    rows = int(np.ceil(len(words) / cols))
    means = [stats.words[w].mean_log_spec for w in words]
    # Colour scale from the well-sampled words: silence (flat noise) and words
    # with a handful of clips (speckled means) would wash the others out.
    most = max(stats.words[w].n for w in words if w != SILENCE_DIR) if len(words) > 1 else 0
    scale = [m.ravel() for w, m in zip(words, means)
             if w != SILENCE_DIR and stats.words[w].n >= most / 2] or [means[0].ravel()]
    lo, hi = (float(v) for v in np.percentile(np.concatenate(scale), [1, 99.9]))
    # Fixed layout: constrained layout over dozens of panels costs seconds.
    height = 1.9 * rows + 0.9
    fig, axes = _subplots(rows, cols, figsize=(2.2 * cols + 1.2, height), sharex=True,
                          sharey=True, squeeze=False, layout="none")
    fig.subplots_adjust(left=0.06, right=0.88, bottom=0.55 / height, top=1 - 0.6 / height,
                        wspace=0.12, hspace=0.35)
    top = stats.cfg.low_rate_hz / 2
    for ax, w, m in zip(axes.flat, words, means):
        im = ax.imshow(m.T, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi,
                       extent=(0, stats.cfg.clip_ms / 1000, 0, top / 1000))
        ax.set_title(f"{w} (n={stats.words[w].n})", fontsize=9, color=word_color(w))
    for ax in axes.flat[len(words):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("kHz")
    for ax in axes[-1]:
        ax.set_xlabel("s")
    axes[0, 0].set_xticks([0.25, 0.5, 0.75])  # no label at the edges: they would touch
    fig.colorbar(im, cax=fig.add_axes((0.9, 0.2, 0.018, 0.6)), label="mean log power")
    fig.suptitle("mean log-spectrogram per word (8 kHz, clips padded to 1 s)")
    _save(fig, path)


def mean_fft(stats: DatasetStats, words: Sequence[str], path: Path) -> None:
    """Each word's mean spectrum (dB) as one row of a heat map, plus lines
    for the commands."""
    freqs = spectrum_hz(stats.cfg)
    rows = np.stack([db(stats.words[w].mean_power) for w in words])
    fig, axes = _subplots(1, 2, figsize=(13, max(3.5, 0.22 * len(words) + 1.2)),
                             gridspec_kw={"width_ratios": [3, 2]})
    im = axes[0].imshow(rows, aspect="auto", cmap="viridis", interpolation="nearest",
                        extent=(0, freqs[-1], len(words) - 0.5, -0.5),
                        vmin=float(np.percentile(rows, 2)))
    axes[0].set_yticks(range(len(words)), words, fontsize=8)
    axes[0].set_xlabel("frequency (Hz)")
    axes[0].set_title("mean power spectrum per word (dB)")
    fig.colorbar(im, ax=axes[0], pad=0.01)
    shown = [w for w in words if is_command(w)] or list(words)[:10]
    cmap = plt.get_cmap("tab10")
    for i, w in enumerate(shown[:10]):
        # matplotlib leaves labels starting with "_" out of legends
        axes[1].plot(freqs, db(stats.words[w].mean_power), lw=1, color=cmap(i),
                     label=w.strip("_"))
    axes[1].axvline(stats.cfg.low_rate_hz / 2, color="red", ls="--", lw=1)
    axes[1].set_xlabel("frequency (Hz)")
    axes[1].set_ylabel("dB")
    axes[1].set_title("mean spectrum, commands")
    axes[1].legend(fontsize=7, ncol=2)
    _save(fig, path)


def band_violins(stats: DatasetStats, words: Sequence[str], path: Path) -> None:
    """Violins of the per-clip mean log-spectrogram value in the chosen band."""
    data = _boxes(stats, words, "band_value")
    keep = [i for i, d in enumerate(data) if d.size >= 2]  # a violin needs two points
    fig, ax = _subplots(figsize=(_bar_width(len(words)), 3.8))
    if keep:
        parts = ax.violinplot([data[i] for i in keep], positions=keep, showmedians=True,
                              widths=0.85)
        for body, i in zip(parts["bodies"], keep):
            body.set_facecolor(word_color(words[i]))
            body.set_alpha(0.7)
    lone = [i for i, d in enumerate(data) if d.size == 1]  # one clip: a dot
    ax.scatter(lone, [data[i][0] for i in lone], color=[word_color(words[i]) for i in lone],
               zorder=3)
    ax.set_xticks(range(len(words)), words, rotation=60)
    lo, hi = stats.cfg.band_hz
    ax.set_ylabel("mean log power")
    ax.set_title(f"log-spectrogram value at {lo:g}-{hi:g} Hz (8 kHz spectrogram), per clip")
    _legend_words(fig)
    _save(fig, path)


def spectra_of_speakers(clips: Sequence[tuple[str, np.ndarray, bool]], cfg: ExploreConfig,
                        path: Path) -> None:
    """Mean spectra of clips by different speakers: ``(legend, audio,
    narrow-band?)``; narrow-band ones drawn solid, typical ones dashed."""
    freqs = spectrum_hz(cfg)
    fig, ax = _subplots(figsize=(10, 4))
    for i, (name, audio, narrow) in enumerate(clips):
        p = db(mean_power_spectrum(audio, cfg))
        ax.plot(freqs, p - p.max(), lw=1.2 if narrow else 0.9, ls="-" if narrow else "--",
                color=plt.get_cmap("tab10")(i % 10), label=name)
    ax.set_ylim(-100, 5)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("dB re clip peak")
    ax.set_title("spectra of clips of different speakers: solid = weakest high band, "
                 "dashed = random")
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    _save(fig, path)


def pca_scatter(coords: np.ndarray, groups: Sequence[str], outliers: Sequence[int],
                explained: np.ndarray, path: Path) -> None:
    """First two principal components of the normalized spectra, outliers numbered."""
    fig, ax = _subplots(figsize=(8, 6))
    colors = [word_color(g) for g in groups]
    ax.scatter(coords[:, 0], coords[:, 1], s=6, c=colors, alpha=0.5, linewidths=0)
    for rank, i in enumerate(outliers, 1):
        ax.scatter(coords[i, 0], coords[i, 1], s=60, facecolors="none", edgecolors="red")
        ax.annotate(str(rank), (coords[i, 0], coords[i, 1]), xytext=(4, 4),
                    textcoords="offset points", color="red", fontsize=9, weight="bold")
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.0f}% of variance)")
    ax.set_title(f"PCA of level-normalized spectra ({coords.shape[0]} clips); "
                 "red: outliers (numbered as in the table)")
    _legend_words(fig)
    _save(fig, path)


def background(noises: Sequence[tuple[str, np.ndarray]], cfg: ExploreConfig, path: Path) -> None:
    """Spectrogram (16 kHz, dB, one colour scale) of each background-noise
    file, and a bar chart of their RMS and peak levels."""
    n = len(noises)
    height = 1.45 * n + 2.6
    fig = plt.figure(figsize=(12, height), layout="constrained")
    grid = fig.add_gridspec(n + 1, 1, height_ratios=[1.0] * n + [0.35 * n + 0.6])
    # A coarse hop: a minute of noise in a few hundred columns.
    specs = [mean_blocks(db(power_spectrogram(a, SAMPLE_RATE_HZ, cfg.fft_window_ms,
                                              cfg.fft_step_ms)), 8) for _, a in noises]
    lo, hi = (float(v) for v in np.percentile(np.concatenate([s.ravel() for s in specs]),
                                             [2, 99.9]))
    axes = [fig.add_subplot(grid[i]) for i in range(n)]
    rms, peak = [], []
    for ax, (name, audio), spec in zip(axes, noises, specs):
        rms.append(float(db(np.mean(np.square(audio, dtype=np.float64)))))
        peak.append(float(db(np.max(np.abs(audio)) ** 2)))
        im = ax.imshow(spec.T, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi,
                       extent=(0, audio.shape[0] / SAMPLE_RATE_HZ, 0, SAMPLE_RATE_HZ / 2000))
        ax.set_title(f"{name}: RMS {rms[-1]:.1f} dBFS, peak {peak[-1]:.1f} dBFS",
                     fontsize=9, loc="left")
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes, aspect=40, pad=0.01, label="power density (dB)")
    ax = fig.add_subplot(grid[n])
    y = np.arange(n)
    floor = min(rms) - 10
    ax.barh(y + 0.2, np.array(peak) - floor, left=floor, height=0.4, color=OTHER_COLOR,
            label="peak")
    ax.barh(y - 0.2, np.array(rms) - floor, left=floor, height=0.4, color=SILENCE_COLOR,
            label="RMS")
    ax.set_yticks(y, [name for name, _ in noises], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("level (dBFS)")
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path)


def mean_blocks(frames: np.ndarray, k: int) -> np.ndarray:
    """Average every ``k`` consecutive rows (the last partial block dropped)."""
    n = frames.shape[0] // k * k
    return frames[:n].reshape(-1, k, frames.shape[1]).mean(axis=1) if n else frames
