"""The recogniser's second opinion on a command (kwsapp/inference/verifier.py):
milliseconds per command, against the head's own window inference (LiteRT,
the bundled model) in the same process (``python -m benchmarks.bench_verify``).

The opinion runs once per command about to fire, never per window, so it
adds to that command's latency, not to the load while nothing is said.
Timings vary with machine load; the ratio is what to compare.

``--live MINUTES`` also measures what a user waits for: a stream of the
validation speakers' words at 10 dB (make-stream's recipe, seed 401)
through the engine live-paced (20 ms blocks in real time, as PortAudio
gives them; the check on its own thread), with the second opinion and
without, scored against the stream's truth: word end -> command, median and
95th percentile, beside the file replay's (emitted when the window that
fired is complete, so without the check's time).

``--replay MINUTES`` measures a file's replay (what ``kwsapp classify``,
``evaluate-stream`` and the Files tab run) of a dense stream of the
validation speakers' words (make-stream's recipe at 10 dB, seed 401, pauses
of 0.5-1.5 s: about 1,570 commands checked an hour), written as a 48 kHz
WAV and decoded block by block: each command checked inline on the
inference thread (``verify.replay_ahead`` 0, as before) against checked on
the verify thread beside the head, its encoder calls run ahead on
``replay_encoders`` workers (``--encoders``), in alternate rounds, wall and
process CPU, the events compared. Then the checks of that replay (their
audio as the engine cut it) one at a time against their encoder calls
batched, clips of equal length together (the encoder has no attention
mask: a clip padded to another's length is heard otherwise), with the
decisions and log-probabilities compared.

``--live-beside-replay MINUTES`` measures ``--live``'s live-paced stream
(with the second opinion) while the process replays 10 minutes of the
dense stream over and over meanwhile (the window listening while its Files
tab classifies a file: both ask the one recogniser), the replay checked
inline against beside its head, in alternate rounds (``--rounds``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.bench_inference import _per_call_ms

#: Real words, 1.3 s as the engine cuts them (the word's end plus 300 ms).
SECONDS = 1.3


def run(data_dir: str, repeats: int = 20) -> list[dict]:
    """Rows ``{"what", "ms", "ratio_vs_window"}``."""
    from pathlib import Path

    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.inference.verifier import Verifier
    from kwsapp.models.registry import resolve
    from kwsapp.streaming.synth import load_clip

    rec = Recognizer(resolve("embed"))
    x = rec.front_end(np.zeros(rec.card.window_samples, np.float32))
    window_ms = _per_call_ms(rec.model.invoke, x, 50)
    verifier = Verifier()
    rows = [{"what": "head, one window (LiteRT)", "ms": window_ms}]
    for label in ("go", "left", "off"):
        name = sorted((Path(data_dir) / label).glob("*.wav"))[0].name
        clip = load_clip(Path(data_dir), f"{label}/{name}", label)
        audio = np.zeros(int(SECONDS * 16000), np.float32)
        audio[:len(clip.audio)] = clip.audio[:len(audio)]
        start = time.perf_counter()
        opinion = verifier.opinion(audio, label)
        first = (time.perf_counter() - start) * 1000.0
        rows.append({"what": f"whole opinion on a real '{label}' (heard {opinion.transcript!r}; "
                             f"first call {first:.0f} ms)",
                     "ms": _per_call_ms(lambda a: verifier.opinion(a, label), audio, repeats)})
        level = opinion.logp - 1.0  # a command the card's level lets through
        rows.append({"what": f"a command's check, '{label}' (what a command waits for)",
                     "ms": _per_call_ms(lambda a: verifier.confirms(a, label, level), audio,
                                        repeats)})
    for row in rows:
        row["ratio_vs_window"] = row["ms"] / window_ms
    return rows


def live_latency(data_dir: str, minutes: float) -> list[dict]:
    """Rows ``{"what", "matched", "words", "median_ms", "p95_ms", "checked"}``:
    the same stream replayed from the file and live-paced, with and without
    the second opinion."""
    from dataclasses import replace
    from pathlib import Path

    from kwsapp.audio.source import FileSource
    from kwsapp.config import VerifyConfig, ms_to_samples
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import load_with_config
    from kwsapp.streaming.replay import to_events
    from kwsapp.streaming.scoring import score_events
    from kwsapp.streaming.synth import StreamSpec, make_stream

    audio, truth = make_stream(Path(data_dir), StreamSpec(minutes=minutes, snr_db=10.0,
                                                          seed=401))
    recognizer, config = load_with_config("embed")
    rows = []
    for paced in (False, True):
        for verify in (True, False):
            cfg = config if verify else replace(config, verify=VerifyConfig(enabled=False))
            source = FileSource(audio, ms_to_samples(cfg.audio.block_ms), realtime=paced)
            engine = Engine(recognizer, cfg, source)
            events = engine.run()
            score = score_events(truth, to_events(events), len(audio) / 16000.0)
            rows.append({"what": f"{'live-paced' if paced else 'file replay'}, "
                                 f"{'with the second opinion' if verify else 'head alone'}",
                         "matched": score.matched, "words": score.words,
                         "median_ms": score.latency_median_ms, "p95_ms": score.latency_p95_ms,
                         "checked": engine.checked})
    return rows


#: The dense stream the replay is measured on: make-stream's recipe with
#: short pauses (about 26 commands a minute, the density of the hour of
#: commands that took 72-84 s in the Files tab).
DENSE_GAP_S = (0.5, 1.5)
#: The rate the stream is written at: a recorder's, resampled by the replay.
REPLAY_RATE_HZ = 48000


def _dense_file(data_dir: str, minutes: float, folder: str) -> str:
    """The dense stream as a 48 kHz 16-bit WAV in ``folder``."""
    from pathlib import Path

    import soundfile as sf

    from kwsapp.audio.io import resample
    from kwsapp.streaming.synth import StreamSpec, make_stream

    audio, _truth = make_stream(Path(data_dir), StreamSpec(minutes=minutes, snr_db=10.0,
                                                           seed=401, gap_s=DENSE_GAP_S))
    path = str(Path(folder) / f"dense-{minutes:g}min-48k.wav")
    sf.write(path, resample(audio, 16000, REPLAY_RATE_HZ), REPLAY_RATE_HZ, subtype="PCM_16")
    return path


def replay_speed(data_dir: str, minutes: float, rounds: int, encoders: list[int]
                 ) -> tuple[list[dict], list[tuple]]:
    """Rows ``{"what", "wall_s", "cpu_s", "events", "withheld", "same",
    "rss_mb", "peak_growth_mb"}`` (medians over ``rounds``; ``same``: every
    round's events and withheld commands, log-probabilities to the bit,
    equal the inline run's; the memory of a fresh process before its
    replay, warm, and how far the replay raised its peak), and the
    checks of the replay ``(audio, label, level, margin, (confirmed,
    opinion))`` as the inline path made them."""
    import tempfile
    from dataclasses import replace

    from kwsapp.inference.second_opinion import shared_verifier
    from kwsapp.streaming.replay import model_and_config, replay

    recognizer, config = model_and_config(None)
    settings = [("checked inline, on the inference thread (replay_ahead 0)", 0, 0)] + [
        (f"checked beside the head (replay_ahead {config.verify.replay_ahead}, "
         f"replay_encoders {n})", config.verify.replay_ahead, n) for n in encoders]
    verifier = shared_verifier(config.verify.threads)
    checks: list[tuple] = []
    confirms = verifier.confirms

    def recorded(audio, label, level, margin=0.0, hidden=None):
        out = confirms(audio, label, level, margin, hidden)
        checks.append((np.array(audio), label, level, margin, out))
        return out

    with tempfile.TemporaryDirectory(prefix="kwsapp-bench-") as tmp:
        path = _dense_file(data_dir, minutes, tmp)
        verifier.confirms = recorded  # an untimed run first: loads, and the checks
        try:
            replay(path, recognizer, replace(config, verify=replace(config.verify,
                                                                    replay_ahead=0)))
        finally:
            verifier.confirms = confirms
        runs: dict[int, list] = {k: [] for k in range(len(settings))}
        for r in range(rounds):
            order = range(len(settings)) if r % 2 == 0 else reversed(range(len(settings)))
            for k in order:
                _what, ahead, workers = settings[k]
                cfg = replace(config, verify=replace(config.verify, replay_ahead=ahead,
                                                     replay_encoders=workers))
                wall, cpu = time.perf_counter(), time.process_time()
                run = replay(path, recognizer, cfg)
                runs[k].append((time.perf_counter() - wall, time.process_time() - cpu, (
                    run.events, [(u.event, u.heard, u.logp, u.level)
                                 for u in run.extra["unconfirmed"]])))
        memory = [replay_peak_mb(path, ahead, workers) for _what, ahead, workers in settings]
    inline = runs[0][0][2]
    rows = []
    for k, (what, _ahead, _workers) in enumerate(settings):
        rows.append({"what": what, "wall_s": float(np.median([w for w, _c, _e in runs[k]])),
                     "cpu_s": float(np.median([c for _w, c, _e in runs[k]])),
                     "events": len(inline[0]), "withheld": len(inline[1]),
                     "same": all(e == inline for _w, _c, e in runs[k]),
                     "rss_mb": memory[k]["before_mb"],
                     "peak_growth_mb": memory[k]["peak_mb"] - memory[k]["before_mb"]})
    return rows, checks


def live_beside_replay(data_dir: str, minutes: float, rounds: int) -> list[dict]:
    """Rows ``{"what", "matched", "words", "median_ms", "p95_ms", "replays"}``:
    the live-paced stream alone, then beside a replay checked inline and one
    checked beside its head (alternate rounds), ``replays``: the background
    replays of 10 dense minutes done meanwhile."""
    import threading
    from dataclasses import replace
    from pathlib import Path

    from kwsapp.audio.source import FileSource
    from kwsapp.config import ms_to_samples
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import load_with_config
    from kwsapp.streaming.replay import replay, to_events
    from kwsapp.streaming.scoring import score_events
    from kwsapp.streaming.synth import StreamSpec, make_stream

    live_audio, truth = make_stream(Path(data_dir), StreamSpec(minutes=minutes, snr_db=10.0,
                                                               seed=401))
    dense, _truth = make_stream(Path(data_dir), StreamSpec(minutes=10.0, snr_db=10.0, seed=402,
                                                           gap_s=DENSE_GAP_S))
    recognizer, config = load_with_config("embed")
    files, _config = load_with_config("embed")  # the Files tab's own recognizer
    ahead = config.verify.replay_ahead
    settings = [("alone", None)] + [("beside a replay checked inline (replay_ahead 0)", 0),
                                    (f"beside a replay checked beside its head "
                                     f"(replay_ahead {ahead})", ahead)] * rounds
    rows = []
    for what, replay_ahead in settings:
        stop, replays = threading.Event(), [0]

        def background(replay_ahead: int | None = replay_ahead) -> None:
            if replay_ahead is None:
                return
            cfg = replace(config, verify=replace(config.verify, replay_ahead=replay_ahead))
            while not stop.is_set():
                replay(dense, files, cfg)
                replays[0] += 1

        thread = threading.Thread(target=background)
        thread.start()
        source = FileSource(live_audio, ms_to_samples(config.audio.block_ms), realtime=True)
        try:
            events = Engine(recognizer, config, source).run()
        finally:
            stop.set()
            thread.join()
        score = score_events(truth, to_events(events), len(live_audio) / 16000.0)
        rows.append({"what": what, "matched": score.matched, "words": score.words,
                     "median_ms": score.latency_median_ms, "p95_ms": score.latency_p95_ms,
                     "replays": replays[0]})
    return rows


#: A child process's replay of a file with given settings: its peak
#: resident memory during the replay alone (VmHWM reset after the model and
#: the recogniser are loaded and warm), in MB, and its events.
_REPLAY_PEAK = """
import json, sys
from dataclasses import replace
from kwsapp.inference.second_opinion import shared_verifier
from kwsapp.streaming.replay import model_and_config, replay

path, ahead, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
recognizer, config = model_and_config(None)
shared_verifier(config.verify.threads)
config = replace(config, verify=replace(config.verify, replay_ahead=ahead,
                                        replay_encoders=workers))
replay(path, recognizer, config)  # warm: LiteRT's and onnxruntime's buffers
def status(key):
    return next(int(line.split()[1]) for line in open('/proc/self/status')
                if line.startswith(key)) / 1024.0
before = status('VmRSS:')
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # VmHWM := VmRSS
run = replay(path, recognizer, config)
print(json.dumps({'before_mb': before, 'peak_mb': status('VmHWM:'), 'events': len(run.events)}))
"""


def replay_peak_mb(path: str, ahead: int, workers: int) -> dict:
    """``{"before_mb", "peak_mb", "events"}`` of a fresh process replaying
    ``path`` (Linux: /proc)."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _REPLAY_PEAK, path, str(ahead), str(workers)],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def batched_checks(checks: list[tuple], caps: list[int], rounds: int) -> list[dict]:
    """Rows ``{"what", "s", "per_call", "same", "max_dlogp"}``: the replay's
    checks one at a time (as the engine runs them), then with their encoder
    calls batched, up to ``cap`` checks in order at a time, clips of equal
    length in one call (medians over ``rounds``)."""
    from collections import defaultdict

    from kwsapp.config import VerifyConfig
    from kwsapp.inference.second_opinion import shared_verifier

    verifier = shared_verifier(VerifyConfig().threads)  # replay_speed's
    lengths = len({len(c[0]) for c in checks})

    def finish(hidden, label, level, margin):  # the decoder's part of a check
        return verifier.confirms(None, label, level, margin, hidden=hidden)

    def batched(cap: int) -> tuple[list, int]:
        out, calls = [], 0
        for start in range(0, len(checks), cap):
            part = checks[start:start + cap]
            groups: dict[int, list[int]] = defaultdict(list)
            for i, check in enumerate(part):
                groups[len(check[0])].append(i)
            hidden = {}
            for members in groups.values():
                # _hidden's own high-pass and level, then one call for the group.
                clips = [_heard(verifier, part[i][0]) for i in members]
                states = verifier.encoder.run(None, {"input_values": np.stack(clips)})[0]
                calls += 1
                hidden.update({i: states[j:j + 1] for j, i in enumerate(members)})
            out += [finish(hidden[i], *part[i][1:4]) for i in range(len(part))]
        return out, calls

    alone = [c[4] for c in checks]
    timings: dict[str, list[float]] = defaultdict(list)
    results: dict[str, tuple] = {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        again = [verifier.confirms(*c[:4]) for c in checks]
        timings["alone"].append(time.perf_counter() - t0)
        results["alone"] = (again, len(checks))
        for cap in caps:
            t0 = time.perf_counter()
            results[cap] = batched(cap)
            timings[cap].append(time.perf_counter() - t0)
    rows = []
    for key, (out, calls) in results.items():
        what = (f"one at a time ({len(checks)} checks, {lengths} lengths of clip)"
                if key == "alone" else f"encoder batched, up to {key} checks at a time")
        rows.append({"what": what, "s": float(np.median(timings[key])),
                     "per_call": len(checks) / calls,
                     "same": sum(o[0] == a[0] for o, a in zip(out, alone)),
                     "transcripts": sum(o[1].transcript == a[1].transcript
                                        for o, a in zip(out, alone)),
                     "max_dlogp": max(abs(o[1].logp - a[1].logp) for o, a in zip(out, alone)),
                     "checks": len(checks)})
    return rows


def _heard(verifier, audio: np.ndarray) -> np.ndarray:
    """``audio`` high-passed and levelled as the recogniser hears it (its
    ``_hidden`` before the encoder call)."""
    from scipy.signal import sosfilt

    from kwsapp.inference import verifier as module

    audio = np.asarray(audio, np.float32)
    audio = sosfilt(verifier._high_pass, audio, zi=verifier._high_pass_zi * audio[0])[0]
    audio = audio.astype(np.float32)
    peak = float(np.max(np.abs(audio)))
    return audio * (module._PEAK / peak) if peak > 0 else audio


def main(argv: list[str] | None = None) -> int:
    from benchmarks.bench_gui import DATA_DIR

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(DATA_DIR))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--live", type=float, metavar="MINUTES",
                        help="also the live-paced latency over a stream this long")
    parser.add_argument("--replay", type=float, metavar="MINUTES",
                        help="only a file's replay of a dense stream this long, inline "
                             "checks against checks beside the head, and batched encoders")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --replay")
    parser.add_argument("--encoders", default="2",
                        help="--replay: replay_encoders settings to measure (comma list)")
    parser.add_argument("--live-beside-replay", type=float, metavar="MINUTES",
                        help="only --live's stream with the second opinion, while the "
                             "process replays a dense file, checked inline or beside its head")
    args = parser.parse_args(argv)
    if args.replay:
        return _print_replay(args)
    if args.live_beside_replay:
        print(f"### Word end -> command live, {args.live_beside_replay:g} min at 10 dB, "
              "while the process replays a file\n")
        print("| live-paced, with the second opinion | matched | median ms | p95 ms | "
              "replays of 10 dense minutes meanwhile |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for row in live_beside_replay(args.data, args.live_beside_replay, args.rounds):
            print(f"| {row['what']} | {row['matched']}/{row['words']} | "
                  f"{row['median_ms']:.0f} | {row['p95_ms']:.0f} | {row['replays']} |")
        return 0
    print("### The recogniser's opinion per command\n")
    print("| what | ms | x one head window |")
    print("| --- | ---: | ---: |")
    for row in run(args.data, args.repeats):
        print(f"| {row['what']} | {row['ms']:.1f} | {row['ratio_vs_window']:.1f} |")
    if args.live:
        print(f"\n### Word end -> command, {args.live:g} min at 10 dB (validation speakers)\n")
        print("| run | matched | median ms | p95 ms | commands checked |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for row in live_latency(args.data, args.live):
            print(f"| {row['what']} | {row['matched']}/{row['words']} | "
                  f"{row['median_ms']:.0f} | {row['p95_ms']:.0f} | {row['checked']} |")
    return 0



def _print_replay(args: argparse.Namespace) -> int:
    import os
    import platform

    load = os.getloadavg()[0]
    rows, checks = replay_speed(args.data, args.replay, args.rounds,
                                [int(n) for n in args.encoders.split(",")])
    print(f"### A file's replay, {args.replay:g} min of dense commands at 48 kHz "
          f"(median of {args.rounds} rounds)\n")
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{load:.1f} before and {os.getloadavg()[0]:.1f} after\n")
    print("| run | wall s | process CPU s | x inline | events (withheld) | same events | "
          "RSS before the replay MB | its peak above that MB |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for row in rows:
        print(f"| {row['what']} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | "
              f"{rows[0]['wall_s'] / row['wall_s']:.2f} | {row['events']} ({row['withheld']}) | "
              f"{'yes' if row['same'] else 'NO'} | {row['rss_mb']:.0f} | "
              f"{row['peak_growth_mb']:.0f} |")
    print(f"\n### The replay's checks, encoder calls batched (median of {args.rounds} rounds)\n")
    print("| checks | s | x one at a time | checks per encoder call | decisions the same | "
          "transcripts the same | largest log p moved |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    batch = batched_checks(checks, [8, 32], args.rounds)
    for row in batch:
        print(f"| {row['what']} | {row['s']:.2f} | {batch[0]['s'] / row['s']:.2f} | "
              f"{row['per_call']:.1f} | {row['same']}/{row['checks']} | "
              f"{row['transcripts']}/{row['checks']} | {row['max_dlogp']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
