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
    parser.add_argument("--seconds", type=number(float, 0.0, open_lo=True), default=None,
                        help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per command on stdout (JSON lines): label, "
                             "score, start, end, emitted_at, latency (seconds)")


def event_json(event: object) -> str:
    """One command as a JSON line (times in seconds of the stream)."""
    import json

    return json.dumps({"label": event.label, "score": round(float(event.score), 4),
                       "start": round(float(event.start), 3), "end": round(float(event.end), 3),
                       "emitted_at": round(float(event.emitted_at), 3),
                       "latency": round(float(event.latency), 3)})


#: Set in the environment of a listen that restarted itself after its
#: input device came back.
RESUMED_ENV = "KWSAPP_LISTEN_RESUMED"
#: Seconds between checks for a lost input device.
DEVICE_POLL_S = 1.0


def _device_available(device: str | None) -> bool:
    """Whether PortAudio, started afresh, finds the input ``device``: asked
    in a child process, because this one's PortAudio still holds the dead
    stream (re-initializing it hangs on JACK)."""
    import subprocess

    from kwsapp.audio.child_source import probe_command

    try:
        return subprocess.run(probe_command(device), capture_output=True,
                              timeout=15).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _wait_and_restart(args: argparse.Namespace, deadline: float | None) -> int:
    """Wait for the input device to come back, then start this command
    again; 0 at the deadline or on Ctrl-C."""
    import time

    try:
        while not _device_available(args.device):
            if deadline is not None and time.monotonic() >= deadline:
                return 0
            time.sleep(DEVICE_POLL_S)
    except KeyboardInterrupt:
        return 0
    return _restart(deadline)


def _restart(deadline: float | None) -> int:
    """Run this command again in this process's place, with a fresh
    PortAudio: the old one still holds the dead stream, whose abandoned
    close aborts the process (pa_jack.c assertion) once the server is back,
    and re-initializing it in place hangs."""
    import os
    import sys
    import time

    from kwsapp import quiet

    argv = list(sys.argv[1:])
    if deadline is not None:
        left = f"{max(0.1, deadline - time.monotonic()):.3f}"
        at = argv.index("--seconds") if "--seconds" in argv else -1
        argv = argv[:at + 1] + [left] + argv[at + 2:] if at >= 0 else \
            [a if not a.startswith("--seconds=") else f"--seconds={left}" for a in argv]
    sys.stdout.flush()
    quiet.release()  # fd 2 back to the terminal before this process image goes
    os.environ[RESUMED_ENV] = "1"
    os.execv(sys.executable, [sys.executable, "-m", "kwsapp", *argv])
    return 1  # not reached


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    import threading
    import time

    from kwsapp.audio.source import SoundDeviceSource
    from kwsapp.errors import DeviceError
    from kwsapp.inference.engine import CommandEvent, Engine
    from kwsapp.inference.recognizer import load_with_config

    from kwsapp.config import Overrides

    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    resumed = os.environ.pop(RESUMED_ENV, None) is not None
    recognizer, config = load_with_config(args.model, Overrides(threshold=args.threshold))
    try:
        source = SoundDeviceSource(args.device, block_ms=config.audio.block_ms,
                                   rate_hz=args.device_rate or config.audio.device_rate_hz)
    except DeviceError as exc:
        if not resumed:  # no device at the start: say so and stop
            raise
        log.debug("input still missing after restart: %s", exc)
        return _wait_and_restart(args, deadline)
    failed = threading.Event()

    def on_event(event: CommandEvent) -> None:
        line = (event_json(event) if args.json
                else f"{event.end:9.2f} s  {event.label:<8} {event.score:.2f}")
        print(line, flush=True)

    engine = Engine(recognizer, config, source, on_event=on_event,
                    on_error=lambda exc: failed.set())
    from kwsapp.userwords.live import attach_user_words

    user_words = attach_user_words(engine)
    if user_words is not None:
        print(f"user words: {', '.join(user_words.labels[1:])}", file=sys.stderr)
    per_class = "".join(f", {k} {v:.2f}" for k, v in config.smoothing.class_thresholds().items())
    if resumed:
        print("input device is back", file=sys.stderr)
    if source.notice:
        print(f"kwsapp: warning: {source.notice}", file=sys.stderr)
    engine.start()  # opens the stream: a busy device fails here, before "listening on"
    print(f"listening on {source.device_name} at {source.sample_rate_hz} Hz with model "
          f"{recognizer.card.name} (threshold {config.smoothing.threshold:.2f}{per_class}); "
          "Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        while not failed.is_set() and (deadline is None or time.monotonic() < deadline):
            # on_error sets `failed` and Ctrl-C interrupts the wait: a long
            # one costs nothing (a 0.1 s one woke this thread 10 times a second).
            failed.wait(1.0 if deadline is None else min(1.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
    stats = engine.stats
    print(f"stopped: {len(engine.events)} command(s), {stats.xruns} xrun(s), "
          f"{stats.dropped_windows} dropped window(s)", file=sys.stderr)
    if isinstance(engine.error, DeviceError) and not (
            deadline is not None and time.monotonic() >= deadline):
        # A device unplugged (or its sound server stopped): keep running.
        print(f"kwsapp: {engine.error}; waiting for it to come back (Ctrl-C to stop)",
              file=sys.stderr, flush=True)
        return _restart(deadline)
    if engine.error is not None:
        raise engine.error
    return 0
