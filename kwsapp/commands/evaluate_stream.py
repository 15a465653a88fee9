"""`kwsapp evaluate-stream`: replay a stream through the live engine and score
its commands against the truth CSV (matching rule in kwsapp/streaming/scoring.py)."""

from __future__ import annotations

import argparse
from typing import Any, Sequence

from kwsapp.commands.options import add_model_option, number

HELP = ("replay a WAV through the live engine and score its commands against a truth CSV: "
        "matched/wrong/missed %, false activations per hour (in total and per source "
        "word, worst recordings), latency; 95 % intervals of matched % and false "
        "activations per hour")

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wav", metavar="NAME.wav", help="the stream (e.g. from make-stream)")
    parser.add_argument("--truth", required=True, metavar="NAME.csv",
                        help="label,start,end[,file,word] per word, seconds")
    add_model_option(parser)
    parser.add_argument("--threshold", type=number(float, 0.0, 1.0, open_lo=True), default=None,
                        help="override the model card's threshold")
    parser.add_argument("--tolerance-ms", type=number(float, 0.0, 10000.0), default=250.0,
                        help="slack on each side of a word's true span when matching an "
                             "event's span to it (250)")
    parser.add_argument("--no-verify", action="store_true",
                        help="commands on the head alone, without the speech recogniser's "
                             "second opinion the card asks for")
    parser.add_argument("--events", action="store_true",
                        help="also list every event with its outcome")
    parser.add_argument("--worst", type=int, default=10, metavar="N",
                        help="list the N recordings that fired most (default 10; 0: none)")
    parser.add_argument("--json", action="store_true", help="scores as JSON on stdout")


def truth_labels(model_labels: Sequence[str]) -> tuple[str, ...]:
    """The labels a truth row may have: the model's, the bundled commands
    (make-stream writes all ten) and the other-sound labels (``unknown``,
    ``_unknown_``, ...)."""
    from kwsapp import LABELS
    from kwsapp.streaming.scoring import NON_COMMANDS

    return tuple(dict.fromkeys([*model_labels, *LABELS, *sorted(NON_COMMANDS)]))


def refuse_user_words(truth_file: str, truth: Sequence[Any], labels: Sequence[str]) -> None:
    """A row of a user word's name would be scored as a missed command: the
    replay runs the model alone. Refused, saying so (not "unknown label")."""
    from kwsapp.errors import BadInputError
    from kwsapp.userwords.store import list_words

    users = sorted({w.label for w in truth} & {w.name for w in list_words()} - set(labels))
    if users:
        raise BadInputError(f"{truth_file}: {users[0]!r} is a user word: evaluate-stream "
                            "scores the model's own labels (user words are not run on a "
                            "stream); leave its rows out")


def run(args: argparse.Namespace) -> int:
    import json

    from kwsapp.audio.io import audio_info
    from kwsapp.streaming.replay import evaluate, model_and_config, to_events
    from kwsapp.errors import BadInputError
    from kwsapp.inference.verifier import heard_as
    from kwsapp.streaming.scoring import (false_activations, read_truth, stream_summary,
                                          withheld_outcomes)

    if args.worst < 0:
        raise BadInputError(f"--worst must be 0 or more, not {args.worst}")
    rows = read_truth(args.truth)  # its form first: a bad file is refused before the model loads
    recognizer, config = model_and_config(args.model, args.threshold,
                                          False if args.no_verify else None)
    labels = truth_labels(recognizer.labels)
    refuse_user_words(args.truth, rows, labels)
    # A row past the stream's end, or of a label no model has
    # (a typo: "YES"), would be scored as a missed word: refused instead.
    truth = read_truth(args.truth, audio_info(args.wav)[2], labels)
    from kwsapp.commands.progress import audio_progress

    with audio_progress(args.wav) as on_progress:
        score, run_ = evaluate(args.wav, truth, recognizer, config, args.tolerance_ms,
                               on_progress)
    fa = false_activations(truth, score, args.tolerance_ms)
    by_word, worst = fa.by_word(), fa.worst_files(args.worst)
    # The second opinion's drops, scored as if they had fired: commands it
    # cost and false activations it saved.
    withheld = sorted(run_.extra.get("unconfirmed", []),
                      key=lambda u: (u.event.emitted_at, u.event.start))
    w_out = withheld_outcomes(score, to_events([u.event for u in withheld]), args.tolerance_ms)
    summary = {"model": recognizer.card.name, "wav": args.wav, **stream_summary(score, truth),
               "threshold": config.smoothing.threshold,
               "thresholds": config.smoothing.class_thresholds(),
               "verify": config.verify.active, "unverified": run_.extra.get("unverified", 0),
               "unverified_outcomes": {k: w_out.count(k)
                                       for k in ("match", "duplicate", "wrong", "false")},
               "false_by_word": by_word, "worst_files": worst}
    if args.json:
        if args.events:
            summary["events"] = [
                {"label": e.label, "score": round(float(e.score), 4), "start": e.start,
                 "end": e.end, "emitted_at": e.emitted_at, "outcome": o}
                for e, o in zip(score.scored, score.outcomes)]
            summary["unverified_events"] = [
                {"label": u.event.label, "score": round(float(u.event.score), 4),
                 "start": u.event.start, "end": u.event.end, "emitted_at": u.event.emitted_at,
                 "outcome": o, "heard": u.heard, "logp": round(u.logp, 2),
                 "level": round(u.level, 2)} for u, o in zip(withheld, w_out)]
        print(json.dumps(summary))
        return 0
    if args.events:
        for e, o in zip(score.scored, score.outcomes):
            print(f"{e.emitted_at:9.3f}s  {e.label:6s} {e.score:.2f}  {o}")
        for u, o in zip(withheld, w_out):
            print(f"{u.event.emitted_at:9.3f}s  {u.event.label:6s} {u.event.score:.2f}  "
                  f"not emitted ({o} if fired): the recogniser heard {heard_as(u.heard)} "
                  f"(log p {u.logp:.1f} < {u.level:.1f})")
    lat = score.latency_median_ms
    p95 = score.latency_p95_ms
    fa_lo, fa_hi = score.fa_per_hour_ci
    fas = (f"false activations {score.false_activations} ({score.fa_per_hour:.1f}/h, "
           f"95 % {fa_lo:.1f}-{fa_hi:.1f})")
    m_lo, m_hi = score.matched_ci_pct
    minutes = score.duration_s / 60
    if score.words == 0:  # other speech only (make-stream --negatives)
        print(f"{recognizer.card.name}: no command words, {sum(fa.said.values())} other "
              f"words in {minutes:.1f} min | {fas}")
    else:
        print(f"{recognizer.card.name}: {score.words} words in {minutes:.1f} min | "
              f"matched {score.matched_pct:.1f}% (95 % {m_lo:.1f}-{m_hi:.1f})  wrong {score.wrong_pct:.1f}%  "
              f"missed {score.missed_pct:.1f}% | {fas}, duplicates {score.duplicates} | "
              "latency median "
              + (f"{lat:.0f} ms, p95 {p95:.0f} ms" if lat is not None else "n/a")
              + (f" | said twice, fired twice: {summary['twice_fired']}/{summary['twice_pairs']}"
                 if summary["twice_pairs"] else ""))
    if config.verify.active:
        n = summary["unverified_outcomes"]
        print(f"second opinion: {len(withheld)} command(s) not emitted: {n['match']} on "
              f"command words (lost), {n['false']} false activation(s) avoided, "
              f"{n['wrong']} wrong, {n['duplicate']} duplicate(s)")
    if fa.said or fa.sources:
        print(_by_word_table(by_word))
    if worst:
        print(_worst_table(worst))
    return 0


def _labels(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _by_word_table(rows: list[dict]) -> str:
    """False activations per source word (None: noise or a pause)."""
    out = ["false activations by source word (fired on / times said; commands fired):"]
    for r in rows:
        word = "(no word)" if r["word"] is None else r["word"]
        fired = f"{r['utterances_fired']}/{r['said']}" if r["said"] else "-"
        out.append(f"  {word:<16} {r['false_activations']:5d} ({r['per_hour']:7.1f}/h)  "
                   f"{fired:>9}  {_labels(r['labels'])}".rstrip())
    return "\n".join(out)


def _worst_table(rows: list[dict]) -> str:
    out = [f"worst recordings ({len(rows)}):"]
    for r in rows:
        out.append(f"  {r['false_activations']:4d}  {r['file']}  ({r['word']}, said "
                   f"{r['said']}x)  {_labels(r['labels'])}")
    return "\n".join(out)
