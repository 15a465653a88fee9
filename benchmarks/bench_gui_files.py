"""A long recording dropped on the Files tab: how soon its spectrogram
(the overview) shows, how soon it is whole, when the file's commands come,
how often the file is decoded, the memory it takes and the GUI thread's
longest stall meanwhile.

The real window (offscreen Qt) in a fresh process per checkout, the bundled
model (second opinion as a fresh install has it), classifying an hour of
real Speech Commands clips with pauses, written as a 48 kHz stereo 16-bit
WAV (690 MB; ``--file`` reuses one). A clip is classified first, so that
loading the model is not counted; then the long file is dropped and its
row selected (as a user clicking it). The reference, in the same run, is
the same drop on another checkout's code (``--repo``, e.g. the commit
before a change), the ratio its time over ours.

    python -m benchmarks.bench_gui_files [--minutes 60] [--file F.wav] [--repo OTHER ...]

Decoder reads are counted at ``soundfile.SoundFile.read``, the call every
decode in kwsapp goes through (``audio/io.py``): frames decoded over the
file's frames is how many times it was decoded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.gui_ticks import Ticks, describe_checkout, pump, run_child

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get(
    "KWSAPP_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "speech_commands_subset"))
WORDS = ("yes", "left", "stop", "go", "no", "up", "down", "right", "on", "off")
RATE_HZ = 48000


def write_recording(path: Path, minutes: float) -> None:
    """``minutes`` of real clips with pauses, 48 kHz stereo 16-bit WAV,
    written a minute at a time (never whole in memory)."""
    import numpy as np
    import soundfile as sf

    from kwsapp.audio.io import resample
    from kwsapp.gui.screenshot import words_audio

    rng = np.random.default_rng(0)
    mono = resample(np.concatenate([words_audio(DATA_DIR, list(WORDS), i) for i in range(3)]),
                    16000, RATE_HZ)
    total = int(minutes * 60 * RATE_HZ)
    with sf.SoundFile(str(path), "w", RATE_HZ, 2, subtype="PCM_16") as f:
        for begin in range(0, total, 60 * RATE_HZ):
            n = min(60 * RATE_HZ, total - begin)
            x = np.take(mono, np.arange(begin, begin + n) % mono.size)
            noise = 0.003 * rng.standard_normal(n).astype(np.float32)
            f.write(np.stack([x + noise, 0.6 * x - noise], axis=1))


def child(path: str, clip: str, model: str) -> None:
    """In the fresh process: the drop, one JSON line of what was seen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import resource
    import threading

    import psutil
    import soundfile as sf
    from PySide6 import QtCore

    decoded = {"frames": 0, "calls": 0}
    lock = threading.Lock()
    real_read = sf.SoundFile.read

    def counted_read(self, frames=-1, *args, **kwargs):
        data = real_read(self, frames, *args, **kwargs)
        with lock:
            decoded["frames"] += len(data)
            decoded["calls"] += 1
        return data

    sf.SoundFile.read = counted_read
    from kwsapp.config import GuiConfig
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["bench-gui-files"])
    tmp = tempfile.mkdtemp()
    settings = QtCore.QSettings(str(Path(tmp) / "kwsapp.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, model=model, autostart=False)
    # The size measured before: offscreen's screen is 800x800, the first size within it.
    window.resize(*GuiConfig().window_size)
    window.show()
    ticks = Ticks()

    files, view = window.files, window.files.file_view
    window.classify_files([clip])  # loads the model
    pump(app, 120, lambda: not window.file_dispatch.busy)
    pump(app, 0.5)
    with sf.SoundFile(path) as f:
        file_frames = f.frames
    decoded.update(frames=0, calls=0)
    process = psutil.Process()
    rss0 = process.memory_info().rss
    cpu0, gui_cpu0 = process.cpu_times(), time.thread_time()
    widths: list[tuple[float, int]] = []  # (s after the drop, columns drawn) at each change
    first_tick = ticks.mark()
    t0 = time.perf_counter()
    window.classify_files([path])
    files.table.setCurrentItem(files._rows[path])  # the user selects its row

    def watch() -> bool:
        shown = (files.detail.currentIndex() == 2 and view._path == path
                 and view.image.image is not None)
        width = view.image.image.shape[1] if shown else 0
        if width and (not widths or widths[-1][1] != width):
            widths.append((time.perf_counter() - t0, width))
        return not window.file_dispatch.busy

    pump(app, 3600, watch)
    result_s = time.perf_counter() - t0
    cpu, gui_cpu = process.cpu_times(), time.thread_time() - gui_cpu0
    pump(app, 0.5, watch)  # what the result queued
    result = files._results.get(path)
    final = result.columns.shape[0] if result is not None and result.columns is not None else 0
    print(json.dumps({
        "first_overview_s": widths[0][0] if widths else None,
        "whole_overview_s": next((t for t, w in widths if w >= final > 0), None),
        "updates": len(widths), "result_s": result_s, "columns": final,
        "commands": len(result.commands) if result is not None else None,
        "error": result.error if result is not None else "no result",
        "decodes": decoded["frames"] / file_frames, "decoder_calls": decoded["calls"],
        "cpu_s": cpu.user + cpu.system - cpu0.user - cpu0.system, "gui_cpu_s": gui_cpu,
        "gap_ms": ticks.longest_gap_ms(first_tick), "rss_before_mb": rss0 / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }), flush=True)
    os._exit(0)


def measure(repo: Path, path: Path, clip: Path, model: str) -> dict | str:
    """:func:`child` on ``repo``'s code in a fresh process: its figures, or
    why it failed."""
    # One BLAS thread, as the app runs (kwsapp/cli.py sets it before numpy
    # loads): more fight the replay's threads on a small machine.
    env = dict(os.environ, PYTHONPATH=str(repo), QT_QPA_PLATFORM="offscreen")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    rows = run_child(Path(__file__), ["bench_gui_files", "--child", str(path), str(clip),
                                      "--model", model], repo, env, 3600)
    return rows if isinstance(rows, str) else rows[0]


def _cell(x, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gui_files",
                                     description=__doc__)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--file", type=Path, default=None,
                        help="a recording to use (else one is written in a temporary folder)")
    parser.add_argument("--model", default="embed")
    parser.add_argument("--repo", nargs="+", type=Path, default=[],
                        help="other checkouts to measure beside this one (the reference)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, args.model)
        return 0
    if not DATA_DIR.is_dir():
        print(f"| Files tab, a long recording | - | (no data at {DATA_DIR}) | - | - |")
        return 0
    with tempfile.TemporaryDirectory(prefix="kwsapp-bench-files-") as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / f"{args.minutes:g}min-48k-stereo.wav"
            write_recording(path, args.minutes)
        clip = sorted((DATA_DIR / "yes").glob("*.wav"))[0]
        runs = [(repo, measure(repo, path, clip, args.model)) for repo in [REPO_ROOT, *args.repo]]
        # Read while the written recording still exists (it goes with tmp).
        import soundfile as sf

        info = sf.info(str(path))
        size_mb = path.stat().st_size / 2**20
    print(f"{info.duration / 60:.0f} min, {info.samplerate} Hz, {info.channels} channels "
          f"({size_mb:,.0f} MB), model {args.model}, load average "
          f"{os.getloadavg()[0]:.1f} at the end\n")
    print("| checkout | overview first shown (s) | overview whole (s) | updates | "
          "commands listed (s) | CPU s (process) | CPU s (GUI thread) | decodes of the file | "
          "GUI longest stall (ms) | RSS before -> peak (MB) | commands |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for repo, r in runs:
        if isinstance(r, str):
            print(f"| {describe_checkout(repo)} | (failed: {r}) | | | | | | | | | |")
            continue
        print(f"| {describe_checkout(repo)} | {_cell(r['first_overview_s'], '{:.2f}')} | "
              f"{_cell(r['whole_overview_s'])} | {r['updates']} | {r['result_s']:.1f} | "
              f"{r['cpu_s']:.1f} | {r['gui_cpu_s']:.2f} | {r['decodes']:.2f} | "
              f"{r['gap_ms']:.0f} | {r['rss_before_mb']:.0f} -> {r['peak_rss_mb']:.0f} | "
              f"{r['commands']} |")
    ours = runs[0][1]
    if not isinstance(ours, dict):
        return 0
    for repo, r in runs[1:]:
        if not isinstance(r, dict):
            continue
        ratios = []
        for key, name in (("first_overview_s", "overview first shown"),
                          ("whole_overview_s", "whole"), ("result_s", "commands listed"),
                          ("cpu_s", "CPU"), ("decodes", "decodes")):
            if r[key] and ours[key]:
                ratios.append(f"{name} {r[key] / ours[key]:.2f}")
        print(f"\nratios, {describe_checkout(repo)} / ours (above 1: ours is sooner or fewer): "
              + ", ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
