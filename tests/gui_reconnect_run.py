"""The real window listening on a JACK dummy server whose server the test
stops and starts again (tests/test_gui_reconnect.py).

Run as a subprocess with ``JACK_DEFAULT_SERVER`` set. Prints one line per
stage as it is reached ("listening", "lost", "back"), then one JSON object:
the banner at each stage, the samples read, the engine threads and child
processes left after closing.

Usage: python tests/gui_reconnect_run.py --model DIR
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import print_result, start_and_wait  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()

    import psutil
    from PySide6 import QtCore

    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["gui-reconnect"])
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "kwsapp.ini"),
                                QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, model=args.model, autostart=False)
    window.show()
    result: dict = {}

    def samples() -> int:
        return int(window.session.engine.ring.total_written) if window.session else 0

    def banner() -> str:
        return "" if window.banner.isHidden() else window.banner.text.text()

    def wait(stage: str, done) -> bool:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            app.processEvents()
            if done():
                result[stage] = {"banner": banner(), "listening": window.listen_action.isChecked(),
                                 "samples": samples()}
                print(stage, flush=True)
                return True
            time.sleep(0.02)
        result[stage] = {"timeout": True, "banner": banner()}
        return False

    result["started"] = start_and_wait(window)
    first_child = [p.pid for p in psutil.Process().children()]
    ok = (result["started"] and wait("listening", lambda: samples() > 16000)
          and wait("lost", lambda: window.session is None and "stopped" in banner())
          and wait("back", lambda: samples() > 16000))
    result["ok"] = bool(ok)
    result["children_while_listening"] = [p.pid for p in psutil.Process().children()]
    result["first_child"] = first_child
    window.close()
    time.sleep(0.5)
    result["children_left"] = [" ".join(p.cmdline()[-4:]) for p in psutil.Process().children()
                               if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    print_result(result)


if __name__ == "__main__":
    main()
