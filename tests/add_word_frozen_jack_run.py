"""The Add word dialog on a JACK server that stopped answering, then
answers again: real capture children, real PortAudio.

Run as a subprocess with ``JACK_DEFAULT_SERVER`` and ``KWSAPP_HOME`` set.
The dialog (offscreen, the window's sound-card sources) records a take
while the server is frozen (SIGSTOP to ``--jackd-pid``): PortAudio's start
hangs in the take's capture child, and the dialog is to give the take up
after ``--open-s``. The server is thawed (SIGCONT) and Record pressed
again. Prints one JSON object: the prompts and the take's status after
each Record, whether the hung child had ended by then, whether the
capture children and the dialog's threads were all gone at the end.

Usage: python tests/add_word_frozen_jack_run.py --jackd-pid PID --open-s S
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import kwsapp_threads, own_children, print_result, run_until  # noqa: E402

CAPTURE = "kwsapp.audio.child_source"  # a capture child's module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jackd-pid", type=int, required=True)
    parser.add_argument("--open-s", type=float, required=True)
    args = parser.parse_args()

    from kwsapp.config import Config, UserWordsConfig
    from kwsapp.gui.add_word import AddWordDialog
    from kwsapp.gui.app import make_application
    from kwsapp.gui.live import default_source_factory

    app = make_application(["add-word-frozen-jack"])
    config = replace(UserWordsConfig(), record_open_s=args.open_s)
    dialog = AddWordDialog(default_source_factory(Config()), config=config, countdown_ms=300,
                           root=Path(tempfile.mkdtemp()))
    dialog.show()
    result: dict = {}
    os.kill(args.jackd_pid, signal.SIGSTOP)
    try:
        dialog.record_take(0)
        result["given_up"] = run_until(lambda: not dialog.recording, 60.0)
        result["prompt"] = dialog.prompt.text()
        result["status"] = dialog.slots[0].status.text()
        result["hung_children"] = len(own_children(CAPTURE))
    finally:
        os.kill(args.jackd_pid, signal.SIGCONT)
    # The server answers again; Record on the same input (the only one).
    result["record_enabled"] = dialog.slots[0].record_button.isEnabled()
    dialog.record_take(0)
    result["recorded"] = run_until(lambda: not dialog.recording, 60.0)
    result["prompt_again"] = dialog.prompt.text()
    result["status_again"] = dialog.slots[0].status.text()
    # The hung open, answered at last, is closed by the runner it was left to.
    result["children_gone"] = run_until(lambda: not own_children(CAPTURE), 30.0)
    result["threads_gone"] = run_until(lambda: "kwsapp-record" not in kwsapp_threads(), 30.0)
    dialog.close()
    print_result(result)


if __name__ == "__main__":
    main()
