"""``kwsapp export``: write an artifact's ``model.tflite`` (float32) and,
with ``--int8``, ``model_int8.tflite`` from its ``model.keras``; checks on
real validation clips that TFLite and Keras agree (needs TensorFlow). An
``embed`` artifact is also split into ``embedding.tflite`` + ``head.tflite``
(streaming; its card gets a ``streaming`` section); ``--split`` does only
that, keeping ``model.tflite`` as it is. A card with ``"embedding_weights":
"int8"`` gets every embedding file from the int8 network
(training/models/embedding_int8.py). The new files are written in the
folder's hidden staging folder and put in place once all are written and
checked (training/artifact_write.py): a failed or stopped export leaves the
artifact as it was. Files of another artifact that the folder holds (an
``embed`` model's split files beside a ``cnn`` card) are removed then; the
user's own files stay."""

from __future__ import annotations

import argparse
import json

from kwsapp.commands.options import number

HELP = "convert an artifact's model.keras to .tflite (float, and int8 with --int8)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", metavar="ARTIFACT_DIR", help="folder with model.keras + card.json")
    parser.add_argument("--int8", action="store_true",
                        help="also write model_int8.tflite (int8 weights) and report its accuracy")
    parser.add_argument("--split", action="store_true",
                        help="only split an embed artifact into embedding.tflite + head.tflite "
                             "(no retraining; model.tflite kept) and check them against it")
    parser.add_argument("--data", help="Speech Commands folder for the check (default: the "
                                       "card's training data)")
    parser.add_argument("--clips", type=number(int, 1), default=200,
                        help="validation clips used for the check (default 200)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kwsapp.errors import BadInputError
    from kwsapp.extras import require
    from kwsapp.models.artifact import read_card

    require("train", "kwsapp export")
    artifact = Path(args.artifact)
    if artifact.is_dir():
        from training.artifact_write import finish_swap

        finish_swap(artifact)  # a stopped run's swap: its card is not in place yet
    card = read_card(artifact)
    if not (artifact / "model.keras").is_file():
        raise BadInputError(f"{artifact}: no model.keras to export")
    import zipfile

    from kwsapp.errors import ModelError

    if not zipfile.is_zipfile(artifact / "model.keras"):  # before the check clips are read
        raise ModelError(f"{artifact / 'model.keras'}: not a loadable Keras model (not a "
                         ".keras zip archive)")
    # The frozen embedding's precision is the artifact's (docs/contracts.md 1).
    weights = card.raw.get("embedding_weights", "float")
    if args.int8 and weights == "int8":
        raise BadInputError(f"{artifact}: its embedding is already int8 (card "
                            f"embedding_weights): model.tflite is the int8 model, no --int8")
    data_dir = args.data or card.raw.get("training", {}).get("data")
    if not data_dir or not Path(data_dir).is_dir():
        raise BadInputError(f"{artifact}: give --data DIR (the card's data folder "
                            f"{data_dir!r} is not here)")
    from training.artifact_write import StagedArtifact
    from training.export import (FLOAT_FILE, INT8_FILE, KERAS_FILE, check_inputs,
                                 export_artifact, export_split, record_split)

    x, y = check_inputs(card, data_dir, args.clips)
    # The new files go to the staging folder beside this model.keras (and,
    # for --split, the model.tflite it is checked against) and the card,
    # which takes the split's section; model_int8.tflite, an export of the
    # same model.keras, stays when not made again. The earlier artifact's
    # other files (an embed's split files left under a cnn card by an older
    # kwsapp) go when the export is put in place.
    with StagedArtifact(artifact) as stage:
        stage.link(KERAS_FILE)
        stage.copy("card.json")
        if args.split:
            stage.link(FLOAT_FILE)
            split = export_split(stage.path, x, embedding_weights=weights)
            if split is None:
                raise BadInputError(f"{artifact}: not an embed model (embedding + head); "
                                    f"nothing to split")
            report = {"streaming": split[0], "split": split[1]}
        else:
            report = export_artifact(stage.path, x, y, int8=args.int8,
                                     embedding_weights=weights)
        if "streaming" in report:
            record_split(stage.path, report["streaming"], report["split"])
        stage.commit(keep={INT8_FILE})
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, r in report.items():
            if name == "streaming":
                continue
            if name == "split":
                print(f"split: embedding.tflite {r['embedding_bytes'] / 1e6:.2f} MB + head.tflite "
                      f"{r['head_bytes'] / 1e6:.2f} MB, top-1 agreement with model.tflite "
                      f"{r['top1_agreement']:.4f}, largest difference {r['max_abs_diff']:.2g} "
                      f"on {r['n']} clips")
                continue
            extra = f", accuracy {r['accuracy']:.4f}" if "accuracy" in r else ""
            change = (f" ({r['accuracy_change']:+.4f} vs float)"
                      if "accuracy_change" in r else "")
            print(f"{name}: {r['size_bytes'] / 1e6:.2f} MB, top-1 agreement with Keras "
                  f"{r['top1_agreement']:.4f} on {r['n']} clips{extra}{change}")
    return 0
