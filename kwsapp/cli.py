"""The ``kwsapp`` command line (contract in DESIGN.md, kept stable).

Each subcommand lives in its own module under ``kwsapp/commands/`` exposing
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; modules keep
their heavy imports (Qt, LiteRT, TensorFlow) inside ``run``, so building the
parser stays fast. Errors of the :class:`~kwsapp.errors.KwsError` tree are
caught once here and printed as ``kwsapp: Type: message`` with their exit
code (2 bad input, 1 internal); ``--json`` output goes to stdout only, logs
to stderr.
"""

from __future__ import annotations

import os

# Before numpy loads: OpenBLAS would start a thread per core for the small
# matrix products of each window's features, and on a 2-core machine those
# threads fight the audio and inference threads (log-mel went from 0.2 ms to
# 14 ms per window under load in benchmarks/). A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib
import logging
import re
import sys
from types import ModuleType
from typing import NoReturn

from kwsapp import __version__
from kwsapp.errors import KwsError
from kwsapp.quiet import quiet_native_libraries

#: Subcommand -> module. `kwsapp` with no subcommand runs `gui`.
COMMANDS: dict[str, str] = {
    "gui": "kwsapp.commands.gui",
    "devices": "kwsapp.commands.devices",
    "listen": "kwsapp.commands.listen",
    "classify": "kwsapp.commands.classify",
    "evaluate": "kwsapp.commands.evaluate",
    "train": "kwsapp.commands.train",
    "export": "kwsapp.commands.export",
    "explore": "kwsapp.commands.explore",
    "make-stream": "kwsapp.commands.make_stream",
    "evaluate-stream": "kwsapp.commands.evaluate_stream",
    "enrol": "kwsapp.commands.enrol",
    "words": "kwsapp.commands.words",
}
DEFAULT_COMMAND = "gui"

log = logging.getLogger("kwsapp")


def _command_modules() -> dict[str, ModuleType]:
    # Every listed command must import: a missing module is a broken install
    # (and a failing test), never a command silently dropped from the help.
    return {name: importlib.import_module(module_name) for name, module_name in COMMANDS.items()}


def version_text() -> str:
    """``kwsapp X.Y.Z`` and one line per bundled model (its card's date and
    code version)."""
    from kwsapp.models.registry import bundled_versions, models_dir

    lines = [f"kwsapp {__version__}"]
    versions = bundled_versions()
    if not versions:
        lines.append(f"no bundled models found (looked in {models_dir()})")
    lines += [f"  model {name}: {v}" for name, v in versions.items()]
    return "\n".join(lines)


class _VersionAction(argparse.Action):
    """``--version``: reads the model cards only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):  # noqa: A002 - argparse's own keyword
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kwsapp", description="Recognize spoken commands (yes no up down left right "
                                   "on off stop go) live or in files.")
    parser.add_argument("--version", action=_VersionAction,
                        help="show the package and bundled model versions and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output on stderr (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _command_modules().items():
        # argparse %-formats help strings: a literal % must not break -h.
        sp = sub.add_parser(name, help=module.HELP.replace("%", "%%"), description=module.HELP)
        module.add_arguments(sp)
        sp.set_defaults(_run=module.run)
    return parser


def run() -> NoReturn:
    """The ``kwsapp`` console script and ``python -m kwsapp``: :func:`main`,
    then exit.

    After a live stream on JACK, PortAudio's exit handler (Pa_Terminate) was
    seen to block for ever (listen on Ctrl-C never ended in full test runs).
    Everything is stopped and closed by the time :func:`main` returns, so a
    process that ran a stream flushes and leaves without it."""
    code = main()
    if "sounddevice" in sys.modules:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code or 0))
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _printable_file_names()
    parser = build_parser()
    if not any(a in COMMANDS for a in argv) and not any(a in ("-h", "--help", "--version")
                                                         for a in argv):
        lead = 0  # global flags stay before the subcommand
        while lead < len(argv) and (argv[lead] == "--verbose" or re.fullmatch(r"-v+", argv[lead])):
            lead += 1
        if lead < len(argv) and not argv[lead].startswith("-"):
            # The window takes options only: a word here is a mistyped command.
            parser.error(f"unknown command {argv[lead]!r} (choose from {', '.join(COMMANDS)})")
        argv.insert(lead, DEFAULT_COMMAND)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr,
                        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    quiet = quiet_native_libraries(args.verbose)
    try:
        return int(args._run(args) or 0)
    except KwsError as exc:
        print(f"kwsapp: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        # Ctrl-C in a command that keeps nothing part-done (evaluate-stream,
        # make-stream, explore...); classify and evaluate print what they
        # finished and say so themselves.
        print("kwsapp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kwsapp classify ... | head`
        _drop_stdout()
        return 0
    except OSError as exc:
        return _os_error(exc)
    finally:
        if quiet is not None:
            quiet.close()


def _drop_stdout() -> None:
    """Point stdout at /dev/null: what is left in its buffer would fail
    again at exit ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (a test's capture)
        pass


def _os_error(exc: OSError) -> int:
    """An OS error no command turned into a message of its own: the output
    itself (stdout redirected to a full disk: ``kwsapp classify ... >
    out.txt``), or a file or folder that cannot be used. One line naming
    it (when the error names it), not a traceback (``-v`` logs where it came
    from); exit 2 for a path that cannot be read or written, else 1."""
    log.debug("unexpected OS error", exc_info=True)
    try:
        sys.stdout.flush()
    except OSError:  # what is left would fail again at exit
        _drop_stdout()
    except ValueError:  # stdout closed
        pass
    where = f"{exc.filename}: " if exc.filename else ""
    print(f"kwsapp: {type(exc).__name__}: {where}{exc.strerror or exc}", file=sys.stderr)
    bad_path = isinstance(exc, (PermissionError, FileNotFoundError, NotADirectoryError,
                                IsADirectoryError, FileExistsError))
    return 2 if bad_path else 1


def _printable_file_names() -> None:
    """A file name that is not valid UTF-8 (Python holds its bytes as lone
    surrogates) is printed as those bytes on a UTF-8 stdout/stderr, else
    with backslash escapes: under a strict error handler (a UTF-8 locale
    other than C.UTF-8) printing it was a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) != "strict" or not hasattr(stream, "reconfigure"):
            continue
        utf8 = (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
        try:
            stream.reconfigure(errors="surrogateescape" if utf8 else "backslashreplace")
        except (ValueError, OSError):  # not reconfigurable (a test's capture)
            pass
