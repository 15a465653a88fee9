"""A PortAudio input stream in a child process that may die: :class:`ChildSource`.

PortAudio cannot be restarted in a process that held a stream whose device
vanished (on JACK: re-initializing hangs, and the abandoned stream's close
aborts the process in pa_jack.c once the server is back). So the window
and ``kwsapp listen`` open their stream in a child process (``python -m
kwsapp.audio.child_source``): the child's audio callback copies each block
into a ring in shared memory, stamps it and writes one byte to a wake-up
pipe. The engine's pipeline takes the samples itself (:meth:`ChildSource.pull`)
when a step's audio is due, sleeping in ``poll`` on that pipe
(:meth:`ChildSource.wait`) when it is late: no thread and no wake-up per
block in this process. Other users get the samples pushed to ``on_block`` by
a thread woken by each block (still no timed polling: a thread woken by a
timeout costs about as much as one woken by audio). When the device goes,
only the child dies (or is killed, or hangs: 3 s without audio); the pipe's
end, the child's error line or the silence tells this process, and a new
:class:`ChildSource` starts a fresh child with a fresh PortAudio.

The child speaks JSON lines on stdout (``{"name", "rate", "notice"}`` once the
device is found, ``{"started": true}`` once the stream runs, ``{"error"}``
when something fails) and reads the shared ring's name on stdin; it ends
when its stdin closes (this process stopped it, or died). It runs in its own
session and ignores SIGINT: Ctrl-C in a terminal is for the parent,
which decides when the stream stops.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from kwsapp.audio.portaudio_child import say
from kwsapp.audio.source import BlockCallback
from kwsapp.errors import DeviceError

log = logging.getLogger(__name__)

#: How long the child may take to find the device or start the stream (s),
#: unless the caller gives its own limit (the window and ``listen`` give
#: ``AudioConfig.open_timeout_s``).
REPLY_TIMEOUT_S = 20.0
#: Audio the shared ring holds (s): the forwarding thread reads every block.
RING_SECONDS = 2.0
#: A started stream that delivers nothing for this long has stalled (seen
#: with PortAudio's JACK host when the server dies: the callback just stops).
STALL_S = 3.0
#: The child looks at its stream this often (s): its end is noticed by its
#: finished callback; this catches a stream that died without calling back.
CHILD_POLL_S = 0.5
#: The command that runs the child (a test may put a mock in front of it).
CHILD_COMMAND = [sys.executable, "-m", "kwsapp.audio.child_source"]


class SharedRing:
    """A float32 ring in shared memory: one writer (the child's callback),
    one reader (this process). Slot 0 of the int64 header counts the samples
    ever written, slot 1 the input overflows, slot 2 is the reader's wake-up
    mark (the count it waits for); the samples follow. The count is stored
    after the samples, so a reader never takes unwritten ones."""

    HEADER = 3

    def __init__(self, capacity: int, name: str | None = None) -> None:
        size = 8 * self.HEADER + 4 * capacity
        self.shm = shared_memory.SharedMemory(name=name, create=name is None, size=size)
        self.capacity = int(capacity)
        # A numpy view, not a memoryview cast: a cast view kept the segment's
        # mmap exported past close(), and SharedMemory.__del__ then printed a
        # BufferError on stderr when a busy device ended `listen`.
        self.header = np.ndarray((self.HEADER,), np.int64, self.shm.buf, 0)
        self.data = np.ndarray((self.capacity,), np.float32, self.shm.buf, 8 * self.HEADER)
        if name is None:
            self.header[:] = 0

    @property
    def name(self) -> str:
        return self.shm.name

    @property
    def written(self) -> int:
        return int(self.header[0])

    @property
    def overflows(self) -> int:
        return int(self.header[1])

    def write(self, block: np.ndarray) -> bool:
        """Append ``block`` (the child's audio callback: copies only);
        whether the count reached the reader's wake-up mark with it."""
        n = min(block.shape[0], self.capacity)
        before = int(self.header[0])
        start = before + block.shape[0] - n
        pos = start % self.capacity
        first = min(n, self.capacity - pos)
        self.data[pos:pos + first] = block[block.shape[0] - n:block.shape[0] - n + first]
        if first < n:
            self.data[:n - first] = block[block.shape[0] - n + first:]
        self.header[0] = start + n
        return before < int(self.header[2]) <= start + n

    def wake_at(self, count: int) -> bool:
        """Ask the writer to say when ``count`` samples are written; False
        if they already are (then it will not say)."""
        self.header[2] = count
        return self.written < count

    def count_overflow(self) -> None:
        self.header[1] += 1

    def read_from(self, cursor: int) -> tuple[np.ndarray, int]:
        """``(samples written since cursor, new cursor)``; samples already
        overwritten are skipped (the reader fell a whole ring behind)."""
        end = self.written
        start = max(cursor, end - self.capacity)
        n = end - start
        if n <= 0:
            return np.zeros(0, np.float32), cursor
        pos = start % self.capacity
        first = min(n, self.capacity - pos)
        if first == n:  # no wrap: one copy
            return self.data[pos:pos + n].copy(), end
        return np.concatenate([self.data[pos:pos + first], self.data[:n - first]]), end

    def close(self, unlink: bool = False) -> None:
        # The arrays hold the buffer: drop them before closing it.
        del self.header, self.data
        try:
            self.shm.close()
        except BufferError:  # a view is still out somewhere: the OS frees it at exit
            pass
        if unlink:
            try:
                self.shm.unlink()
            except FileNotFoundError:
                pass


class ChildSource:
    """A PortAudio input stream (mono) run by a child process.

    Same constructor and attributes as
    :class:`~kwsapp.audio.source.SoundDeviceSource`; the child finds the
    device and its rate at construction, so a missing or busy device fails
    here with the same one-line :class:`~kwsapp.errors.DeviceError`.

    ``open_timeout_s`` bounds each of the open's two waits for the child
    (finding the device here, starting the stream in :meth:`start`): a
    child that has not answered by then is killed and the open fails with
    a :class:`~kwsapp.errors.DeviceError` naming the device.
    """

    realtime = True

    def __init__(self, device: str | int | None = None, block_ms: float = 20.0,
                 rate_hz: int | None = None,
                 open_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.device = device
        self.block_ms = float(block_ms)
        self.open_timeout_s = float(open_timeout_s)
        self.device_name: str | None = None  # the child's name for it, once found
        self.xruns = 0
        self.finished = False
        self.error: Exception | None = None
        self._ring: SharedRing | None = None
        self._ring_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._started = False  # the child's stream runs (start() returned)
        self._gone = False  # the child said an error, or ended
        self._cursor = 0  # samples of the shared ring taken so far
        self._last_new = 0.0  # when new samples were last taken (pull)
        self._pollers: tuple[Any, Any] | None = None  # made by wait()
        # The child's callback writes a byte here per block; its end (the
        # child gone) reads as end of file. A second pipe lets stop() and the
        # reply reader wake the forwarding thread at once.
        self._wake_r, wake_w = os.pipe()
        self._ctl_r, self._ctl_w = os.pipe()
        # The child logs as this process does with -v/-vv; otherwise only its
        # errors (this process says in its own words what became of the stream).
        level = logging.getLogger("kwsapp").getEffectiveLevel()
        cmd = [*CHILD_COMMAND, "--block-ms", str(block_ms), "--wake-fd", str(wake_w),
               "--log-level", str(level if level < logging.WARNING else logging.ERROR)]
        if device is not None:
            cmd += ["--device", str(device)]
        if rate_hz:
            cmd += ["--rate", str(int(rate_hz))]
        # stderr is inherited: PortAudio's and JACK's own words stay visible.
        # Its own session: Ctrl-C in a terminal (sent to the foreground
        # process group) does not reach it.
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True, bufsize=1, pass_fds=(wake_w,),
                                          start_new_session=True)
        except BaseException:
            for fd in (self._wake_r, wake_w, self._ctl_r, self._ctl_w):
                os.close(fd)
            raise
        os.close(wake_w)  # the child's copy is the only one: its end is our EOF
        os.set_blocking(self._wake_r, False)  # drained without waiting
        self._replies: queue.Queue[dict] = queue.Queue()
        self._reader = threading.Thread(target=self._read_replies, name="kwsapp-child-replies",
                                        daemon=True)
        self._reader.start()
        try:
            hello = self._reply()
        except BaseException:
            self._close_pipes()
            raise
        self.device_name = str(hello["name"])
        self.sample_rate_hz = int(hello["rate"])
        self.notice: str | None = hello.get("notice")

    def _read_replies(self) -> None:
        for line in self._proc.stdout:
            try:
                reply = json.loads(line)
            except ValueError:
                log.debug("capture child said: %s", line.rstrip())
                continue
            self._replies.put(reply)
            if "error" in reply:
                self._gone = True
                self._wake_forwarder()
        self._replies.put({"exit": True})
        self._gone = True
        self._wake_forwarder()

    def _wake_forwarder(self) -> None:
        fd = self._ctl_w
        if fd < 0:  # closed: nothing is waiting any more
            return
        try:
            os.write(fd, b"!")
        except OSError:
            pass

    def _reply(self) -> dict:
        """The child's next message; an error, its death or its silence
        past ``open_timeout_s`` as DeviceError (a silent child is killed:
        it hangs in PortAudio, and would hold the device or the sound
        server's client slot until that answered, if ever)."""
        try:
            reply = self._replies.get(timeout=self.open_timeout_s)
        except queue.Empty:
            log.info("capture child %d did not answer in %g s: killed", self._proc.pid,
                     self.open_timeout_s)
            self._end_child(kill=True)
            raise DeviceError(f"{self._input_name()} did not open in {self.open_timeout_s:g} s "
                              "(the sound system did not answer); pick another input device "
                              "or check the sound server") from None
        if "error" in reply or "exit" in reply:
            self._end_child()
            raise DeviceError(reply.get("error") or "the audio input process ended "
                              f"(exit code {self._proc.returncode})")
        return reply

    def _input_name(self) -> str:
        """The input as messages name it: the child's name for the device
        once it found it, else the one asked for (None: the default)."""
        name = self.device_name if self.device_name is not None else self.device
        return "the default input device" if name is None else f"input device {str(name)!r}"

    def start(self, on_block: BlockCallback | None) -> None:
        """Start the child's stream. With ``on_block``, a thread hands it
        the new samples as they come (push, as PortAudio's callback would);
        with None, the caller takes them with :meth:`pull` and sleeps in
        :meth:`wait` (the engine's pipeline does: no thread, no wake-up per
        block)."""
        self._stopping = False
        ring = SharedRing(max(1, int(RING_SECONDS * self.sample_rate_hz)))
        try:
            self._proc.stdin.write(json.dumps({"ring": ring.name,
                                               "capacity": ring.capacity}) + "\n")
            self._proc.stdin.flush()
            self._reply()  # {"started": true}
        except BaseException:
            ring.close(unlink=True)
            raise
        self._ring, self._cursor, self._last_new = ring, 0, time.monotonic()
        self._started = True
        if on_block is not None:
            self._thread = threading.Thread(target=self._forward, args=(on_block,),
                                            name="kwsapp-child-audio", daemon=True)
            self._thread.start()
        log.info("listening on %s at %d Hz (in process %d)", self.device_name,
                 self.sample_rate_hz, self._proc.pid)

    def pull(self) -> np.ndarray:
        """The samples the child wrote since the last pull. A child gone is
        noticed here and said by :meth:`check`."""
        with self._ring_lock:  # stop() may close the ring meanwhile
            ring = self._ring
            if ring is None or not self._started:  # not yet, or no longer
                return np.zeros(0, np.float32)
            try:
                if not os.read(self._wake_r, 65536):  # before the ring: no block missed
                    self._gone = True  # end of file: the child is gone
            except BlockingIOError:
                pass
            except OSError:
                self._gone = True
            samples, self._cursor = ring.read_from(self._cursor)
            self.xruns = ring.overflows
        if samples.size:
            self._last_new = time.monotonic()
        return samples

    def wait(self, timeout: float, more: int | None = None) -> None:
        """Sleep up to ``timeout`` s, or until :meth:`stop`, the child's end
        or error, or (``more``) until the child has written ``more`` samples
        past those pulled: the child's callback wakes this thread when the
        block that completes them comes, not before (one wake-up per step
        of the engine, none per block)."""
        pollers = self._pollers
        if pollers is None:
            if self._ctl_r < 0:  # stopped
                return
            pollers = (select.poll(), select.poll())  # (stop only, stop or audio)
            for poller in pollers:
                poller.register(self._ctl_r, select.POLLIN)
            pollers[1].register(self._wake_r, select.POLLIN)
            self._pollers = pollers
        audio = False
        if more is not None:
            with self._ring_lock:
                if self._ring is not None:
                    if not self._ring.wake_at(self._cursor + max(1, more)):
                        return  # already there
                    audio = True
        pollers[audio].poll(max(0, int(timeout * 1000)))

    def _forward(self, on_block: BlockCallback) -> None:
        """Push mode: hand the child's new samples to ``on_block`` each time
        it says a block came (one ``poll`` wake-up per block, every byte
        pending read at once) until it ends or stalls."""
        while not self._stopping:
            self.wait(STALL_S, more=1)
            if self._stopping:
                return
            samples = self.pull()
            if samples.size:
                on_block(samples)
            self.check()
            if self.error is not None:
                self.finished = True
                return

    def check(self) -> None:
        """Set :attr:`error` when the child said an error or ended, or no
        audio came for ``STALL_S`` (a hung PortAudio)."""
        if self.error is None and self._started and not self._stopping and (
                self._gone or time.monotonic() - self._last_new > STALL_S):
            self.error = DeviceError(f"input device {self.device_name!r} stopped "
                                     "delivering audio")

    def stop(self) -> None:
        """Stop the forwarding thread, then end the child (its stdin closes;
        killed if it does not leave within a second: a dead device may hang
        PortAudio there, which is why it runs in a child)."""
        self._stopping = True
        self._wake_forwarder()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)
        self._end_child()
        with self._ring_lock:
            ring, self._ring = self._ring, None
            if ring is not None:
                self.xruns = ring.overflows  # the child's last count
                ring.close(unlink=True)
        self._close_pipes()

    def _close_pipes(self) -> None:
        with self._ring_lock:  # not while pull() reads the wake-up pipe
            self._pollers = None
            for name in ("_ctl_w", "_wake_r", "_ctl_r"):
                fd = getattr(self, name)
                if fd >= 0:
                    setattr(self, name, -1)  # first: _wake_forwarder must not write a reused fd
                    os.close(fd)

    def _end_child(self, kill: bool = False) -> None:
        """End the child: its stdin closed, killed if it has not left
        within a second (or at once with ``kill``: it is known to hang)."""
        if kill:
            self._proc.kill()
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(1.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._reader is not threading.current_thread():
            self._reader.join(1.0)  # its stdout is closed now: it ends at once


# ---------------------------------------------------------------- the child

def _end_with_parent(poll_s: float = CHILD_POLL_S) -> None:
    """Ends this process once its parent is gone (a child hung in PortAudio
    never reads its stdin): :func:`~kwsapp.audio.portaudio_child.end_with_parent`."""
    from kwsapp.audio.portaudio_child import end_with_parent

    end_with_parent(poll_s)


def child_main(argv: list[str] | None = None) -> int:
    """The child: find the device, then (when told the ring) run the stream
    until stdin closes or the stream dies."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kwsapp.audio.child_source")
    parser.add_argument("--device", default=None)
    parser.add_argument("--block-ms", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=None)
    parser.add_argument("--wake-fd", type=int, default=None,
                        help="write one byte here after each block (the parent sleeps on it)")
    parser.add_argument("--log-level", type=int, default=logging.WARNING)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="%(levelname)s %(name)s (capture child): %(message)s")
    import signal

    # Ctrl-C in a terminal reaches the whole process group: the parent
    # decides when this stream stops (it closes our stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    from kwsapp.audio.source import SoundDeviceSource

    try:
        source = SoundDeviceSource(args.device, block_ms=args.block_ms, rate_hz=args.rate)
    except DeviceError as exc:
        say(error=str(exc))
        return 2
    say(name=source.device_name, rate=source.sample_rate_hz, notice=source.notice)
    line = sys.stdin.readline()
    if not line:
        return 0  # stopped before it started
    order = json.loads(line)
    ring = SharedRing(int(order["capacity"]), name=order["ring"])
    # The parent owns the segment: before Python 3.13 attaching registers it
    # with this process's resource tracker, which would unlink it at exit.
    from multiprocessing import resource_tracker

    resource_tracker.unregister(ring.shm._name, "shared_memory")
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()

    wake = args.wake_fd
    if wake is not None:
        os.set_blocking(wake, False)

    def on_block(block: np.ndarray) -> None:
        """PortAudio's callback thread: copy; one byte to wake the parent
        when the block brings what it waits for (never blocks: a full pipe
        already holds wake-ups enough)."""
        if ring.write(block) and wake is not None:
            try:
                os.write(wake, b"\0")
            except OSError:  # full (wake-ups enough pending) or the parent is gone
                pass

    try:
        source.start(on_block)
    except DeviceError as exc:
        say(error=str(exc))
        return 2
    say(started=True)
    seen = 0

    def publish_xruns() -> None:
        nonlocal seen
        while source.xruns > seen:  # counted by the callback; published here
            ring.count_overflow()
            seen += 1

    while not closed.wait(CHILD_POLL_S):
        publish_xruns()
        source.check()
        if source.error is not None:
            say(error=str(source.error))
            break
    publish_xruns()
    source.stop()
    return 0


if __name__ == "__main__":
    code = child_main()
    sys.stdout.flush()
    # PortAudio's exit handler may hang on (or abort about) a dead stream.
    os._exit(code)
