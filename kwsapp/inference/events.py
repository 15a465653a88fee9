"""What the engine gives its listeners: commands, the decision layer's
inputs, classified windows and its counters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CommandEvent:
    """A recognized command. Times are seconds from the stream start."""

    label: str
    score: float
    start: float  # span of audio where the word was heard (its speech run
    end: float  # within the window that fired, or that window)
    emitted_at: float  # stream time when the event was emitted
    latency: float  # emitted_at - end (word end per VAD -> emission)


@dataclass(frozen=True)
class DecisionInput:
    """What the decision layer was given for one window (``on_decision``):
    enough to re-run the smoother alone with other settings (the tuner)."""

    time: float  # stream time (s) of the window's last sample
    probs: np.ndarray  # [n_labels] float32, recognizer.labels order
    word: int | None  # the smoother's word key: start sample of the window's speech run
    gate_reopened: bool  # the speech gate closed since the last window: smoother reset
    span: tuple[float, float]  # (s) the start/end an event fired by this window carries
    quiet_ms: float | None = None  # the speech's pause at the window's end (SpeechGate.quiet_ms)


@dataclass(frozen=True)
class WindowResult:
    """One classified window."""

    end: float  # stream time (s) of the window's last sample
    probs: np.ndarray  # [n_labels] float32 in recognizer.labels order
    infer_ms: float


@dataclass
class EngineStats:
    xruns: int = 0  # input overflows reported by the device
    dropped_windows: int = 0  # windows dropped because inference lagged
    infer_ms: float = 0.0  # last window's front end + model time
    latency_ms: float = 0.0  # last event's word end -> emission
    overruns: int = 0  # ring readers that fell a whole ring behind
