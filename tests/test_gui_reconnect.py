"""Issue 15, devices: the window reconnects by itself. Its PortAudio stream
runs in a child process (kwsapp/audio/child_source.py); the JACK dummy
server is stopped under it and started again (same name): the window says
the input stopped, keeps running, and listens again on its own once the
server is back, in a fresh child; nothing is left running after close."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO_ROOT, start_jack_server, stop_jack_server, wait_for_lines

pytestmark = pytest.mark.jack


def _wait_line(lines: list[str], text: str, timeout: float) -> bool:
    return wait_for_lines(lines, lambda line: line.strip() == text, timeout)


def test_window_listens_again_by_itself_when_the_server_is_back(tiny_model):
    server, env = start_jack_server()
    name = env["JACK_DEFAULT_SERVER"]
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "tests" / "gui_reconnect_run.py"),
                             "--model", str(tiny_model)], cwd=REPO_ROOT,
                            env=dict(os.environ, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    errors: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True).start()
    try:
        assert _wait_line(lines, "listening", 90), (lines, errors[-20:])
        stop_jack_server(server)
        assert _wait_line(lines, "lost", 60), (lines, errors[-20:])
        time.sleep(2.0)
        assert proc.poll() is None, errors[-20:]  # the window still runs without its device
        server, _ = start_jack_server(name)
        assert _wait_line(lines, "back", 90), (lines, errors[-20:])
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if server.poll() is None:
            stop_jack_server(server)
    assert proc.returncode == 0, errors[-30:]
    result = json.loads(lines[-1])
    assert result["ok"], result
    assert "stopped delivering audio" in result["lost"]["banner"], result
    assert "as soon as it is back" in result["lost"]["banner"]
    assert not result["lost"]["listening"]
    assert result["back"]["listening"] and "back" in result["back"]["banner"], result
    assert result["threads_left"] == [], result
    # Only multiprocessing's resource tracker (it owns no audio; it would
    # free the shared ring if the window died) may outlive the window.
    assert not [c for c in result["children_left"] if "resource_tracker" not in c], result
    text = "".join(errors)
    assert "Traceback" not in text, text[-3000:]
