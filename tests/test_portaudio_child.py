"""The PortAudio child's probe job (kwsapp/audio/portaudio_child.py): is an
input device there, asked of a fresh PortAudio in a child process. Real
parts: the JACK dummy server, and the frozen_jack fixture's server stopped
with SIGSTOP, on which PortAudio's start hangs for ever. The window's
DeviceWatcher polls the job from a timer on its GUI thread, so a poll must
never block, and a probe that hangs is killed past its limit; `kwsapp
listen` waits for its device with the same job (input_device_answers)."""

from __future__ import annotations

import time

import pytest

from conftest import capture_children

pytestmark = pytest.mark.jack

CHILD = "kwsapp.audio.portaudio_child"
HUNG = ("the sound system did not look for the input device in {s:g} s: PortAudio hangs "
        "starting (a sound server that stopped answering, such as a JACK server?); restart "
        "it, then try again")


def _reach(monkeypatch, env: dict) -> None:
    """The children started from here reach the server of ``env``."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def _poll_to_end(job, limit_s: float) -> tuple[object, float]:
    """``(answer or the exception raised, longest poll in s)``: the job
    polled every 20 ms, as a timer would, until it answers or fails."""
    longest = 0.0
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        began = time.monotonic()
        try:
            answer = job.poll()
        except Exception as exc:  # noqa: BLE001 (the test looks at which)
            return exc, max(longest, time.monotonic() - began)
        longest = max(longest, time.monotonic() - began)
        if answer is not None:
            return answer, longest
        time.sleep(0.02)
    raise AssertionError(f"no answer in {limit_s} s")


def test_the_probe_finds_the_input_by_default_index_and_name_part(jack_server, monkeypatch):
    from kwsapp.audio.portaudio_child import (input_device_answers,
                                              list_input_devices_in_child, probe_job)
    from kwsapp.errors import DeviceError

    _reach(monkeypatch, jack_server)
    system = [d for d in list_input_devices_in_child(10.0) if d.name == "system"][0]
    for device in (None, system.index, str(system.index), "syst"):
        assert probe_job(device, 10.0).run() == {"device": "system"}, device
    assert input_device_answers(None, 10.0)

    with pytest.raises(DeviceError) as caught:
        probe_job("no such mic", 10.0).run()
    assert str(caught.value).startswith("input device 'no such mic' not found ("), caught.value
    assert not input_device_answers("no such mic", 10.0)

    job = probe_job("syst", 10.0)  # polled, as the window does
    job.start()
    answer, _ = _poll_to_end(job, 20.0)
    assert answer == {"device": "system"}, answer
    assert capture_children(jack_server["JACK_DEFAULT_SERVER"], CHILD) == []


def test_a_polled_probe_on_a_frozen_server_never_blocks_and_is_given_up(frozen_jack,
                                                                       monkeypatch):
    """Frozen: each poll returns at once, and past the job's limit the
    probe is killed and said hung; a probe cancelled meanwhile is killed
    and reaped at once. (What a thawed server answers: the watcher's test
    below.)"""
    from kwsapp.audio.portaudio_child import probe_job
    from kwsapp.errors import Cancelled, DeviceError

    _reach(monkeypatch, frozen_jack.env)
    server = frozen_jack.env["JACK_DEFAULT_SERVER"]
    limit_s = 2.0
    frozen_jack.freeze()
    try:
        job = probe_job(None, limit_s)
        began = time.monotonic()
        job.start()
        outcome, longest = _poll_to_end(job, 30.0)
        took = time.monotonic() - began
        left = capture_children(server, CHILD)

        cancelled = probe_job(None, limit_s)
        cancelled.start()
        time.sleep(0.5)
        assert cancelled.poll() is None  # still hung in PortAudio's start
        cancelled.cancel()
        with pytest.raises(Cancelled):
            cancelled.poll()
        cancelled_left = capture_children(server, CHILD)
    finally:
        frozen_jack.thaw()
    assert isinstance(outcome, DeviceError) and str(outcome) == HUNG.format(s=limit_s), outcome
    assert limit_s <= took < limit_s + 3.0, took
    assert longest < 0.5, longest  # never waited for the child
    assert left == [] and cancelled_left == []


@pytest.mark.gui
def test_the_device_watcher_says_back_once_the_frozen_server_answers(frozen_jack, monkeypatch,
                                                                     qtbot):
    """The window's DeviceWatcher on the probe job: nothing said while the
    server answers nobody (a hung probe killed past probe_timeout_s and
    tried again, one child at a time), `back` once it answers again; no
    probe child is left after. (2 s: a probe after the thaw has that long
    to answer on a loaded machine; 0.2-0.3 s on a quiet one.)"""
    from kwsapp.gui.reconnect import DeviceWatcher

    _reach(monkeypatch, frozen_jack.env)
    server = frozen_jack.env["JACK_DEFAULT_SERVER"]
    watcher = DeviceWatcher(poll_s=0.1, probe_timeout_s=2.0)
    said = []
    watcher.back.connect(lambda: said.append(time.monotonic()))
    frozen_jack.freeze()
    most = 0
    try:
        watcher.watch(None)
        deadline = time.monotonic() + 2.8  # one probe given up, the next one started
        while time.monotonic() < deadline:
            qtbot.wait(100)
            most = max(most, len(capture_children(server, CHILD)))
    finally:
        frozen_jack.thaw()
    assert said == [] and most == 1, (said, most)
    with qtbot.waitSignal(watcher.back, timeout=20000):
        pass
    qtbot.wait(500)  # the timer stopped: said once
    assert len(said) == 1 and capture_children(server, CHILD) == []
    watcher.cancel()


# A child that answers and ends, leaving behind a process that holds its
# output pipe (as a JACK server libjack started would; a real one cannot be
# made to start on demand here, so `sleep` stands in for it). Its pid goes
# to the file named by the child's first argument.
ANSWER_AND_LEAVE = """
import json, pathlib, subprocess, sys
keeper = subprocess.Popen(["sleep", "30"])  # inherits stdout, the job's pipe
pathlib.Path(sys.argv[1]).write_text(str(keeper.pid))
sys.stdout.write(json.dumps({"devices": []}) + "\\n")
sys.stdout.flush()
"""
HANG_AND_LEAVE = """
import pathlib, subprocess, sys, time
keeper = subprocess.Popen(["sleep", "30"])
pathlib.Path(sys.argv[1]).write_text(str(keeper.pid))
time.sleep(30)
"""


def test_a_hung_job_is_given_up_at_its_limit_though_another_process_holds_its_pipe(
        monkeypatch, tmp_path):
    """A child killed past its limit while a process it started keeps its
    pipe open: :meth:`ChildJob.run` says it hung at its limit, instead of
    waiting for the pipe's end for as long as that process lives (for ever,
    for a server)."""
    import os
    import signal
    import sys

    from kwsapp.audio import portaudio_child
    from kwsapp.errors import DeviceError

    pid_file = tmp_path / "keeper.pid"
    monkeypatch.setattr(portaudio_child, "CHILD_COMMAND",
                        [sys.executable, "-c", HANG_AND_LEAVE, str(pid_file)])
    job = portaudio_child.ChildJob(["list"], 1.0, "list its input devices")
    began = time.monotonic()
    try:
        with pytest.raises(DeviceError, match="did not list its input devices in 1 s"):
            job.run()
        assert time.monotonic() - began < 10
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.mark.parametrize("how", ["run", "run fed", "polled"])
def test_a_job_whose_child_answered_and_ended_answers_at_once_though_its_pipe_is_held(
        monkeypatch, tmp_path, how):
    """A child that answered and ended while a process it started keeps its
    pipe open: the job hands back the answer as soon as the child has ended,
    run or polled, not at its limit (the window's device list waited its
    10 s there). Less than half the limit: the sleeper never lets the pipe
    end, so only the child's end can end the job that early. Fed: a stdin
    larger than a pipe holds (a clip to play) that the child never reads,
    its read end held by the sleeper too, is given up once the child ends."""
    import os
    import signal
    import sys

    from kwsapp.audio import portaudio_child

    pid_file = tmp_path / "keeper.pid"
    monkeypatch.setattr(portaudio_child, "CHILD_COMMAND",
                        [sys.executable, "-c", ANSWER_AND_LEAVE, str(pid_file)])
    limit_s = 10.0
    stdin = b"\0" * (4 << 20) if how == "run fed" else b""
    job = portaudio_child.ChildJob(["list"], limit_s, "list its input devices", stdin=stdin)
    began = time.monotonic()
    try:
        if how == "polled":
            job.start()
            answer, _ = _poll_to_end(job, 2 * limit_s)
        else:
            answer = job.run()
        took = time.monotonic() - began
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert answer == {"devices": []}, answer
    assert took < limit_s / 2, took
