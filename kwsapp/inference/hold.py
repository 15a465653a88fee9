"""The ignore words' hooks on an engine's commands (kwsapp/userwords/live.py):
the windows an ignore word heard (vetoes) or stirred on (suspicions), and
the commands held until it has heard the whole utterance.

An ignore word listens on the engine's embeddings, on the inference thread,
before the head's decision on the same embeddings; its score can peak a
few steps after a command decides, so a command may be held for it, and
one is dropped when a window from :data:`VETO_SPAN_S` before its decision
up to its emission was vetoed. Everything here runs on the thread that
decides (the inference thread, or the pipeline's when it runs a step
itself), except :meth:`CommandHold.set_hold`.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

#: How far before its decision a vetoed window still drops a command: an
#: ignore word scores highest while it is whole in view, which can be a few
#: steps before a command waiting for the word's end decides (0.25 s let 1
#: of 7 held-out "alexa" activations through; README "User words").
VETO_SPAN_S = 0.5
_EPS_S = 1e-6


@dataclass(frozen=True)
class Held:
    """A command decided and not emitted yet."""

    due_s: float  # stream time it is emitted at, unless vetoed
    decided_s: float  # end of the window it fired on
    label: str
    score: float
    start_s: float
    end_s: float


def _near(times: deque, start_s: float, end_s: float) -> bool:
    return any(start_s - _EPS_S <= t <= end_s + _EPS_S for t in times)


class CommandHold:
    """Between the smoother and the second opinion: each command decided is
    passed on now, held, or dropped for a veto.

    Args:
        keep_s: how long vetoes and suspicions are kept (the engine's ring).
        pass_on: given each command neither vetoed nor held, and the stream
            time (s) it is emitted at.
    """

    def __init__(self, keep_s: float, pass_on: Callable[[Held, float], None]) -> None:
        self._keep_s = keep_s
        self._pass_on = pass_on
        # Ends (s) of the windows a user's ignore word heard (veto()), and
        # commands held for it (set_hold()).
        self._vetoed: deque[float] = deque()
        self._suspects: deque[float] = deque()  # suspect(): windows it stirred on
        self._hold_s = 0.0
        self._suspected_only = False
        self._held: deque[Held] = deque()
        self.vetoed = 0  # commands not emitted for a veto

    def set_hold(self, seconds: float, suspected_only: bool = False) -> None:
        """:meth:`Engine.hold_commands <kwsapp.inference.engine.Engine.hold_commands>`."""
        self._hold_s = max(0.0, float(seconds))
        self._suspected_only = bool(suspected_only)

    def veto(self, end_s: float) -> None:
        """:meth:`Engine.veto <kwsapp.inference.engine.Engine.veto>`."""
        self._keep_time(self._vetoed, end_s)

    def suspect(self, end_s: float) -> None:
        """:meth:`Engine.suspect <kwsapp.inference.engine.Engine.suspect>`."""
        self._keep_time(self._suspects, end_s)

    @property
    def holding(self) -> bool:
        """Whether a command waits for :meth:`release`."""
        return bool(self._held)

    def decided(self, decided_s: float, label: str, score: float,
                start_s: float, end_s: float) -> None:
        """A command fired on the window ending at ``decided_s`` (s), heard
        from ``start_s`` to ``end_s``: passed on now, or held."""
        hold = self._hold_s > 0 and (not self._suspected_only or _near(
            self._suspects, decided_s - VETO_SPAN_S, decided_s))
        held = Held(decided_s + (self._hold_s if hold else 0.0), decided_s, label, score,
                    start_s, end_s)
        if hold or self._held:  # behind any held one: events stay in order
            self._held.append(held)  # released by release(), once its embeddings are in
        else:
            self._emit(held, decided_s)

    def release(self, upto_s: float) -> None:
        """Emit the held commands due by stream time ``upto_s`` (s)."""
        while self._held and self._held[0].due_s <= upto_s + _EPS_S:
            held = self._held.popleft()
            self._emit(held, held.due_s)

    def _emit(self, held: Held, at_s: float) -> None:
        """Pass ``held`` on at stream time ``at_s``, unless an ignore word
        vetoed a window from :data:`VETO_SPAN_S` before its decision up to
        ``at_s`` (the hold)."""
        if _near(self._vetoed, held.decided_s - VETO_SPAN_S, at_s):
            self.vetoed += 1
            log.info("%s at %.2f s not emitted: an ignore word was heard there",
                     held.label, held.decided_s)
            return
        self._pass_on(held, at_s)

    def _keep_time(self, times: deque, end_s: float) -> None:
        """Append ``end_s``, dropping times the ring no longer holds."""
        while times and times[0] < end_s - self._keep_s:
            times.popleft()
        times.append(float(end_s))
