"""``kwsapp enrol NAME --record N`` through real PortAudio on a JACK server.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` and ``KWSAPP_HOME`` set.
Starts the command, and each time it opens an input port (one stream per
take) plays the next clip into it; with ``--silent-first`` the first port
gets nothing, so the command must say the take is silent and record it
again. Prints one JSON object: the command's exit code, stdout and stderr,
and how many input ports it opened.

Usage: python tests/enrol_record_jack_run.py --name NAME --takes WAV... [--silent-first]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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
    clips = [word_only(t) for t in args.takes]
    queue = ([None] if args.silent_first else []) + clips
    seen: set[str] = set(ports_now())
    opened = 0
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        fresh = [p for p in ports_now() if p not in seen and ":in" in p]
        if not fresh:
            time.sleep(0.05)
            continue
        seen.update(fresh)
        opened += 1
        print(f"port {fresh}", file=sys.stderr, flush=True)
        clip = queue.pop(0) if queue else None
        if clip is not None:
            player.play(np.concatenate([np.zeros(SR // 5, np.float32), clip]), fresh[0])
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    player.close()
    print(json.dumps({"returncode": proc.returncode, "stdout": out, "stderr": err,
                      "ports": opened}))


if __name__ == "__main__":
    main()
