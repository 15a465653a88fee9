"""``kwsapp train``: train an architecture on a Speech Commands folder and
write a model artifact (needs the ``train`` extra: TensorFlow)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace

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
    parser.add_argument("--arch", default="embed", help="architecture (default: embed)")
    parser.add_argument("--out", help="artifact folder to write (resumes a killed run there)")
    parser.add_argument("--epochs", type=int, help="most epochs (early stopping may end sooner)")
    parser.add_argument("--config", choices=("default", "tiny"), default="default",
                        help="tiny: a few steps on a few clips with a tiny model (tests)")
    parser.add_argument("--seed", type=int, help="seed of the split, augmentation and weights")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--aug-copies", type=int,
                        help="augmented copies of each training clip (front end cached)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="architecture parameter (JSON value), e.g. --param head=\"linear\"")
    parser.add_argument("--cpu-devices", type=int, default=1,
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


def run(args: argparse.Namespace) -> int:
    from training.config import TrainConfig
    from kwsapp.errors import BadInputError

    if not args.out:
        raise BadInputError("--out is required (the artifact folder to write)")
    data_dir = args.data
    if args.download:
        from training import download

        sha = args.download_sha256 or (None if args.download_url else download.SHA256)
        data_dir = str(download.download_speech_commands(
            args.download, args.download_url or download.URL,
            None if sha in (None, "none") else sha))
    if not data_dir:
        raise BadInputError("give --data DIR (or --download DIR)")
    from training.models import ARCHS

    if args.arch not in ARCHS:
        raise BadInputError(f"--arch {args.arch!r}: known architectures: {', '.join(ARCHS)}")
    from training.make_models import train_config
    from training.models import arch_module

    # The architecture's own TRAIN defaults, as `make models` uses them.
    cfg = TrainConfig.tiny() if args.config == "tiny" else train_config(arch_module(args.arch))
    for field, value in (("epochs", args.epochs), ("seed", args.seed),
                         ("batch_size", args.batch_size), ("aug_copies", args.aug_copies)):
        if value is not None:
            cfg = replace(cfg, **{field: value})
    from training.train import train

    command = "kwsapp " + " ".join(shlex.quote(a) for a in sys.argv[1:]) \
        if sys.argv and "train" in sys.argv else None
    card = train(data_dir, args.arch, args.out, cfg, params=_params(args.param),
                 tiny=args.config == "tiny", cpu_devices=args.cpu_devices, command=command)
    if args.json:
        print(json.dumps(card, indent=2))
    else:
        val = card["metrics"].get("validation", {})
        print(f"{args.out}: validation accuracy {val.get('accuracy')} on {val.get('n')} clips "
              f"({val.get('speakers')} speakers never trained on)")
    return 0
