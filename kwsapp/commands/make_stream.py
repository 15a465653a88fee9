"""`kwsapp make-stream`: a test stream (WAV + truth CSV) from labelled clips,
or (``--negatives``) a dense stream of other speech from any folders of audio."""

from __future__ import annotations

import argparse

from kwsapp.commands.options import number, writable_file

HELP = ("build a test stream: words of held-out speakers at random gaps over "
        "background noise -> NAME.wav + NAME.csv (label,start,end,file,word)")

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", metavar="DATA_DIR",
                        help="Speech Commands folder (<label>/*.wav, _background_noise_/); "
                             "with --negatives only its background noise is used")
    parser.add_argument("--out", required=True, metavar="NAME",
                        help="writes NAME.wav and NAME.csv")
    parser.add_argument("--minutes", type=number(float, 0.0, 24 * 60.0, open_lo=True),
                        default=5.0, help="stream length (default 5)")
    # Either: an SNR asked for with no noise would be silently ignored.
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("--snr-db", type=number(float, -30.0, 100.0), default=10.0,
                       help="speech-to-noise ratio in dB (default 10)")
    noise.add_argument("--no-noise", action="store_true", help="no background noise bed")
    parser.add_argument("--seed", type=number(int, 0), default=0, help="random seed (default 0)")
    parser.add_argument("--speakers", default="validation",
                        help="speaker sets of the split, comma-separated: validation, "
                             "test (default validation; never train)")
    parser.add_argument("--no-commands", action="store_true",
                        help="no command words: noise, pauses and unknown words only "
                             "(measures false activations)")
    parser.add_argument("--negatives", nargs="+", metavar="DIR",
                        help="other speech only, dense like a conversation or a TV: "
                             "recordings (WAV/FLAC/OGG, any length, any depth) from these "
                             "folders; the word is the folder name (Speech Commands "
                             "_unknown_: the file-name prefix); command words and "
                             "training speakers' clips are left out")
    parser.add_argument("--words", nargs="+", metavar="WORD",
                        help="with --negatives: only recordings of these words (e.g. the "
                             "words a model was trained without: make_models --leave-out)")
    parser.add_argument("--gaps", nargs=2, type=number(float, 0.0, 3600.0), metavar=("MIN", "MAX"),
                        help="pause between words in seconds, uniform (default 1 3; "
                             "with --negatives 0.2 1.5)")
    parser.add_argument("--json", action="store_true", help="summary as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from collections import Counter
    from pathlib import Path

    from kwsapp.audio.files import scan_audio
    from kwsapp.errors import AudioFileError, BadInputError
    from kwsapp.streaming.synth import (NEGATIVE_GAP_S, StreamSpec, make_stream, stream_paths,
                                        write_stream)

    speakers = tuple(s.strip() for s in args.speakers.split(",") if s.strip())
    bad = [s for s in speakers if s not in ("validation", "test")]
    if bad or not speakers:
        raise BadInputError(f"--speakers: {','.join(bad) or 'nothing'} not allowed; use "
                            "validation and/or test (training speakers never go in a "
                            "test stream)")
    if args.words and not args.negatives:
        raise BadInputError("--words: only with --negatives (the other speech to choose from)")
    if args.gaps is not None and not 0 <= args.gaps[0] <= args.gaps[1]:
        raise BadInputError(f"--gaps: need 0 <= MIN <= MAX, not {args.gaps[0]} {args.gaps[1]}")
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        raise BadInputError(f"{data_dir}: no such folder")
    unreadable = scan_audio(data_dir)[1]
    if unreadable:  # was a PermissionError traceback
        raise BadInputError(f"{data_dir}: {unreadable[0][1]}")
    wav, csv = stream_paths(args.out)  # it checked NAME.wav.wav for --out NAME.wav
    for path in (wav, csv):  # NAME.csv a folder was a traceback after the work
        writable_file(path, "--out")
    refuse_to_replace(wav, csv)
    negatives = tuple(args.negatives or ())
    gaps = tuple(args.gaps) if args.gaps else (NEGATIVE_GAP_S if negatives else StreamSpec.gap_s)
    spec = StreamSpec(minutes=args.minutes, snr_db=None if args.no_noise else args.snr_db,
                      seed=args.seed, speakers=speakers,
                      commands=not (args.no_commands or negatives), gap_s=gaps,
                      negatives=negatives,
                      words=tuple(w.replace("_", " ").lower() for w in args.words or ()))
    skipped: list[AudioFileError] = []  # logged by name as they are met
    audio, truth = make_stream(data_dir, spec, skipped.append)
    wav, csv = write_stream(args.out, audio, truth)
    commands = sum(w.label != "unknown" for w in truth)
    words = Counter(w.word for w in truth if w.label == "unknown")
    summary = {"wav": str(wav), "truth": str(csv), "seconds": len(audio) / 16000.0,
               "commands": commands, "unknown": len(truth) - commands,
               "snr_db": spec.snr_db, "seed": spec.seed, "speakers": list(speakers),
               "gaps_s": list(gaps), "negatives": list(negatives), "only_words": list(spec.words),
               "words": dict(sorted(words.items())),
               "unreadable": [e.path for e in skipped]}
    if args.json:
        print(json.dumps(summary))
    else:
        noise = "no noise" if spec.snr_db is None else f"SNR {spec.snr_db} dB"
        print(f"{wav}: {summary['seconds']:.0f} s, {commands} commands, "
              f"{summary['unknown']} unknown words, {noise}; truth in {csv}")
        if negatives:
            print("other words: " + ", ".join(f"{w} {n}" for w, n in words.most_common()))
    if skipped:  # the stream is written without them, but it is not what was asked
        print(f"kwsapp: {len(skipped)} file(s) could not be read (skipped); the stream was "
              "made without them", file=sys.stderr)
    return 2 if skipped else 0


def refuse_to_replace(wav, csv) -> None:
    """An earlier stream (its truth CSV beside it) is replaced; a WAV or CSV
    of NAME that is not one (a recording of the user's) is refused: it was
    overwritten without a word."""
    from kwsapp.errors import BadInputError
    from kwsapp.streaming.scoring import TRUTH_COLUMNS

    if not wav.exists() and not csv.exists():
        return
    try:
        with open(csv, encoding="utf-8") as f:
            header = f.readline().strip()
    except (OSError, UnicodeDecodeError):
        header = ""
    if header.split(",")[:3] == list(TRUTH_COLUMNS[:3]):
        return
    if csv.exists():
        problem = f"{csv} exists and is not a truth CSV make-stream wrote"
    else:
        problem = (f"{wav} exists without a truth CSV beside it ({csv.name}): not a stream "
                   "make-stream wrote")
    raise BadInputError(f"--out: {problem}; remove it or pick another --out")
