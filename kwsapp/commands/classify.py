"""``kwsapp classify FILE|DIR...``: label short clips, find commands in long files.

A clip up to ``Config.clip_max_ms`` gets its top label and every class
probability (one window, centred), and a note when it is shorter than
``Config.short_clip_ms`` and the model's window; every file, short or long, is also played
through the streaming engine (non-realtime :class:`FileSource`) for its
timeline of command events. The work is the runtime service
:mod:`kwsapp.inference.classify`; this module only formats its results. A folder
stands for the audio files in it (``-r``: in its subfolders too). One bad
file is reported and the rest are still classified; the exit code is then 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kwsapp.inference.classify import FileClassification

from kwsapp.commands.options import add_model_option, number

HELP = "classify audio files: top label + probabilities, or a timeline of commands"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE|DIR",
                        help="audio files (WAV of any width/rate/channels, FLAC, OGG), or "
                             "folders: the audio files in them")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="folders: their subfolders' audio files too")
    add_model_option(parser)
    parser.add_argument("--threshold", type=number(float, 0.0, 1.0, open_lo=True), default=None,
                        help="event threshold (default: the model card's)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")


def to_row(result: FileClassification) -> dict[str, Any]:
    """One file's ``--json`` row: file, duration, label, probs, events, the
    commands the second opinion did not confirm (``not_emitted``, each with
    what the recogniser ``heard``), and ``notes`` (e.g. a clip too short
    for its label to mean much)."""
    probs = result.probabilities()
    return {"file": result.path, "duration": round(result.duration_s, 4),
            "label": result.label,
            "probs": None if probs is None else {k: round(v, 6) for k, v in probs.items()},
            "events": [{"label": e.label, "score": round(e.score, 6),
                        "start": round(e.start, 3), "end": round(e.end, 3)}
                       for e in result.events],
            "not_emitted": [{"label": u.event.label, "score": round(u.event.score, 6),
                             "start": round(u.event.start, 3), "end": round(u.event.end, 3),
                             "heard": u.heard} for u in result.withheld],
            "notes": list(result.notes)}


def _print_text(row: dict[str, Any]) -> None:
    from kwsapp.inference.verifier import heard_as

    if "error" in row:
        print(f"{row['file']}: ERROR {row['error']}")
        return
    head = f"{row['file']} ({row['duration']:.2f} s)"
    if row["label"] is not None:
        top = sorted(row["probs"].items(), key=lambda kv: -kv[1])[:3]
        print(f"{head}: {row['label']}  (" + ", ".join(f"{k} {v:.2f}" for k, v in top) + ")")
    else:
        print(f"{head}: {len(row['events'])} command(s)")
    for note in row["notes"]:
        print(f"  note: {note}")
    for ev in row["events"]:
        print(f"  {ev['start']:8.2f} - {ev['end']:8.2f} s  {ev['label']:<8} {ev['score']:.2f}")
    for ev in row["not_emitted"]:
        print(f"  {ev['start']:8.2f} - {ev['end']:8.2f} s  ({ev['label']} {ev['score']:.2f} "
              f"not emitted: the second opinion heard {heard_as(ev['heard'])})")


def _error_row(path: str, problem: str) -> dict[str, Any]:
    return {"file": path, "duration": None, "label": None, "probs": None, "events": [],
            "not_emitted": [], "notes": [], "error": problem}


def inputs(given: list[str], recursive: bool) -> list[tuple[str, str | None]]:
    """``(path, problem)`` per file to classify: folders expanded into their
    audio files; a folder without any is one entry with its problem
    (:func:`kwsapp.audio.files.files_to_read`)."""
    from kwsapp.audio.files import NO_AUDIO, files_to_read

    return files_to_read(given, recursive,
                         NO_AUDIO + ("" if recursive else " (-r looks in subfolders)"))


def run(args: argparse.Namespace) -> int:
    from kwsapp.commands.progress import audio_progress
    from kwsapp.errors import AudioFileError
    from kwsapp.inference.classify import FileClassifier

    from kwsapp.config import Overrides

    classifier = FileClassifier.load(args.model, Overrides(threshold=args.threshold))
    todo = inputs(args.files, args.recursive)
    rows, failed, interrupted = [], 0, False
    try:
        for path, problem in todo:
            try:
                if problem is not None:
                    raise AudioFileError(path, problem)
                with audio_progress(path) as on_progress:
                    row = to_row(classifier.classify_file(path, on_progress))
            except AudioFileError as exc:
                failed += 1
                if args.json:  # in text mode the row itself says it
                    log.error("%s", exc)
                row = _error_row(path, exc.problem)
            rows.append(row)
            if not args.json:
                _print_text(row)
                sys.stdout.flush()
    except KeyboardInterrupt:
        # Ctrl-C: the files done are kept (--json printed nothing at all),
        # the file being classified and the rest are not; a second Ctrl-C
        # must not cut the output short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        interrupted = True
    if args.json:
        # Which weights the clips' labels and probabilities were judged with
        # (docs/contracts.md 2), as `evaluate --json` says it.
        weights = dict(classifier.recognizer.card.clip_weights or {})
        out: dict[str, Any] = {"clip_weights": weights, "files": rows}
        if interrupted:
            out["interrupted"] = True
        json.dump(out, sys.stdout, indent=2)
        print()
    if failed:
        print(f"kwsapp: {failed} of {len(rows)} file(s) could not be read", file=sys.stderr)
    if interrupted:
        print(f"kwsapp: interrupted: {len(rows)} of {len(todo)} file(s) classified, "
              f"{len(todo) - len(rows)} not", file=sys.stderr)
        return 130
    return 2 if failed else 0
