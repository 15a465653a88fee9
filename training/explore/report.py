"""Build the exploration report: scan, one streaming pass, then figures,
example audio and ``index.html`` in the output folder."""

from __future__ import annotations

import logging
import multiprocessing as mp
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty
from typing import Any, Callable

import numpy as np
import soundfile as sf

from kwsapp.audio.io import audio_info, load_audio, resample
from kwsapp.config import SAMPLE_RATE_HZ, VadConfig
from training.config import ExploreConfig
from kwsapp.errors import AudioFileError, BadInputError, KwsError
from training import data
from training.explore import figures as figs
from training.explore import page as H
from kwsapp.speakers import BACKGROUND_DIR, SILENCE_DIR, UNKNOWN_DIR
from training.explore.layout import Clip, Layout, is_command, scan, word_order
from training.explore.stats import DatasetStats, collect, db

log = logging.getLogger(__name__)

FIGURES_DIR = "figures"
AUDIO_DIR = "audio"


def _safe(name: str) -> str:
    """A file-name-safe version of a word or file name."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "x"


@dataclass
class Report:
    """Writes files under ``out`` and collects the page's sections."""

    out: Path
    cfg: ExploreConfig
    vad: VadConfig
    sections: list[H.Section] = field(default_factory=list)
    tasks: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    written: set[Path] = field(default_factory=set)  # every figure and audio file
    _example_fig: figs.ExampleFigure | None = None

    def example_fig(self) -> figs.ExampleFigure:
        """The one example figure every word's example is drawn into."""
        if self._example_fig is None:
            self._example_fig = figs.ExampleFigure(self.vad, self.cfg)
        return self._example_fig

    def fig(self, name: str, caption: str, draw: Callable[[Path], None]) -> str:
        """Schedule figure ``name`` (drawn later, under a progress bar) and
        return its HTML."""
        path = self.out / FIGURES_DIR / f"{name}.png"
        self.written.add(path)
        self.tasks.append((name, lambda: draw(path)))
        return H.figure(f"{FIGURES_DIR}/{path.name}", caption)

    def audio(self, name: str, audio: np.ndarray, label: str = "") -> str:
        """Write ``audio`` (16 kHz) as 16-bit WAV, which every browser plays,
        and return its player."""
        path = self.out / AUDIO_DIR / f"{_safe(name)}.wav"
        self.written.add(path)
        sf.write(path, np.clip(audio, -1.0, 1.0), SAMPLE_RATE_HZ, subtype="PCM_16")
        return H.audio(f"{AUDIO_DIR}/{path.name}", label)

    def section(self, anchor: str, title: str) -> H.Section:
        s = H.Section(anchor, f"{len(self.sections) + 1}. {title}")
        self.sections.append(s)
        return s

    def _draw(self, tasks: list[tuple[str, Callable[[], None]]],
              done: Callable[[str], None]) -> None:
        for name, task in tasks:
            cpu = time.process_time()
            task()
            log.debug("figure %s: %.2f s CPU", name, time.process_time() - cpu)
            done(name)
        if self._example_fig is not None:
            self._example_fig.close()
            self._example_fig = None

    def draw_all(self, progress: bool) -> None:
        """Draw every scheduled figure, in ``cfg.jobs`` processes: matplotlib
        is single-threaded, and the figures are most of the report's time.
        Workers are forked, so they share the statistics without pickling."""
        from tqdm import tqdm

        jobs = max(1, min(self.cfg.jobs, len(self.tasks)))
        if "fork" not in mp.get_all_start_methods():
            jobs = 1
        finished = 0  # tqdm's own count stays 0 when the bar is disabled

        with tqdm(total=len(self.tasks), desc="drawing figures", unit="fig",
                  disable=not progress, dynamic_ncols=True) as bar:
            def tick(_: object = None) -> None:
                nonlocal finished
                finished += 1
                bar.update()

            if jobs == 1:
                self._draw(self.tasks, tick)
                return
            ctx = mp.get_context("fork")
            queue = ctx.Queue()
            shares = [self.tasks[i::jobs] for i in range(jobs)]
            workers = [ctx.Process(target=self._draw, args=(share, queue.put), daemon=True)
                       for share in shares[1:]]
            for w in workers:
                w.start()

            def drain(block: bool) -> None:
                while True:
                    try:
                        tick(queue.get(block=block, timeout=1.0 if block else None))
                    except Empty:
                        return
                    block = False

            self._draw(shares[0], lambda name: (tick(), drain(False)))
            while finished < len(self.tasks):
                before = finished
                drain(True)
                if finished == before and not any(w.is_alive() for w in workers):
                    drain(False)
                    if finished < len(self.tasks):
                        codes = [w.exitcode for w in workers]
                        raise KwsError(f"a figure worker failed (exit codes {codes}); "
                                       f"{len(self.tasks) - finished} figures missing")
            for w in workers:
                w.join()


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _load(clip: Clip) -> np.ndarray:
    return load_audio(clip.path, SAMPLE_RATE_HZ)


def pick_example(stats: DatasetStats, word: str) -> Clip:
    """The word's example: among its sampled candidates, a full-length clip
    of median level (neither the quietest nor a clipped one)."""
    cands = stats.words[word].candidates.items
    full = [c for c in cands if c[1] >= stats.short_samples] or cands
    full = sorted(full, key=lambda c: (c[2], c[0].name))
    return full[len(full) // 2][0]


# -- sections -----------------------------------------------------------------

def counts_section(rep: Report, layout: Layout, stats: DatasetStats) -> None:
    s = rep.section("counts", "Counts: labels, words, speakers, splits")
    labels = [l for l in word_order(set(stats.label_counts))
              if l != UNKNOWN_DIR] + ([UNKNOWN_DIR] if UNKNOWN_DIR in stats.label_counts else [])
    n_spk = len(stats.clips_per_speaker)
    lo, hi = min(stats.label_counts.values()), max(stats.label_counts.values())
    s.add(rep.fig("counts_per_label",
                  f"Clips (left) and distinct speakers (right) per label folder. Read the balance: "
                  f"label sizes range from {lo:,} to {hi:,} clips; a label far below the others "
                  f"needs class weights or oversampling. Silence clips have no speaker id, so "
                  f"their speaker bar is empty.",
                  lambda p: figs.counts_per_label(stats, labels, p)))
    others = [w for w in word_order(set(stats.word_counts))
              if not is_command(w) and w != SILENCE_DIR]
    if others:
        n_other = sum(stats.word_counts[w] for w in others)
        s.add(rep.fig("counts_unknown_words",
                      f"Clips per raw word that the 12-class task maps to 'unknown' "
                      f"({len(others)} words, {n_other:,} clips; inside {UNKNOWN_DIR}/ the word "
                      f"is the file-name prefix). Read whether 'unknown' is dominated by a few "
                      f"words: the model only learns to reject the words it has seen.",
                      lambda p: figs.counts_per_word(stats, others, p)))
    if n_spk:
        per = np.array(list(stats.clips_per_speaker.values()))
        s.add(rep.fig("clips_per_speaker",
                      f"How many clips each of the {n_spk:,} speakers recorded (median "
                      f"{np.median(per):.0f}, max {per.max()}). A long right tail means a few "
                      f"voices weigh a lot: split by speaker (never by clip), or the test "
                      f"score measures memorized voices.",
                      lambda p: figs.clips_per_speaker(stats, p)))
    s.add(H.table(["label", "clips", "speakers"],
                  [(l, stats.label_counts[l], len(stats.speakers_per_label.get(l, ())))
                   for l in labels]))
    splits = list(data.SPLITS)
    rows = [(sp, stats.split_counts[sp], len(stats.split_speakers.get(sp, ()))) for sp in splits]
    overlap = [(f"{a} & {b}", len(stats.split_speakers.get(a, set())
                                  & stats.split_speakers.get(b, set())))
               for i, a in enumerate(splits) for b in splits[i + 1:]]
    leak = sum(n for _, n in overlap)
    how = ("the data set's validation_list.txt / testing_list.txt (clips in neither are "
           "training)" if layout.lists is not None else
           data.split_description(layout.root, layout.split_config)
           + ": no lists here, so this is the split training makes")
    s.add(H.paragraph(f"Splits as the training loader makes them, from {how}. Speakers shared "
                      f"between splits: {leak}. It should be 0, or validation and test scores "
                      f"are inflated by voices heard in training."),
          H.table(["split", "clips", "speakers"], rows),
          H.table(["splits", "speakers in both"], overlap))


def lengths_section(rep: Report, stats: DatasetStats) -> None:
    cfg = stats.cfg
    s = rep.section("lengths", "Clip lengths")
    s.add(rep.fig("lengths",
                  f"Histogram of clip lengths ({cfg.length_bin_ms:g} ms bins, log count). "
                  f"{stats.n_short:,} of {stats.n_ok:,} clips ({_pct(stats.n_short / stats.n_ok)})"
                  f" are shorter than {cfg.clip_ms / 1000:g} s (left of the red line): training "
                  f"pads them with zeros, so a very short clip may hold a cut-off word.",
                  lambda p: figs.lengths(stats, p)))
    if stats.short:
        more = (f" (first {len(stats.short):,} listed)" if stats.n_short > len(stats.short)
                else "")
        s.add(H.details(f"{stats.n_short:,} clips shorter than {cfg.clip_ms / 1000:g} s{more}",
                        H.table(["clip", "length (ms)"],
                                [(n, round(ms)) for n, ms in stats.short])))


def examples_section(rep: Report, stats: DatasetStats, words: list[str]) -> dict[str, np.ndarray]:
    """Sections 3 and 4 (examples, VAD); returns each word's example audio."""
    s = rep.section("examples", "One example per word: waveform and features")
    s.add(H.paragraph(
        "Each figure shows one clip (a full-length clip of median level among a random sample "
        "of the word): top left the waveform with webrtcvad's speech frames (green bar) and the "
        "region VAD trimming keeps (green shade); top right the 8 kHz log-spectrogram the CNN "
        "reads (99 x 81); then the 16 kHz mel power spectrogram (40 bands, dB), the MFCCs and "
        "their first and second deltas. Read where the word sits in the second and which "
        "bands carry it: fricatives (the s of 'yes', 'six') are bright above 3 kHz, vowels "
        "are low-frequency stripes (formants)."))
    examples: dict[str, np.ndarray] = {}
    players: list[str] = []
    grid: list[tuple[str, np.ndarray]] = []  # words inside _unknown_: one compact figure
    for w in words:
        clip = pick_example(stats, w)
        try:
            audio = _load(clip)
        except AudioFileError as exc:  # vanished or changed since the pass
            log.warning("example for %s: %s", w, exc)
            continue
        examples[w] = audio
        spk = f", speaker {clip.speaker}" if clip.speaker else ""
        player = rep.audio(f"example_{w}", audio, f"{w}: {clip.name}{spk}")
        if clip.label == UNKNOWN_DIR:
            grid.append((w, audio))
            players.append(f'<div class="example">{player}</div>')
            continue
        s.add(f'<h3 id="ex-{_safe(w)}">{H.escape(w)}</h3>', player,
              rep.fig(f"example_{_safe(w)}",
                      f"'{w}' ({clip.name}, {audio.shape[0] / SAMPLE_RATE_HZ:.2f} s): waveform "
                      f"with the VAD speech region, log-spectrogram, mel power spectrogram, "
                      f"MFCC and deltas. Compare the spectrogram's bright region with the green "
                      f"VAD region: they should coincide.",
                      lambda p, a=audio, w=w: rep.example_fig().draw(a, w, p)))
    if grid:
        s.add(f'<h3 id="ex-unknown">words inside {UNKNOWN_DIR}/</h3>',
              rep.fig("example_unknown_words",
                      f"One clip of each of the {len(grid)} raw words inside {UNKNOWN_DIR}/ "
                      f"(8 kHz log-spectrograms, one colour scale; players below). These are "
                      f"what the model must reject: look for words that share a command's "
                      f"sounds (e.g. 'bed'/'bird' vs 'off', 'tree'/'three' vs 'right', "
                      f"'no' in 'nine'), the likeliest false alarms.",
                      lambda p: figs.example_grid(grid, rep.cfg, p)),
              *players)
    v = rep.section("vad", "VAD trimming")
    speech = stats.speech_words()
    total = sum(stats.words[w].samples for w in speech)
    trimmed = sum(stats.words[w].trim_samples for w in speech)
    share = trimmed / total if total else 0.0
    v.add(H.paragraph(
        f"webrtcvad (aggressiveness {rep.vad.aggressiveness}, {rep.vad.frame_ms} ms frames) "
        f"over the word clips: trimming everything before the first and after the last "
        f"speech frame would remove {_pct(share)} of the samples. The example waveforms above "
        f"show the kept region in green."))
    if speech:
        v.add(rep.fig("vad_trim",
                      f"Share of each word's samples that VAD trimming would remove (overall "
                      f"{_pct(share)}). Most of a 1 s clip is silence around a short word; a "
                      f"word near 100% means webrtcvad often hears no speech in it (quiet or "
                      f"noisy recordings), near 0% that clips are cut tight. "
                      + ("Silence clips are left out: they have no speech to keep."
                         if SILENCE_DIR in stats.words else ""),
                      lambda p: figs.vad_trim(stats, speech, p)))
    return examples


def resampling_section(rep: Report, stats: DatasetStats, words: list[str],
                       examples: dict[str, np.ndarray]) -> None:
    cfg = stats.cfg
    s = rep.section("resampling", f"Resampling to {cfg.low_rate_hz // 1000} kHz")
    speech = [w for w in stats.speech_words() if w in examples]
    if speech:
        w = max(speech, key=lambda w: float(np.median(stats.words[w].value("share_above"))))
        s.add(rep.fig("resample_fft",
                      f"Mean spectrum of the '{w}' example (the word with the most energy above "
                      f"{cfg.low_rate_hz // 2000} kHz) at 16 kHz (left) and after resampling to "
                      f"{cfg.low_rate_hz // 1000} kHz (right). Everything in the red band is "
                      f"gone at {cfg.low_rate_hz // 1000} kHz; the right plot's roll-off near "
                      f"{cfg.low_rate_hz / 2000:g} kHz is the anti-aliasing filter.",
                      lambda p: figs.resample_fft(examples[w], w, cfg, p)))
    med = {w: float(np.median(stats.words[w].value("share_above"))) for w in words}
    top = sorted(med, key=med.get, reverse=True)[:3]
    s.add(rep.fig("energy_above_4k",
                  f"Share of each clip's energy above {cfg.low_rate_hz // 2000} kHz, per word "
                  f"(log scale). Words with a lot there ({', '.join(top)}) lose the most when "
                  f"the CNN resamples to {cfg.low_rate_hz // 1000} kHz; if the share is small "
                  f"everywhere, {cfg.low_rate_hz // 1000} kHz loses little.",
                  lambda p: figs.energy_above(stats, words, p)))


def means_section(rep: Report, stats: DatasetStats, words: list[str]) -> None:
    s = rep.section("means", "Mean spectrogram and mean FFT per word")
    s.add(rep.fig("mean_spectrograms",
                  "Mean 8 kHz log-spectrogram of every clip of each word, one colour scale. "
                  "Read the typical time course: most words sit in the middle ~0.5 s, and "
                  "words differ in where energy lies (high bands for s/t sounds). Similar-looking "
                  "means (e.g. 'no' and 'go', 'on' and 'off') are the pairs to expect confusions "
                  "between.",
                  lambda p: figs.mean_spectrograms(stats, words, p)))
    s.add(rep.fig("mean_fft",
                  "Left: each word's mean power spectrum (16 kHz) as a row, dB colour. Right: "
                  "the commands' mean spectra as lines, red line at 4 kHz. Read which frequency "
                  "ranges separate words and how fast energy falls off above 4 kHz.",
                  lambda p: figs.mean_fft(stats, words, p)))


def violin_section(rep: Report, stats: DatasetStats, words: list[str]) -> None:
    lo, hi = stats.cfg.band_hz
    s = rep.section("band", f"Log-spectrogram at {lo:g}-{hi:g} Hz across words")
    s.add(rep.fig("band_violins",
                  f"Distribution over clips of the mean log-spectrogram value in {lo:g}-{hi:g} Hz "
                  f"(8 kHz spectrogram; choose the band with --band-hz). Words whose violins "
                  f"barely overlap are told apart by this band alone; wide violins mean the "
                  f"level varies a lot between recordings, which is what normalization and "
                  f"noise augmentation must absorb.",
                  lambda p: figs.band_violins(stats, words, p)))


def conditions_section(rep: Report, stats: DatasetStats) -> None:
    cfg = stats.cfg
    s = rep.section("conditions", "Recording conditions")
    narrow = list(stats.narrowband)
    narrow_spk = {c.speaker for _, c in narrow}
    rng = random.Random(cfg.seed)
    pool = [c for c, _ in stats.pca.items if c.speaker not in narrow_spk]
    typical: list[Clip] = []
    for c in rng.sample(pool, len(pool)):
        if len(typical) >= len(narrow) or c.speaker in {t.speaker for t in typical}:
            continue
        typical.append(c)
    curves, rows = [], []
    level_of = {c.name: level for level, c in narrow}
    for kind, clips in (("narrow band", [c for _, c in narrow]), ("random", typical)):
        for c in clips:
            try:
                a = _load(c)
            except AudioFileError:
                continue
            level = level_of.get(c.name)
            curves.append((f"{c.word} / {c.speaker}" + (f" ({level:.0f} dB)" if level else ""),
                           a, level is not None))
            rows.append((kind, c.name, c.speaker or "",
                         "" if level is None else round(level, 1),
                         rep.audio(f"speaker_{c.label}_{c.path.stem}", a)))
    hb, ref = cfg.high_band_hz, cfg.ref_band_hz
    n_words = stats.pca.seen
    if curves:
        s.add(rep.fig("speaker_spectra",
                      f"Mean spectra (each relative to its peak) of the {len(narrow)} clips "
                      f"whose {hb[0] / 1000:g}-{hb[1] / 1000:g} kHz band is weakest relative to "
                      f"{ref[0] / 1000:g}-{ref[1] / 1000:g} kHz (one clip per speaker; solid, "
                      f"level difference in the legend) and of random clips of other speakers "
                      f"(dashed; full-band speech sits around -20 dB). A solid curve that falls "
                      f"off a cliff near 4 kHz is a narrow-band recording (a phone line, or "
                      f"audio upsampled from 8 kHz): {stats.n_narrowband:,} of {n_words:,} word "
                      f"clips ({_pct(stats.n_narrowband / max(n_words, 1))}) have that band more "
                      f"than {-cfg.narrowband_db:g} dB down. A model that relies on the high "
                      f"band will do worse on such microphones; an 8 kHz model does not care.",
                      lambda p: figs.spectra_of_speakers(curves, cfg, p)),
              H.table(["", "clip", "speaker", "high band (dB)", "listen"], rows,
                      raw_columns=(4,)))
    items = stats.pca.items
    if len(items) < 3:
        s.add(H.paragraph("Too few clips for a PCA of the spectra.", "note"))
        return
    from sklearn.decomposition import PCA
    x = np.stack([v for _, v in items]).astype(np.float64)
    x -= x.mean(axis=0)
    pca = PCA(n_components=min(5, x.shape[0] - 1, x.shape[1]), random_state=cfg.seed)
    scores = pca.fit_transform(x)
    z = scores / np.sqrt(np.maximum(pca.explained_variance_, 1e-12))
    dist = np.sqrt((z ** 2).sum(axis=1))  # Mahalanobis distance in the PC space
    out_idx = [int(i) for i in np.argsort(dist)[::-1][:cfg.outliers]]
    explained = np.pad(pca.explained_variance_ratio_, (0, 2))
    s.add(rep.fig("pca",
                  f"PCA of the level-normalized spectra (dB, mean removed per clip, so loudness "
                  f"does not count) of {len(items):,} word clips"
                  f"{' (a random sample)' if stats.pca.seen > len(items) else ''}. The dense "
                  f"cloud is the usual recording chain; the {len(out_idx)} numbered clips "
                  f"farthest from it (Mahalanobis distance over {pca.n_components_} components) "
                  f"are listed below with players: listen for hum, clipping, band limits or an "
                  f"empty recording.",
                  lambda p: figs.pca_scatter(scores, [c.word for c, _ in items], out_idx,
                                             explained, p)))
    rows = []
    for rank, i in enumerate(out_idx, 1):
        clip = items[i][0]
        try:
            player = rep.audio(f"outlier_{rank}", _load(clip))
        except AudioFileError as exc:
            player = H.escape(exc.problem)
        rows.append((rank, clip.name, clip.word, clip.speaker or "", float(dist[i]),
                     player))
    s.add(H.table(["#", "clip", "word", "speaker", "distance", "listen"], rows,
                  raw_columns=(5,)))


def _load_noise(path: Path, cfg: ExploreConfig) -> tuple[np.ndarray, float]:
    """A background file (at most ``cfg.noise_max_s``) and its full length in s."""
    rate, _, seconds = audio_info(path)
    if seconds <= cfg.noise_max_s:
        return load_audio(path, SAMPLE_RATE_HZ), seconds
    data, rate = sf.read(str(path), frames=int(cfg.noise_max_s * rate), dtype="float32",
                         always_2d=True)
    return resample(data.mean(axis=1), rate, SAMPLE_RATE_HZ), seconds


def background_section(rep: Report, layout: Layout) -> None:
    cfg = rep.cfg
    s = rep.section("background", "Background noise")
    if not layout.background:
        s.add(H.paragraph(f"No {BACKGROUND_DIR}/ folder with audio here.", "note"))
        return
    noises, rows = [], []
    for path in layout.background:
        try:
            audio, seconds = _load_noise(path, cfg)
        except (AudioFileError, RuntimeError) as exc:
            rows.append((path.name, "", "", "", f"unreadable: {exc}"))
            continue
        noises.append((path.name, audio))
        excerpt = audio[:int(cfg.noise_excerpt_s * SAMPLE_RATE_HZ)]
        rows.append((path.name, round(seconds, 1),
                     round(float(db(np.mean(np.square(audio, dtype=np.float64)))), 1),
                     round(float(db(np.max(np.abs(audio)) ** 2)), 1),
                     rep.audio(f"noise_{path.stem}", excerpt,
                               f"first {excerpt.shape[0] / SAMPLE_RATE_HZ:g} s")))
    if noises:
        s.add(rep.fig("background",
                      f"Spectrogram (16 kHz, dB, one colour scale) and RMS level of each file in "
                      f"{BACKGROUND_DIR}/. Read which noises are stationary (flat over time: "
                      f"white/pink noise, tap), which are bursty (dishes, cat), and their spectral "
                      f"tilt; training mixes these into clips at random SNR, so each file's level "
                      f"and character decide what the model learns to ignore.",
                      lambda p: figs.background(noises, cfg, p)))
    s.add(H.table(["file", "length (s)", "RMS (dBFS)", "peak (dBFS)", "listen"], rows,
                  raw_columns=(4,)))


def failures_section(rep: Report, stats: DatasetStats) -> None:
    s = rep.section("unreadable", "Unreadable files")
    if not stats.n_failed:
        s.add(H.paragraph("Every file could be read.", "note"))
        return
    more = (f" (first {len(stats.failed):,} listed)" if stats.n_failed > len(stats.failed)
            else "")
    s.add(H.paragraph(f"{stats.n_failed:,} files could not be read and are left out of every "
                      f"statistic{more}:"),
          H.table(["file", "problem"], stats.failed))


# -- entry point ----------------------------------------------------------------

#: In every report's page: an ``index.html`` without it is not ours to replace.
REPORT_MARK = "Written by `kwsapp explore`"


def _check_out(data_dir: Path, out: Path) -> bool:
    """Refuse a report folder whose writing would lose or mix up files: the
    data folder itself (its ``audio/`` would be read as a word), or a folder
    holding an ``index.html`` that is not an earlier report. True when it
    holds an earlier report.

    Raises:
        BadInputError: naming the folder and the problem.
    """
    if data_dir.is_dir() and out.resolve() == data_dir.resolve():
        raise BadInputError(f"--out {out}: is the data folder itself (the report's audio/ "
                            "would be read as a word folder); give another folder")
    index = out / "index.html"
    try:
        ours = not index.exists() or REPORT_MARK in index.read_text(encoding="utf-8",
                                                                     errors="replace")
    except OSError as exc:
        raise BadInputError(f"--out {out}: cannot read its index.html ({exc.strerror or exc})")
    if not ours:
        raise BadInputError(f"--out {out}: holds an index.html that is not a kwsapp explore "
                            "report, which the report would replace; give another folder")
    return index.exists()


def _prune(rep: Report) -> None:
    """Remove an earlier report's figures and audio that this one did not
    write again (a word no longer in the data set, fewer examples): its
    ``figures/`` and ``audio/`` are the report's own."""
    for folder in (rep.out / FIGURES_DIR, rep.out / AUDIO_DIR):
        for path in folder.iterdir():
            if path.is_file() and path.suffix in (".png", ".wav") and path not in rep.written:
                path.unlink()


def build_report(data_dir: str | Path, out_dir: str | Path, *,
                 cfg: ExploreConfig | None = None, vad: VadConfig | None = None,
                 max_clips_per_label: int | None = None, progress: bool = True
                 ) -> dict[str, Any]:
    """Write ``out_dir/index.html`` (+ ``figures/``, ``audio/``) for ``data_dir``.

    Args:
        data_dir: a folder in the Speech Commands layout.
        out_dir: created if missing; an earlier report's files are
            overwritten, and its figures and audio this one does not write
            again are removed (an ``index.html`` that is not a report is
            refused).
        max_clips_per_label: analyse a seeded random sample of at most this
            many clips per label folder (None: all).
        progress: tqdm bars on stderr.
    Returns:
        Headline numbers (JSON-ready), with ``"index"`` the page's path.
    Raises:
        BadInputError: the folder is missing, holds no audio clips, or none
            of them can be read; ``out_dir`` is ``data_dir`` or holds an
            ``index.html`` that is not a report.
    """
    t0 = time.monotonic()
    cfg = cfg or ExploreConfig()
    vad = vad or VadConfig()
    if not 0 < cfg.band_hz[0] < cfg.band_hz[1] <= cfg.low_rate_hz / 2:
        raise BadInputError(f"band {cfg.band_hz[0]:g}-{cfg.band_hz[1]:g} Hz: need "
                            f"0 < low < high <= {cfg.low_rate_hz / 2:g} Hz")
    earlier = _check_out(Path(data_dir), Path(out_dir))
    layout = scan(data_dir)
    stats = collect(layout.clips(max_clips_per_label, cfg.seed), cfg, vad,
                    total=layout.n_selected(max_clips_per_label), progress=progress)
    log.info("read %d clips in %.1f s", stats.n_ok + stats.n_failed, time.monotonic() - t0)
    if stats.n_ok == 0:
        first = "; ".join(f"{n}: {p}" for n, p in stats.failed[:3])
        raise BadInputError(f"{data_dir}: none of the {stats.n_failed} audio files could be "
                            f"read ({first})")
    out = Path(out_dir)
    (out / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    (out / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    rep = Report(out, cfg, vad)
    words = word_order(set(stats.words))
    counts_section(rep, layout, stats)
    lengths_section(rep, stats)
    examples = examples_section(rep, stats, words)
    resampling_section(rep, stats, words, examples)
    means_section(rep, stats, words)
    violin_section(rep, stats, words)
    conditions_section(rep, stats)
    background_section(rep, layout)
    failures_section(rep, stats)
    t1 = time.monotonic()
    rep.draw_all(progress)
    log.info("drew %d figures in %.1f s", len(rep.tasks), time.monotonic() - t1)
    summary = stats.summary()
    sampled = (f", at most {max_clips_per_label} per label (seeded sample)"
               if max_clips_per_label is not None else "")
    intro = [H.paragraph(
        f"Folder {Path(data_dir).resolve()} ({layout.kind} layout): {stats.n_ok:,} clips "
        f"analysed of {layout.n_clips:,}{sampled}; {len(layout.label_counts)} label folders, "
        f"{len(words)} words, {summary['speakers']:,} speakers, {stats.n_short:,} clips under "
        f"{cfg.clip_ms / 1000:g} s, {stats.n_failed:,} unreadable files, "
        f"{len(layout.background)} background-noise files."),
        H.paragraph(f"{REPORT_MARK} on "
                    f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC in "
                    f"{time.monotonic() - t0:.0f} s. Statistics stream over every clip; "
                    f"per-clip figures use sampled clips (seed {cfg.seed}).", "note")]
    index = out / "index.html"
    index.write_text(H.page(f"Data set: {Path(data_dir).name}", intro, rep.sections),
                     encoding="utf-8")
    if earlier:
        _prune(rep)
    summary.update(index=str(index), figures=len(rep.tasks), seconds=time.monotonic() - t0)
    return summary
