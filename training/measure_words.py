"""Measure user words on the wake-word recordings (README "User words").

For each word of ``../shared/data/wake_words`` (alexa, snowboy, smart
mirror): pick takes from its recordings (seeded; 3, 5 and 10 takes, each set
inside the next), enrol the word in a temporary ``$KWSAPP_HOME`` (its own
clips are left out of the negative pool by name, or with ``--enrol-as
NAME`` under a name the pool does not know, by sound), then replay a 10 dB stream
through the live engine (:class:`~kwsapp.audio.source.FileSource`, the
bundled ``embed`` model, the user word attached as ``listen`` attaches it).
The stream holds other recordings of the word (never a take) among other
words: the two other wake-word folders (only the files the pool does not
hold), the Speech Commands subset's unknown words and commands of
validation/test speakers (the pool holds training speakers only), over its
background noise. Reported per word and take count: the word's recordings
found (matched %), false activations per hour of the user word on
everything else, enrolment time, and the bundled commands' matched % and
false activations per hour with and without the user word.

With ``--ignore`` each word is enrolled as a word to ignore (``kwsapp enrol
--ignore``: no events of its own, a veto on the commands decided where it is heard)
and the rows compare the commands with and without it; ``--model DIR`` runs
another artifact, e.g. a rotation trained without the word (``make_models
--leave-out``), whose commands fire on it.

Usage: python -m training.measure_words [--data ../shared/data] [--json OUT]
       [--ignore --model /tmp/heldout/embed --words alexa snowboy]
"""

from __future__ import annotations

import os

# Before numpy loads: one BLAS thread (the machine's 2 cores are shared).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.atomic import write_atomic
from kwsapp.audio.io import load_audio
from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig, ms_to_samples
from kwsapp.speakers import UNKNOWN_DIR, which_set
from kwsapp.streaming.scoring import TruthWord, lies_on, score_events
from kwsapp.streaming.synth import SPEECH_RMS, StreamSpec, level_clip, noise_bed
from kwsapp.userwords.takes import word_span
from training.user_negatives import in_pool

WORDS = ("alexa", "snowboy", "smart_mirror")
TAKES = (3, 5, 10)
SEED = 0
#: Stream contents per word: its own recordings, the other wake words (each
#: folder), unknown words and commands.
N_WORD, N_OTHER_WAKE, N_UNKNOWN, N_COMMANDS = 120, 60, 120, 120
SNR_DB = 10.0
GAP_S = (1.0, 3.0)


def build_stream(data: Path, word: str, takes: list[Path], seed: int = SEED
                 ) -> tuple[np.ndarray, list[TruthWord]]:
    """The 10 dB stream for ``word`` (truth labels: the word's name, a
    command, or ``unknown``)."""
    rng = np.random.default_rng(seed)
    wake, subset = data / "wake_words", data / "speech_commands_subset"
    name = word.replace("_", " ")
    items: list[tuple[str, Path]] = []

    def pick(files: list[Path], n: int) -> list[Path]:
        return [files[i] for i in sorted(rng.choice(len(files), min(n, len(files)),
                                                    replace=False))]

    own = [p for p in sorted((wake / word).glob("*.flac")) if p not in takes]
    items += [(name, p) for p in pick(own, N_WORD)]
    for other in WORDS:
        if other != word:
            files = [p for p in sorted((wake / other).glob("*.flac")) if not in_pool(p)]
            items += [("unknown", p) for p in pick(files, N_OTHER_WAKE)]
    held = ("validation", "test")
    unknown = [p for p in sorted((subset / UNKNOWN_DIR).glob("*.wav")) if which_set(p.name) in held]
    items += [("unknown", p) for p in pick(unknown, N_UNKNOWN)]
    commands = [(lab, p) for lab in COMMAND_LABELS for p in sorted((subset / lab).glob("*.wav"))
                if which_set(p.name) in held]
    for i in sorted(rng.choice(len(commands), N_COMMANDS, replace=False)):
        items.append(commands[i])
    return lay_out([items[k] for k in rng.permutation(len(items))], subset, rng)


def lay_out(items: list[tuple[str, Path]], subset: Path, rng: np.random.Generator
            ) -> tuple[np.ndarray, list[TruthWord]]:
    """``(label, file)`` items one after another in that order, each file's
    word (its speech run) at the streams' level, ``GAP_S`` apart, over the
    data set's background noise at ``SNR_DB``; a file with no word is left
    out. Truth rows name the file as ``folder/name``."""
    clips = []
    for label, path in items:
        audio = load_audio(path)
        span = word_span(audio)
        if span is not None:
            clips.append(level_clip(audio, span, label, f"{path.parent.name}/{path.name}"))
    gaps = [ms_to_samples(1000 * rng.uniform(*GAP_S)) for _ in range(len(clips) + 1)]
    total = sum(len(c.audio) for c in clips) + sum(gaps)
    speech = np.zeros(total, np.float32)
    truth, pos = [], gaps[0]
    for clip, gap in zip(clips, gaps[1:]):
        speech[pos:pos + len(clip.audio)] = clip.audio
        truth.append(TruthWord(clip.label, (pos + clip.speech_start) / SAMPLE_RATE_HZ,
                               (pos + clip.speech_end) / SAMPLE_RATE_HZ, clip.file))
        pos += len(clip.audio) + gap
    audio = speech + noise_bed(subset, total, StreamSpec(), rng) * (SPEECH_RMS / 10 ** (SNR_DB / 20))
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    return audio.astype(np.float32), truth


def run_engine(audio: np.ndarray, home: Path | None, model: str | None = None
               ) -> tuple[list[Any], float]:
    """Every event of ``audio`` through the engine (``model``, else the
    bundled embed; the user words of ``home`` attached when given) and the
    seconds it took."""
    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import load_with_config
    from kwsapp.userwords.live import attach_user_words

    recognizer, config = load_with_config(model)
    engine = Engine(recognizer, config, FileSource(audio, ms_to_samples(config.audio.block_ms)))
    if home is not None:
        attached = attach_user_words(engine, home)
        assert attached is not None, "the user word did not attach"
    t0 = time.perf_counter()
    events = engine.run()
    return events, time.perf_counter() - t0


def score(truth: list[TruthWord], events: list[Any], duration_s: float, keep: set[str]
          ) -> dict[str, float]:
    """Matched % and false activations per hour of the events labelled in
    ``keep`` against the truth rows of those labels (every other row counts
    as other speech)."""
    from kwsapp.streaming.replay import to_events

    rows = [t if t.label in keep else replace(t, label="unknown") for t in truth]
    s = score_events(rows, [e for e in to_events(events) if e.label in keep], duration_s)
    return {"words": s.words, "matched_pct": round(s.matched_pct, 1),
            "false_activations": s.false_activations, "fa_per_hour": round(s.fa_per_hour, 2)}


def commands_on(truth: list[TruthWord], events: list[Any], name: str) -> int:
    """Command events that lie on a recording of ``name`` (the scorer's
    rule): the false activations the word itself sets off."""
    rows = [t for t in truth if t.label == name]
    return sum(1 for e in events if e.label in COMMAND_LABELS and any(
        lies_on(e, t) for t in rows))


def measure(data: Path, words: tuple[str, ...] = WORDS, takes: tuple[int, ...] = TAKES,
            log=print, ignore: bool = False, model: str | None = None,
            enrol_as: str | None = None) -> list[dict[str, Any]]:
    from kwsapp.userwords.embedding import default_embedder, default_pool
    from kwsapp.userwords.enrol import enrol
    from kwsapp.userwords.takes import check_take

    embedder, pool = default_embedder(), default_pool()
    config = UserWordsConfig()
    rows = []
    for word in words:
        name = word.replace("_", " ")
        files = sorted((data / "wake_words" / word).glob("*.flac"))
        rng = np.random.default_rng(SEED)
        picked = [files[i] for i in rng.permutation(len(files))]
        candidates = []  # the first readable takes in seeded order
        for p in picked:
            try:
                candidates.append(check_take(load_audio(p), p.name, config))
            except Exception:  # noqa: BLE001 - an odd recording is skipped as a user would
                continue
            if len(candidates) == max(takes):
                break
        used = [picked[i] for i in range(len(picked))
                if picked[i].name in {t.name for t in candidates}]
        audio, truth = build_stream(data, word, used)
        duration = len(audio) / SAMPLE_RATE_HZ
        base_events, base_s = run_engine(audio, None, model)
        base = score(truth, base_events, duration, set(COMMAND_LABELS))
        log(f"{word}: stream {duration / 60:.1f} min, "
            f"{sum(t.label == name for t in truth)} of the word; commands alone: {base} "
            f"({base_s:.0f} s)")
        for n in takes:
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                t0 = time.perf_counter()
                enrol(enrol_as or name, candidates[:n], embedder, pool, config, home,
                      embedding_id=embedder.id, ignore=ignore)
                enrol_s = time.perf_counter() - t0
                events, run_s = run_engine(audio, home, model)
            if enrol_as:  # score its events as the word's
                events = [replace(e, label=name) if e.label == enrol_as else e for e in events]
            row = {"word": name, "takes": n, "enrol_s": round(enrol_s, 2), "ignore": ignore,
                   "enrolled_as": enrol_as or name,
                   "model": model or "embed",
                   "stream_min": round(duration / 60, 1),
                   "user_word": score(truth, events, duration, {name}),
                   "commands": score(truth, events, duration, set(COMMAND_LABELS)),
                   "commands_alone": base,
                   "commands_on_word": commands_on(truth, events, name),
                   "commands_on_word_alone": commands_on(truth, base_events, name)}
            log(json.dumps(row))
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The README table."""
    ignore = any(r.get("ignore") for r in rows)
    out = ["| word | takes | found | false act./h | enrol s | commands matched % (alone) "
           "| commands FA/h (alone) |" + (" commands on the word (alone) |" if ignore else ""),
           "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if ignore else "")]
    for r in rows:
        u, c, b = r["user_word"], r["commands"], r["commands_alone"]
        found, fa = ((f"ignored ({u['words']})", "-") if r.get("ignore") else
                     (f"{u['matched_pct']:.1f}% of {u['words']}", f"{u['fa_per_hour']:.1f}"))
        out.append(f"| {r['word']} | {r['takes']} | {found} "
                   f"| {fa} | {r['enrol_s']:.1f} | {c['matched_pct']:.1f} "
                   f"({b['matched_pct']:.1f}) | {c['fa_per_hour']:.1f} ({b['fa_per_hour']:.1f}) |"
                   + (f" {r['commands_on_word']} ({r['commands_on_word_alone']}) |"
                      if ignore else ""))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--words", nargs="*", default=list(WORDS))
    parser.add_argument("--takes", nargs="*", type=int, default=list(TAKES))
    parser.add_argument("--json", default=None, help="write the rows here")
    parser.add_argument("--ignore", action="store_true",
                        help="enrol each word as a word to ignore (a veto on the commands)")
    parser.add_argument("--model", default=None,
                        help="model the commands run on (default: the bundled embed)")
    parser.add_argument("--enrol-as", default=None, metavar="NAME",
                        help="enrol each word under this name, one the pool does not "
                             "know it by (its events are scored as the word's)")
    args = parser.parse_args(argv)
    rows = measure(Path(args.data), tuple(args.words), tuple(args.takes), log=log_stderr,
                   ignore=args.ignore, model=args.model, enrol_as=args.enrol_as)
    return report(rows, args.json, table(rows))


def log_stderr(line: str) -> None:
    """Progress lines go to stderr; the table alone to stdout."""
    print(line, file=sys.stderr, flush=True)


def report(rows: list[dict[str, Any]], json_out: str | None, text: str) -> int:
    """Write ``rows`` as JSON to ``json_out`` (when given) and print ``text``."""
    if json_out:
        write_atomic(json_out, (json.dumps(rows, indent=2) + "\n").encode())
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
