"""Choose the recogniser's levels (the card's ``verify``) from commands alone.

``python -m training.tune_verify --model assets/models/embed --stream
/tmp/s/val30-10`` replays a stream of the validation speakers' commands
(``kwsapp make-stream``) with the head alone, asks the recogniser
(kwsapp/inference/verifier.py) about every event that matched a command,
and sets each command's level at a low quantile of the log-probabilities
of those it did not hear outright: so about ``quantile`` % of them are
dropped. Other speech plays no part; what the levels do to it is measured
on the held-out streams (docs/streaming.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from kwsapp.config import VerifyConfig


def opinions(wav: Path, model: str, config_verify: VerifyConfig
             ) -> list[tuple[str, str, object]]:
    """``(label, outcome, opinion)`` for each event of the head alone on ``wav``
    (truth ``wav.csv``), the recogniser hearing what the engine would give it."""
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
                                     event.label)))
    return out


def levels(rows: list[tuple[str, str, object]], quantile: float) -> dict[str, float]:
    """Per command, the ``quantile`` % point of the matched events' log-
    probabilities among those the recogniser did not hear outright."""
    out = {}
    for label in sorted({r[0] for r in rows}):
        logps = [o.logp for lab, outcome, o in rows
                 if lab == label and outcome == "match" and not o.says]
        if logps:
            out[label] = round(float(np.percentile(logps, quantile)) - 0.05, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tune_verify", description=__doc__)
    parser.add_argument("--model", required=True, help="artifact folder whose card to write")
    parser.add_argument("--stream", required=True, type=Path,
                        help="NAME (NAME.wav and NAME.csv) of the validation speakers' commands")
    parser.add_argument("--quantile", type=float, default=2.0,
                        help="%% of the matched commands not heard outright to drop (2)")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the card")
    args = parser.parse_args(argv)
    from kwsapp.inference.verifier import MODEL_NAME, accepts

    base = VerifyConfig()
    wav = args.stream.with_suffix(".wav")
    rows = opinions(wav, args.model, base)
    chosen = levels(rows, args.quantile)
    matched = [(lab, o) for lab, outcome, o in rows if outcome == "match"]
    kept = sum(accepts(o, chosen.get(lab)) for lab, o in matched)
    verify = {"model": MODEL_NAME, "levels": chosen, "before_ms": base.before_ms,
              "after_ms": base.after_ms,
              "tuning": {"tool": "python -m training.tune_verify", "stream": str(wav),
                         "quantile": args.quantile, "date": datetime.date.today().isoformat(),
                         "matched_events": len(matched), "kept": kept}}
    print(json.dumps(verify, indent=2))
    if not args.dry_run:
        card_path = Path(args.model) / "card.json"
        card = json.loads(card_path.read_text())
        card["verify"] = verify
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
