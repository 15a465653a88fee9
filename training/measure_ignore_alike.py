"""Words to ignore that sound like a command (README "Words to ignore").

A user may teach the app to ignore a word that is close to a command
("bright" and `right`, "nope" and `no`). At the usual veto level such a
word drops the command too; enrol raises its level where a detector trained
without half the pool's command clips vetoes more than 1 in 20 of a
command's (:func:`kwsapp.userwords.enrol.veto_level`). This tool shows
what that costs and saves. For each word: 3 takes (the first usable ones
in a seeded order: Speech Commands clips of training speakers, or with
``tts:WORD`` the TTS negatives' renderings of three voices; ``--takes N``
for more), enrolled as a word to ignore at the usual level and at the
level enrol chooses; then, with the bundled ``embed`` (or ``--model``),
the commands fired on a 10 dB stream of the word's other clips (never a
take), and the commands matched on the README's 10 and 5 dB validation
streams with the commands each lost::

    python -m training.measure_ignore_alike [--work /tmp/s] [--json OUT] \\
        tts:bright tts:nope tts:lift six dog

``tts:`` words need the TTS negatives rendered (``make models`` does it).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the 2 cores are shared

import argparse  # noqa: E402
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.audio.io import load_audio
from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig
from kwsapp.speakers import UNKNOWN_DIR, which_set
from kwsapp.streaming.replay import to_events
from kwsapp.streaming.scoring import TruthWord, read_truth, score_events
from training.measure_words import lay_out, log_stderr, report, run_engine, score

TAKES = 3
SEED = 0
COMMANDS = set(COMMAND_LABELS)


def word_files(data: Path, word: str) -> tuple[list[Path], list[Path]]:
    """``(take candidates, all files)`` of ``word``: Speech Commands clips
    (takes from training speakers), or a ``tts:`` word's renderings."""
    if word.startswith("tts:"):
        from kwsapp.cache import cache_dir
        from training.negatives.tts import FOLDER

        files = sorted((cache_dir() / FOLDER).glob(f"*/{word[4:]}_*.wav"))
        if not files:
            raise SystemExit(f"{word}: no renderings under {cache_dir() / FOLDER} "
                             "(make models renders the TTS negatives)")
        return files, files
    files = sorted((data / "speech_commands_subset" / UNKNOWN_DIR).glob(f"{word}_*.wav"))
    files += sorted((data / "speech_commands_extra" / word).glob("*.wav"))
    if not files:
        raise SystemExit(f"{word}: no clips in the Speech Commands folders of {data}")
    return [p for p in files if which_set(p.name) == "train"], files


def pick_takes(candidates: list[Path], config: UserWordsConfig, n: int = TAKES
               ) -> tuple[list[Any], list[Path]]:
    """The first ``n`` takes in a seeded order that enrol accepts together
    (a take much longer or shorter than the others is passed over)."""
    from kwsapp.userwords.takes import BadTakeError, check_take, check_takes

    takes, used = [], []
    for i in np.random.default_rng(SEED).permutation(len(candidates)):
        try:
            take = check_take(load_audio(candidates[i]), candidates[i].name, config)
            check_takes(takes + [take], config, ignore=True)
        except BadTakeError:
            continue
        takes.append(take)
        used.append(candidates[i])
        if len(takes) == n:
            return takes, used
    raise SystemExit(f"only {len(takes)} usable takes among {len(candidates)} files")


def word_stream(data: Path, files: list[Path]) -> tuple[np.ndarray, list[TruthWord]]:
    """The clips one after another (1-3 s apart) over the data set's noise at
    10 dB, each an ``unknown`` truth row."""
    return lay_out([("unknown", p) for p in files], data / "speech_commands_subset",
                   np.random.default_rng(SEED))


def measure(data: Path, work: Path, words: list[str], model: str | None = None,
            log=print, n_takes: int = TAKES) -> list[dict[str, Any]]:
    import soundfile as sf

    from kwsapp.userwords.embedding import default_embedder, default_pool
    from kwsapp.userwords.enrol import enrol

    config = UserWordsConfig()
    embedder, pool = default_embedder(), default_pool()
    val = {stem: (sf.read(str(work / f"{stem}.wav"), dtype="float32")[0],
                  read_truth(work / f"{stem}.csv")) for stem in ("val-10", "val-5")}

    def on_val(home: Path | None) -> dict[str, Any]:
        out = {}
        for stem, (audio, truth) in val.items():
            events = [e for e in to_events(run_engine(audio, home, model)[0])
                      if e.label in COMMANDS]
            scored = score_events(truth, events, audio.size / SAMPLE_RATE_HZ)
            out[stem] = round(scored.matched_pct, 1)
            by_label = scored.matched_by_label()
            out[f"{stem} by command"] = {c: by_label.get(c, 0) for c in COMMAND_LABELS}
        return out

    alone = on_val(None)
    rows = []
    for word in words:
        candidates, files = word_files(data, word)
        takes, used = pick_takes(candidates, config, n_takes)
        audio, truth = word_stream(data, [p for p in files if p not in used])
        duration = audio.size / SAMPLE_RATE_HZ

        def fired(home: Path | None) -> int:
            return score(truth, run_engine(audio, home, model)[0], duration,
                         COMMANDS)["false_activations"]

        row: dict[str, Any] = {"word": word, "takes": [f"{p.parent.name}/{p.name}" for p in used],
                               "clips": len(truth), "fired alone": fired(None)}
        for key, threshold in (("usual level", config.ignore_threshold), ("its level", None)):
            with tempfile.TemporaryDirectory() as tmp:
                card = enrol(f"not {word.removeprefix('tts:')}", takes, embedder, pool, config,
                             Path(tmp), embedding_id=embedder.id, ignore=True,
                             threshold=threshold).card
                figures = on_val(Path(tmp))
                row[key] = {"level": card["threshold"], "fired": fired(Path(tmp)),
                            **{stem: figures[stem] for stem in val},
                            "lost": {stem: {c: n - figures[f"{stem} by command"][c]
                                            for c, n in alone[f"{stem} by command"].items()
                                            if n != figures[f"{stem} by command"][c]}
                                     for stem in val}}
                row["sounds like"] = card["figures"]["command_clips_vetoed"]["default"]
        row["alone"] = {stem: alone[stem] for stem in val}
        log(str(row))
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    def lost(cell: dict[str, Any]) -> str:
        return " / ".join(", ".join(f"{c} {n}" for c, n in cell["lost"][stem].items()) or "-"
                          for stem in ("val-10", "val-5"))

    out = ["| word | level chosen | commands fired on its other clips: alone -> at 0.8 / at "
           "its level | commands lost at 10 / 5 dB: at 0.8 | at its level |",
           "|---|---:|---:|---|---|"]
    for r in rows:
        usual, own = r["usual level"], r["its level"]
        out.append(f"| {r['word']} | {own['level']:.3f} | {r['fired alone']} -> {usual['fired']}"
                   f" / {own['fired']} of {r['clips']} | {lost(usual)} | {lost(own)} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("words", nargs="+", help="Speech Commands words, or tts:WORD")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--work", default="/tmp/s",
                        help="folder holding the README's val-10 and val-5 streams "
                             "(python -m training.stream_table builds them)")
    parser.add_argument("--model", default=None, help="another artifact than the bundled embed")
    parser.add_argument("--takes", type=int, default=TAKES, help="takes of each word")
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = measure(Path(args.data), Path(args.work), args.words, args.model, log=log_stderr,
                   n_takes=args.takes)
    return report(rows, args.json, table(rows))


if __name__ == "__main__":
    raise SystemExit(main())
