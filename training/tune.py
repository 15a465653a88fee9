"""Tune a model card's live defaults on validation streams: the global
threshold, per-class thresholds and the averaging span (optionally the
refractory time, the hop and the VAD gate).

One command (from the repository root; about 20 minutes for `embed` on two
busy cores, most of it replaying the streams through the model once; a
re-run on the same model reuses the recorded traces)::

    python -m training.tune --data ../shared/data/speech_commands_subset \\
        --model embed --write-card --report docs

What it does:

1. Builds validation-speaker streams (``kwsapp.streaming.synth``): command
   streams at each SNR (commands, unknown words, pauses) and dense
   other-speech streams (word after word, 0.2-1.5 s apart) from
   ``--negatives`` folders (default: the validation speakers' other words
   in DATA and its sibling ``speech_commands_extra``; pass held-out folders
   such as a wake word a rotation run left out, never words trained on).
2. Replays each stream once through the real engine, recording through the
   engine's ``on_decision`` hook what the smoother was given for every
   window (probabilities, word key, gate reopenings, event span): a
   :class:`Trace`, cached on disk by model, stream and engine settings.
3. Re-runs only a fresh :class:`~kwsapp.inference.smoothing.Smoother` over
   the traces for each candidate (a test checks this gives the engine's own
   events) and scores it: commands matched and latency on the command
   streams; false activations per hour over every stream at every SNR (the
   other-speech streams and the command streams' own).
4. Stage 1: averaging span x refractory time x global threshold; keeps the
   setting with the fewest false activations per hour among those on
   target at ``--ref-snr``: at least ``--matched-target`` % of the commands
   matched, median latency at most ``--latency-budget-ms`` (ties: more
   matched, then lower latency). Stage 2: per-class thresholds by
   coordinate descent, as offsets from the global one: a class's offset is
   kept if it removes false activations (or matches more words with no more
   false activations) while the setting stays on target and that class's
   own matched share drops at most ``--class-drop`` points.
5. Writes ``WORK/tune-result.json``; ``--write-card``: the card's
   ``threshold``, ``thresholds``, ``smoothing``, ``hop_ms``, ``vad`` and a
   ``tuning`` note; ``--report DIR``: ``DIR/streaming_roc.png``;
   ``--final``: full engine replays on fresh test-speaker streams (and
   ``--final-negatives`` folders), printed as table rows.

Everything is chosen on validation speakers; test speakers only in ``--final``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.atomic import write_atomic
from kwsapp.config import Config, SmoothingConfig, VadConfig
from kwsapp.streaming.scoring import NON_COMMANDS, Event, StreamScore, TruthWord, read_truth, \
    repeat_pairs, score_events

log = logging.getLogger(__name__)

#: Card keys this tuner owns (the trainer owns the rest of the card).
CARD_KEYS = ("threshold", "thresholds", "hop_ms", "smoothing", "vad", "tuning")
TUNED_VAD_KEYS = ("aggressiveness", "hangover_ms")
#: Bump when a trace's content or meaning changes (invalidates cached traces).
TRACE_VERSION = 2  # 2: the speech's pause at each window (end-of-word confirmation)
#: Sibling folder of DATA with more other words (speaker-split like DATA).
EXTRA_DIR = "speech_commands_extra"


# ---- traces: what the smoother was given ------------------------------------

@dataclass
class Trace:
    """Everything the smoother was given during one replay."""

    labels: tuple[str, ...]
    times: np.ndarray  # [n] float64, window end (s)
    probs: np.ndarray  # [n, labels] float32
    words: np.ndarray  # [n] int64 word key, -1: none
    resets: np.ndarray  # [n] bool: the gate reopened (smoother reset) before this window
    spans: np.ndarray  # [n, 2] float64: the span (s) an event fired here carries
    duration_s: float
    quiet: np.ndarray | None = None  # [n] float64 ms the speech had paused (nan: VAD off)

    def resmooth(self, smoothing: SmoothingConfig) -> list[Event]:
        """The events a smoother with ``smoothing`` gives on this trace."""
        from kwsapp.inference.smoothing import Smoother

        smoother = Smoother(self.labels, smoothing)
        out = []
        for i in range(len(self.times)):
            if self.resets[i]:
                smoother.reset()
            w = int(self.words[i])
            q = None if self.quiet is None or np.isnan(self.quiet[i]) else float(self.quiet[i])
            d = smoother.update(float(self.times[i]), self.probs[i], None if w < 0 else w, q)
            if d is not None:
                out.append(Event(d.label, d.score, float(self.spans[i, 0]),
                                 float(self.spans[i, 1]), d.time))
        return out

    def save(self, path: Path) -> None:
        """Write the trace to ``path``, a cache entry (:func:`cached_trace`):
        atomically, a link of its name replaced rather than followed."""
        arrays = dict(labels=np.array(self.labels), times=self.times, probs=self.probs,
                      words=self.words, resets=self.resets, spans=self.spans,
                      duration_s=self.duration_s,
                      **({} if self.quiet is None else {"quiet": self.quiet}))

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # np.savez adds ".npz" to a name lacking it, not to a file
                np.savez(f, **arrays)

        write_atomic(path, save, follow_symlinks=False)

    @classmethod
    def load(cls, path: Path) -> "Trace":
        with np.load(path) as z:
            return cls(tuple(str(x) for x in z["labels"]), z["times"], z["probs"], z["words"],
                       z["resets"], z["spans"], float(z["duration_s"]),
                       z["quiet"] if "quiet" in z.files else None)


def record_trace(audio: np.ndarray, recognizer: Any, config: Config) -> tuple[Trace, list[Any]]:
    """Replay ``audio`` through the engine, recording the smoother's input
    (the engine's ``on_decision`` hook).

    Returns:
        ``(trace, events)``: the trace and the engine's own events, on the
        head alone: the recogniser's second opinion (``config.verify``) is
        switched off, since a resmoothed trace cannot redo it.
    """
    from kwsapp.audio.source import FileSource
    from kwsapp.config import ms_to_samples
    from kwsapp.inference.engine import DecisionInput, Engine

    config = replace(config, verify=replace(config.verify, enabled=False))

    seen: list[DecisionInput] = []
    source = FileSource(audio, block_size=ms_to_samples(config.audio.block_ms), realtime=False)
    engine = Engine(recognizer, config, source,
                    on_decision=seen.append)
    events = engine.run()
    n_labels = len(recognizer.labels)
    trace = Trace(tuple(recognizer.labels),
                  np.array([d.time for d in seen], np.float64),
                  np.array([d.probs for d in seen], np.float32).reshape(-1, n_labels),
                  np.array([-1 if d.word is None else d.word for d in seen], np.int64),
                  np.array([d.gate_reopened for d in seen], bool),
                  np.array([d.span for d in seen], np.float64).reshape(-1, 2),
                  len(audio) / 16000.0,
                  np.array([np.nan if d.quiet_ms is None else d.quiet_ms for d in seen],
                           np.float64))
    return trace, events


# ---- streams ------------------------------------------------------------------

@dataclass
class Stream:
    name: str
    path: Path  # the WAV
    truth: list[TruthWord]
    snr_db: float | None
    commands: bool

    def audio(self) -> np.ndarray:
        from kwsapp.audio.io import load_audio

        return load_audio(self.path)

    @property
    def duration_s(self) -> float:
        import soundfile as sf

        return float(sf.info(str(self.path)).duration)


def build_stream(data_dir: Path, work: Path, name: str, **spec: Any) -> Stream:
    """Make (or reuse from ``work``) the stream ``name`` with ``StreamSpec(**spec)``."""
    from kwsapp.streaming.synth import StreamSpec, make_stream, write_stream

    s = StreamSpec(**spec)
    key = json.dumps({"data": str(Path(data_dir).resolve()), **asdict(s)}, sort_keys=True,
                     default=str)
    base = work / f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    if not base.with_suffix(".csv").is_file():
        audio, truth = make_stream(data_dir, s)
        write_stream(base, audio, truth)
    return Stream(name, base.with_suffix(".wav"), read_truth(base.with_suffix(".csv")),
                  s.snr_db, s.commands and not s.negatives)


def model_digest(recognizer: Any) -> str:
    """Digest of an artifact's model files and its card minus the live defaults."""
    h = hashlib.sha1()
    root = Path(recognizer.path)
    for f in sorted(root.glob("*.tflite")):
        h.update(f.name.encode() + f.read_bytes())
    card = {k: v for k, v in recognizer.card.raw.items() if k not in CARD_KEYS}
    h.update(json.dumps(card, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]


def cached_trace(stream: Stream, recognizer: Any, config: Config, work: Path,
                 digest: str) -> Trace:
    """The trace of ``stream`` under the engine settings of ``config``
    (hop, VAD), from ``work`` when it was recorded before."""
    key = json.dumps({"v": TRACE_VERSION, "model": digest, "stream": stream.path.name,
                      "hop_ms": config.hop_ms, "vad": asdict(config.vad),
                      "window_ms": recognizer.card.window_ms}, sort_keys=True)
    path = work / f"trace-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        return Trace.load(path)
    t0 = time.monotonic()
    trace, _ = record_trace(stream.audio(), recognizer, config)
    trace.save(path)
    log.info("trace %s (hop %g, VAD %d/%g ms): %d windows in %.0f s", stream.name,
             config.hop_ms, config.vad.aggressiveness, config.vad.hangover_ms,
             len(trace.times), time.monotonic() - t0)
    return trace


# ---- scoring a candidate ---------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    hop_ms: float
    vad: VadConfig
    smoothing: SmoothingConfig

    def config(self, base: Config) -> Config:
        return replace(base, hop_ms=self.hop_ms, vad=self.vad, smoothing=self.smoothing)

    def short(self) -> str:
        s, v = self.smoothing, self.vad
        per_class = "".join(f", {k} {t:.2f}" for k, t in s.class_thresholds().items())
        return (f"hop {self.hop_ms:.0f} | VAD {v.aggressiveness}, hangover {v.hangover_ms:.0f} "
                f"| avg {s.average_window_ms:.0f}, refractory {s.refractory_ms:.0f}, "
                f"threshold {s.threshold:.2f}{per_class}"
                + (f" | confirm pause {s.confirm_pause_ms:.0f}, wait {s.confirm_wait_ms:.0f}, "
                   f"ratio {s.confirm_ratio:.2f}" if s.confirm_pause_ms or s.confirm_ratio else ""))


@dataclass
class Traces:
    """The traces of one hop/VAD setting: command and other-speech streams per SNR."""

    commands: dict[float, list[tuple[Trace, Stream]]] = field(default_factory=dict)
    others: dict[float, list[tuple[Trace, Stream]]] = field(default_factory=dict)


def class_matched(truth: Sequence[TruthWord], score: StreamScore) -> dict[str, list[int]]:
    """Per command label: ``[matched, words]``."""
    words = sorted((w for w in truth if w.label not in NON_COMMANDS),
                   key=lambda w: (w.start, w.end))
    out: dict[str, list[int]] = {}
    for w, outcome in zip(words, score.word_outcomes):
        row = out.setdefault(w.label, [0, 0])
        row[0] += outcome == "matched"
        row[1] += 1
    return out


def evaluate(traces: Traces, smoothing: SmoothingConfig,
             snrs: Iterable[float] | None = None) -> dict[float, dict[str, Any]]:
    """Per SNR (all, or ``snrs``): matched % (overall and per class), false
    activations pooled over the other-speech streams and the command
    streams, latency."""
    out = {}
    for snr, cmd_list in traces.commands.items():
        if snrs is not None and snr not in snrs:
            continue
        words = matched = fas = 0
        hours = 0.0
        latencies: list[float] = []
        per_class: dict[str, list[int]] = {}
        twice = pairs = dup = 0
        for trace, st in cmd_list:
            score = score_events(st.truth, trace.resmooth(smoothing), trace.duration_s)
            words, matched = words + score.words, matched + score.matched
            fas, hours = fas + score.false_activations, hours + trace.duration_s / 3600.0
            latencies += score.latencies_s
            dup += score.duplicates
            for label, (m, n) in class_matched(st.truth, score).items():
                row = per_class.setdefault(label, [0, 0])
                row[0], row[1] = row[0] + m, row[1] + n
            t, p = repeat_pairs(st.truth, score.word_outcomes)
            twice, pairs = twice + t, pairs + p
        other_fas, other_hours = 0, 0.0
        for trace, st in traces.others.get(snr, []):
            score = score_events(st.truth, trace.resmooth(smoothing), trace.duration_s)
            other_fas += score.false_activations
            other_hours += trace.duration_s / 3600.0
        out[snr] = {
            "words": words, "matched_pct": 100.0 * matched / words if words else 0.0,
            "class_matched_pct": {k: 100.0 * m / n for k, (m, n) in sorted(per_class.items())},
            "duplicates": dup, "twice_fired": twice, "twice_pairs": pairs,
            "command_stream_fa": fas, "command_stream_hours": hours,
            "other_fa": other_fas, "other_hours": other_hours,
            "other_fa_per_hour": other_fas / other_hours if other_hours else 0.0,
            "false_activations": fas + other_fas, "fa_hours": hours + other_hours,
            "fa_per_hour": (fas + other_fas) / (hours + other_hours)
            if hours + other_hours else 0.0,
            "latency_median_ms": 1000.0 * float(np.median(latencies)) if latencies else None,
        }
    return out


@dataclass
class Result:
    setting: Setting
    per_snr: dict[float, dict[str, Any]]

    @property
    def fa_events(self) -> int:
        """False activations over every stream of every SNR."""
        return sum(row["false_activations"] for row in self.per_snr.values())

    @property
    def fa_per_hour(self) -> float:
        """False activations per hour over every stream of every SNR (the
        objective: a conversation fires as often in a quiet room as in a
        noisy one)."""
        hours = sum(row["fa_hours"] for row in self.per_snr.values())
        return self.fa_events / hours if hours else 0.0


@dataclass(frozen=True)
class Goal:
    """What a setting must keep at the reference SNR while false activations
    are cut."""

    ref_snr: float = 10.0
    matched_pct: float = 90.0  # command words matched, at least
    latency_ms: float = 300.0  # median word end -> command, at most
    class_drop: float = 5.0  # points a class's own matched share may lose (stage 2)

    def on_target(self, r: Result, latency_ms: float | None = None) -> bool:
        row = r.per_snr[self.ref_snr]
        lat = row["latency_median_ms"]
        return (row["matched_pct"] >= self.matched_pct
                and lat is not None and lat <= (latency_ms or self.latency_ms))


def _key(r: Result, goal: Goal) -> tuple:
    """Sort key, best first: on target; fewest false activations; most
    matched; lowest latency."""
    row = r.per_snr[goal.ref_snr]
    lat = row["latency_median_ms"]
    ok = goal.on_target(r)
    return (not ok, r.fa_per_hour if ok else 0.0, -row["matched_pct"],
            1e9 if lat is None else lat)


def best(results: Sequence[Result], goal: Goal) -> Result:
    """The setting to ship: fewest false activations per hour (all streams)
    among those on target at the reference SNR (ties: more matched, lower
    latency); if none is on target, the one matching most."""
    return min(results, key=lambda r: _key(r, goal))


def tune_classes(traces: Traces, start: Result, goal: Goal, offsets: Sequence[float],
                 labels: Sequence[str], passes: int = 2) -> list[Result]:
    """Per-class thresholds by coordinate descent from ``start`` (stage 2);
    returns every accepted step (the last is the choice).

    A class's offset is taken when it removes false activations (all
    streams), or matches more words with no more of them, while the
    setting stays on target (latency: at most the budget or the start's)
    and the class's own matched share at the reference SNR drops at most
    ``goal.class_drop`` points from the start's."""
    ref = goal.ref_snr
    steps, cur = [start], start
    base_class = start.per_snr[ref]["class_matched_pct"]
    latency = max(goal.latency_ms, start.per_snr[ref]["latency_median_ms"] or 0.0)
    classes = [lab for lab in labels if lab in COMMAND_LABELS]
    for _ in range(passes):
        changed = False
        for label in classes:
            offsets_now = dict(cur.setting.smoothing.class_offsets)
            best_here = cur
            for off in offsets:
                if abs(off - offsets_now.get(label, 0.0)) < 1e-9:
                    continue
                trial = dict(offsets_now)
                trial[label] = off
                sm = replace(cur.setting.smoothing, class_offsets=tuple(sorted(
                    (k, round(v, 4)) for k, v in trial.items() if abs(v) > 1e-9)))
                res = Result(replace(cur.setting, smoothing=sm), evaluate(traces, sm))
                if not goal.on_target(res, latency):
                    continue
                if res.per_snr[ref]["class_matched_pct"].get(label, 100.0) < \
                        base_class.get(label, 100.0) - goal.class_drop:
                    continue
                matched, now = res.per_snr[ref]["matched_pct"], \
                    best_here.per_snr[ref]["matched_pct"]
                if res.fa_events < best_here.fa_events or (
                        res.fa_events == best_here.fa_events and matched > now):
                    best_here = res
            if best_here is not cur:
                cur, changed = best_here, True
                steps.append(cur)
                log.info("stage 2: %s -> %.1f %% matched, %.1f FA/h (all streams)",
                         cur.setting.short(), cur.per_snr[ref]["matched_pct"], cur.fa_per_hour)
        if not changed:
            break
    return steps


# ---- reporting --------------------------------------------------------------------

def plot_roc(curve: Sequence[Result], chosen: Result, snrs: Sequence[float], path: Path,
             title: str) -> None:
    """Matched % against false activations per hour as the global threshold
    sweeps (stage 1's averaging and refractory), the chosen setting marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for snr in snrs:
        rows = sorted(((r.setting.smoothing.threshold, r.per_snr[snr]) for r in curve))
        line, = ax.plot([row["fa_per_hour"] for _, row in rows],
                        [row["matched_pct"] for _, row in rows], marker="o", ms=3,
                        label=f"{snr:g} dB SNR")
        for t, row in rows[::3]:
            ax.annotate(f"{t:.2f}", (row["fa_per_hour"], row["matched_pct"]), fontsize=6,
                        xytext=(3, -8), textcoords="offset points")
        c = chosen.per_snr[snr]
        ax.plot([c["fa_per_hour"]], [c["matched_pct"]], marker="*", ms=11,
                color=line.get_color(), markeredgecolor="black")
    ax.axvline(10.0, color="grey", lw=0.8, ls="--")
    ax.axhline(90.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("false activations per hour (other-speech + command streams)")
    ax.set_ylabel("command words matched (%)")
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


TABLE_HEAD = ("| model | speakers | stream | SNR dB | words | matched % | wrong % | missed % | "
              "dup. | FA/h (events in hours) | latency median / p95 ms |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|")


def fmt_row(model: str, speakers: str, kind: str, snr: Any, score: StreamScore) -> str:
    lat, p95 = score.latency_median_ms, score.latency_p95_ms
    words = ("-", "-", "-", "-") if not score.words else (
        score.words, f"{score.matched_pct:.1f}", f"{score.wrong_pct:.1f}",
        f"{score.missed_pct:.1f}")
    return (f"| {model} | {speakers} | {kind} | {snr} | {' | '.join(map(str, words))} | "
            f"{score.duplicates} | {score.fa_per_hour:.1f} ({score.false_activations} in "
            f"{score.duration_s / 3600:.2f} h) | "
            f"{'-' if lat is None else f'{lat:.0f}'} / {'-' if p95 is None else f'{p95:.0f}'} |")


def write_card(artifact: Path, setting: Setting, tuning: dict[str, Any] | None = None) -> None:
    """Write only the tuning keys of ``artifact/card.json``."""
    from kwsapp.atomic import write_json_atomic

    path = artifact / "card.json"
    card = json.loads(path.read_text())
    s = setting.smoothing
    card["threshold"] = round(s.threshold, 3)
    card["thresholds"] = {k: round(v, 3) for k, v in s.class_thresholds().items()}
    if not card["thresholds"]:
        del card["thresholds"]
    card["hop_ms"] = setting.hop_ms
    card["smoothing"] = s.card_fields()
    # Only the VAD fields searched; the rest keep following config.py.
    card["vad"] = {k: getattr(setting.vad, k) for k in TUNED_VAD_KEYS}
    if tuning is not None:
        card["tuning"] = tuning
    write_json_atomic(path, card)


def _floats(text: str) -> list[float]:
    """``"a,b,c"`` or ``"start:stop:step"`` (inclusive) -> floats."""
    if ":" in text:
        a, b, step = (float(x) for x in text.split(":"))
        return [round(x, 4) for x in np.arange(a, b + step / 2, step)]
    return [float(x) for x in text.split(",") if x.strip()]


def confirm_triples(text: str) -> list[tuple[float, float, float]]:
    """``--confirm``'s argparse type: ``"p:w:r,..."`` -> ``[(pause_ms,
    wait_ms, ratio), ...]``, three finite numbers >= 0 each."""
    triples = []
    for item in text.split(","):
        try:
            triple = tuple(float(x) for x in item.split(":"))
        except ValueError:
            triple = ()
        if len(triple) != 3 or not all(np.isfinite(triple)) or min(triple) < 0:
            raise argparse.ArgumentTypeError(
                f"{item.strip()!r} is not pause_ms:wait_ms:ratio (three numbers >= 0, "
                f"e.g. 90:320:1)")
        triples.append(triple)
    return triples


# ---- main ---------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.tune",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="Speech Commands folder")
    p.add_argument("--model", default="embed", help="bundled model name or artifact folder")
    p.add_argument("--negatives", nargs="+", type=Path, default=None, metavar="DIR",
                   help="other-speech folders for the tuning streams (default: DATA and "
                        f"DATA/../{EXTRA_DIR}, validation speakers' other words); only words "
                        "the model never trained on")
    p.add_argument("--work", type=Path, default=Path("/tmp/kwsapp-tune"),
                   help="streams and cached traces (default /tmp/kwsapp-tune)")
    p.add_argument("--snrs", default="20,10,5")
    p.add_argument("--ref-snr", type=float, default=10.0)
    p.add_argument("--minutes", type=float, default=20.0,
                   help="per command stream (20: each validation clip about once)")
    p.add_argument("--neg-minutes", type=float, default=20.0,
                   help="per other-speech stream (20)")
    p.add_argument("--matched-target", type=float, default=90.0,
                   help="commands matched at --ref-snr, %% (90)")
    p.add_argument("--latency-budget-ms", type=float, default=300.0,
                   help="median latency at --ref-snr, at most (300)")
    p.add_argument("--class-drop", type=float, default=5.0,
                   help="points a class's own matched share may lose to its threshold (5)")
    p.add_argument("--averages", default="250,500,750", help="averaging spans, ms")
    p.add_argument("--refractories", default=None,
                   help="refractory times, ms (default: the card's)")
    p.add_argument("--thresholds", default="0.30:0.95:0.05", help="global thresholds")
    p.add_argument("--offsets", default="-0.15:0.40:0.05",
                   help="per-class offsets from the global threshold (--offsets=-0.1,0.2 "
                        "for a list starting below zero)")
    p.add_argument("--confirm", default=None, type=confirm_triples,
                   help="end-of-word confirmations, pause_ms:wait_ms:ratio triples "
                        "(SmoothingConfig.confirm_*; default: the card's)")
    p.add_argument("--no-classes", action="store_true", help="skip per-class thresholds")
    p.add_argument("--hops", default=None, help="hops, ms (default: the card's)")
    p.add_argument("--vad", default=None,
                   help="aggressiveness:hangover_ms pairs (default: the card's)")
    p.add_argument("--write-card", action="store_true",
                   help="write the chosen live defaults into the model's card.json")
    p.add_argument("--report", type=Path, default=None,
                   help="write streaming_roc.png here (needs matplotlib)")
    p.add_argument("--final", action="store_true",
                   help="then replay fresh test-speaker streams with the choice")
    p.add_argument("--final-negatives", nargs="+", type=Path, default=(), metavar="DIR",
                   help="also a fresh other-speech stream of these folders in --final")
    p.add_argument("--final-minutes", type=float, default=15.0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.streaming.synth import NEGATIVE_GAP_S

    t0 = time.monotonic()
    args.work.mkdir(parents=True, exist_ok=True)
    rec = Recognizer.load(args.model)
    base = Config().with_card(rec.card.raw)
    base = replace(base, smoothing=replace(base.smoothing, class_offsets=()))
    model, digest = rec.card.name, model_digest(rec)
    snrs = _floats(args.snrs)
    if args.ref_snr not in snrs:
        raise SystemExit(f"--ref-snr {args.ref_snr:g} must be one of --snrs {args.snrs}")
    negatives = [str(d) for d in (args.negatives or [
        args.data, *[d for d in [args.data.parent / EXTRA_DIR] if d.is_dir()]])]

    cmd_streams = {snr: build_stream(args.data, args.work, f"val-cmd-{snr:g}dB",
                                     minutes=args.minutes, snr_db=snr, seed=100 + i)
                   for i, snr in enumerate(snrs)}
    other_streams = {snr: build_stream(args.data, args.work, f"val-other-{snr:g}dB",
                                       minutes=args.neg_minutes, snr_db=snr, seed=200 + i,
                                       negatives=tuple(negatives), gap_s=NEGATIVE_GAP_S)
                     for i, snr in enumerate(snrs)}
    log.info("streams ready (%.0f s)", time.monotonic() - t0)

    hops = _floats(args.hops) if args.hops else [base.hop_ms]
    vads = ([replace(base.vad, aggressiveness=int(a), hangover_ms=float(h))
             for a, h in (x.split(":") for x in args.vad.split(","))]
            if args.vad else [base.vad])
    refractories = (_floats(args.refractories) if args.refractories
                    else [base.smoothing.refractory_ms])
    s0 = base.smoothing
    confirms = args.confirm or [(s0.confirm_pause_ms, s0.confirm_wait_ms, s0.confirm_ratio)]
    grid = [replace(s0, average_window_ms=a, refractory_ms=r, threshold=t, confirm_pause_ms=p,
                    confirm_wait_ms=w, confirm_ratio=c)
            for a, r, t, (p, w, c) in itertools.product(
                _floats(args.averages), refractories, _floats(args.thresholds), confirms)]

    # Stage 1: hop, VAD, averaging, refractory and the global threshold.
    stage1: list[Result] = []
    trace_sets: dict[tuple[float, VadConfig], Traces] = {}
    for hop, vad in itertools.product(hops, vads):
        cfg = replace(base, hop_ms=hop, vad=vad)
        traces = Traces(
            {snr: [(cached_trace(st, rec, cfg, args.work, digest), st)]
             for snr, st in cmd_streams.items()},
            {snr: [(cached_trace(st, rec, cfg, args.work, digest), st)]
             for snr, st in other_streams.items()})
        trace_sets[(hop, vad)] = traces
        stage1 += [Result(Setting(hop, vad, sm), evaluate(traces, sm)) for sm in grid]
    goal = Goal(args.ref_snr, args.matched_target, args.latency_budget_ms, args.class_drop)
    first = best(stage1, goal)
    log.info("stage 1: %s -> %s (%.0f s)", first.setting.short(), first.per_snr[args.ref_snr],
             time.monotonic() - t0)

    # Stage 2: per-class thresholds on the chosen hop/VAD's traces.
    traces = trace_sets[(first.setting.hop_ms, first.setting.vad)]
    steps = [first] if args.no_classes else tune_classes(
        traces, first, goal, _floats(args.offsets), rec.labels)
    chosen = steps[-1]
    log.info("chosen: %s -> %s (%.0f s)", chosen.setting.short(),
             chosen.per_snr[args.ref_snr], time.monotonic() - t0)

    def rows(r: Result) -> dict[str, Any]:
        return {"setting": r.setting.short(), "fa_per_hour_all": r.fa_per_hour,
                **{f"{k:g}": v for k, v in r.per_snr.items()}}

    result: dict[str, Any] = {
        "model": model, "model_digest": digest,
        "chosen": {"hop_ms": chosen.setting.hop_ms, "vad": asdict(chosen.setting.vad),
                   "threshold": chosen.setting.smoothing.threshold,
                   "thresholds": chosen.setting.smoothing.class_thresholds(),
                   **chosen.setting.smoothing.card_fields()},
        "validation": {f"{k:g}": v for k, v in chosen.per_snr.items()},
        "validation_fa_per_hour_all": chosen.fa_per_hour,
        "stage1_choice": rows(first), "stage2_steps": [rows(r) for r in steps[1:]],
        "stage1": [rows(r) for r in stage1],
        "streams": {"commands": [str(s.path) for s in cmd_streams.values()],
                    "other_speech": [str(s.path) for s in other_streams.values()],
                    "negatives": negatives},
    }
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        fs = first.setting
        curve = [r for r in stage1 if (r.setting.hop_ms, r.setting.vad) == (fs.hop_ms, fs.vad)
                 and replace(r.setting.smoothing, threshold=0) == replace(fs.smoothing,
                                                                          threshold=0)]
        plot_roc(curve, chosen, snrs, args.report / "streaming_roc.png",
                 f"{model}, validation speakers: global threshold swept (labels), "
                 f"chosen setting (star)\n{chosen.setting.short()}")
    if args.final:
        result["final"] = final_check(args, rec, chosen.setting.config(base), snrs)
    result["seconds"] = time.monotonic() - t0
    write_atomic(args.work / "tune-result.json", json.dumps(result, indent=1, default=str).encode())
    if args.write_card:
        ref = chosen.per_snr[args.ref_snr]
        write_card(Path(rec.path), chosen.setting, {
            "tool": "python -m training.tune", "date": datetime.date.today().isoformat(),
            "data": "validation speakers: " + ", ".join([str(args.data), *negatives]),
            "ref_snr_db": args.ref_snr, "matched_pct": round(ref["matched_pct"], 1),
            "latency_median_ms": round(ref["latency_median_ms"] or 0.0),
            "fa_per_hour_all_snrs": round(chosen.fa_per_hour, 1),
            "hours": round(sum(r["fa_hours"] for r in chosen.per_snr.values()), 2)})
        log.info("wrote %s to %s", ", ".join(CARD_KEYS), Path(rec.path) / "card.json")
    print(json.dumps(result["chosen"]))
    return 0


def final_check(args: argparse.Namespace, rec: Any, config: Config,
                snrs: Iterable[float]) -> list[dict[str, Any]]:
    """Full engine replays of fresh test-speaker streams with ``config``;
    prints table rows (:data:`TABLE_HEAD`)."""
    from kwsapp.streaming.replay import evaluate as replay_evaluate
    from kwsapp.streaming.scoring import false_activations
    from kwsapp.streaming.synth import NEGATIVE_GAP_S

    jobs = [(f"test-cmd-{snr:g}dB", "test", "commands", snr,
             dict(minutes=args.minutes, snr_db=snr, seed=400 + i, speakers=("test",)))
            for i, snr in enumerate(snrs)]
    negatives = tuple(str(d) for d in args.negatives or [
        args.data, *[d for d in [args.data.parent / EXTRA_DIR] if d.is_dir()]])
    jobs.append(("test-other", "test", "other speech", args.ref_snr,
                 dict(minutes=args.final_minutes, snr_db=args.ref_snr, seed=500,
                      speakers=("test",), negatives=negatives, gap_s=NEGATIVE_GAP_S)))
    if args.final_negatives:
        jobs.append(("final-negatives", "-", "other speech: " + ", ".join(
            d.name for d in args.final_negatives), args.ref_snr,
            dict(minutes=args.final_minutes, snr_db=args.ref_snr, seed=501,
                 negatives=tuple(str(d) for d in args.final_negatives),
                 gap_s=NEGATIVE_GAP_S)))
    out = []
    print(TABLE_HEAD)
    for name, speakers, kind, snr, spec in jobs:
        st = build_stream(args.data, args.work, name, **spec)
        score, _ = replay_evaluate(st.audio(), st.truth, rec, config)
        print(fmt_row(rec.card.name, speakers, kind, f"{snr:g}", score), flush=True)
        out.append({"stream": name, "speakers": speakers, "kind": kind, "snr_db": snr,
                    **score.summary(),
                    "false_by_word": false_activations(st.truth, score).by_word()})
    return out


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
