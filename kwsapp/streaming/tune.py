"""Tune the live defaults (hop, VAD gate, smoother, threshold) on test streams.

Run (from the repository root; about 35 min on two busy cores with the
bundled model, most of it model inference, memoized on disk for re-runs;
needs matplotlib for the curve)::

    python -m kwsapp.streaming.tune --data ../shared/data/speech_commands_subset \\
        --model embed --work /tmp/kwsapp-streams --minutes 10 --fa-minutes 30 \\
        --vad 0:500,1:500,2:500,3:500,2:300,2:800,3:300,3:800 --report docs --write-card

What it does:

1. Builds validation-speaker streams at each SNR (commands, unknown words,
   pauses over background noise) and no-command streams at the same SNRs.
2. For every hop and VAD setting, replays each stream once through the real
   engine with a :class:`RecordingSmoother` in place of its smoother: the
   trace holds every ``(window end, probabilities, word key)`` the smoother
   was given and every reset. Model calls are memoized by window content
   (:class:`~kwsapp.streaming.replay.CachingRecognizer`), so windows shared
   between settings run the model once, and the memo is kept on disk.
3. Re-runs only a fresh :class:`~kwsapp.inference.smoothing.Smoother` over a
   trace for every averaging window, refractory time and threshold; for a
   file source the engine emits at the end of the window that fired, so the
   events are the ones the engine would give (a test checks this).
4. Picks the setting with the most matched words at the reference SNR whose
   false activations per hour stay within the budget, preferring the lower
   latency on ties; writes ``docs/streaming.md``, ``docs/streaming_roc.png``
   and (``--write-card``) the tuning keys of the model's ``card.json``.
5. Scores the chosen setting with full engine replays on fresh streams of
   validation and test speakers and a long no-command stream.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from kwsapp.config import Config, SmoothingConfig, VadConfig
from kwsapp.streaming.replay import CachingRecognizer, evaluate
from kwsapp.streaming.scoring import Event, StreamScore, TruthWord, read_truth, repeat_pairs, \
    score_events

log = logging.getLogger(__name__)

#: Card keys this tuner owns (the trainer owns the rest of the card).
CARD_KEYS = ("threshold", "hop_ms", "smoothing", "vad")
TUNED_VAD_KEYS = ("aggressiveness", "hangover_ms")


class RecordingSmoother:
    """Stands in for the engine's smoother: passes every call on to the real
    one and records what the smoother was given."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.times: list[float] = []
        self.probs: list[np.ndarray] = []
        self.words: list[int | None] = []
        self.resets: list[bool] = []
        self._reset_pending = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def reset(self) -> None:
        self._reset_pending = True
        self._inner.reset()

    def update(self, time_s: float, probs: np.ndarray, word: int | None = None) -> Any:
        self.times.append(float(time_s))
        self.probs.append(np.asarray(probs, np.float32))
        self.words.append(word)
        self.resets.append(self._reset_pending)
        self._reset_pending = False
        return self._inner.update(time_s, probs, word)


@dataclass
class Trace:
    """Everything the smoother saw during one replay."""

    labels: tuple[str, ...]
    times: np.ndarray  # [n] float64, window end (s)
    probs: np.ndarray  # [n, labels] float32
    words: list[int | None]  # word key (its speech run's first sample) or None
    resets: np.ndarray  # [n] bool: smoother reset before this window
    duration_s: float
    window_s: float
    #: per window, the end (samples) of the speech run its word key names,
    #: as the engine saw it when it cut the window
    run_ends: list[int | None] = field(default_factory=list)

    def span(self, i: int) -> tuple[float, float]:
        """The span (s) the engine gives an event fired by window ``i``: the
        window's part of the speech run the word key names, else the window."""
        end = self.times[i]
        start = max(0.0, end - self.window_s)
        word, run_end = self.words[i], self.run_ends[i] if self.run_ends else None
        if word is None or run_end is None:
            return start, end
        return max(word / 16000.0, start), min(run_end / 16000.0, end)

    def resmooth(self, smoothing: SmoothingConfig) -> list[Event]:
        """The events a smoother with ``smoothing`` gives on this trace."""
        from kwsapp.inference.smoothing import Smoother

        smoother = Smoother(self.labels, smoothing)
        out = []
        for i, (t, p, w, r) in enumerate(zip(self.times, self.probs, self.words, self.resets)):
            if r:
                smoother.reset()
            d = smoother.update(t, p, w)
            if d is not None:
                out.append(Event(d.label, d.score, *self.span(i), d.time))
        return out


def record_trace(audio: np.ndarray, recognizer: Any, config: Config) -> tuple[Trace, list[Any]]:
    """Replay ``audio`` through the engine, recording the smoother's input.

    Returns:
        ``(trace, events)``: the trace and the engine's own events.
    """
    from kwsapp.audio.source import FileSource
    from kwsapp.config import ms_to_samples
    from kwsapp.inference.engine import Engine

    source = FileSource(audio, block_size=ms_to_samples(config.audio.block_ms), realtime=False)
    engine = Engine(recognizer, config, source, use_card_defaults=False)
    rec = RecordingSmoother(engine.smoother)
    engine.smoother = rec
    # The speech runs each window was cut with, in window order (windows
    # reach the smoother in the order they are cut; a file drops none), so
    # an event's span can be rebuilt from its word key.
    runs_per_window: list[dict[int, int]] = []
    runs_in = engine.gate.runs_in

    def recording_runs_in(start: int, end: int) -> list[Any]:
        runs = runs_in(start, end)
        runs_per_window.append({r.start: r.end for r in runs})
        return runs

    engine.gate.runs_in = recording_runs_in
    events = engine.run()
    run_ends = [None if w is None else runs.get(w) for w, runs in zip(rec.words, runs_per_window)]
    n_labels = len(recognizer.labels)
    trace = Trace(tuple(recognizer.labels), np.array(rec.times, np.float64),
                  np.array(rec.probs, np.float32).reshape(-1, n_labels), rec.words,
                  np.array(rec.resets, bool), len(audio) / 16000.0,
                  recognizer.card.window_ms / 1000.0,
                  run_ends)
    return trace, events


# ---- streams and the model-call memo --------------------------------------

@dataclass
class Stream:
    name: str
    audio: np.ndarray
    truth: list[TruthWord]
    snr_db: float | None
    commands: bool

    @property
    def duration_s(self) -> float:
        return len(self.audio) / 16000.0


def build_stream(data_dir: Path, work: Path, name: str, **spec: Any) -> Stream:
    """Make (or reuse from ``work``) the stream ``name`` with ``StreamSpec(**spec)``."""
    from kwsapp.audio.io import load_audio
    from kwsapp.streaming.synth import StreamSpec, make_stream, write_stream

    s = StreamSpec(**spec)
    tag = hashlib.sha1(json.dumps(asdict(s), sort_keys=True).encode()).hexdigest()[:8]
    base = work / f"{name}-{tag}"
    if not base.with_suffix(".csv").is_file():
        audio, truth = make_stream(data_dir, s)
        write_stream(base, audio, truth)
    return Stream(name, load_audio(base.with_suffix(".wav")), read_truth(base.with_suffix(".csv")),
                  s.snr_db, s.commands)


def _memo_path(work: Path, recognizer: Any) -> Path:
    digest = hashlib.sha1((Path(recognizer.path) / "model.tflite").read_bytes()).hexdigest()[:12]
    return work / f"probs-{recognizer.card.name}-{digest}.npz"


def load_memo(path: Path) -> dict[bytes, np.ndarray]:
    if not path.is_file():
        return {}
    with np.load(path) as z:
        return {k.tobytes(): p for k, p in zip(z["keys"], z["probs"])}


def save_memo(path: Path, memo: dict[bytes, np.ndarray]) -> None:
    if not memo:
        return
    tmp = path.with_suffix(".tmp.npz")
    # Keys as raw bytes ([n, 16] uint8): numpy's "S" strings drop trailing NULs.
    keys = np.frombuffer(b"".join(memo), np.uint8).reshape(len(memo), -1)
    np.savez(tmp, keys=keys, probs=np.stack(list(memo.values())))
    tmp.replace(path)


# ---- search ----------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    hop_ms: float
    vad: VadConfig
    smoothing: SmoothingConfig

    def config(self, base: Config) -> Config:
        return replace(base, hop_ms=self.hop_ms, vad=self.vad, smoothing=self.smoothing)

    def short(self) -> str:
        s, v = self.smoothing, self.vad
        return (f"hop {self.hop_ms:.0f} | VAD {v.aggressiveness}, hangover {v.hangover_ms:.0f} "
                f"| avg {s.average_window_ms:.0f}, refractory {s.refractory_ms:.0f}, "
                f"threshold {s.threshold:.2f}")


@dataclass
class Result:
    setting: Setting
    per_snr: dict[float, dict[str, Any]] = field(default_factory=dict)


def summarize(cmd: StreamScore, fa: StreamScore | None, truth: Sequence[TruthWord]) -> dict[str, Any]:
    """One table row: the command stream's scores with false activations
    pooled over the command stream and the no-command stream."""
    fas = cmd.false_activations + (fa.false_activations if fa else 0)
    hours = (cmd.duration_s + (fa.duration_s if fa else 0.0)) / 3600.0
    twice, pairs = repeat_pairs(truth, cmd.word_outcomes)
    return {"words": cmd.words, "matched_pct": cmd.matched_pct, "wrong_pct": cmd.wrong_pct,
            "missed_pct": cmd.missed_pct, "duplicates": cmd.duplicates,
            "false_activations": fas, "fa_hours": hours, "fa_per_hour": fas / hours,
            "latency_median_ms": cmd.latency_median_ms, "latency_p95_ms": cmd.latency_p95_ms,
            "twice_fired": twice, "twice_pairs": pairs}


def sweep(traces: dict[str, tuple[Trace, Stream]], snrs: Iterable[float], hop_ms: float,
          vad: VadConfig, smoothings: Iterable[SmoothingConfig]) -> list[Result]:
    """Score every smoother setting on the traces of one hop/VAD setting."""
    out = []
    for sm in smoothings:
        res = Result(Setting(hop_ms, vad, sm))
        for snr in snrs:
            ctrace, cstream = traces[f"cmd{snr:g}"]
            cmd = score_events(cstream.truth, ctrace.resmooth(sm), cstream.duration_s)
            fa = None
            if f"fa{snr:g}" in traces:
                ftrace, fstream = traces[f"fa{snr:g}"]
                fa = score_events(fstream.truth, ftrace.resmooth(sm), fstream.duration_s)
            res.per_snr[snr] = summarize(cmd, fa, cstream.truth)
        out.append(res)
    return out


def best(results: Sequence[Result], ref_snr: float, fa_budget: float,
         latency_budget_ms: float, matched_target: float = 90.0) -> Result:
    """The setting to ship, judged at ``ref_snr``.

    Within the false-activation budget, the most matched words (among those
    within 1 point of the best: latency within budget first, then the lowest
    latency). If no setting within the budget reaches ``matched_target``, the
    one reaching the target with the fewest false activations instead (a
    recognizer that misses a third of the commands is worse to use than one
    with a few false activations an hour; docs/streaming.md shows both).
    """
    def lat(r: Result) -> float:
        value = r.per_snr[ref_snr]["latency_median_ms"]
        return 1e9 if value is None else value

    def matched(r: Result) -> float:
        return r.per_snr[ref_snr]["matched_pct"]

    ok = [r for r in results if r.per_snr[ref_snr]["fa_per_hour"] <= fa_budget]
    if ok:
        top = max(matched(r) for r in ok)
        near = [r for r in ok if matched(r) >= top - 1.0]
        pick = min(near, key=lambda r: (lat(r) > latency_budget_ms, lat(r)))
        if matched(pick) >= matched_target:
            return pick
    reach = [r for r in results if matched(r) >= matched_target]
    if not reach:
        return max(results, key=lambda r: (matched(r), -lat(r)))
    return min(reach, key=lambda r: (r.per_snr[ref_snr]["fa_per_hour"], lat(r) > latency_budget_ms,
                                     -matched(r), lat(r)))


def within_budget(results: Sequence[Result], ref_snr: float, fa_budget: float) -> Result | None:
    """The most matched words within the false-activation budget (or None)."""
    ok = [r for r in results if r.per_snr[ref_snr]["fa_per_hour"] <= fa_budget]
    return max(ok, key=lambda r: r.per_snr[ref_snr]["matched_pct"]) if ok else None


def thresholds() -> list[float]:
    return [round(x, 2) for x in np.arange(0.30, 0.96, 0.05)]


# ---- reporting ---------------------------------------------------------------

def plot_roc(results: Sequence[Result], snrs: Sequence[float], path: Path, title: str) -> None:
    """Matched % against false activations per hour as the threshold sweeps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for snr in snrs:
        rows = sorted(((r.setting.smoothing.threshold, r.per_snr[snr]) for r in results))
        fa = [row["fa_per_hour"] for _, row in rows]
        matched = [row["matched_pct"] for _, row in rows]
        ax.plot(fa, matched, marker="o", ms=3, label=f"{snr:g} dB SNR")
        for t, row in rows[::3]:
            ax.annotate(f"{t:.2f}", (row["fa_per_hour"], row["matched_pct"]), fontsize=6,
                        xytext=(3, -8), textcoords="offset points")
    ax.axvline(2.0, color="grey", lw=0.8, ls="--")
    ax.axhline(90.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("false activations per hour (command + no-command streams)")
    ax.set_ylabel("command words matched (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def fmt_row(model: str, speakers: str, snr: Any, row: dict[str, Any]) -> str:
    lat = row.get("latency_median_ms")
    p95 = row.get("latency_p95_ms")
    twice = (f"{row['twice_fired']}/{row['twice_pairs']}" if row.get("twice_pairs") else "-")
    return (f"| {model} | {speakers} | {snr} | {row['words']} | {row['matched_pct']:.1f} | "
            f"{row['wrong_pct']:.1f} | {row['missed_pct']:.1f} | {row['duplicates']} | "
            f"{row['fa_per_hour']:.1f} ({row['false_activations']} in "
            f"{row['fa_hours']:.2f} h) | "
            f"{'-' if lat is None else f'{lat:.0f}'} / {'-' if p95 is None else f'{p95:.0f}'} "
            f"| {twice} |")


TABLE_HEAD = ("| model | speakers | SNR dB | words | matched % | wrong % | missed % | dup. | "
              "FA/h | latency median / p95 ms | said twice: fired twice |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|")


def write_card(artifact: Path, setting: Setting) -> None:
    """Write only the tuning keys of ``artifact/card.json``."""
    path = artifact / "card.json"
    card = json.loads(path.read_text())
    card["threshold"] = round(setting.smoothing.threshold, 3)
    card["hop_ms"] = setting.hop_ms
    card["smoothing"] = {k: v for k, v in asdict(setting.smoothing).items() if k != "threshold"}
    # Only the VAD fields searched; the rest keep following config.py.
    card["vad"] = {k: getattr(setting.vad, k) for k in TUNED_VAD_KEYS}
    path.write_text(json.dumps(card, indent=2) + "\n")


# ---- main ---------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--model", default="embed")
    p.add_argument("--work", type=Path, default=Path("/tmp/kwsapp-streams"))
    p.add_argument("--report", type=Path, default=None, help="write streaming.md + PNG here")
    p.add_argument("--write-card", action="store_true")
    p.add_argument("--snrs", default="20,10,5")
    p.add_argument("--ref-snr", type=float, default=10.0)
    p.add_argument("--minutes", type=float, default=8.0, help="per command stream")
    p.add_argument("--fa-minutes", type=float, default=15.0, help="per tuning no-command stream")
    p.add_argument("--final-fa-minutes", type=float, default=60.0)
    p.add_argument("--fa-budget", type=float, default=2.0)
    p.add_argument("--latency-budget-ms", type=float, default=300.0)
    p.add_argument("--hops", default="125,250")
    p.add_argument("--vad", default="1:500,2:500,3:500,2:300,2:800",
                   help="aggressiveness:hangover_ms pairs")
    p.add_argument("--averages", default="0,250,500,750")
    p.add_argument("--refractories", default="500,750,1000")
    p.add_argument("--quick", action="store_true", help="tiny grid (smoke test)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from kwsapp.inference.recognizer import Recognizer

    args.work.mkdir(parents=True, exist_ok=True)
    snrs = [float(s) for s in args.snrs.split(",")]
    raw = Recognizer.load(args.model)
    memo_path = _memo_path(args.work, raw)
    memo = load_memo(memo_path)
    rec = CachingRecognizer(raw, memo)
    base = Config().with_card(raw.card.raw)
    model = raw.card.name
    t0 = time.monotonic()

    streams: dict[str, Stream] = {}
    for i, snr in enumerate(snrs):
        streams[f"cmd{snr:g}"] = build_stream(args.data, args.work, f"val-cmd-{snr:g}dB",
                                              minutes=args.minutes, snr_db=snr, seed=100 + i)
        streams[f"fa{snr:g}"] = build_stream(args.data, args.work, f"val-fa-{snr:g}dB",
                                             minutes=args.fa_minutes, snr_db=snr, seed=200 + i,
                                             commands=False)
    log.info("streams ready (%.0f s)", time.monotonic() - t0)

    hops = [float(h) for h in args.hops.split(",")]
    vads = [replace(base.vad, aggressiveness=int(a), hangover_ms=float(h))
            for a, h in (x.split(":") for x in args.vad.split(","))]
    averages = [float(x) for x in args.averages.split(",")]
    refractories = [float(x) for x in args.refractories.split(",")]
    if args.quick:
        hops, vads, averages, refractories = hops[:1], vads[:1], averages[:2], refractories[:1]

    def traces_for(hop: float, vad: VadConfig) -> dict[str, tuple[Trace, Stream]]:
        cfg = replace(base, hop_ms=hop, vad=vad)
        out = {}
        for key, st in streams.items():
            calls = rec.calls
            out[key] = (record_trace(st.audio, rec, cfg)[0], st)
            log.info("trace hop %g vad %d/%g %s: %d windows, %d model calls (%.0f s)", hop,
                     vad.aggressiveness, vad.hangover_ms, key, len(out[key][0].times),
                     rec.calls - calls, time.monotonic() - t0)
        save_memo(memo_path, memo)
        return out

    # Stage A: hop and VAD, with the default smoother over a threshold sweep.
    stage_a: list[Result] = []
    trace_sets = {}
    for hop, vad in itertools.product(hops, vads):
        trace_sets[(hop, vad)] = traces_for(hop, vad)
        stage_a += sweep(trace_sets[(hop, vad)], snrs, hop, vad,
                         [replace(base.smoothing, threshold=t) for t in thresholds()])
    a = best(stage_a, args.ref_snr, args.fa_budget, args.latency_budget_ms)
    log.info("stage A best: %s -> %s", a.setting.short(), a.per_snr[args.ref_snr])
    # Stage B: smoother on the chosen hop/VAD.
    hop, vad = a.setting.hop_ms, a.setting.vad
    stage_b = sweep(trace_sets[(hop, vad)], snrs, hop, vad,
                    [SmoothingConfig(average_window_ms=av, refractory_ms=rf, threshold=t)
                     for av, rf, t in itertools.product(averages, refractories, thresholds())])
    b = best(stage_b, args.ref_snr, args.fa_budget, args.latency_budget_ms)
    log.info("stage B best: %s -> %s", b.setting.short(), b.per_snr[args.ref_snr])
    chosen = b.setting
    curve = [r for r in stage_b
             if replace(r.setting.smoothing, threshold=0) == replace(chosen.smoothing, threshold=0)]

    # Held-out check: full engine replays on fresh streams with the chosen setting.
    cfg = chosen.config(base)
    final_rows = []
    fa_long = build_stream(args.data, args.work, "val-fa-long",
                           minutes=args.final_fa_minutes, snr_db=args.ref_snr, seed=300,
                           commands=False)
    fa_score, _ = evaluate(fa_long.audio, fa_long.truth, rec, cfg)
    log.info("long no-command stream: %s", fa_score.summary())
    for speakers in ("validation", "test"):
        for i, snr in enumerate(snrs):
            st = build_stream(args.data, args.work, f"{speakers}-final-{snr:g}dB",
                              minutes=args.minutes, snr_db=snr, seed=400 + i,
                              speakers=(speakers,))
            score, _ = evaluate(st.audio, st.truth, rec, cfg)
            row = summarize(score, fa_score if snr == args.ref_snr else None, st.truth)
            final_rows.append((speakers, snr, row))
            log.info("final %s %g dB: %s", speakers, snr, row)
    save_memo(memo_path, memo)

    result = {
        "model": model, "chosen": {"hop_ms": chosen.hop_ms, "vad": asdict(chosen.vad),
                                   "smoothing": asdict(chosen.smoothing)},
        "tuning": {str(k): v for k, v in b.per_snr.items()},
        "final": [{"speakers": s, "snr_db": snr, **row} for s, snr, row in final_rows],
        "fa_long": {**fa_score.summary()},
        "stage_a": [{"setting": r.setting.short(), **{str(k): v for k, v in r.per_snr.items()}}
                    for r in stage_a],
        "stage_b": [{"setting": r.setting.short(), **{str(k): v for k, v in r.per_snr.items()}}
                    for r in stage_b],
        "stage_b_within_budget": (lambda r: r and {"setting": r.setting.short(), **{
            str(k): v for k, v in r.per_snr.items()}})(
                within_budget(stage_b, args.ref_snr, args.fa_budget)),
        "minutes": args.minutes, "fa_minutes": args.fa_minutes,
        "seconds": time.monotonic() - t0,
    }
    (args.work / "tune-result.json").write_text(json.dumps(result, indent=1, default=str))
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        plot_roc(curve, snrs, args.report / "streaming_roc.png",
                 f"{model}, validation speakers, threshold swept (point labels)\n"
                 f"{chosen.short().rsplit(',', 1)[0]}")
        print(TABLE_HEAD)
        for s, snr, row in final_rows:
            print(fmt_row(model, s, f"{snr:g}", row))
    if args.write_card:
        write_card(Path(raw.path), chosen)
        log.info("wrote %s to %s", ", ".join(CARD_KEYS), Path(raw.path) / "card.json")
    print(json.dumps(result["chosen"]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
