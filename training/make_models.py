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


#: Card keys tuned on streams after training (kwsapp/streaming); a rebuilt
#: model keeps them, since they were tuned for the same recipe.
LIVE_KEYS = ("threshold", "thresholds", "smoothing", "hop_ms", "vad", "tuning", "verify")


def live_defaults(previous: Path) -> dict[str, Any]:
    """The live defaults (:data:`LIVE_KEYS`) of ``previous/card.json``, for
    the card of the model trained to replace it (empty: no such card, e.g.
    a first build)."""
    old_card = previous / "card.json"
    if not old_card.is_file():
        return {}
    old = json.loads(old_card.read_text())
    kept = {k: old[k] for k in LIVE_KEYS if k in old}
    if kept:
        log.info("keeping live defaults %s from %s", sorted(kept), old_card)
    return kept


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


def legacy_folders(out_root: Path, arch: str) -> None:
    """Report what a ``make models`` of an earlier kwsapp left beside
    ``arch``'s folder: it trained each model in ``.<arch>.new`` and swapped
    whole folders (the replaced one renamed to ``.<arch>.old``). This one
    trains in the model folder itself and puts the new artifact in place
    there (training/artifact_write.py), so it neither resumes from nor
    deletes them: a warning names them.

    Raises:
        BadInputError: the model folder has no card and one of them has: the
            earlier run was stopped between its two renames, and which to
            rename back is said (this run would train without the live
            defaults of the model it replaces).
    """
    from kwsapp.errors import BadInputError

    out = out_root / arch
    left = [p for p in (out_root / f".{arch}.new", out_root / f".{arch}.old") if p.exists()]
    whole = [p for p in left if (p / "card.json").is_file()]
    if whole and not (out / "card.json").is_file():
        raise BadInputError(
            f"{out}: no model, and a make models of an earlier kwsapp stopped while it replaced "
            f"it left {' and '.join(map(str, whole))}: rename {whole[0]} to {out} ("
            f".{arch}.new: the new model it had finished; .{arch}.old: the one it replaced), "
            "then run again")
    for folder in left:
        log.warning("%s: left by a make models of an earlier kwsapp, which trained there; this "
                    "one trains in %s and does not use it: delete it", folder, out)


def _make(args: argparse.Namespace) -> int:
    from kwsapp.commands.options import writable_dir
    from training.artifact_write import finish_swap
    from training.models import arch_module
    from training.train import train

    writable_dir(args.out, "--out")
    for arch in args.only or BUNDLED:
        legacy_folders(Path(args.out), arch)
    timings = {}
    for arch in args.only or BUNDLED:
        module = arch_module(arch)
        cfg = dataclasses.replace(train_config(module, args.leave_out), **dict(args.set))
        # Trained in out itself (its checkpoint in out/.checkpoint) and put in
        # place there once whole, as `kwsapp train --out` does: the bundled
        # model stays until then, and so do out's other files (negatives.npz).
        out = Path(args.out) / arch
        finish_swap(out)  # a stopped run's new model in place before its card is read
        live = live_defaults(Path(args.live_defaults_from) / arch if args.live_defaults_from
                             else out)
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
        card = train(args.data, arch, out, cfg, params=dict(args.param) or None,
                     aug=augment_config(module), command=command, card_updates=live)
        timings[arch] = time.monotonic() - start
        val = card["metrics"]["validation"]
        print(f"{arch}: validation accuracy {val['accuracy']:.4f} on {val['n']} clips "
              f"({val['speakers']} speakers), {timings[arch] / 60:.1f} min", flush=True)
    print(json.dumps({"minutes": {k: round(v / 60, 1) for k, v in timings.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
