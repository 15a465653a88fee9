"""``kwsapp listen``: recognize commands from a microphone, one line each
(``--json``: one JSON object per line, JSON lines)."""

from __future__ import annotations

import argparse

from kwsapp.commands.options import add_model_option, number

HELP = "listen to a microphone and print one line per recognized command"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="input device index or name substring (see `kwsapp devices`)")
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


def run(args: argparse.Namespace) -> int:
    import sys
    import threading
    import time

    from kwsapp.audio.source import SoundDeviceSource
    from kwsapp.inference.engine import CommandEvent, Engine
    from kwsapp.inference.recognizer import load_with_config

    from kwsapp.config import Overrides

    recognizer, config = load_with_config(args.model, Overrides(threshold=args.threshold))
    source = SoundDeviceSource(args.device, block_ms=config.audio.block_ms)
    failed = threading.Event()

    def on_event(event: CommandEvent) -> None:
        line = (event_json(event) if args.json
                else f"{event.end:9.2f} s  {event.label:<8} {event.score:.2f}")
        print(line, flush=True)

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
