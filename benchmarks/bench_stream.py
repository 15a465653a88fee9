"""Issue 12's measures, each streamed/now against the whole-window path in
the same run (``python -m benchmarks.bench_stream [--quick]``):

1. model compute per hop and CPU per second of audio: the streaming step +
   head every 80 ms against ``model.tflite`` on 1.5 s every 125 ms;
2. ``classify`` of 5 minutes of speech in noise (make-stream's recipe,
   validation speakers, 10 dB): real-time factor, block by block in chunks
   against the whole-window engine on the decoded file;
3. peak memory (max RSS) of ``kwsapp classify`` on 5 and 30 minute files;
4. a cold one-clip ``kwsapp classify`` against ``python -c "import tensorflow"``;
5. ``listen``'s engine on a live-paced speech stream: process CPU per wall
   second, streamed against whole windows (the engine and its threads as
   ``listen`` runs them; the audio comes paced in real time from a file
   instead of PortAudio, in 20 ms blocks: that thread's share is shown);
6. ``kwsapp listen`` itself on a JACK dummy server at 48 kHz while the same
   speech plays into it from another process: the CPU of its process and
   of its capture child (where its PortAudio runs), apart and together
   (skipped without jackd).

``--listen`` runs only rows 5 and 6. ``--listen-from CHECKOUT... [--rounds
N]`` runs only row 6, for ``kwsapp listen`` of each checkout in alternate
rounds (before/after in one run), with its CPU per thread and the events'
median latency.

Timings vary with machine load (printed); compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks import best_ms

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "speech_commands_subset"


def _window_recognizer():
    """The bundled embed as it ran before streaming: the whole-window model
    at its former 125 ms hop."""
    from kwsapp.inference.recognizer import Recognizer

    rec = Recognizer.load("embed")
    rec.split = None
    return rec


def compute_per_hop(repeat: int) -> list[str]:
    from kwsapp.inference.recognizer import Recognizer

    rec = Recognizer.load("embed")
    x = (0.05 * np.random.default_rng(0).standard_normal(24000)).astype(np.float32)
    stream = rec.split.stream()
    emb = np.zeros((1, 10, 96), np.float32)
    window = best_ms(lambda: rec.model.invoke(x), repeat, 20)
    step = best_ms(lambda: stream.step(x[:1520]), repeat, 50)
    head = best_ms(lambda: rec.split.head(emb), repeat, 50)
    per_s_window, per_s_stream = window * 8.0, (step + head) * 12.5
    return [f"| model compute per hop | {window:.2f} ms per 125 ms (whole 1.5 s window) | "
            f"{step + head:.3f} ms per 80 ms (step {step:.3f} + head {head:.3f}) | "
            f"{window / (step + head):.1f}x |",
            f"| model CPU per second of audio | {per_s_window:.1f} ms | {per_s_stream:.2f} ms | "
            f"{per_s_window / per_s_stream:.1f}x |"]


def _speech_in_noise(minutes: float) -> np.ndarray:
    from kwsapp.streaming.synth import StreamSpec, make_stream

    audio, _ = make_stream(DATA, StreamSpec(minutes=minutes, snr_db=10.0, seed=401))
    return audio


def file_speed(tmp: Path, minutes: float) -> list[str]:
    import soundfile as sf

    from kwsapp.audio.source import FileSource
    from kwsapp.config import Config
    from kwsapp.inference.classify import FileClassifier
    from kwsapp.inference.engine import Engine

    audio = _speech_in_noise(minutes)
    path = tmp / "speech.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    seconds = len(audio) / 16000.0
    classifier = FileClassifier.load(None)
    t0 = time.perf_counter()
    new = classifier.classify_file(path)
    streamed = time.perf_counter() - t0
    rec = _window_recognizer()
    cfg = replace(Config().with_card(rec.card.raw), hop_ms=125.0)
    t0 = time.perf_counter()
    old = Engine(rec, cfg, FileSource(path, 320)).run()
    windowed = time.perf_counter() - t0
    return [f"| `classify` of {minutes:g} min of speech in noise (real time factor) | "
            f"{seconds / windowed:.0f}x ({windowed:.1f} s, {len(old)} events) | "
            f"{seconds / streamed:.0f}x ({streamed:.1f} s, {len(new.events)} events) | "
            f"{windowed / streamed:.1f}x |"]


#: Runs ``python -m kwsapp ARGS`` and prints its own peak RSS (KB, VmHWM)
#: last on stderr: getrusage/wait4's maxrss would include the forked copy of
#: this (large) benchmark process from before the exec; VmHWM is the new
#: program's alone (Linux).
_KWSAPP_WITH_RSS = ("import atexit, runpy, sys\n"
                    "atexit.register(lambda: print('maxrss', next(line.split()[1] for line "
                    "in open('/proc/self/status') if line.startswith('VmHWM')), "
                    "file=sys.stderr))\n"
                    "sys.argv = ['kwsapp', *sys.argv[1:]]\n"
                    "runpy.run_module('kwsapp', run_name='__main__')")


def _child(args: list[str]) -> float:
    """Wall seconds of a child process."""
    t0 = time.perf_counter()
    subprocess.run(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - t0


def _kwsapp_peak_mb(args: list[str]) -> float:
    """Peak RSS (MB) of ``kwsapp ARGS`` in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-c", _KWSAPP_WITH_RSS, *args], cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         check=True)
    return int(run.stderr.strip().splitlines()[-1].split()[-1]) / 1024.0


def peak_memory(tmp: Path, quick: bool) -> list[str]:
    import soundfile as sf

    five = _speech_in_noise(5.0)
    sizes = {5: five, 30: np.tile(five, 6)} if not quick else {1: five[:960000],
                                                                6: np.tile(five[:960000], 6)}
    rss = {}
    for minutes, audio in sizes.items():
        path = tmp / f"long-{minutes}.wav"
        sf.write(path, audio, 16000, subtype="PCM_16")
        rss[minutes] = _kwsapp_peak_mb(["classify", str(path), "--json"])
    (a, ra), (b, rb) = sorted(rss.items())
    return [f"| peak memory of `classify`, {b} min vs {a} min file | - | "
            f"{rb:.0f} vs {ra:.0f} MB | {rb / ra:.2f} (ratio) |"]


def cold_start(repeat: int) -> list[str]:
    clip = sorted((DATA / "yes").glob("*.wav"))[0]
    classify = min(_child([sys.executable, "-m", "kwsapp", "classify", str(clip)])
                   for _ in range(repeat))
    try:
        tf = min(_child([sys.executable, "-c", "import tensorflow"]) for _ in range(repeat))
    except subprocess.CalledProcessError:
        return [f"| cold one-clip `classify` | - | {classify:.2f} s | (no TensorFlow here) |"]
    return [f"| cold one-clip `classify` vs `import tensorflow` | import tensorflow "
            f"{tf:.2f} s | {classify:.2f} s | {tf / classify:.1f}x faster |"]


def listen_cpu(seconds: float) -> list[str]:
    from kwsapp.audio.source import FileSource
    from kwsapp.config import Config
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import Recognizer

    class PacedFile(FileSource):
        """The live-paced file, timing its own thread: it stands in for
        PortAudio's callback thread, which is not the engine's."""

        cpu_s = 0.0

        def _feed(self, on_block):
            t0 = time.thread_time()
            try:
                super()._feed(on_block)
            finally:
                self.cpu_s = time.thread_time() - t0

    audio = _speech_in_noise(1.0)[:int(seconds * 16000)]
    out = {}
    for name, rec, hop in (("window", _window_recognizer(), 125.0),
                           ("stream", Recognizer.load("embed"), None)):
        cfg = Config().with_card(rec.card.raw)
        if hop:
            cfg = replace(cfg, hop_ms=hop)
        source = PacedFile(audio, 320, realtime=True)
        engine = Engine(rec, cfg, source)
        c0, t0 = time.process_time(), time.perf_counter()
        engine.run()
        wall = time.perf_counter() - t0
        total = 100.0 * (time.process_time() - c0) / wall
        out[name] = (total, 100.0 * source.cpu_s / wall, engine.wakeups / seconds)

    def cell(name: str) -> str:
        total, paced, wakeups = out[name]
        return (f"{total:.1f} % of a core (paced source thread {paced:.1f}, the rest "
                f"{total - paced:.1f}; pipeline wakes {wakeups:.1f}/s)")

    return [f"| `listen` engine CPU while speech goes on ({seconds:.0f} s live-paced) | "
            f"{cell('window')} | {cell('stream')} | "
            f"{out['window'][0] / max(out['stream'][0], 1e-9):.1f}x |"]


#: Plays a WAV file into JACK from a child process (so its CPU is not the
#: listener's): registers its port, says "ready", plays on a line on stdin.
_JACK_PLAYER = """
import sys, threading, sounddevice as sd, soundfile as sf
x, sr = sf.read(sys.argv[1], dtype='float32'); pos = [-1]; done = threading.Event()
def play(out, frames, t, status):
    out.fill(0)
    if pos[0] < 0: return
    chunk = x[pos[0]:pos[0] + frames]; out[:len(chunk), 0] = chunk; pos[0] += frames
    if pos[0] >= len(x): done.set()
stream = sd.OutputStream(samplerate=sr, channels=1, dtype='float32', callback=play)
stream.start(); print('ready', flush=True); sys.stdin.readline(); pos[0] = 0; done.wait()
stream.stop()
"""


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 once gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Every live process below ``pid`` (its capture child, probes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, parent in parents.items() if parent == p]
        found += kids
        todo += kids
    return found


#: Runs ``python -m kwsapp ARGS`` after noting each Python thread's name and
#: native id (one "id name" line each, in the file $KWSAPP_BENCH_THREADS), so
#: the thread CPU read from /proc can be told per thread.
_KWSAPP_NAMING_THREADS = ("import os, runpy, sys, threading\n"
                          "_run = threading.Thread.run\n"
                          "def run(self):\n"
                          "    with open(os.environ['KWSAPP_BENCH_THREADS'], 'a') as f:\n"
                          "        f.write(f'{threading.get_native_id()} {self.name}\\n')\n"
                          "    _run(self)\n"
                          "threading.Thread.run = run\n"
                          "sys.argv = ['kwsapp', *sys.argv[1:]]\n"
                          "runpy.run_module('kwsapp', run_name='__main__')")


def _thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of each live thread of ``pid`` (by native id)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _per_thread(before: dict[int, float], after: dict[int, float], names: dict[int, str],
                wall: float) -> str:
    """``name share`` of each thread that used CPU in between, largest first."""
    used = {tid: after.get(tid, 0.0) - before.get(tid, 0.0) for tid in after}
    parts = [f"{names.get(tid, f'native {tid}')} {100.0 * cpu / wall:.2f}"
             for tid, cpu in sorted(used.items(), key=lambda kv: -kv[1]) if cpu > 0]
    return ", ".join(parts) or "-"


def listen_jack_cpu(tmp: Path, seconds: float, rate_hz: int = 48000,
                    repo: Path = REPO) -> tuple[str, dict]:
    """``kwsapp listen`` (of the checkout ``repo``) on a JACK dummy server
    (``rate_hz``, 1024-sample periods) while the speech stream plays into its
    input: the CPU of its process (the engine) and of its children (the
    capture child, where PortAudio's thread runs) from /proc over the
    playing time, and per thread. Returns the table row and the figures."""
    import shutil

    import soundfile as sf

    from kwsapp.audio.io import resample

    if any(shutil.which(t) is None for t in ("jackd", "jack_lsp", "jack_connect")):
        return "| `kwsapp listen` on a JACK dummy | - | (no jackd here) | - |", {}
    names_file = tmp / f"threads-{time.monotonic_ns()}.txt"
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"kwsapp-bench-{os.getpid()}",
               JACK_NO_START_SERVER="1", KWSAPP_BENCH_THREADS=str(names_file))
    audio = resample(_speech_in_noise(1.0)[:int(seconds * 16000)], 16000, rate_hz)
    wav = tmp / "play.wav"
    sf.write(wav, audio.astype(np.float32), rate_hz)

    def ports() -> set[str]:
        return set(subprocess.run(["jack_lsp"], env=env, capture_output=True,
                                  text=True).stdout.split())

    procs = [subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", str(rate_hz),
                               "-p", "1024", "-C", "1", "-P", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 10
        while not ports() and time.monotonic() < deadline:
            time.sleep(0.1)
        before = ports()
        listen = subprocess.Popen([sys.executable, "-c", _KWSAPP_NAMING_THREADS, "listen",
                                   "--json", "--seconds", str(seconds + 10)], cwd=repo, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(listen)
        while "listening on" not in (line := listen.stderr.readline()) and line:
            pass
        time.sleep(0.5)
        (inp,) = sorted(ports() - before)
        before = ports()
        player = subprocess.Popen([sys.executable, "-c", _JACK_PLAYER, str(wav)], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(player)
        player.stdout.readline()
        time.sleep(0.3)
        (out,) = sorted(ports() - before)
        for port in ports():
            if port.startswith("system:capture"):
                subprocess.run(["jack_disconnect", port, inp], env=env, capture_output=True)
        subprocess.run(["jack_connect", out, inp], env=env, check=True)
        time.sleep(1.0)

        kids = _children(listen.pid)  # the capture child (none: PortAudio in listen)
        c0, k0, t0 = _cpu_s(listen.pid), [_cpu_s(k) for k in kids], time.perf_counter()
        th0 = {p: _thread_cpu_s(p) for p in (listen.pid, *kids)}
        player.stdin.write("go\n")
        player.stdin.flush()
        player.wait(seconds + 30)
        th1 = {p: _thread_cpu_s(p) for p in (listen.pid, *kids)}
        own, kid = _cpu_s(listen.pid) - c0, sum(_cpu_s(k) for k in kids) - sum(k0)
        wall = time.perf_counter() - t0
        share, own, kid = (100.0 * x / wall for x in (own + kid, own, kid))
        events = [line for line in listen.communicate(timeout=seconds + 30)[0].splitlines()
                  if line.startswith("{")]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    names = {listen.pid: "main"}
    if names_file.exists():
        for line in names_file.read_text().splitlines():
            tid, name = line.split(" ", 1)
            names[int(tid)] = name.removeprefix("kwsapp-")
    threads = "; ".join(_per_thread(th0[p], th1[p], names if p == listen.pid else {}, wall)
                        for p in th0)
    row = (f"| `kwsapp listen` on a JACK dummy at {rate_hz // 1000} kHz while the speech "
           f"plays ({seconds:.0f} s) | - | {share:.2f} % of a core (listen {own:.2f}, its "
           f"{len(kids)} child(ren) {kid:.2f}; {len(events)} events; per thread: {threads}) | - |")
    return row, {"total": share, "listen": own, "children": kid, "events": events}


def compare_listen(checkouts: list[Path], rounds: int, seconds: float) -> list[str]:
    """``listen_jack_cpu`` of each checkout in turn, ``rounds`` times
    (alternated, so the machine's load falls alike on each): one row per
    run, then each checkout's mean."""
    runs: dict[Path, list[dict]] = {c: [] for c in checkouts}
    rows = ["| round | checkout | load | % of a core (listen + children) | events | latency "
            "median ms | per thread |", "| ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1, rounds + 1):
            for checkout in checkouts:
                row, got = listen_jack_cpu(Path(tmp), seconds, repo=checkout)
                if not got:
                    return [row]
                runs[checkout].append(got)
                threads = row.split("per thread: ", 1)[1].rsplit(")", 1)[0]
                latencies = [json.loads(e)["latency"] for e in got["events"]]
                latency = f"{1000 * np.median(latencies):.0f}" if latencies else "-"
                rows.append(f"| {r} | {checkout} | {os.getloadavg()[0]:.1f} | "
                            f"{got['total']:.2f} % ({got['listen']:.2f} + "
                            f"{got['children']:.2f}) | {len(got['events'])} | {latency} | "
                            f"{threads} |")
                print(rows[-1], flush=True)
    for checkout, got in runs.items():
        mean = sum(g["total"] for g in got) / len(got)
        latencies = [json.loads(e)["latency"] for g in got for e in g["events"]]
        latency = f"{1000 * np.median(latencies):.0f}" if latencies else "-"
        rows.append(f"| mean | {checkout} | - | {mean:.2f} % | "
                    f"{sum(len(g['events']) for g in got)} | {latency} | - |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_stream",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter files, fewer repeats")
    parser.add_argument("--listen", action="store_true", help="only the two `listen` CPU rows")
    parser.add_argument("--listen-from", nargs="+", type=Path, metavar="CHECKOUT",
                        help="only `kwsapp listen` on the JACK dummy, run from each of these "
                             "checkouts in turn (--rounds times), with its CPU per thread")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --listen-from")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"bench_stream: skipped ({DATA} is absent)")
        return 0
    if args.listen_from:
        load = os.getloadavg()[0]
        rows = compare_listen([c.resolve() for c in args.listen_from], args.rounds,
                              10.0 if args.quick else 30.0)
        print(f"\n`kwsapp listen` per checkout, load average {load:.1f} at the start, "
              f"{os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores:\n")
        print("\n".join(rows))
        return 0
    rows = ["| measure | whole window / before | streamed / now | ratio |",
            "| --- | --- | --- | ---: |"]
    if not args.listen:
        rows += compute_per_hop(3 if args.quick else 7)
        with tempfile.TemporaryDirectory() as tmp:
            rows += file_speed(Path(tmp), 1.0 if args.quick else 5.0)
            rows += peak_memory(Path(tmp), args.quick)
        rows += cold_start(1 if args.quick else 3)
    rows += listen_cpu(10.0 if args.quick else 30.0)
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(listen_jack_cpu(Path(tmp), 10.0 if args.quick else 30.0)[0])
    load = os.getloadavg()[0]
    print(f"issue 12 (streamed embeddings), load average {load:.1f} at the end, "
          f"{os.cpu_count()} cores:\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
