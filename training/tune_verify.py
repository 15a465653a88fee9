"""Choose the recogniser's levels (the card's ``verify``) from commands alone.

``python -m training.tune_verify --model assets/models/embed --stream
/tmp/s/tst30-10 /tmp/s/tst30-20`` replays streams of commands (``kwsapp
make-stream``; the bundled card's are the test speakers', so that every
stream of the validation speakers measures the levels out of sample) with
the head alone, asks the recogniser (kwsapp/inference/verifier.py) about
every event that matched a command, and sets each command's level at a low
quantile of the log-probabilities of those it did not hear outright, each
first moved by the head's score as the engine moves the level
(``score_weight``): so about ``quantile`` % of them are dropped. Then
``other_word_margin``, what a transcription of another word must clear
beyond the level: the largest in steps of 0.5 that drops at most
``--other-word-budget`` % more of the matched commands. Other speech plays
no part; what the levels do to it is measured on the held-out streams
(docs/streaming.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from kwsapp.atomic import write_json_atomic
from kwsapp.config import VerifyConfig


def opinions(wav: Path, model: str, config_verify: VerifyConfig
             ) -> list[tuple[str, str, object, float]]:
    """``(label, outcome, opinion, score)`` for each event of the head alone
    on ``wav`` (truth ``wav.csv``), the recogniser hearing what the engine
    would give it; ``score`` the head's."""
    import soundfile as sf

    from kwsapp.inference.verifier import Verifier, heard_span
    from kwsapp.streaming.replay import evaluate, model_and_config
    from kwsapp.streaming.scoring import read_truth

    recognizer, config = model_and_config(model, verify=False)
    score, _ = evaluate(wav, read_truth(wav.with_suffix(".csv")), recognizer, config)
    audio, rate = sf.read(wav, dtype="float32")
    verifier = Verifier()
    out = []
    for event, outcome in zip(score.scored, score.outcomes):
        # A replay decides when the window is complete, and emits then.
        lo, hi = heard_span(event.end, event.emitted_at, config_verify.before_ms,
                            config_verify.after_ms)
        out.append((event.label, outcome,
                    verifier.opinion(audio[int(round(lo * rate)):int(round(hi * rate))],
                                     event.label), float(event.score)))
    return out


def levels(rows: list[tuple[str, str, object, float]], quantile: float,
           config: VerifyConfig = VerifyConfig()) -> dict[str, float]:
    """Per command, the ``quantile`` % point of the matched events' log-
    probabilities, each raised by the head's score as the engine does
    (``config.score_weight`` x (score - ``score_pivot``)), among those the
    recogniser did not hear outright: the level that, moved by the score,
    drops that share of them."""
    out = {}
    for label in sorted({r[0] for r in rows}):
        moved = [o.logp + config.score_weight * (score - config.score_pivot)
                 for lab, outcome, o, score in rows
                 if lab == label and outcome == "match" and not o.says]
        if moved:
            out[label] = round(float(np.percentile(moved, quantile)) - 0.05, 1)
    return out


def kept(rows: list[tuple[str, str, object, float]], config: VerifyConfig,
         margin: float = 0.0) -> int:
    """How many of the matched events ``config``'s levels, with ``margin``
    for a transcription of another word, let stand."""
    from kwsapp.inference.verifier import accepts

    return sum(accepts(o, config.level(lab, score), margin)
               for lab, outcome, o, score in rows if outcome == "match")


def other_word_margin(rows: list[tuple[str, str, object, float]], config: VerifyConfig,
                      budget_pct: float, step: float = 0.5, most: float = 10.0) -> float:
    """The largest margin (a multiple of ``step``, up to ``most``) by which a
    transcription of another word must clear ``config``'s levels so that at
    most ``budget_pct`` % of the matched events are dropped beyond those
    the levels drop alone."""
    matched = sum(outcome == "match" for _, outcome, _, _ in rows)
    floor = kept(rows, config) - budget_pct / 100.0 * matched
    best = 0.0
    for k in range(1, int(round(most / step)) + 1):
        if kept(rows, config, k * step) < floor:
            break
        best = k * step
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tune_verify", description=__doc__)
    parser.add_argument("--model", required=True, help="artifact folder whose card to write")
    parser.add_argument("--stream", required=True, type=Path, nargs="+",
                        help="NAME (NAME.wav and NAME.csv) of a stream of commands; several "
                             "are pooled")
    parser.add_argument("--quantile", type=float, default=4.0,
                        help="%% of the matched commands not heard outright to drop (4)")
    parser.add_argument("--score-weight", type=float, default=20.0,
                        help="how far the head's score moves a level (20; 0: not at all)")
    parser.add_argument("--other-word-budget", type=float, default=0.5,
                        help="%% more of the matched commands a transcription of another "
                             "word may drop (0.5; 0: no margin)")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the card")
    args = parser.parse_args(argv)
    from kwsapp.inference.verifier import MODEL_NAME

    base = VerifyConfig(score_weight=args.score_weight)
    wavs = [stream.with_suffix(".wav") for stream in args.stream]
    rows = [row for wav in wavs for row in opinions(wav, args.model, base)]
    chosen = levels(rows, args.quantile, base)
    tuned = replace(base, levels=tuple(chosen.items()))
    margin = other_word_margin(rows, tuned, args.other_word_budget)
    matched = sum(outcome == "match" for _, outcome, _, _ in rows)
    verify = {"model": MODEL_NAME, "levels": chosen, "before_ms": base.before_ms,
              "after_ms": base.after_ms, "score_weight": base.score_weight,
              "score_pivot": base.score_pivot, "other_word_margin": margin,
              "tuning": {"tool": "python -m training.tune_verify",
                         "streams": [str(wav) for wav in wavs],
                         "quantile": args.quantile,
                         "other_word_budget": args.other_word_budget,
                         "date": datetime.date.today().isoformat(),
                         "matched_events": matched, "kept": kept(rows, tuned, margin)}}
    print(json.dumps(verify, indent=2))
    if not args.dry_run:
        card_path = Path(args.model) / "card.json"
        card = json.loads(card_path.read_text())
        card["verify"] = verify
        write_json_atomic(card_path, card)  # a crash never leaves half a card
        print(f"wrote {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
