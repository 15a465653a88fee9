"""The second opinion's scheduling (kwsapp/inference/second_opinion.py),
without the recogniser: a replay's recogniser calls wait for the live
checks of the same process."""

from __future__ import annotations

import queue
import threading
import time

from kwsapp.inference import second_opinion
from kwsapp.inference.second_opinion import _Checks, _LiveFirst


def _waiter(first: _LiveFirst) -> threading.Event:
    """A replay's recogniser call on a thread of its own: set once its turn came."""
    turn = threading.Event()
    threading.Thread(target=lambda: (first.wait_turn(), turn.set()), daemon=True).start()
    return turn


def test_a_replays_calls_wait_while_a_live_command_waits_for_its_check(monkeypatch):
    """The window may listen while its Files tab replays a file: the
    replay's encoder and decoder calls wait while a live command waits for
    its check (live latency 280 -> 210 ms on the median), and no longer
    than its last one is checked, or dropped by a verify thread that ends."""
    first = _LiveFirst()
    live = _Checks(True, queue.SimpleQueue())
    assert _waiter(first).wait(1.0), "no live command: its turn at once"
    first.queued(live)
    first.queued(live)
    turn = _waiter(first)
    assert not turn.wait(0.1)
    first.checked(live)
    assert not turn.wait(0.1), "one live command still waits"
    first.checked(live)
    assert turn.wait(1.0)
    first.checked(live)  # more than it had: nothing goes below zero
    assert _waiter(first).wait(1.0)
    # A live verify thread that ends (stopped, or an error) gives up the
    # commands it will not check: none is left waiting, nor one queued
    # after (the inference thread may decide one while the engine stops).
    first.queued(live)
    turn = _waiter(first)
    assert not turn.wait(0.1)
    first.ended(live)
    assert turn.wait(1.0) and live.waiting == 0
    first.queued(live)
    assert _waiter(first).wait(1.0) and live.waiting == 0
    # A live verify thread that is stuck (loading the recogniser, 1-3 s)
    # holds a replay's call only so long.
    monkeypatch.setattr(second_opinion, "_LIVE_FIRST_MAX_WAIT_S", 0.2)
    first.queued(_Checks(True, queue.SimpleQueue()))
    start = time.monotonic()
    first.wait_turn()
    assert 0.15 < time.monotonic() - start < 1.0
