"""The pipeline thread's work for the inference thread: windows, embedding
steps and a file's chunks of steps, handed over through a bounded queue
that drops the oldest (live) or waits for room (files)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from kwsapp.audio.vad import SpeechRun

#: How long a file's blocking hand-off waits before checking for a stop.
WAIT_S = 0.05


@dataclass
class WindowTask:
    end: int  # absolute 16 kHz sample just after the window
    audio: np.ndarray
    segment: int  # gate opening the window belongs to
    runs: list[SpeechRun] = field(default_factory=list)
    quiet_ms: float | None = None  # SpeechGate.quiet_ms when the window was cut


@dataclass
class StepTask:
    """One embedding step of a split model (every 80 ms; see ``lazy_shut_steps``)."""

    j: int  # embedding index
    end: int  # absolute 16 kHz sample just after the head's window
    audio: np.ndarray  # the samples the step reads
    head: bool  # a hop while the gate is open: run the head
    segment: int
    runs: list[SpeechRun] = field(default_factory=list)
    quiet_ms: float | None = None  # SpeechGate.quiet_ms when the step was cut


@dataclass
class StepsTask:
    """Consecutive embedding steps due at one wake-up of a live pipeline,
    embedded in as few model calls as the artifact allows (two or three
    steps in one call of its streaming models), then decided one by one."""

    steps: list[StepTask]  # in order (their audio left empty)
    audio: np.ndarray  # the samples all of them read, from the first one's start


@dataclass
class ChunkTask:
    """Consecutive embedding steps of a file, embedded in one model call."""

    first: int  # index of the first embedding
    audio: np.ndarray  # the chunk model's input (zeros past the audio's end)
    steps: list[StepTask]  # in order, from ``first`` on (their audio left empty)


class QueueClosed(Exception):
    pass


class WorkQueue:
    """Bounded hand-off to the inference thread: drop-oldest (realtime) or
    blocking (files)."""

    def __init__(self, maxsize: int, block: bool) -> None:
        self._items: deque[WindowTask | StepTask | ChunkTask | None] = deque()
        self._maxsize = max(1, maxsize)
        self.block = block  # put() waits for room (else drops the oldest)
        self._cond = threading.Condition()
        self._closed = False
        self._waiting = False  # the consumer waits in get() on an empty queue
        self.dropped = 0

    def put(self, item: WindowTask | StepTask | ChunkTask | None) -> None:
        with self._cond:
            if item is not None:
                if self.block:
                    while len(self._items) >= self._maxsize and not self._closed:
                        self._cond.wait(WAIT_S)
                elif len(self._items) >= self._maxsize:
                    self._items.popleft()
                    self.dropped += 1
            if self._closed:
                raise QueueClosed
            self._items.append(item)
            self._cond.notify_all()

    def get(self) -> WindowTask | StepTask | ChunkTask | None:
        """The next item; raises QueueClosed once closed."""
        with self._cond:
            try:
                while not self._items:
                    if self._closed:
                        raise QueueClosed
                    self._waiting = True
                    self._cond.wait()  # put() and close() notify: no polling
            finally:
                self._waiting = False
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def idle(self) -> bool:
        """Whether the consumer waits on an empty queue: it holds no item,
        and takes none until the next put()."""
        with self._cond:
            return self._waiting and not self._items

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
