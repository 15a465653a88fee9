"""`kwsapp evaluate-stream`: replay a stream through the live engine and score
its commands against the truth CSV (matching rule in kwsapp/streaming/scoring.py)."""

from __future__ import annotations

import argparse

from kwsapp.commands.options import number

HELP = ("replay a WAV through the live engine and score its commands against a truth CSV: "
        "matched/wrong/missed %, false activations per hour, latency")

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wav", metavar="NAME.wav", help="the stream (e.g. from make-stream)")
    parser.add_argument("--truth", required=True, metavar="NAME.csv",
                        help="label,start,end[,file] per word, seconds")
    parser.add_argument("--model", default=None, help="bundled model name or artifact folder")
    parser.add_argument("--threshold", type=number(float, 0.0, 1.0, open_lo=True), default=None,
                        help="override the model card's threshold")
    parser.add_argument("--tolerance-ms", type=number(float, 0.0, 10000.0), default=250.0,
                        help="slack on each side of a word's true span when matching an "
                             "event's span to it (250)")
    parser.add_argument("--events", action="store_true",
                        help="also list every event with its outcome")
    parser.add_argument("--json", action="store_true", help="scores as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from kwsapp.config import Config
    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.streaming.replay import evaluate
    from kwsapp.streaming.scoring import read_truth, repeat_pairs

    truth = read_truth(args.truth)
    recognizer = Recognizer.load(args.model)
    config = Config().with_card(recognizer.card.raw)
    if args.threshold is not None:
        config = replace(config, smoothing=replace(config.smoothing, threshold=args.threshold))
    score, _ = evaluate(args.wav, truth, recognizer, config, args.tolerance_ms)
    twice, pairs = repeat_pairs(truth, score.word_outcomes)
    summary = {"model": recognizer.card.name, "wav": args.wav, **score.summary(),
               "twice_fired": twice, "twice_pairs": pairs,
               "threshold": config.smoothing.threshold}
    if args.json:
        if args.events:
            summary["events"] = [
                {"label": e.label, "score": round(float(e.score), 4), "start": e.start,
                 "end": e.end, "emitted_at": e.emitted_at, "outcome": o}
                for e, o in zip(score.scored, score.outcomes)]
        print(json.dumps(summary))
        return 0
    if args.events:
        for e, o in zip(score.scored, score.outcomes):
            print(f"{e.emitted_at:9.3f}s  {e.label:6s} {e.score:.2f}  {o}")
    lat = score.latency_median_ms
    p95 = score.latency_p95_ms
    print(f"{recognizer.card.name}: {score.words} words in {score.duration_s / 60:.1f} min | "
          f"matched {score.matched_pct:.1f}%  wrong {score.wrong_pct:.1f}%  "
          f"missed {score.missed_pct:.1f}% | false activations {score.false_activations} "
          f"({score.fa_per_hour:.1f}/h), duplicates {score.duplicates} | latency median "
          + (f"{lat:.0f} ms, p95 {p95:.0f} ms" if lat is not None else "n/a")
          + (f" | said twice, fired twice: {twice}/{pairs}" if pairs else ""))
    return 0
