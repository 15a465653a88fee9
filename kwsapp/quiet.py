"""Keep native libraries' chatter off stderr (shown again with ``-vv``).

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." when
an interpreter is made, and TensorFlow's C++ side writes absl log lines
(oneDNN, CUDA drivers, ``cuInit`` errors on a machine without a GPU, the
converter's SavedModel report) straight to file descriptor 2, before and
regardless of ``TF_CPP_MIN_LOG_LEVEL`` in recent releases. Python cannot
configure them, so :class:`NativeStderrFilter` puts a pipe on descriptor 2
and a thread copies everything to the real stderr except lines shaped like
that noise; kwsapp's own log lines and progress bars pass unchanged.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

#: Whole lines dropped: absl/glog lines (``I0000 00:00:17.1 123 file.cc:52] ...``),
#: absl's pre-init notice, LiteRT's INFO lines, TF's CPU-feature hint.
NOISE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
                   rb"|WARNING: All log messages before absl::InitializeLog"
                   rb"|INFO: (?:Created|Initialized) TensorFlow Lite"
                   rb"|To enable the following instructions: )")
#: A partial line that may become noise is held until its end arrives.
_MAYBE_NOISE = re.compile(rb"^(?:[IWEF]\d|WARNING:|INFO:|To enable)")


class NativeStderrFilter:
    """Filter descriptor 2 through a pipe until :meth:`close`."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._real = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        self._thread = threading.Thread(target=self._pump, name="kwsapp-stderr-filter",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _pump(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self._read, 65536)
            except OSError:
                break
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
            if pending and not _MAYBE_NOISE.match(pending):
                out, pending = out + pending, b""  # progress bars (\r) go at once
            if out:
                os.write(self._real, out)
        if pending and not NOISE.match(pending):
            os.write(self._real, pending)
        os.close(self._read)

    def close(self) -> None:
        """Put the real stderr back and copy what is still in the pipe."""
        if self._real < 0:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self._real, 2)  # closes the pipe's last write end (children aside)
        self._thread.join(1.0)
        os.close(self._real)
        self._real = -1
        atexit.unregister(self.close)


_active: NativeStderrFilter | None = None


def release() -> None:
    """Close the active filter, if any (before ``exec``: its thread dies)."""
    if _active is not None:
        _active.close()


def quiet_native_libraries(verbosity: int) -> NativeStderrFilter | None:
    """With ``verbosity`` below 2 (no ``-vv``): TensorFlow's loggers to
    ERROR, ``TF_CPP_MIN_LOG_LEVEL=3`` (a user's own setting wins) and a
    :class:`NativeStderrFilter`; returns it (None with ``-vv``)."""
    if verbosity >= 2:
        return None
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    global _active
    try:
        _active = NativeStderrFilter()
    except OSError:  # no descriptor 2 (a detached GUI): nothing to filter
        return None
    return _active
