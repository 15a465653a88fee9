"""Checks shared by the subcommands' arguments: numbers within their range
(argparse types: a bad value is a usage error, exit 2, naming the range) and
output paths that can really be written, checked before any long work."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable

from kwsapp.errors import BadInputError
from kwsapp.write_check import nearest_existing, try_write


def _range_text(lo: float | None, hi: float | None, open_lo: bool) -> str:
    if hi is None:
        return f"{'>' if open_lo else '>='} {lo:g}"
    return f"in {'(' if open_lo else '['}{lo:g}, {hi:g}]"


def number(kind: type, lo: float | None = None, hi: float | None = None,
           open_lo: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: ``kind`` (int or float) within ``[lo, hi]``
    (``(lo, hi]`` with ``open_lo``; ``hi`` None: no upper bound). NaN and
    infinities are refused."""
    what = "an integer" if kind is int else "a number"
    allowed = "" if lo is None else " " + _range_text(lo, hi, open_lo)

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}{allowed}, not {text!r}") from None
        if (isinstance(value, float) and not math.isfinite(value)) \
                or (lo is not None and (value < lo or (open_lo and value == lo))) \
                or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {what}{allowed}, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def writable_file(path: str | os.PathLike[str], option: str) -> Path:
    """Check that ``path`` can be written (its folder exists and takes a new
    file) without leaving anything behind.

    Raises:
        BadInputError: naming the option, the path and the problem.
    """
    path = Path(path)
    if path.is_dir():
        raise BadInputError(f"{option} {path}: is a folder, not a file")
    parent = path.parent
    if not parent.is_dir():
        problem = "is not a folder" if parent.exists() else "does not exist"
        raise BadInputError(f"{option} {path}: its folder {parent} {problem}")
    _probe(parent, option, path)
    if path.exists():  # written in place (savefig): its own mode counts too
        try:
            path.open("r+b").close()  # opened for writing, nothing changed
        except OSError as exc:
            raise BadInputError(f"{option} {path}: exists and cannot be written "
                                f"({exc.strerror or exc})") from None
    return path


def writable_dir(path: str | os.PathLike[str], option: str) -> Path:
    """Check that the output folder ``path`` is a folder that takes files,
    or could be made: its nearest existing parent is a writable folder.
    Nothing is created.

    Raises:
        BadInputError: naming the option, the path and the problem.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{option} {path}: exists and is not a folder")
    existing = nearest_existing(path)
    if not existing.is_dir():
        raise BadInputError(f"{option} {path}: cannot create it, {existing} is not a folder")
    _probe(existing, option, path)
    return path


def _probe(folder: Path, option: str, shown: Path) -> None:
    try:
        try_write(folder)
    except OSError as exc:
        raise BadInputError(f"{option} {shown}: cannot write there "
                            f"({exc.strerror or exc})") from None


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model``: a bundled model's name or an artifact directory (default:
    the registry's default model, named there only)."""
    from kwsapp.models.registry import DEFAULT_MODEL

    parser.add_argument("--model", default=None,
                        help=f"bundled model name or artifact directory (default: {DEFAULT_MODEL})")
