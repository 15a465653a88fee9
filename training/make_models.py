"""Reproduce every bundled model: ``python -m training.make_models --data DIR
--out assets/models`` (what ``make models`` runs).

Each architecture trains with its default parameters and the
:class:`~training.config.TrainConfig` defaults, updated by the module's
optional ``TRAIN`` dict (e.g. more epochs for a net trained from scratch)
and the :class:`~training.config.AugmentConfig` defaults, updated by its
optional ``AUGMENT`` dict.
A killed run resumes where it stopped when started again.

Held-out checks: ``--leave-out alexa snowboy --out /tmp/heldout
--live-defaults-from assets/models`` trains the same recipe without those
words of other speech, with the bundled cards' live defaults; ``kwsapp
evaluate-stream`` of it on a stream of those words gives README's rows of
words never trained on. ``--set FIELD=VALUE`` changes the recipe (any
:class:`~training.config.TrainConfig` field, e.g. ``--set tts_words=16000``)
to compare one with the bundled recipe the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from training.config import AugmentConfig, TrainConfig

BUNDLED = ("embed", "cnn", "wavception")
log = logging.getLogger(__name__)


def train_config(module: object, leave_out: Sequence[str] = ()) -> TrainConfig:
    """The defaults with the architecture's ``TRAIN`` overrides; ``leave_out``
    words are never trained on (``negatives_exclude``: left out of the
    negatives and of the training split's clips; the same recipe trained
    without them, for a held-out check)."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in dict(getattr(module, "TRAIN", {})).items() if k in known}
    if leave_out:
        overrides["negatives_exclude"] = tuple(overrides.get("negatives_exclude", ())) + tuple(
            leave_out)
    return dataclasses.replace(TrainConfig(), **overrides)


def parameter(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of an architecture's parameters (VALUE a JSON literal,
    or a bare word taken as a string), for ``--param``; training checks the
    key (training/train.py ``model_params``) before any work."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def setting(text: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` of :class:`TrainConfig` (VALUE a JSON literal, or a
    bare word taken as a string), for ``--set``.

    Raises:
        argparse.ArgumentTypeError: not ``FIELD=VALUE``, no such field, or a
            value of another type than the field's default.
    """
    name, sep, _ = text.partition("=")
    defaults = {f.name: getattr(TrainConfig(), f.name) for f in dataclasses.fields(TrainConfig)}
    if not sep or name not in defaults:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not FIELD=VALUE with a TrainConfig field (e.g. tts_words=16000)")
    parsed = _tuples(parameter(text)[1])
    default = defaults[name]
    if default is None:  # an optional setting: any JSON value
        return name, parsed
    kind = type(default)
    if isinstance(parsed, bool) != (kind is bool) or not (
            isinstance(parsed, kind) or kind is float and isinstance(parsed, int)):
        raise argparse.ArgumentTypeError(
            f"{text!r}: {name} must be of type {kind.__name__} (default {default!r})")
    return name, float(parsed) if kind is float else parsed


def _tuples(value: Any) -> Any:
    """JSON lists as tuples, all the way down (TrainConfig is frozen)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def augment_config(module: object) -> AugmentConfig:
    """The augmentation defaults with the architecture's ``AUGMENT`` overrides."""
    return dataclasses.replace(AugmentConfig(), **dict(getattr(module, "AUGMENT", {})))


def carry_over(previous: Path, new: Path) -> list[str]:
    """Copy into ``new`` what ``previous`` (the model folder ``new``
    replaces) holds beside its artifact: every file and folder whose name is
    no artifact file (training/export.py ``is_artifact_file``) nor a
    training run's own (checkpoint, ensemble, mining, partial files), and
    that ``new`` lacks. E.g. the user words' negative pool, made apart from
    training (``python -m training.user_negatives``): it depends only on the
    frozen embedding, so a retrained head keeps it; or a file of the
    user's. The earlier artifact's files stay behind (a ``model_int8.tflite``
    of the earlier network).

    Returns:
        The names copied.
    """
    from kwsapp.atomic import PARTIAL_PREFIX
    from training.export import is_artifact_file
    from training.train import CHECKPOINT_DIR, ENSEMBLE_DIR, MINING_DIR

    copied = []
    for path in sorted(previous.iterdir()) if previous.is_dir() else ():
        name = path.name
        if (is_artifact_file(name) or name in (CHECKPOINT_DIR, ENSEMBLE_DIR, MINING_DIR)
                or name.startswith(PARTIAL_PREFIX) or (new / name).exists()):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.copytree(path, new / name, symlinks=True)
        else:
            shutil.copy2(path, new / name, follow_symlinks=False)
        copied.append(name)
    return copied

#: Card keys tuned on streams after training (kwsapp/streaming); a rebuilt
#: model keeps them, since they were tuned for the same recipe.
LIVE_KEYS = ("threshold", "thresholds", "smoothing", "hop_ms", "vad", "tuning", "verify")


def keep_live_defaults(previous: Path, new: Path) -> None:
    """Copy the live defaults of ``previous/card.json`` into ``new/card.json``."""
    old_card, new_card = previous / "card.json", new / "card.json"
    if not (old_card.is_file() and new_card.is_file()):
        return
    from kwsapp.atomic import write_json_atomic

    old, card = json.loads(old_card.read_text()), json.loads(new_card.read_text())
    kept = {k: old[k] for k in LIVE_KEYS if k in old}
    if kept:
        card.update(kept)
        write_json_atomic(new_card, card)
        log.info("kept live defaults %s from %s", sorted(kept), old_card)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.make_models", description=__doc__)
    parser.add_argument("--data", required=True, help="Speech Commands folder")
    parser.add_argument("--out", default="assets/models", help="bundled models folder")
    parser.add_argument("--only", nargs="+", choices=BUNDLED, help="just these models")
    parser.add_argument("--leave-out", nargs="+", default=[], metavar="WORD",
                        help="train without these words of other speech (e.g. alexa "
                             "snowboy, or the data set's own other words such as bed): "
                             "the held-out rows of README's streaming table")
    parser.add_argument("--set", type=setting, action="append", default=[],
                        metavar="FIELD=VALUE",
                        help="a TrainConfig field over the recipe (repeatable), e.g. "
                             "--set tts_words=16000: a recipe to compare, not the bundled one")
    parser.add_argument("--param", type=parameter, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="an architecture parameter over its DEFAULTS (repeatable), e.g. "
                             "--param filters=64: a recipe to compare")
    parser.add_argument("--live-defaults-from", metavar="MODELS",
                        help="models folder whose cards give the live defaults "
                             "(default: the models being replaced in --out)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from kwsapp.errors import KwsError

    try:
        return _make(args)
    except KwsError as exc:  # a bad data or output folder: one line, exit 2
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return exc.exit_code


def finish_swap(out_root: Path, arch: str) -> None:
    """Put right a run killed while it swapped ``arch``'s folders (the old
    model renamed to ``.<arch>.old``, the new not yet renamed from
    ``.<arch>.new``): the model folder was missing, so the re-run read no
    live defaults from it and retrained the model from scratch. The new
    model is put in place (it was complete: the old one is renamed away
    only then), or, if it is gone, the old one back."""
    out, old, staging = out_root / arch, out_root / f".{arch}.old", out_root / f".{arch}.new"
    if out.exists() or not (old / "card.json").is_file():
        return
    done = (staging / "card.json").is_file()
    (staging if done else old).rename(out)
    log.warning("%s: a run killed while it replaced the model left %s; %s is now the %s model",
                out, old, out, "new" if done else "earlier")
    shutil.rmtree(old, ignore_errors=True)


def _make(args: argparse.Namespace) -> int:
    from kwsapp.commands.options import writable_dir
    from kwsapp.errors import BadInputError
    from training.models import arch_module
    from training.train import train

    writable_dir(args.out, "--out")
    for arch in args.only or BUNDLED:
        finish_swap(Path(args.out), arch)
    for arch in args.only or BUNDLED:  # each is replaced when trained: only a model folder
        if (Path(args.out) / arch).exists() and not (Path(args.out) / arch / "card.json").is_file():
            raise BadInputError(f"--out {args.out}: {Path(args.out) / arch} is not a model "
                                "folder (no card.json), and the trained model would replace "
                                "it; give another --out")
    timings = {}
    for arch in args.only or BUNDLED:
        module = arch_module(arch)
        cfg = dataclasses.replace(train_config(module, args.leave_out), **dict(args.set))
        out = Path(args.out) / arch
        staging = Path(args.out) / f".{arch}.new"  # the bundled model stays until done
        command = (f"python -m training.make_models --data {args.data} --out {args.out}"
                   f" --only {arch}"
                   + (" --leave-out " + " ".join(map(shlex.quote, args.leave_out))
                      if args.leave_out else "")
                   + "".join(f" --set {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in args.set)
                   + "".join(f" --param {shlex.quote(f'{k}={json.dumps(v)}')}"
                             for k, v in args.param)
                   + (f" --live-defaults-from {args.live_defaults_from}"
                      if args.live_defaults_from else ""))
        start = time.monotonic()
        card = train(args.data, arch, staging, cfg, params=dict(args.param) or None,
                     aug=augment_config(module), command=command)
        timings[arch] = time.monotonic() - start
        keep_live_defaults(Path(args.live_defaults_from) / arch if args.live_defaults_from
                           else out, staging)
        carry_over(out, staging)  # negatives.npz (Makefile `models`), the user's files
        old = Path(args.out) / f".{arch}.old"
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
        val = card["metrics"]["validation"]
        print(f"{arch}: validation accuracy {val['accuracy']:.4f} on {val['n']} clips "
              f"({val['speakers']} speakers), {timings[arch] / 60:.1f} min", flush=True)
    print(json.dumps({"minutes": {k: round(v / 60, 1) for k, v in timings.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
