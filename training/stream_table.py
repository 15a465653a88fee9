"""README's "Streaming accuracy" tables in one command.

Builds every stream the README measures on (each once: a stream whose WAV
and truth CSV are already in ``--work`` is reused; same seeds and settings
as the README's ``kwsapp make-stream`` lines, so the same audio), replays
each through the live engine with the model's card (what ``kwsapp
evaluate-stream`` does) and prints both tables with 95 % intervals.

Rows of words a model never trained on come from rotations, the same recipe
trained without those words (``python -m training.make_models --out
/tmp/heldout --only embed --leave-out alexa snowboy --live-defaults-from
assets/models``)::

    python -m training.stream_table --data ../shared/data --work /tmp/s \\
        --heldout alexa,snowboy=/tmp/heldout/embed \\
        --heldout smart_mirror=/tmp/heldout-sm/embed [--json OUT]

The data set's other words are held out in three groups
(:data:`WORD_GROUPS`), one rotation each: ``--leave-out backward cat five
four learn one six two zero`` and ``--heldout
backward,cat,five,four,learn,one,six,two,zero=/tmp/words1/embed`` (the
README lists all three).

Without ``--heldout`` those rows are left out (the trained-on row stays).
About four hours of audio: a few minutes on 2 cores, plus the
streams' first build.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from kwsapp.atomic import write_atomic
from kwsapp.streaming.synth import NEGATIVE_GAP_S, StreamSpec

SUBSET = "speech_commands_subset"
#: The TTS voices no model trains on (training/negatives/tts.py VOICES).
HELDOUT_TTS_VOICES = ("espeak-en-gb-x-gbcwmd-m4", "espeak-en-gb-x-gbcwmd-f1", "flite-rms",
                      "festival-ked")


@dataclass(frozen=True)
class Stream:
    """One README stream: its file name, what it holds, how it is built."""

    name: str
    kind: str  # "commands" (matched % row) or "other" (false activations row)
    title: str
    spec: StreamSpec
    #: the words it says, for rotation rows: a rotation trained without all
    #: of them is measured on it too (``--heldout``)
    words: tuple[str, ...] = ()


#: The data set's other words (the subset's ``_unknown_`` and
#: ``speech_commands_extra``) in three groups, every third word in
#: alphabetical order: a rotation trained without one group (``make_models
#: --leave-out``) is measured on real words and voices it never heard, the
#: kind of other speech a user meets, where "alexa" is one word.
WORD_GROUPS: tuple[tuple[str, ...], ...] = (
    ("backward", "cat", "five", "four", "learn", "one", "six", "two", "zero"),
    ("bed", "dog", "follow", "happy", "marvin", "seven", "three", "visual"),
    ("bird", "eight", "forward", "house", "nine", "sheila", "tree", "wow"),
)


def _negatives(*folders: str, minutes: float, seed: int,
               words: tuple[str, ...] = ()) -> StreamSpec:
    return StreamSpec(minutes=minutes, snr_db=10.0, seed=seed, commands=False,
                      gap_s=NEGATIVE_GAP_S, negatives=folders, words=words)


def streams(data: Path, tts_root: Path) -> list[Stream]:
    """Every stream of README's tables (folders under ``data``; the held-out
    TTS voices' clips under ``tts_root``)."""
    sub = data / SUBSET
    out = [Stream(f"val-{snr}", "commands", f"validation, {snr} dB",
                  StreamSpec(minutes=10, snr_db=float(snr), seed=seed))
           for snr, seed in ((20, 400), (10, 401), (5, 402))]
    # Three times the words at the must's SNR: a firmer matched share (the
    # 10-minute stream's 95 % interval is 10 points wide).
    out.append(Stream("val30-10", "commands", "validation, 10 dB, 30 minutes",
                      StreamSpec(minutes=30, snr_db=10.0, seed=411)))
    out.append(Stream("valnc60-10", "other",
                      "validation speakers' unknown words, the no-command hour",
                      StreamSpec(minutes=60, snr_db=10.0, seed=300, commands=False)))
    out.append(Stream("valother-10", "other",
                      "validation speakers' other words, each recording about twice",
                      _negatives(str(sub / "_unknown_"), str(data / "speech_commands_extra"),
                                 minutes=6, seed=500)))
    for word, seed in (("alexa", 11), ("snowboy", 13), ("smart_mirror", 11)):
        out.append(Stream(f"ww-{word}" + ("-13" if word == "snowboy" else ""), "other",
                          f'"{word.replace("_", " ")}", trained on',
                          _negatives(str(data / "wake_words" / word), minutes=15, seed=seed),
                          words=(word,)))
    tts = tuple(str(tts_root / v) for v in HELDOUT_TTS_VOICES)
    out.append(Stream("tts-heldout", "other", "TTS voices and words never trained on",
                      _negatives(*tts, minutes=15, seed=12)))
    # Three times as long (each "alexa" recording about 4 times, every
    # held-out TTS clip about once): 8-11 false activations in 15 minutes
    # are too few to tell two recipes apart (docs/streaming.md).
    out.append(Stream("ww-alexa-45min", "other", '"alexa", trained on, 45 minutes',
                      _negatives(str(data / "wake_words" / "alexa"), minutes=45, seed=11),
                      words=("alexa",)))
    out.append(Stream("tts-heldout-45min", "other",
                      "TTS voices and words never trained on, 45 minutes",
                      _negatives(*tts, minutes=45, seed=12)))
    for k, group in enumerate(WORD_GROUPS, 1):
        out.append(Stream(f"words{k}-10", "other",
                          f"the data set's other words {', '.join(group)}: validation "
                          "speakers, trained on",
                          _negatives(str(sub / "_unknown_"), str(data / "speech_commands_extra"),
                                     minutes=15, seed=20 + k, words=group),
                          words=group))
    return out


def build(stream: Stream, data: Path, work: Path) -> tuple[Path, Path]:
    """The stream's WAV and truth CSV in ``work`` (built unless both exist)."""
    from kwsapp.streaming.synth import make_stream, write_stream

    wav, csv = work / f"{stream.name}.wav", work / f"{stream.name}.csv"
    if not (wav.is_file() and csv.is_file()):
        work.mkdir(parents=True, exist_ok=True)
        audio, truth = make_stream(data / SUBSET, stream.spec)
        write_stream(work / stream.name, audio, truth)
    return wav, csv


def measure(wav: Path, csv: Path, model: str, threshold: float | None = None,
            near: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``kwsapp evaluate-stream --json``'s summary of one stream; with
    ``near`` (:func:`near_miss_files`), also ``near_misses``
    (:func:`near_miss_counts`)."""
    from kwsapp.streaming.replay import evaluate, model_and_config
    from kwsapp.streaming.scoring import (NON_COMMANDS, false_activations, read_truth,
                                          stream_summary)

    truth = read_truth(csv)
    recognizer, config = model_and_config(model, threshold)
    score, _ = evaluate(str(wav), truth, recognizer, config)
    out = {"stream": wav.stem, "model": str(model), "threshold": config.smoothing.threshold,
           **stream_summary(score, truth),
           "other_words": sum(w.label in NON_COMMANDS for w in truth)}
    if near:
        out["near_misses"] = near_miss_counts(truth, false_activations(truth, score).sources,
                                              near)
    return out


def near_miss_files() -> frozenset[str]:
    """``voice/file`` names (as the TTS streams' truth gives them) of the
    held-out TTS clips that are curated near-misses of a command ("cleft",
    "goes"): the TTS streams' hardest words, reported apart."""
    from training.negatives.tts import plan

    return frozenset(f"{u.voice.id}/{u.filename}" for u in plan("heldout") if u.kind == "near")


def near_miss_counts(truth: Sequence[Any], sources: Sequence[tuple[Any, Any]],
                     near: frozenset[str]) -> dict[str, int]:
    """Utterances of ``near`` files in the stream (``said``) and the false
    activations that lie on them (``sources``: event and the truth row it
    lies on, or None)."""
    return {"said": sum(w.file in near for w in truth),
            "false_activations": sum(row is not None and row.file in near
                                     for _, row in sources)}


def _ci(lo_hi: Sequence[float], digits: int = 1) -> str:
    return f"{lo_hi[0]:.{digits}f}-{lo_hi[1]:.{digits}f}"


def command_row(title: str, r: dict[str, Any]) -> str:
    lat = r["latency_median_ms"]
    p95 = r["latency_p95_ms"]
    latency = "n/a" if lat is None else f"{lat:.0f} / {p95:.0f}"
    return (f"| {title} | {r['words']} | {r['matched_pct']:.1f} ({_ci(r['matched_pct_ci95'])}) "
            f"| {r['wrong_pct']:.1f} | {r['missed_pct']:.1f} | {r['fa_per_hour']:.0f} "
            f"({_ci(r['fa_per_hour_ci95'], 0)}) | {latency} "
            f"| {r['twice_fired']}/{r['twice_pairs']} |")


def other_row(title: str, r: dict[str, Any], model: str) -> str:
    near = r.get("near_misses")
    count = str(r["false_activations"]) + (
        f" ({near['false_activations']} on the {near['said']} near-misses)" if near else "")
    return (f"| {title} | {r['other_words']} | **{r['fa_per_hour']:.0f}** "
            f"({_ci(r['fa_per_hour_ci95'], 0)})"
            f" | {count} | {model} |")


def tables(rows: list[tuple[Stream, str, dict[str, Any]]]) -> str:
    """Both markdown tables from ``(stream, model label, summary)`` rows."""
    out = ["| stream (commands; 10 minutes unless said) | words | matched % (95 %) | wrong % "
           "| missed % | FA/h (95 %) | latency median / p95 ms | said twice, fired twice |",
           "|---|---|---|---|---|---|---|---|"]
    out += [command_row(s.title, r) for s, _, r in rows if s.kind == "commands"]
    out += ["", "| other speech, 10 dB | words | false activations / h (95 %) | count "
            "| model |", "|---|---|---|---|---|"]
    out += [other_row(s.title, r, m) for s, m, r in rows if s.kind == "other"]
    return "\n".join(out)


def _heldout(text: str) -> tuple[tuple[str, ...], str]:
    words, sep, path = text.partition("=")
    if not sep or not words or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not WORD[,WORD...]=ARTIFACT_DIR")
    return tuple(w.strip().replace(" ", "_") for w in words.split(",")), path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.stream_table",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the shared data folder")
    parser.add_argument("--work", default="/tmp/s", help="where the streams are built / kept")
    parser.add_argument("--model", default="embed", help="bundled model name or artifact")
    parser.add_argument("--heldout", type=_heldout, action="append", default=[],
                        metavar="WORDS=DIR", help="a rotation trained without these "
                        "words (alexa,snowboy=/tmp/heldout/embed; a word group of the "
                        "data set: all its words); repeatable")
    parser.add_argument("--threshold", type=float, default=None,
                        help="override the cards' threshold")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="just these streams (val-10, ww-alexa, ...)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="every stream this long (a quick look; not README's figures)")
    parser.add_argument("--json", metavar="OUT", help="also write every summary here")
    args = parser.parse_args(argv)

    from kwsapp.errors import BadInputError
    from kwsapp.cache import cache_dir

    data, work = Path(args.data), Path(args.work)
    if not (data / SUBSET).is_dir():
        raise BadInputError(f"{data / SUBSET}: no such folder (--data is the shared data folder)")
    tts_root = cache_dir() / "tts-negatives-v1"
    chosen = [s for s in streams(data, tts_root) if args.only is None or s.name in args.only]
    if args.only and len(chosen) != len(set(args.only)):
        known = ", ".join(s.name for s in streams(data, tts_root))
        raise BadInputError(f"--only: unknown stream among {args.only} (known: {known})")
    if args.minutes is not None:
        chosen = [replace(s, name=f"{s.name}-{args.minutes:g}min",
                          spec=replace(s.spec, minutes=args.minutes)) for s in chosen]
    near = frozenset()
    if any(s.name.startswith("tts-heldout") for s in chosen):
        from training.negatives.tts import tts_negatives

        tts_negatives(split="heldout")  # renders the held-out clips on first use
        near = near_miss_files()
    rows = []
    for stream in chosen:
        wav, csv = build(stream, data, work)
        rows.append((stream, args.model, measure(
            wav, csv, args.model, args.threshold,
            near if stream.name.startswith("tts-heldout") else frozenset())))
        for words, path in args.heldout:
            if stream.words and set(stream.words) <= set(words):
                held = replace(stream, title=stream.title.replace("trained on",
                                                                  "never trained on"))
                rows.append((held, path, measure(wav, csv, path, args.threshold)))
        print(f"measured {stream.name}", file=sys.stderr, flush=True)
    print(tables(rows))
    if args.json:
        write_atomic(args.json, json.dumps([r for _, _, r in rows], indent=1).encode())
    return 0


if __name__ == "__main__":
    from kwsapp.errors import KwsError

    try:
        sys.exit(main())
    except KwsError as exc:  # a bad folder or stream name: one line, exit 2
        print(f"python -m training.stream_table: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
