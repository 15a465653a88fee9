"""``kwsapp devices``: the audio inputs PortAudio sees, default marked."""

from __future__ import annotations

import argparse

HELP = "list audio input devices (* marks the default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON on stdout")


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from kwsapp.audio.source import NO_INPUT_DEVICE, list_input_devices
    from kwsapp.errors import DeviceError

    devices = list_input_devices()
    if not devices:
        raise DeviceError(NO_INPUT_DEVICE)
    if args.json:
        print(json.dumps([asdict(d) for d in devices], indent=2))
        return 0
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, "
              f"{d.default_rate_hz} Hz)")
    return 0
