"""Soak: `kwsapp listen` on a JACK dummy server for a long time, real clips
played into its input at random moments, every command it prints checked
against what was played.

The truth is what the same model finds in the same clip offline (the
engine on the clip as a file, with silence around it): clips it does not
find exactly once are not played, so any command missing or doubled live
is the live pipeline's fault, not the model's. A live event is matched to
a played clip when it has the clip's label and arrives between the clip's
start and 3 s after its end. Resident memory (VmRSS) of the listen process
is sampled every few seconds; xruns and dropped windows come from listen's
own closing line.

Run: ``python tests/soak.py --minutes 30 [--model embed] [--data DIR]``
(``make soak``); prints one JSON object. tests/test_soak.py runs a 60 s one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

from conftest import DATA_DIR, sigint_default, start_jack_server, stop_jack_server  # noqa: E402
from jack_play import jack_ports, new_ports  # noqa: E402

SR = 16000
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
MATCH_AFTER_S = 3.0  # an event may arrive this long after its clip ends
#: Phases of a clip on the model's grids tried offline, this far apart (samples).
PHASE_STEP = 80
#: Silence between the copies of a clip played at each phase: more than the
#: head's window plus the smoother's refractory time, so each copy is heard
#: as if alone (the gate closes, the smoother resets, no embedding is shared).
COPY_GAP_S = 3.0


def phase_cycle(config) -> int:
    """Samples after which a clip meets the same 80 ms embedding grid and the
    same VAD frames again (the pipeline's output depends on nothing else)."""
    from math import lcm

    from kwsapp.config import ms_to_samples

    return lcm(1280, ms_to_samples(config.vad.frame_ms))


def phase_outcomes(recognizer, config, clip: np.ndarray, step: int = PHASE_STEP,
                   realtime_path: bool = False) -> list[list[str]]:
    """The labels the engine finds in ``clip`` at each phase ``0, step, ...``
    of :func:`phase_cycle`: one stream holding a copy per phase, each copy
    after ``COPY_GAP_S`` of silence (one engine run instead of one per phase).

    Args:
        realtime_path: embed step by step as a live stream does (the file
            path embeds 128 steps per call; both give the same embeddings).
    """
    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine

    cycle = phase_cycle(config)
    gap = -(-int(COPY_GAP_S * SR) // cycle) * cycle  # whole cycles of silence
    span = -(-len(clip) // cycle) * cycle + gap  # copy k starts at gap + k * span + phase
    starts = [gap + k * span + phase for k, phase in enumerate(range(0, cycle, step))]
    audio = np.zeros(starts[-1] + span, np.float32)
    for start in starts:
        audio[start:start + len(clip)] = clip
    if realtime_path:
        recognizer.split.chunk = None  # the engine then embeds step by step (live)
    found: list[list[str]] = [[] for _ in starts]
    for event in Engine(recognizer, config, FileSource(audio, 320)).run():
        # The copy whose audio (plus the next half gap) holds the event.
        k = int((event.end * SR - gap) // span)
        found[min(max(k, 0), len(starts) - 1)].append(event.label)
    return found


def offline_truth(model: str, data_dir: Path, per_label: int) -> list[tuple[str, np.ndarray]]:
    """``(label, audio)`` of clips the model finds exactly once, as label, at
    every phase on its grids (:func:`phase_outcomes`): live, a clip lands at
    any phase, and a clip near its threshold is found at some and not at
    others (the soak's 'lost' clip of 2026-11-28, docs/reliability.md), which
    is the model's doing, not the live pipeline's."""
    from kwsapp.audio.io import load_audio
    from kwsapp.inference.recognizer import load_with_config

    recognizer, config = load_with_config(model)
    kept = []
    for label in COMMANDS:
        files = sorted((data_dir / label).glob("*.wav"))[-3 * per_label:]
        found = 0
        for path in files:
            clip = load_audio(path)
            if all(labels == [label] for labels in phase_outcomes(recognizer, config, clip)):
                kept.append((label, clip))
                found += 1
                if found == per_label:
                    break
    return kept


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def soak(seconds: float, model: str, data_dir: Path, seed: int = 0,
         gaps_s: tuple[float, float] = (1.5, 6.0), per_label: int = 3) -> dict:
    clips = offline_truth(model, data_dir, per_label)
    if not clips:
        raise SystemExit(f"no clip of {data_dir} is found offline by {model}")
    # A loaded machine makes a non-real-time server drop slow clients
    # (its playback then stops for good); allow 5 s per cycle.
    server, env = start_jack_server(client_timeout_ms=5000)
    os.environ.update(env)  # before sounddevice loads: PortAudio reads it then
    import sounddevice as sd

    before = set(jack_ports())
    listen = subprocess.Popen([sys.executable, "-m", "kwsapp", "listen", "--model", model],
                              cwd=REPO_ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, bufsize=1,
                              preexec_fn=sigint_default)
    arrivals: list[tuple[float, str]] = []

    def read_events() -> None:
        for line in listen.stdout:
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "s":
                arrivals.append((time.monotonic(), parts[2]))

    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()
    try:
        in_ports = new_ports(before, timeout_s=60)
        if len(in_ports) != 1:
            raise SystemExit(f"listen opened {in_ports}, not one input port")
        rng = np.random.default_rng(seed)
        played: list[dict] = []
        schedule: list[tuple[int, int]] = []  # (start sample, clip index)
        pos = int(2 * SR)
        while pos < (seconds - 4) * SR:
            i = int(rng.integers(len(clips)))
            schedule.append((pos, i))
            pos += len(clips[i][1]) + int(rng.uniform(*gaps_s) * SR)
        state = {"sample": 0, "next": 0, "t0": None}

        def output(outdata, frames, time_info, status) -> None:
            outdata.fill(0)
            s0 = state["sample"]
            if state["t0"] is None:
                state["t0"] = time.monotonic()
            k = state["next"]
            # Clips overlapping this block (starts are far apart: at most 2).
            for start, i in schedule[max(0, k - 1):k + 2]:
                audio = clips[i][1]
                a, b = max(start, s0), min(start + len(audio), s0 + frames)
                if a < b:
                    outdata[a - s0:b - s0, 0] = audio[a - start:b - start]
            while state["next"] < len(schedule) and schedule[state["next"]][0] < s0 + frames:
                start, i = schedule[state["next"]]
                played.append({"label": clips[i][0],
                                "start": state["t0"] + start / SR,
                                "end": state["t0"] + (start + len(clips[i][1])) / SR})
                state["next"] += 1
            state["sample"] = s0 + frames

        before_out = set(jack_ports())
        out = sd.OutputStream(samplerate=SR, channels=1, dtype="float32", callback=output)
        out.start()
        out_ports = new_ports(before_out)
        if len(out_ports) != 1:
            raise SystemExit(f"the player opened {out_ports}, not one output port")
        subprocess.run(["jack_connect", out_ports[0], in_ports[0]], check=True)
        t_start = time.monotonic()
        rss: list[tuple[float, int]] = []
        while time.monotonic() - t_start < seconds:
            kb = rss_kb(listen.pid)
            if kb is not None:
                rss.append((time.monotonic() - t_start, kb))
            if listen.poll() is not None:
                break
            time.sleep(min(5.0, max(1.0, seconds / 60)))
        player_s = state["sample"] / SR
        # A stream the server dropped never stops (PortAudio waits for a
        # callback that will not come): abort it on a thread, give up after 2 s.
        closer = threading.Thread(target=lambda: (out.abort(), out.close()), daemon=True)
        closer.start()
        closer.join(2.0)
        time.sleep(MATCH_AFTER_S)
    finally:
        if listen.poll() is None:
            listen.send_signal(signal.SIGINT)
        try:
            _, err = listen.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            listen.kill()
            _, err = listen.communicate()
        stop_jack_server(server)
    reader.join(5)
    result = score(played, arrivals, rss, err, listen.returncode, seconds)
    result["player_seconds"] = round(player_s, 1)  # audio the server really pulled
    return result


def score(played: list[dict], arrivals: list[tuple[float, str]], rss: list[tuple[float, int]],
          stderr: str, code: int | None, seconds: float) -> dict:
    """Match arrivals to played clips; memory and listen's own counts."""
    t0 = played[0]["start"] if played else 0.0
    used = [False] * len(arrivals)
    lost = doubled = 0
    starts = [c["start"] for c in played[1:]] + [float("inf")]
    for clip, next_start in zip(played, starts):
        # A clip's command counts until the next clip starts (clips are
        # 1.5-6 s apart, the command comes well within that): without the
        # cut, the 30-minute soak of 2026-11-29 credited the command of a
        # "yes" played 2.6 s after another "yes" to the first one, and
        # reported one clip doubled and the next lost.
        until = min(clip["end"] + MATCH_AFTER_S, next_start)
        hits = [j for j, (t, label) in enumerate(arrivals)
                if not used[j] and label == clip["label"] and clip["start"] <= t < until]
        for j in hits:
            used[j] = True
        lost += not hits
        doubled += max(0, len(hits) - 1)
        clip["found"] = len(hits)
    stopped = re.search(r"stopped: (\d+) command\(s\), (\d+) xrun\(s\), (\d+) dropped", stderr)
    warm = [kb for t, kb in rss if t >= min(60.0, seconds * 0.3)]
    growth = (max(warm) - warm[0]) / warm[0] if len(warm) >= 2 else None
    return {
        "seconds": seconds, "played": len(played), "events": len(arrivals),
        "lost": lost, "doubled": doubled, "stray": used.count(False),
        "xruns": int(stopped.group(2)) if stopped else None,
        "dropped_windows": int(stopped.group(3)) if stopped else None,
        "rss_kb_after_warmup": warm[0] if warm else None,
        "rss_kb_max": max(warm) if warm else None,
        "rss_growth": growth, "exit_code": code,
        "stderr_tail": stderr[-1500:],
        # Each played clip (times in s from the first played sample) and
        # every live event, for a lost or doubled clip to be looked into.
        "clips": [{"label": c["label"], "start": round(c["start"] - t0, 3),
                   "end": round(c["end"] - t0, 3), "found": c["found"]} for c in played],
        "arrivals": [[round(t - t0, 3), label] for t, label in arrivals],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--model", default="embed")
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-label", type=int, default=3, help="clips of each command")
    args = parser.parse_args()
    from kwsapp.quiet import quiet_native_libraries

    quiet_native_libraries(0)
    print(json.dumps(soak(args.minutes * 60.0, args.model, args.data, args.seed,
                          per_label=args.per_label), indent=2), flush=True)
    # PortAudio's exit handler would wait on (or assert about) the JACK
    # stream of a server now stopped: leave without it.
    os._exit(0)


if __name__ == "__main__":
    main()
