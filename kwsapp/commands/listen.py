"""``kwsapp listen``: recognize commands from a microphone, one line each
(``--json``: one JSON object per line, JSON lines)."""

from __future__ import annotations

import argparse
import logging

from kwsapp.commands.options import add_model_option, number

log = logging.getLogger(__name__)

HELP = "listen to a microphone and print one line per recognized command"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="input device index or name substring (see `kwsapp devices`)")
    parser.add_argument("--device-rate", type=number(int, 1000, 384000), default=None,
                        metavar="HZ",
                        help="ask the device for this sample rate (default: its own; a rate "
                             "it refuses is said and another it takes is used)")
    add_model_option(parser)
    parser.add_argument("--threshold", type=number(float, 0.0, 1.0, open_lo=True), default=None,
                        help="event threshold (default: the model card's)")
    parser.add_argument("--no-verify", action="store_true",
                        help="commands on the head alone, without the speech recogniser's "
                             "second opinion the card asks for (about 20-30 ms sooner, more "
                             "commands fired on other speech)")
    parser.add_argument("--seconds", type=number(float, 0.0, open_lo=True), default=None,
                        help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per command on stdout (JSON lines): label, "
                             "score, start, end, emitted_at, latency (seconds), emitted (true)")
    parser.add_argument("--not-emitted", action="store_true",
                        help="with --json, also write each command the second opinion "
                             "stopped as a JSON line: emitted false, heard (what the "
                             "recogniser heard, \"\" for no word), logp and the level it "
                             "missed (without it they are text lines on stderr)")


def event_json(event: object, stopped: object | None = None) -> str:
    """One command as a JSON line (times in seconds of the stream); with
    ``stopped`` (its :class:`~kwsapp.inference.second_opinion.Unconfirmed`),
    a command the second opinion did not let through."""
    import json

    row = {"label": event.label, "score": round(float(event.score), 4),
           "start": round(float(event.start), 3), "end": round(float(event.end), 3),
           "emitted_at": round(float(event.emitted_at), 3),
           "latency": round(float(event.latency), 3), "emitted": stopped is None}
    if stopped is not None:
        row.update(heard=stopped.heard, logp=round(float(stopped.logp), 2),
                   level=round(float(stopped.level), 2))
    return json.dumps(row)


def _open_source(args: argparse.Namespace, config: object) -> object:
    """The input stream, run by a child process
    (:class:`~kwsapp.audio.child_source.ChildSource`, the window's source):
    PortAudio cannot be restarted in a process that held a stream whose
    device vanished, and its JACK host may abort or hang the process then.

    Raises:
        DeviceError: the device is missing, refuses every rate, is busy, or
            did not open within ``config.audio.open_timeout_s``.
    """
    from kwsapp.audio.child_source import ChildSource

    return ChildSource(args.device, block_ms=config.audio.listen_block_ms,
                       rate_hz=args.device_rate or config.audio.device_rate_hz,
                       open_timeout_s=config.audio.open_timeout_s)


def _wait_for_device(args: argparse.Namespace, config: object,
                     deadline: float | None) -> object | None:
    """A new source once the input device answers again; None at the
    deadline."""
    import time

    from kwsapp.audio.portaudio_child import input_device_answers
    from kwsapp.errors import DeviceError

    poll_s = config.audio.device_poll_s
    while deadline is None or time.monotonic() < deadline:
        # A fresh PortAudio in a child each time, as the window's
        # DeviceWatcher asks: one started once sees the devices as they were
        # then, and hangs for ever on a sound server that answers nobody.
        if input_device_answers(args.device, config.audio.device_probe_timeout_s):
            try:
                return _open_source(args, config)
            except DeviceError as exc:  # it went again, or is busy: keep waiting
                log.debug("input device answers but cannot be opened: %s", exc)
        time.sleep(poll_s if deadline is None
                   else max(0.0, min(poll_s, deadline - time.monotonic())))
    return None


def run(args: argparse.Namespace) -> int:
    """Listen until Ctrl-C or ``--seconds``; when the input device stops
    delivering audio, say so, wait for it and listen again."""
    import sys
    import time

    from kwsapp.config import Overrides
    from kwsapp.errors import BadInputError, DeviceError
    from kwsapp.inference.recognizer import load_with_config

    if args.not_emitted and not args.json:
        raise BadInputError("--not-emitted adds JSON lines: use it with --json")
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    recognizer, config = load_with_config(args.model, Overrides(
        threshold=args.threshold, verify=False if args.no_verify else None))
    source = _open_source(args, config)  # no device at the start: say so and stop
    totals = {"commands": 0, "unconfirmed": 0, "xruns": 0, "dropped": 0}
    error: Exception | None = None
    first = True
    try:
        while source is not None:
            try:
                error = _listen(source, recognizer, config, args, deadline, totals)
            except DeviceError as exc:  # the stream would not start (busy ...)
                if first:
                    raise  # at the start: say so and stop (exit 2)
                error = exc  # it came back only for a moment: wait again
            first = False
            if not isinstance(error, DeviceError) or (
                    deadline is not None and time.monotonic() >= deadline):
                break
            # A device unplugged (or its sound server stopped): keep running.
            print(f"kwsapp: {error}; waiting for it to come back (Ctrl-C to stop)",
                  file=sys.stderr, flush=True)
            error, source = None, _wait_for_device(args, config, deadline)
            if source is not None:
                print("input device is back", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        error = None
    unconfirmed = (f", {totals['unconfirmed']} not confirmed by the second opinion"
                   if config.verify.active else "")
    print(f"stopped: {totals['commands']} command(s), {totals['xruns']} xrun(s), "
          f"{totals['dropped']} dropped window(s){unconfirmed}", file=sys.stderr)
    if error is not None and not isinstance(error, DeviceError):
        raise error
    return 0


def _listen(source: object, recognizer: object, config: object, args: argparse.Namespace,
            deadline: float | None, totals: dict[str, int]) -> Exception | None:
    """Run the engine on ``source`` until the deadline, Ctrl-C (raised
    after the engine stopped) or an error (returned); adds its counts to
    ``totals``."""
    import sys
    import threading
    import time

    from kwsapp.inference.engine import CommandEvent, Engine
    from kwsapp.inference.second_opinion import Unconfirmed
    from kwsapp.inference.verifier import heard_as
    from kwsapp.userwords.live import attach_user_words

    failed = threading.Event()

    def on_event(event: CommandEvent) -> None:
        line = (event_json(event) if args.json
                else f"{event.end:9.2f} s  {event.label:<8} {event.score:.2f}")
        print(line, flush=True)

    def on_unconfirmed(dropped: Unconfirmed) -> None:
        if args.json and args.not_emitted:  # asked for: the reader tells them apart
            print(event_json(dropped.event, dropped), flush=True)
            return
        # stderr: stdout stays one line per command fired.
        e = dropped.event
        print(f"{e.end:9.2f} s  ({e.label} {e.score:.2f} not emitted: the second opinion "
              f"heard {heard_as(dropped.heard)})", file=sys.stderr, flush=True)

    engine = Engine(recognizer, config, source, on_event=on_event,
                    on_error=lambda exc: failed.set(), on_unconfirmed=on_unconfirmed)
    try:
        user_words = attach_user_words(engine)
        if user_words is not None:
            print(f"user words: {', '.join(user_words.labels[1:])}", file=sys.stderr)
        per_class = "".join(f", {k} {v:.2f}"
                            for k, v in config.smoothing.class_thresholds().items())
        if source.notice:
            print(f"kwsapp: warning: {source.notice}", file=sys.stderr)
        engine.start()  # opens the stream: a busy device fails here, before "listening on"
        print(f"listening on {source.device_name} at {source.sample_rate_hz} Hz with model "
              f"{recognizer.card.name} (threshold {config.smoothing.threshold:.2f}{per_class}"
              f"{', second opinion on' if config.verify.active else ''}); "
              "Ctrl-C to stop", file=sys.stderr, flush=True)
        # A sound card's stream runs until stopped; a source that ends (a
        # file) ends the listening.
        while not failed.is_set() and engine.is_running and (
                deadline is None or time.monotonic() < deadline):
            # on_error sets `failed` and Ctrl-C interrupts the wait: a long
            # one costs nothing (a 0.1 s one woke this thread 10 times a second).
            failed.wait(1.0 if deadline is None else min(1.0, deadline - time.monotonic()))
    finally:
        engine.stop()  # also ends the capture child
        stats = engine.stats
        totals["commands"] += len(engine.events)
        totals["unconfirmed"] += engine.unverified
        totals["xruns"] += stats.xruns
        totals["dropped"] += stats.dropped_windows
    return engine.error
