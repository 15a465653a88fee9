"""``kwsapp devices``: the audio inputs PortAudio sees, default marked."""

from __future__ import annotations

import argparse

HELP = "list audio input devices (* marks the default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON on stdout")


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from kwsapp.audio.portaudio_child import list_input_devices_in_child
    from kwsapp.audio.source import NO_INPUT_DEVICE
    from kwsapp.config import AudioConfig
    from kwsapp.errors import DeviceError

    # A fresh PortAudio in a child process, given up (DeviceError, exit 2)
    # when it has not answered in time: in this one, its start hangs for
    # ever on a sound server that answers nobody.
    devices = list_input_devices_in_child(AudioConfig().device_list_timeout_s)
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
