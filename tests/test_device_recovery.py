"""Issue 15, devices: the JACK server stopped mid-stream and started again.
`kwsapp listen` says the input stopped, keeps running, and listens again
when the server is back (then still stops cleanly on Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO_ROOT, start_jack_server, stop_jack_server

pytestmark = pytest.mark.jack


#: What libportaudio2's JACK host API prints before it aborts the process.
_PA_ABORT = "pa_jack.c:983: CleanUpStream: Assertion"


def _wait_for(lines: list[str], text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.xfail(strict=False, reason=(
    "flaky, open (docs/reliability.md): when the JACK server dies, PortAudio's JACK host "
    "API sometimes aborts the process (pa_jack.c:983) or blocks ('jackIsDown') before "
    "listen can say so; passes in about half the runs"))
def test_listen_survives_the_sound_server_stopping_and_coming_back(tiny_model):
    server, env = start_jack_server()
    name = env["JACK_DEFAULT_SERVER"]
    proc = subprocess.Popen([sys.executable, "-m", "kwsapp", "listen", "--model",
                             str(tiny_model)], cwd=REPO_ROOT, env=dict(os.environ, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        assert _wait_for(lines, "listening on", 60), lines
        stop_jack_server(server)
        found = _wait_for(lines, "waiting for it to come back", 20)
        if not found and proc.poll() == -signal.SIGABRT and any(_PA_ABORT in x for x in lines):
            # PortAudio's JACK host API sometimes aborts the whole process
            # when its server dies under it (a C assertion no Python code
            # can catch); seen in about one run of two. docs/reliability.md.
            pytest.skip(f"PortAudio aborted the process when the JACK server stopped "
                        f"({_PA_ABORT}): a known PortAudio limit, not kwsapp's recovery")
        assert found, lines
        time.sleep(2.0)
        assert proc.poll() is None, lines  # still running without its device
        server, _ = start_jack_server(name)
        assert _wait_for(lines, "input device is back", 40), lines
        assert _wait_for(lines, "listening on", 20)
        assert sum("listening on" in line for line in lines) == 2, lines
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        if server.poll() is None:
            stop_jack_server(server)
    reader.join(5)
    text = "".join(lines)
    assert "stopped delivering audio" in text
    assert "Traceback" not in text and "Fatal" not in text and "Assertion" not in text, text
