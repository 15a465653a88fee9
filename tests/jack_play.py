"""Play a clip into the engine through real PortAudio on a JACK server.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` set (PortAudio reads it
when sounddevice is imported, so this cannot run inside a pytest process
that may already have imported sounddevice). Opens the engine's input
stream and an output stream, connects output -> input with ``jack_connect``,
plays ``--clip`` (after ``--lead`` s of silence), waits ``--tail`` s and
prints one JSON object: events, stats, windows and how well the audio in
the engine's ring matches what was played.

Usage: python tests/jack_play.py --model DIR --clip WAV [--lead S] [--tail S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kwsapp.audio.io import load_audio  # noqa: E402


def jack_ports(flags: str = "") -> list[str]:
    out = subprocess.run(["jack_lsp", *([flags] if flags else [])], capture_output=True,
                         text=True, check=True).stdout
    return [p.strip() for p in out.splitlines() if p.strip()]


def new_ports(before: set[str], timeout_s: float = 20.0) -> list[str]:
    """Ports that appeared since ``before`` (JACK registers them a moment
    after the stream starts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ports = sorted(set(jack_ports()) - before)
        except subprocess.CalledProcessError:  # jack_lsp could not connect: poll again
            ports = []
        if ports or time.monotonic() > deadline:
            return ports
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--clip", required=True, nargs="+")
    parser.add_argument("--lead", type=float, default=0.5)
    parser.add_argument("--gap", type=float, default=1.5)
    parser.add_argument("--tail", type=float, default=1.5)
    args = parser.parse_args()

    import sounddevice as sd

    from kwsapp.audio.source import SoundDeviceSource
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import load_with_config

    recognizer, config = load_with_config(args.model)
    sr = 16000
    gap = np.zeros(int(args.gap * sr), np.float32)
    parts = [np.zeros(int(args.lead * sr), np.float32)]
    for clip in args.clip:
        parts += [load_audio(clip), gap]
    play = np.concatenate(parts + [np.zeros(int(args.tail * sr), np.float32)])
    before = set(jack_ports())
    windows = []
    engine = Engine(recognizer, config, SoundDeviceSource(None, block_ms=config.audio.block_ms,
                                                          rate_hz=sr),
                    on_window=windows.append)
    engine.start()
    in_ports = new_ports(before)

    state = {"pos": -1}  # -1: silent until connected
    done = threading.Event()

    def output_callback(outdata, frames, time_info, status):
        outdata.fill(0)
        pos = state["pos"]
        if pos < 0:
            return
        chunk = play[pos:pos + frames]
        outdata[:len(chunk), 0] = chunk
        state["pos"] = pos + frames
        if pos + frames >= len(play):
            done.set()

    before_out = set(jack_ports())  # ports are registered when a stream opens
    out = sd.OutputStream(samplerate=sr, channels=1, dtype="float32", callback=output_callback)
    out.start()
    out_ports = new_ports(before_out)
    if len(in_ports) != 1 or len(out_ports) != 1:
        raise SystemExit(f"expected one new input and one new output port, got "
                         f"{in_ports} and {out_ports} (engine error: {engine.error})")
    (src,), (dst,) = out_ports, in_ports
    for port in jack_ports():
        if port.startswith("system:capture"):  # keep only our signal on the input
            subprocess.run(["jack_disconnect", port, dst], capture_output=True)
    subprocess.run(["jack_connect", src, dst], check=True)
    time.sleep(0.2)
    start_sample = engine.ring.total_written
    state["pos"] = 0
    done.wait(len(play) / sr + 10)
    time.sleep(0.3)
    running = [t.name for t in threading.enumerate() if t.name.startswith("kwsapp-")]
    engine.stop()
    out.stop()
    out.close()
    got = engine.ring.read(start_sample, engine.ring.total_written - start_sample)
    # Where the played signal sits in what arrived, and how alike they are.
    corr = np.correlate(got, play[:sr * 2], mode="valid") if len(got) >= 2 * sr else np.zeros(1)
    lag = int(np.argmax(np.abs(corr)))
    seg = got[lag:lag + len(play)]
    ref = play[:len(seg)]
    similarity = float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-12))
    print(json.dumps({
        "events": [{"label": e.label, "score": e.score, "start": e.start, "end": e.end,
                    "latency": e.latency} for e in engine.events],
        "windows": len(windows), "xruns": engine.stats.xruns,
        "dropped": engine.stats.dropped_windows, "overruns": engine.stats.overruns,
        "checked": engine.checked, "unverified": engine.unverified,
        "similarity": similarity, "lag_samples": lag,
        "word_starts": [(start_sample + lag) / sr + args.lead + i * (1.0 + args.gap)
                        for i in range(len(args.clip))],
        "threads_running": running,
        "threads_left": [t.name for t in threading.enumerate() if t.name.startswith("kwsapp-")],
    }))


if __name__ == "__main__":
    main()
