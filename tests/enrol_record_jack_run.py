"""``kwsapp enrol NAME --record N`` through real PortAudio on a JACK server.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` and ``KWSAPP_HOME`` set.
Starts the command and, each time it says "say the word now", plays the
next clip into the input port it opened last (one stream per take, opened
before the take's countdown: what is played earlier is not recorded); with
``--silent-first`` the first take gets nothing, so the command must say the
take is silent and record it again. Prints one JSON object: the command's
exit code, stdout and stderr, how many input ports it opened, and how many
of the takes' ports were open before their countdown began.

Usage: python tests/enrol_record_jack_run.py --name NAME --takes WAV... [--silent-first]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gui_words_jack_run import SR, Player, ports_now, word_only  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--takes", nargs="+", required=True)
    parser.add_argument("--silent-first", action="store_true")
    args = parser.parse_args()

    player = Player()
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "kwsapp", "enrol", args.name, "--record",
                             str(len(args.takes))], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: list[str] = []  # the command's stderr, read as it comes
    out: list[str] = []

    def read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    readers = [threading.Thread(target=read, args=(proc.stderr, lines), daemon=True),
               threading.Thread(target=read, args=(proc.stdout, out), daemon=True)]
    for reader in readers:
        reader.start()
    clips = [word_only(t) for t in args.takes]
    queue = ([None] if args.silent_first else []) + clips
    seen: set[str] = set(ports_now())  # the ports at the last look
    ports: list[str] = []  # input ports opened, in order
    open_at_countdown = 0  # takes whose port was open when their "3…" was said
    counted = nows = 0  # lines looked at; "now"s answered
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        # The lines first, then the ports: a port opened before a line was
        # said is listed by then.
        new = lines[counted:]
        counted += len(new)
        # New since the last look: each take's input runs in a capture
        # child of its own, whose port JACK may name as the last one's.
        now = ports_now()
        fresh = [p for p in now if p not in seen and ":in" in p]
        if now:  # [] is jack_lsp failing, not every port gone
            seen = set(now)
        if fresh:
            ports.append(fresh[0])
            print(f"port {fresh}", file=sys.stderr, flush=True)
        for line in new:
            if line.rstrip().endswith(": 3…") and ports:
                # A port opened since the last take's "now": this take's.
                open_at_countdown += len(ports) > nows
            if "say the word now" in line and ports:
                nows += 1
                clip = queue.pop(0) if queue else None
                if clip is not None:
                    player.play(np.concatenate([np.zeros(SR // 5, np.float32), clip]), ports[-1])
        if not fresh and not new:
            time.sleep(0.02)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for reader in readers:
        reader.join(5)
    player.close()
    print(json.dumps({"returncode": proc.returncode, "stdout": "".join(out),
                      "stderr": "".join(lines),
                      "ports": len(ports), "open_at_countdown": open_at_countdown}))


if __name__ == "__main__":
    main()
