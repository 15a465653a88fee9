"""The recogniser's second opinion on a command (kwsapp/inference/verifier.py):
milliseconds per command, against the head's own window inference (LiteRT,
the bundled model) in the same process (``python -m benchmarks.bench_verify``).

The opinion runs once per command about to fire, never per window, so it
adds to that command's latency, not to the load while nothing is said.
Timings vary with machine load; the ratio is what to compare.

``--live MINUTES`` also measures what a user waits for: a stream of the
validation speakers' words at 10 dB (make-stream's recipe, seed 401)
through the engine live-paced (20 ms blocks in real time, as PortAudio
gives them; the check on its own thread), with the second opinion and
without, scored against the stream's truth: word end -> command, median and
95th percentile, beside the file replay's (emitted when the window that
fired is complete, so without the check's time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.bench_inference import _per_call_ms

#: Real words, 1.3 s as the engine cuts them (the word's end plus 300 ms).
SECONDS = 1.3


def run(data_dir: str, repeats: int = 20) -> list[dict]:
    """Rows ``{"what", "ms", "ratio_vs_window"}``."""
    from pathlib import Path

    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.inference.verifier import Verifier
    from kwsapp.models.registry import resolve
    from kwsapp.streaming.synth import load_clip

    rec = Recognizer(resolve("embed"))
    x = rec.front_end(np.zeros(rec.card.window_samples, np.float32))
    window_ms = _per_call_ms(rec.model.invoke, x, 50)
    verifier = Verifier()
    rows = [{"what": "head, one window (LiteRT)", "ms": window_ms}]
    for label in ("go", "left", "off"):
        name = sorted((Path(data_dir) / label).glob("*.wav"))[0].name
        clip = load_clip(Path(data_dir), f"{label}/{name}", label)
        audio = np.zeros(int(SECONDS * 16000), np.float32)
        audio[:len(clip.audio)] = clip.audio[:len(audio)]
        start = time.perf_counter()
        opinion = verifier.opinion(audio, label)
        first = (time.perf_counter() - start) * 1000.0
        rows.append({"what": f"whole opinion on a real '{label}' (heard {opinion.transcript!r}; "
                             f"first call {first:.0f} ms)",
                     "ms": _per_call_ms(lambda a: verifier.opinion(a, label), audio, repeats)})
        level = opinion.logp - 1.0  # a command the card's level lets through
        rows.append({"what": f"a command's check, '{label}' (what a command waits for)",
                     "ms": _per_call_ms(lambda a: verifier.confirms(a, label, level), audio,
                                        repeats)})
    for row in rows:
        row["ratio_vs_window"] = row["ms"] / window_ms
    return rows


def live_latency(data_dir: str, minutes: float) -> list[dict]:
    """Rows ``{"what", "matched", "words", "median_ms", "p95_ms", "checked"}``:
    the same stream replayed from the file and live-paced, with and without
    the second opinion."""
    from dataclasses import replace
    from pathlib import Path

    from kwsapp.audio.source import FileSource
    from kwsapp.config import VerifyConfig, ms_to_samples
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import load_with_config
    from kwsapp.streaming.replay import to_events
    from kwsapp.streaming.scoring import score_events
    from kwsapp.streaming.synth import StreamSpec, make_stream

    audio, truth = make_stream(Path(data_dir), StreamSpec(minutes=minutes, snr_db=10.0,
                                                          seed=401))
    recognizer, config = load_with_config("embed")
    rows = []
    for paced in (False, True):
        for verify in (True, False):
            cfg = config if verify else replace(config, verify=VerifyConfig(enabled=False))
            source = FileSource(audio, ms_to_samples(cfg.audio.block_ms), realtime=paced)
            engine = Engine(recognizer, cfg, source)
            events = engine.run()
            score = score_events(truth, to_events(events), len(audio) / 16000.0)
            rows.append({"what": f"{'live-paced' if paced else 'file replay'}, "
                                 f"{'with the second opinion' if verify else 'head alone'}",
                         "matched": score.matched, "words": score.words,
                         "median_ms": score.latency_median_ms, "p95_ms": score.latency_p95_ms,
                         "checked": engine.checked})
    return rows


def main(argv: list[str] | None = None) -> int:
    from benchmarks.bench_gui import DATA_DIR

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(DATA_DIR))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--live", type=float, metavar="MINUTES",
                        help="also the live-paced latency over a stream this long")
    args = parser.parse_args(argv)
    print("### The recogniser's opinion per command\n")
    print("| what | ms | x one head window |")
    print("| --- | ---: | ---: |")
    for row in run(args.data, args.repeats):
        print(f"| {row['what']} | {row['ms']:.1f} | {row['ratio_vs_window']:.1f} |")
    if args.live:
        print(f"\n### Word end -> command, {args.live:g} min at 10 dB (validation speakers)\n")
        print("| run | matched | median ms | p95 ms | commands checked |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for row in live_latency(args.data, args.live):
            print(f"| {row['what']} | {row['matched']}/{row['words']} | "
                  f"{row['median_ms']:.0f} | {row['p95_ms']:.0f} | {row['checked']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
