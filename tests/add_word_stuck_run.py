"""The window closed while its Add word dialog's input never opens: the
process still ends.

Run as a subprocess (offscreen, ``KWSAPP_HOME`` set). A main window, not
listening, on a source factory whose every input blocks its open for ever
(simulated: no real device hangs on demand; a JACK server that stopped
answering does that to PortAudio), its Add word dialog given a short open
limit: Record is given up ("did not open"), Record is pressed again and
the window closed while that open hangs. Prints one JSON object (the
prompt after the first take, the one after closing, the kwsapp threads
still alive: the stuck opens, left and not joined), then ends as a Python
program does (no ``os._exit``): the test checks that the stuck threads do
not hold it.

Usage: python tests/add_word_stuck_run.py --model DIR --settings FILE.ini
"""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import print_result, run_until, temp_settings  # noqa: E402


#: The inputs whose open has begun (and blocks).
OPENING: list["NeverOpens"] = []


class NeverOpens:
    """An input whose open blocks for ever."""

    def __init__(self, device: object) -> None:
        self.device = device
        self.sample_rate_hz = 16000
        self.error = None

    def start(self, on_block) -> None:
        OPENING.append(self)
        threading.Event().wait()

    def stop(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--settings", required=True)
    args = parser.parse_args()

    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(sys.argv[:1])
    window = MainWindow(settings=temp_settings(args.settings), model=args.model,
                        autostart=False, source_name="stuck input", source_factory=NeverOpens)
    window.show()
    window.open_add_word()
    dialog = window.add_word_dialog
    dialog.config = replace(dialog.config, record_open_s=0.3)
    dialog.countdown_ms = 0
    dialog.record_take(0)
    given_up = run_until(lambda: not dialog.recording)
    result = {"given_up": given_up, "prompt": dialog.prompt.text()}
    dialog.record_take(1)  # on the same stuck input: closed while its open hangs
    result["opening_again"] = run_until(lambda: len(OPENING) == 2) and dialog.opening
    window.close()
    app.processEvents()
    result["closed_prompt"] = dialog.prompt.text()
    print_result(result)  # with the threads left
    # The end of the program: the interpreter's own exit, the stuck opens
    # still blocked on their threads.


if __name__ == "__main__":
    main()
