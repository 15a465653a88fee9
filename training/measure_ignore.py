"""Words to ignore taught from their own false activations (README "Words
to ignore").

What "Ignore this word…" in the live history does, replayed on files: a
rotation trained without the word (``make_models --leave-out``) runs over
the README's dense 15-minute stream of the word (10 dB; ``alexa`` seed 11,
``snowboy`` seed 13); the audio of its first ``--takes`` false activations
(the heard span with 0.3 s each side, each from a different recording) is
taken as the takes, and the word enrolled as a word to ignore under a name
the pool does not know it by (``--name``, default "the tv"), or with the
same recordings' clean files as takes for comparison. Reported: the
commands' false activations on the rest of that stream and on two more
streams of the word's other recordings (seeds 21 and 31, the takes' files
left out), and the commands matched (and their median latency) on the
README's 10 and 5 dB validation streams, without and with the word::

    python -m training.measure_ignore --model /tmp/r/mine0a045/embed --word alexa \\
        [--takes 3] [--work /tmp/s] [--json OUT]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the 2 cores are shared

import argparse  # noqa: E402
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.audio.io import load_audio
from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig
from kwsapp.streaming.synth import NEGATIVE_GAP_S, StreamSpec, make_stream
from kwsapp.streaming.scoring import TruthWord
from training.measure_words import log_stderr, report, run_engine, score

#: The README stream's seed for each word (training/stream_table.py), and
#: the two more streams measured on.
SEEDS = {"alexa": 11, "snowboy": 13}
MORE_SEEDS = (21, 31)
#: Audio kept each side of a heard span (kwsapp/gui/live.py LiveSession.heard).
PAD_S = 0.3
COMMANDS = set(COMMAND_LABELS)


def fa_takes(audio: np.ndarray, truth: list[TruthWord], events: list[Any], n: int,
             root: Path, config: UserWordsConfig) -> tuple[list[Any], list[Any], list[str], float]:
    """``(takes, clean_takes, files, cut_s)``: the first ``n`` false
    activations' audio as takes (one per recording), the same recordings'
    files, their names, and the stream time after the last of them. A take
    enrol would refuse, alone or beside the others (much longer or shorter
    than they are), is passed over, as a user would drop it."""
    from kwsapp.userwords.takes import BadTakeError, check_take

    takes, clean, files = [], [], []
    for e in events:
        mid = (e.start + e.end) / 2  # the recording it came from: around its middle
        rows = [t for t in truth if t.start - PAD_S <= mid <= t.end + PAD_S]
        if not rows or rows[0].file in files:
            continue
        lo = max(0, int((e.start - PAD_S) * SAMPLE_RATE_HZ))
        hi = int((e.end + PAD_S) * SAMPLE_RATE_HZ)
        try:
            take = check_take(audio[lo:hi], f"{e.label} at {e.start:.1f} s", config)
            recording = check_take(load_audio(root / rows[0].file), rows[0].file, config)
        except BadTakeError:  # a user would not keep it either
            continue
        takes.append(take)
        clean.append(recording)
        files.append(rows[0].file)
        if len(takes) == n:
            odd = _odd_take(takes, config)
            if odd is None:
                odd = _odd_take(clean, config)
            if odd is None:
                return takes, clean, files, e.end + 2.0
            for kept in (takes, clean, files):
                del kept[odd]
    raise SystemExit(f"only {len(takes)} usable false activations on the stream; "
                     f"{n} takes asked for")


def _odd_take(takes: list[Any], config: UserWordsConfig) -> int | None:
    """The index of the take :func:`check_takes` names, or None if it
    accepts them all (or names none: enrol then says why)."""
    from kwsapp.userwords.takes import BadTakeError, check_takes

    try:
        check_takes(takes, config, ignore=True)
    except BadTakeError as exc:
        return next((i for i, t in enumerate(takes) if str(exc).startswith(f"{t.name}:")), None)
    return None


def measure(data: Path, work: Path, word: str, model: str, n: int, name: str,
            log=print) -> list[dict[str, Any]]:
    from kwsapp.streaming.replay import to_events
    from kwsapp.streaming.scoring import read_truth, score_events
    from kwsapp.userwords.embedding import default_embedder, default_pool
    from kwsapp.userwords.enrol import enrol

    import soundfile as sf

    config = UserWordsConfig()
    root = data / "wake_words"
    spec = StreamSpec(minutes=15, snr_db=10.0, seed=SEEDS[word], commands=False,
                      gap_s=NEGATIVE_GAP_S, negatives=(str(root / word),))
    audio, truth = make_stream(data / "speech_commands_subset", spec)
    events, _ = run_engine(audio, None, model)
    takes, clean, files, cut = fa_takes(audio, truth, events, n, root, config)
    log(f"{word}: takes from the false activations on {', '.join(files)}")
    at = int(cut * SAMPLE_RATE_HZ)
    rest = [replace(t, start=t.start - cut, end=t.end - cut) for t in truth if t.start > cut]
    streams = {f"seed {SEEDS[word]}, after the takes": (audio[at:], rest)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / word
        folder.mkdir()
        for f in sorted((root / word).glob("*.flac")):
            if f"{word}/{f.name}" not in files:
                os.symlink(f.resolve(), folder / f.name)
        for seed in MORE_SEEDS:
            more = replace(spec, seed=seed, negatives=(str(folder),))
            streams[f"seed {seed}"] = make_stream(data / "speech_commands_subset", more)
    for stem in ("val-10", "val-5"):
        streams[stem] = (sf.read(str(work / f"{stem}.wav"), dtype="float32")[0],
                         read_truth(work / f"{stem}.csv"))
    embedder, pool = default_embedder(), default_pool()

    def figures(home: Path | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (a, t) in streams.items():
            events = run_engine(a, home, model)[0]
            if key.startswith("val-"):
                s = score_events(t, [e for e in to_events(events) if e.label in COMMANDS],
                                 len(a) / SAMPLE_RATE_HZ)
                out[key] = round(s.matched_pct, 1)
                out[f"{key} latency ms"] = round(s.latency_median_ms)
            else:
                out[key] = score(t, events, len(a) / SAMPLE_RATE_HZ, COMMANDS)["false_activations"]
        return out

    rows = [{"word": word, "takes": "none", "name": "", **figures(None)}]
    log(json.dumps(rows[-1]))
    for source, chosen in (("false activations", takes), ("clean recordings", clean)):
        with tempfile.TemporaryDirectory() as tmp:
            card = enrol(name, chosen, embedder, pool, config, Path(tmp),
                         embedding_id=embedder.id, ignore=True).card
            rows.append({"word": word, "takes": f"{n} {source}", "name": name,
                         "same_word": card["pool"].get("same_word", []), **figures(Path(tmp))})
        log(json.dumps(rows[-1]))
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    keys = [k for k in rows[0] if k.startswith("seed") or k.startswith("val-")]
    head = ["word", "takes"] + [f"FA, {k}" if k.startswith("seed") else
                                k if k.endswith(" ms") else f"matched %, {k}" for k in keys]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append("| " + " | ".join([r["word"], r["takes"]] + [str(r[k]) for k in keys]) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--work", default="/tmp/s",
                        help="folder holding the README's val-10 and val-5 streams "
                             "(python -m training.stream_table builds them)")
    parser.add_argument("--model", required=True, help="a rotation trained without the word")
    parser.add_argument("--word", choices=sorted(SEEDS), default="alexa")
    parser.add_argument("--takes", type=int, default=3)
    parser.add_argument("--name", default="the tv")
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = measure(Path(args.data), Path(args.work), args.word, args.model, args.takes,
                   args.name, log=log_stderr)
    return report(rows, args.json, table(rows))


if __name__ == "__main__":
    raise SystemExit(main())
