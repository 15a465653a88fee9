"""``kwsapp evaluate DATA_DIR``: accuracy of a model on a Speech-Commands
layout folder (``<label>/*.wav``, or any audio file ``classify`` reads;
``_silence_``/``_unknown_`` are the silence/unknown classes, other word
folders a model has no label for count as unknown, ``_background_noise_``
is skipped)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from kwsapp.commands.options import add_model_option, number, writable_file
from kwsapp.speakers import BACKGROUND_DIR, FOLDER_LABELS

HELP = "score a model on a <label>/*.wav folder: accuracy, per-class, confusion"

log = logging.getLogger(__name__)

SKIP_FOLDERS = (BACKGROUND_DIR,)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder of <label>/*.wav (or other audio)")
    add_model_option(parser)
    parser.add_argument("--per-class", type=number(int, 1), default=None, metavar="N",
                        help="score only the first N files (sorted) of each folder")
    parser.add_argument("--png", default=None, metavar="FILE",
                        help="also draw the confusion matrix to FILE, a .png (needs matplotlib)")
    parser.add_argument("--keras", action="store_true",
                        help="score the artifact's model.keras with TensorFlow instead of its "
                             ".tflite (needs the train extra)")
    parser.add_argument("--no-clip-weights", action="store_true",
                        help="score the model's raw probabilities, without the card's "
                             "clip_weights (what a clip's label is judged on by default)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")


def labelled_files(data_dir: Path, labels: Sequence[str], per_class: int | None = None
                   ) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """``(file, true label)`` for every audio file of each ``<folder>/``
    under ``data_dir`` (the suffixes ``classify`` reads, any case), and
    ``(folder, problem)`` for each label folder that cannot be read (its
    clips were left out without a word)."""
    from kwsapp.audio.files import folder_problem, scan_audio
    from kwsapp.errors import BadInputError

    if not data_dir.is_dir():
        raise BadInputError(f"{data_dir}: not a folder")
    try:
        folders = sorted(p for p in data_dir.iterdir() if p.is_dir())
    except OSError as exc:  # was a PermissionError traceback
        raise BadInputError(f"{data_dir}: {folder_problem(exc)}") from None
    out, unreadable = [], []
    for folder in folders:
        if folder.name in SKIP_FOLDERS:
            continue
        label = FOLDER_LABELS.get(folder.name, folder.name)
        if label not in labels:
            label = "unknown" if "unknown" in labels else label
        files, refused = scan_audio(folder)
        out += [(f, label) for f in files[:per_class]]
        unreadable += refused
    if not out and not unreadable:
        raise BadInputError(f"{data_dir}: no <label>/ folders of audio files")
    return out, unreadable


def save_confusion_png(result: dict[str, Any], path: str, title: str) -> None:
    """Draw the confusion matrix (row-normalized colours, counts written)."""
    from kwsapp.errors import BadInputError

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInputError("--png needs matplotlib (pip install matplotlib)") from None
    import numpy as np

    labels = result["confusion"]["labels"]
    m = np.array(result["confusion"]["matrix"], dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot write ({exc})") from None
    finally:
        plt.close(fig)


def _check_png_path(path: str) -> None:
    """``--png``'s path ends in ``.png`` and can be written, and matplotlib
    is there to draw it (each refused before the scoring run, not after
    it: matplotlib picks the format from the suffix)."""
    import importlib.util

    from kwsapp.errors import BadInputError

    if Path(path).suffix.lower() != ".png":
        raise BadInputError(f"--png {path}: the file name must end in .png")
    writable_file(path, "--png")
    if importlib.util.find_spec("matplotlib") is None:
        raise BadInputError("--png needs matplotlib (pip install matplotlib)")


def _print_text(result: dict[str, Any]) -> None:
    weights = ", ".join(f"{k} x{v:g}" for k, v in result["clip_weights"].items())
    print(f"accuracy {result['accuracy']:.4f} on {result['n']} clips"
          + (f" (the card's clip weights: {weights})" if weights else ""))
    print(f"{'label':<10}{'precision':>10}{'recall':>8}{'n':>6}")
    for lab, m in result["per_class"].items():
        print(f"{lab:<10}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['n']:>6d}")
    labels = result["confusion"]["labels"]
    print("confusion (rows true, columns predicted):")
    width = max(7, *(len(lab) + 1 for lab in labels))  # whole names: "silence unknown"
    first = max(9, *(len(lab) + 1 for lab in labels))
    print(" " * first + "".join(f"{lab:>{width}}" for lab in labels))
    for lab, row in zip(labels, result["confusion"]["matrix"]):
        print(f"{lab:<{first}}" + "".join(f"{v:>{width}d}" for v in row))
    for err in result["errors"]:
        print(f"ERROR {err['file']}: {err['error']}")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from kwsapp.audio.io import load_audio
    from kwsapp.errors import AudioFileError
    from kwsapp.inference.metrics import metrics
    from kwsapp.inference.recognizer import Recognizer

    if args.png:  # before the scoring run, not after it
        _check_png_path(args.png)
    if args.keras:  # only this flag loads TensorFlow (training/ is an extra)
        from kwsapp.models.registry import resolve
        from training.evaluate import KerasRecognizer

        recognizer = KerasRecognizer(resolve(args.model))
    else:
        recognizer = Recognizer.load(args.model)
    labels = recognizer.labels
    files, unreadable = labelled_files(Path(args.data_dir), labels, args.per_class)
    errors: list[dict[str, str]] = []
    for folder, problem in unreadable:  # said, and counted, as an unreadable file is
        log.error("%s: %s", folder, problem)
        errors.append({"file": str(folder), "error": problem})
    try:
        from tqdm import tqdm
        progress = tqdm(files, unit="clip", file=sys.stderr, disable=not sys.stderr.isatty())
    except ImportError:  # tqdm is a dependency; a bare loop still works
        progress = files
    scored: list[tuple[str, str]] = []  # (true, predicted), appended whole
    interrupted = False
    try:
        for path, label in progress:
            try:
                audio = load_audio(path)
                probs = (recognizer.probabilities(audio) if args.no_clip_weights
                         else recognizer.clip_probabilities(audio))
            except AudioFileError as exc:
                log.error("%s", exc)
                errors.append({"file": str(path), "error": exc.problem})
                continue
            scored.append((label, labels[int(np.argmax(probs))]))
    except KeyboardInterrupt:
        # Ctrl-C: the clips scored so far are reported, said to be only
        # those (nothing was printed; a second Ctrl-C must not cut it short).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        interrupted = True
    finally:
        if hasattr(progress, "close"):
            progress.close()
    truth, predicted = [t for t, _ in scored], [p for _, p in scored]
    done = len(scored) + len(errors) - len(unreadable)
    result = {"model": recognizer.card.name, "data_dir": str(args.data_dir),
              "clip_weights": {} if args.no_clip_weights else recognizer.card.clip_weights,
              **metrics(truth, predicted, labels), "errors": errors}
    if interrupted:
        result["interrupted"] = True
    if args.png:
        save_confusion_png(result, args.png, f"{recognizer.card.name} on {args.data_dir}")
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        _print_text(result)
    if errors:
        bad_files = len(errors) - len(unreadable)
        parts = ([f"{bad_files} of {len(files)} file(s)"] if bad_files else []) \
            + ([f"{len(unreadable)} folder(s)"] if unreadable else [])
        print(f"kwsapp: {' and '.join(parts)} could not be read (skipped)", file=sys.stderr)
    if interrupted:
        print(f"kwsapp: interrupted after {done} of {len(files)} clip(s): the scores are "
              "of those only", file=sys.stderr)
        return 130
    return 2 if errors else 0
