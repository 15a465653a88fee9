"""``kwsapp listen``: recognize commands from a microphone, one line each."""

from __future__ import annotations

import argparse

HELP = "listen to a microphone and print one line per recognized command"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="input device index or name substring (see `kwsapp devices`)")
    parser.add_argument("--model", default=None,
                        help="bundled model name or artifact directory (default: embed)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="event threshold (default: the model card's)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    import sys
    import threading
    import time

    from kwsapp.audio.source import SoundDeviceSource
    from kwsapp.inference.engine import CommandEvent, Engine
    from kwsapp.inference.recognizer import load_with_config

    recognizer, config = load_with_config(args.model, args.threshold)
    source = SoundDeviceSource(args.device, block_ms=config.audio.block_ms)
    failed = threading.Event()

    def on_event(event: CommandEvent) -> None:
        print(f"{event.end:9.2f} s  {event.label:<8} {event.score:.2f}", flush=True)

    engine = Engine(recognizer, config, source, on_event=on_event,
                    on_error=lambda exc: failed.set(), use_card_defaults=False)
    per_class = "".join(f", {k} {v:.2f}" for k, v in config.smoothing.class_thresholds().items())
    print(f"listening on {source.device_name} at {source.sample_rate_hz} Hz with model "
          f"{recognizer.card.name} (threshold {config.smoothing.threshold:.2f}{per_class}); "
          "Ctrl-C to stop", file=sys.stderr, flush=True)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    engine.start()
    try:
        while not failed.is_set() and (deadline is None or time.monotonic() < deadline):
            failed.wait(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
    stats = engine.stats
    print(f"stopped: {len(engine.events)} command(s), {stats.xruns} xrun(s), "
          f"{stats.dropped_windows} dropped window(s)", file=sys.stderr)
    if engine.error is not None:
        raise engine.error
    return 0
