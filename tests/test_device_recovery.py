"""Issue 15, devices: the JACK server stopped mid-stream and started again.
`kwsapp listen` says the input stopped, keeps running, and listens again
when the server is back (then still stops cleanly on Ctrl-C sent to its
whole process group, as a terminal does). Its PortAudio runs in a capture
child (kwsapp/audio/child_source.py): when PortAudio's JACK host aborts
(pa_jack.c:983 assertion) or hangs as the server dies, only that child goes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import (REPO_ROOT, sigint_default, start_jack_server, stop_jack_server,
                      wait_for_lines)

pytestmark = pytest.mark.jack


def _wait_for(lines: list[str], text: str, timeout: float, times: int = 1) -> bool:
    """Whether ``text`` is in ``times`` lines within ``timeout`` s."""
    return wait_for_lines(lines, lambda line: text in line, timeout, times)


def test_listen_survives_the_sound_server_stopping_and_coming_back(tiny_model):
    server, env = start_jack_server()
    name = env["JACK_DEFAULT_SERVER"]
    proc = subprocess.Popen([sys.executable, "-m", "kwsapp", "listen", "--model",
                             str(tiny_model)], cwd=REPO_ROOT, env=dict(os.environ, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,  # its own group, to Ctrl-C it as a terminal
                            preexec_fn=sigint_default)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        assert _wait_for(lines, "listening on", 60), lines
        stop_jack_server(server)
        assert _wait_for(lines, "waiting for it to come back", 20), lines
        time.sleep(2.0)
        assert proc.poll() is None, lines  # still running without its device
        server, _ = start_jack_server(name)
        assert _wait_for(lines, "input device is back", 40), lines
        assert _wait_for(lines, "listening on", 20, times=2), lines
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: not taken for a device lost
        assert proc.wait(timeout=20) == 0, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        if server.poll() is None:
            stop_jack_server(server)
    reader.join(5)
    text = "".join(lines)
    assert text.count("waiting for it to come back") == 1, text  # Ctrl-C was not a loss
    assert "stopped delivering audio" in text and text.count("listening on") == 2, text
    # Said once, by listen (the engine's own log line repeated it).
    assert text.count("stopped delivering audio") == 1, text
    assert "Traceback" not in text and "Fatal" not in text and "Assertion" not in text, text
