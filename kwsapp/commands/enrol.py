"""``kwsapp enrol NAME FILE... | --record N``: teach the app a word."""

from __future__ import annotations

import argparse

HELP = "add a user word from a few recordings of it (files, or --record N from the microphone)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the word's name (what events are labelled)")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="takes: recordings of the word alone (3 or more; 5 recommended)")
    parser.add_argument("--record", type=int, default=None, metavar="N",
                        help="record N takes from the microphone instead of files")
    parser.add_argument("--device", default=None,
                        help="input device for --record (index or name substring)")
    parser.add_argument("--ignore", action="store_true",
                        help="a word the commands must not fire on (a name said often, a "
                             "TV's catchphrase): it reports nothing itself and no command "
                             "fires where it is heard; one take is enough, three better")
    parser.add_argument("--json", action="store_true", help="the new word's card as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from kwsapp.config import UserWordsConfig
    from kwsapp.errors import BadInputError
    from kwsapp.userwords.embedding import default_embedder, default_pool
    from kwsapp.userwords.enrol import enrol
    from kwsapp.userwords.store import check_name, check_writable, home
    from kwsapp.userwords.takes import load_takes, min_takes

    config = UserWordsConfig()
    if args.record is not None and args.files:
        raise BadInputError("give take files or --record N, not both")
    if args.record is None and not args.files:
        raise BadInputError(f"give take files (at least {min_takes(config, args.ignore)}) "
                            "or --record N")
    check_name(args.name)  # before any recording
    # Before the takes are recorded and the word trained (seconds of work):
    # a words folder that cannot be written was found only when saving.
    check_writable()
    if args.record is not None:
        from kwsapp.audio.child_source import ChildSource
        from kwsapp.config import Config
        from kwsapp.userwords.record import record_takes

        if args.record < min_takes(config, args.ignore):
            raise BadInputError(f"--record {args.record}: at least "
                                f"{min_takes(config, args.ignore)} takes "
                                f"are needed ({config.default_takes} recommended)")
        # Each take's input is the window's: PortAudio in a child process.
        # In this one, a PortAudio that hangs opening (a JACK server that
        # stopped answering) also holds stderr on /dev/null (sounddevice
        # mutes it while PortAudio starts), and the message saying so was
        # lost. An input that does not open or sends no audio in time (the
        # config's limits, as in the Add word dialog) ends the command with
        # a DeviceError naming it: exit 2.
        block_ms = Config().audio.block_ms
        takes = record_takes(args.record, lambda: ChildSource(args.device, block_ms=block_ms),
                             config, lambda line: print(line, file=sys.stderr, flush=True),
                             device=args.device)
    else:
        takes = load_takes(args.files, config, args.ignore)
    word = enrol(args.name, takes, default_embedder(), default_pool(), config,
                 embedding_id=default_embedder().id, ignore=args.ignore)
    card = word.card
    if args.json:
        print(json.dumps(card, indent=2))
    else:
        print(f"enrolled {word.name!r} from {len(takes)} takes in "
              f"{card['figures']['enrol_seconds']:.1f} s (threshold {card['threshold']:.2f}); "
              f"saved in {word.path}")
    like = card["pool"].get("same_word", [])
    if like:  # the user should know why those words are not counted against it
        print(f"the negative pool's {', '.join(map(repr, like))} sound like these takes: "
              "left out of the negatives as the same word", file=sys.stderr)
    alike = word.sounds_like()
    if alike:  # why it vetoes only where it is surer: the user should know
        shares = ", ".join(f"{share:.0%} of {c!r}" for c, share in alike.items())
        print(f"{word.name!r} sounds like {' and '.join(map(repr, alike))} (at the usual "
              f"level, {config.ignore_threshold:.2f}, it would veto {shares} said by "
              f"others): it vetoes only where it scores {word.threshold:.3f} or more",
              file=sys.stderr)
    now = "fire no command on" if word.ignore else "report"
    print(f"user words live in {home()}; listen, classify and the window now {now} "
          f"{word.name!r}", file=sys.stderr)
    return 0
