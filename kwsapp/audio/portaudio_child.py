"""PortAudio's short jobs in a child process: listing the input devices,
looking for one (is a lost input back?) and playing a clip, each given up
when it does not answer in time.

PortAudio starts when sounddevice is first imported, and on a sound server
that answers nobody (a JACK server that stopped: SIGSTOP reproduces it) that
start hangs for ever, in whichever thread runs it; nothing in PortAudio
ends it. So the window and ``kwsapp devices`` start no PortAudio of their
own: each job runs a fresh one in a child (``python -m
kwsapp.audio.portaudio_child list|probe|play``), killed when it has not answered
within its limit, as the capture stream already runs in one
(:mod:`kwsapp.audio.child_source`). A fresh PortAudio also sees the devices
as they are now (one started once lists them as they were at its start).

The child imports nothing heavy (numpy only to play), so a job costs a
Python start (~0.15 s) besides PortAudio's own. It prints one JSON line:
``{"devices": [...]}``, ``{"device": "name"}``, ``{"played": true}`` or
``{"error": "..."}``, and ends when its parent does (a child hung in
PortAudio never reads its stdin).

This module imports no Qt: the GUI runs :func:`list_input_devices_in_child`
and :class:`ClipPlayer` on threads of their own and hears back through
its signals, and polls a :func:`probe_job` from a timer (:meth:`ChildJob.start`,
:meth:`ChildJob.poll`: neither blocks).
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from kwsapp.errors import Cancelled, DeviceError

log = logging.getLogger(__name__)

#: The command that runs a job (a job's name and options follow).
CHILD_COMMAND = [sys.executable, "-m", "kwsapp.audio.portaudio_child"]

#: How often a child checks that its parent is still there (s).
PARENT_POLL_S = 0.5

#: How often a job run to its end looks whether its child has ended (s):
#: the pipe's end of file does not say so when a process the child
#: started holds the pipe, so the answer waits up to this long.
ENDED_POLL_S = 0.05


@dataclass(frozen=True)
class InputDevice:
    """One PortAudio device with input channels."""

    index: int
    name: str
    hostapi: str
    channels: int
    default_rate_hz: int
    is_default: bool


def parse_device(device: str | int | None) -> str | int | None:
    """A device as PortAudio takes it: an index given as text is the index
    (``"3"``, also from the command line), any other text a name part."""
    if isinstance(device, str) and device.strip().lstrip("-").isdigit():
        return int(device)
    return device


def sounddevice_module() -> Any:
    """sounddevice, imported (PortAudio starts here).

    Raises:
        DeviceError: the PortAudio library itself is missing.
    """
    try:
        import sounddevice
    except OSError as exc:
        raise DeviceError(f"PortAudio is not available ({exc}); install libportaudio2") from None
    return sounddevice


def query_input_devices() -> list[InputDevice]:
    """Every device with at least one input channel (default one marked),
    from this process's PortAudio (started here if it is not yet).

    Raises:
        DeviceError: PortAudio is missing or cannot list its devices.
    """
    sd = sounddevice_module()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices ({exc})") from None
    try:
        default = sd.default.device[0]
        default = int(default) if default is not None else -1
    except (TypeError, ValueError, IndexError):
        default = -1
    return [InputDevice(index=i, name=d["name"], hostapi=hostapis[d["hostapi"]]["name"],
                        channels=int(d["max_input_channels"]),
                        default_rate_hz=int(d["default_samplerate"]), is_default=(i == default))
            for i, d in enumerate(devices) if d["max_input_channels"] > 0]


def find_input_device(device: str | int | None) -> str:
    """The name of the input ``device`` (index or name part; None: the
    default input) as this process's PortAudio finds it.

    Raises:
        DeviceError: PortAudio is missing, or finds no such input.
    """
    sd = sounddevice_module()
    try:
        return str(sd.query_devices(parse_device(device), kind="input")["name"])
    except (sd.PortAudioError, ValueError) as exc:
        what = "default input device" if device is None else f"input device {device!r}"
        raise DeviceError(f"{what} not found ({exc})") from None


# --------------------------------------------------------------- the parent

def _hung(what: str, seconds: float) -> DeviceError:
    return DeviceError(f"the sound system did not {what} in {seconds:g} s: PortAudio hangs "
                       "starting (a sound server that stopped answering, such as a JACK "
                       "server?); restart it, then try again")


class ChildJob:
    """One PortAudio job in a child process, killed past its limit.

    Args:
        args: the job and its options (``["list"]``, ``["probe", ...]``,
            ``["play", ...]``).
        timeout_s: how long the child may take in all.
        what: what it does, for the message when it does not answer
            ("list its input devices").
        stdin: bytes the child reads first (a clip to play).
        quiet: the child's stderr goes nowhere (a job repeated every second
            while a device is away: PortAudio's JACK host says each failure).
    """

    def __init__(self, args: list[str], timeout_s: float, what: str,
                 stdin: bytes = b"", quiet: bool = False) -> None:
        self.args, self.timeout_s, self.what, self.stdin = list(args), timeout_s, what, stdin
        self.quiet = quiet
        self._proc: subprocess.Popen | None = None
        self._cancelled = False
        self._polled = False
        self._started_at = 0.0
        self._lock = threading.Lock()

    def _spawn(self, stdin: int = subprocess.PIPE) -> subprocess.Popen:
        with self._lock:
            if self._cancelled:
                raise Cancelled("cancelled")
            # stderr is inherited unless quiet: PortAudio's own words stay
            # visible (it mutes them while it starts, as in this process).
            self._proc = subprocess.Popen(
                [*CHILD_COMMAND, *self.args], stdin=stdin, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL if self.quiet else None, start_new_session=True)
            self._started_at = time.monotonic()
        return self._proc

    def run(self) -> dict:
        """Run the child to its end (blocks up to ``timeout_s``): its answer.

        Raises:
            DeviceError: it said an error, ended without answering, or did
                not answer in time (then it is killed).
            Cancelled: :meth:`cancel` was called.
        """
        proc = self._spawn()
        out = self._exchange(proc)
        ended = proc.poll() is not None
        out += self._reap(proc)
        if self._cancelled:
            raise Cancelled("cancelled")
        if not ended:
            raise _hung(self.what, self.timeout_s)
        return _answer(out, proc.returncode)

    def _exchange(self, proc: subprocess.Popen) -> bytes:
        """Feed ``proc`` its stdin and read its stdout until it has ended or
        its limit has passed: what it wrote meanwhile.

        The child's end, not the pipe's end of file, ends this: a process
        the child started (libjack can start a JACK server) may hold the
        pipe open long after the child answered and ended. So no wait here
        is longer than ``ENDED_POLL_S`` before the child is looked at again.
        """
        deadline = self._started_at + self.timeout_s
        out: list[bytes] = []
        pending = memoryview(self.stdin)
        with selectors.DefaultSelector() as selector:
            os.set_blocking(proc.stdout.fileno(), False)
            selector.register(proc.stdout, selectors.EVENT_READ)
            if pending:
                os.set_blocking(proc.stdin.fileno(), False)
                selector.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                _close_quietly(proc.stdin)
            while proc.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if not selector.get_map():  # all fed and its stdout closed: it is ending
                    try:
                        proc.wait(left)
                    except subprocess.TimeoutExpired:
                        pass
                    break
                for key, _ in selector.select(min(left, ENDED_POLL_S)):
                    if key.fileobj is proc.stdin:
                        pending = _feed(proc.stdin.fileno(), pending)
                        if not pending:
                            selector.unregister(proc.stdin)
                            _close_quietly(proc.stdin)
                        continue
                    try:
                        chunk = os.read(proc.stdout.fileno(), 65536)
                    except BlockingIOError:
                        continue
                    out.append(chunk)
                    if not chunk:
                        selector.unregister(proc.stdout)
        _close_quietly(proc.stdin)
        return b"".join(out)

    @staticmethod
    def _reap(proc: subprocess.Popen) -> bytes:
        """``proc`` killed if it still runs and reaped; what is left on its
        pipe, read without waiting for an end of file."""
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        out = _read_ended(proc.stdout)
        proc.stdout.close()
        return out

    def start(self) -> None:
        """Start the child and return at once; :meth:`poll` then hears its
        answer (a timer on the GUI thread, which must never block, polls
        it). For jobs that read no stdin.

        Raises:
            Cancelled: :meth:`cancel` was called.
        """
        self._polled = True
        self._spawn(stdin=subprocess.DEVNULL)

    def poll(self) -> dict | None:
        """The answer of a child :meth:`start` started, once it has ended
        (None while it runs); never blocks.

        Raises:
            DeviceError: as :meth:`run` (past ``timeout_s`` it is killed).
            Cancelled: :meth:`cancel` was called.
        """
        proc = self._proc
        if self._cancelled or proc is None:
            raise Cancelled("cancelled")
        if proc.poll() is None:
            if time.monotonic() - self._started_at < self.timeout_s:
                return None
            self._end()
            raise _hung(self.what, self.timeout_s)
        out = _read_ended(proc.stdout)
        self._end()
        return _answer(out, proc.returncode)

    def _end(self) -> None:
        """A polled child killed if it still runs, reaped, its pipe closed
        (nothing else waits for it)."""
        self._reap(self._proc)

    def cancel(self) -> None:
        """Kill the child (from any thread): :meth:`run` raises Cancelled.
        A polled child is reaped here too (nothing else waits for it)."""
        with self._lock:
            self._cancelled = True
            proc = self._proc
        if proc is None:
            return
        if self._polled:
            self._end()
        elif proc.poll() is None:
            try:
                proc.kill()
            except OSError:  # ended meanwhile
                pass


def _answer(out: bytes, returncode: int | None) -> dict:
    """A child's answer, its output's last JSON line.

    Raises:
        DeviceError: it said an error, or none.
    """
    answer = None
    for line in out.decode(errors="replace").splitlines():
        try:
            answer = json.loads(line)
        except ValueError:
            continue
    if not isinstance(answer, dict):
        raise DeviceError(f"the sound system's process ended without answering "
                          f"(exit code {returncode})")
    if "error" in answer:
        raise DeviceError(str(answer["error"]))
    return answer


def _feed(fd: int, data: memoryview) -> memoryview:
    """What is left of ``data`` once as much as ``fd`` (non-blocking) takes
    at once is written to it; nothing once the reader is gone."""
    try:
        return data[os.write(fd, data):]
    except BlockingIOError:
        return data
    except OSError:  # the child ended, or was killed, before reading it all
        return data[:0]


def _close_quietly(pipe: Any) -> None:
    """``pipe`` closed; a child gone meanwhile is no error here."""
    try:
        pipe.close()
    except OSError:
        pass


def _read_ended(pipe: Any) -> bytes:
    """What an ended child wrote on ``pipe``, without waiting for its end of
    file: a process the child started may still hold the pipe (libjack can
    start a JACK server), and the GUI thread reads this."""
    fd = pipe.fileno()
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def probe_job(device: str | int | None, timeout_s: float) -> ChildJob:
    """A quiet job that looks for the input ``device`` (None: the default
    input) with a fresh PortAudio: it answers ``{"device": name}`` once
    the device is there, else raises :class:`DeviceError` (a lost device
    is looked for again and again: its failures are not said)."""
    args = ["probe"] if device is None else ["probe", f"--device={device}"]
    return ChildJob(args, timeout_s, "look for the input device", quiet=True)


def input_device_answers(device: str | int | None, timeout_s: float) -> bool:
    """Whether a fresh PortAudio in a child process finds the input
    ``device`` within ``timeout_s`` (blocks: ``kwsapp listen`` waiting for
    its device; the window polls a :func:`probe_job`)."""
    try:
        probe_job(device, timeout_s).run()
    except DeviceError:
        return False
    return True


def list_input_devices_in_child(timeout_s: float,
                                job: Callable[[ChildJob], None] | None = None
                                ) -> list[InputDevice]:
    """The input devices a fresh PortAudio in a child process sees (default
    marked); ``job`` is handed the :class:`ChildJob` first (to cancel it).

    Raises:
        DeviceError: PortAudio is missing, failed, or did not answer in
            ``timeout_s`` (a sound server that answers nobody).
        Cancelled: the job was cancelled.
    """
    child = ChildJob(["list"], timeout_s, "list its input devices")
    if job is not None:
        job(child)
    answer = child.run()
    try:
        return [InputDevice(**d) for d in answer["devices"]]
    except (KeyError, TypeError) as exc:
        raise DeviceError(f"the sound system's process answered {answer!r} ({exc})") from None


class ClipPlayer:
    """Plays clips through a fresh PortAudio in a child process, from a
    thread of its own (``kwsapp-play``): :meth:`play` returns at once. One
    clip at a time: a new one stops the one playing.

    Args:
        answer_s: how long the output may take to start and finish, beyond
            the clip's own length, before it is given up (killed).
        on_done: called on the player's thread with None once a clip has
            played, or the :class:`DeviceError` saying why it did not (not
            for a clip stopped by :meth:`play` or :meth:`stop`).
    """

    def __init__(self, answer_s: float, on_done: Callable[[Exception | None], None]) -> None:
        self.answer_s = answer_s
        self.on_done = on_done
        self._job: ChildJob | None = None
        self._thread: threading.Thread | None = None

    @property
    def playing(self) -> bool:
        """A clip is playing (or its output opening)."""
        return self._thread is not None and self._thread.is_alive()

    def play(self, audio: Any, rate_hz: int) -> None:
        """Play ``audio`` (mono float32 samples at ``rate_hz``); stops the
        clip playing first."""
        import numpy as np

        self.stop()
        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        job = ChildJob(["play", "--rate", str(int(rate_hz))],
                       self.answer_s + samples.size / float(rate_hz), "play the clip",
                       stdin=samples.tobytes())

        def run() -> None:
            try:
                job.run()
            except Cancelled:
                return
            except DeviceError as exc:
                self.on_done(exc)
                return
            self.on_done(None)

        self._job = job
        self._thread = threading.Thread(target=run, name="kwsapp-play", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the clip playing (its child killed), if any."""
        job, thread = self._job, self._thread
        self._job = self._thread = None
        if job is not None:
            job.cancel()
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)  # it ends once the child is killed


# ---------------------------------------------------------------- the child

def end_with_parent(poll_s: float = PARENT_POLL_S) -> None:
    """Ends this process once its parent is gone, from a daemon thread.

    A child hung in PortAudio (on a sound server that answers nobody) never
    reads its stdin, and outlived the app that gave it up: it kept the
    device, and its stderr, until the server answered, if ever. A parent
    that ends hands its children to another process, so a changed parent
    id is the sign. (prctl's PR_SET_PDEATHSIG would fire when the *thread*
    that started us ends, and the window starts its children from threads.)"""
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="kwsapp-parent-watch", daemon=True).start()


def say(**message: Any) -> None:
    """A child's answer to its parent: one JSON line on stdout, flushed."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _play(rate_hz: int) -> None:
    """Play the float32 samples on stdin to the default output, to their end."""
    data = sys.stdin.buffer.read()
    import numpy as np

    sd = sounddevice_module()
    try:
        sd.play(np.frombuffer(data, np.float32), int(rate_hz), blocking=True)
    except (sd.PortAudioError, ValueError) as exc:
        raise DeviceError(f"cannot play to the default output ({exc})") from None


def child_main(argv: list[str] | None = None) -> int:
    """The child: run one job, say its answer as one JSON line."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m kwsapp.audio.portaudio_child")
    parser.add_argument("job", choices=("list", "probe", "play"))
    parser.add_argument("--device", default=None,
                        help="probe: the input device (index or name part; default: the "
                             "default input)")
    parser.add_argument("--rate", type=int, default=16000, help="play: the clip's rate")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this ends
    end_with_parent()
    try:
        if args.job == "list":
            say(devices=[asdict(d) for d in query_input_devices()])
        elif args.job == "probe":
            say(device=find_input_device(args.device))
        else:
            _play(args.rate)
            say(played=True)
    except DeviceError as exc:
        say(error=str(exc))
        return 2
    return 0


if __name__ == "__main__":
    code = child_main()
    sys.stdout.flush()
    # PortAudio's exit handler may hang on (or abort about) a sound server
    # that went away since it started: there is nothing left to close.
    os._exit(code)
