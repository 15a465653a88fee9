"""A progress bar for long files: tqdm on stderr, only when stderr is a
terminal and the audio is longer than a minute (stdout stays for results and
``--json``)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

#: Audio shorter than this gets no bar (it is done before a bar would help).
MIN_SECONDS = 60.0


@contextmanager
def audio_progress(name: str) -> Iterator[Callable[[float, float], None] | None]:
    """Yields ``on_progress(done_s, total_s)`` for a file's processing, or
    None when no bar would be shown; closes the bar on exit."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = None

    def on_progress(done_s: float, total_s: float) -> None:
        nonlocal bar
        if total_s < MIN_SECONDS:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=round(total_s, 1), desc=name, unit="s audio", file=sys.stderr,
                       leave=False, dynamic_ncols=True,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
                                  "[{elapsed}<{remaining}]")
        bar.update(round(min(done_s, total_s), 1) - bar.n)

    try:
        yield on_progress
    finally:
        if bar is not None:
            bar.close()
