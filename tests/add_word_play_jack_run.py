"""The Add word dialog's Play on a JACK server that answers nobody, then
answers again: real PortAudio, the real dialog (offscreen).

Run as a subprocess with ``JACK_DEFAULT_SERVER`` and ``KWSAPP_HOME`` set.
A take (1.5 s of a quiet tone) is placed, the server frozen (SIGSTOP to
``--jackd-pid``) and Play pressed: the dialog played takes with sounddevice
on the GUI thread, whose first import starts PortAudio, which hangs on the
frozen server. Play is to return at once and the take to be given up after
``--answer-s`` beyond its length, said in the prompt. Then the server is
thawed and Play pressed again: the take plays (a new JACK port shows while
it does). Prints one JSON object.

Usage: python tests/add_word_play_jack_run.py --jackd-pid PID --answer-s S
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import own_children, print_result, run_until  # noqa: E402


def ports() -> set[str]:
    out = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10)
    return set(out.stdout.split()) if out.returncode == 0 else set()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jackd-pid", type=int, required=True)
    parser.add_argument("--answer-s", type=float, required=True)
    args = parser.parse_args()

    from kwsapp.config import UserWordsConfig
    from kwsapp.gui.add_word import AddWordDialog
    from kwsapp.gui.app import make_application
    from kwsapp.userwords.takes import Take

    app = make_application(["add-word-play-jack"])  # noqa: F841 - the dialog needs it
    config = replace(UserWordsConfig(), play_answer_s=args.answer_s)
    dialog = AddWordDialog(lambda device: None, config=config, root=Path(tempfile.mkdtemp()))
    dialog.show()
    t = np.arange(24000) / 16000.0
    tone = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    dialog.slots[0].set_take(Take(tone, 0, tone.size, "take 1"))
    played: list = []
    dialog._bridge.played.connect(lambda problem: played.append(problem))
    result: dict = {}
    before = ports()
    os.kill(args.jackd_pid, signal.SIGSTOP)
    try:
        dialog.play_take(0)  # returns at once
        result["returned"] = True
        result["playing"] = dialog.player.playing
        result["gave_up"] = run_until(lambda: bool(played), 60.0)
        result["prompt"] = dialog.prompt.text()
        result["children_after"] = len(own_children("kwsapp.audio.portaudio_child"))
    finally:
        os.kill(args.jackd_pid, signal.SIGCONT)
    seen: set[str] = set()
    dialog.play_take(0)
    result["played"] = run_until(lambda: len(played) == 2, 60.0,
                                 each=lambda: seen.update(ports() - before))
    result["answers"] = [None if p is None else str(p) for p in played]
    result["new_ports"] = sorted(seen)
    dialog.close()
    result["sounddevice_loaded"] = "sounddevice" in sys.modules
    result["children_left"] = len(own_children("kwsapp.audio.portaudio_child"))
    print_result(result)


if __name__ == "__main__":
    main()
