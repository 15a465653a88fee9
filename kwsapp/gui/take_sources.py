"""Where the "Add word…" dialog's takes come from, off the GUI thread: a
recorder opened on the input device, or dropped files decoded."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp.config import UserWordsConfig
from kwsapp.errors import KwsError
from kwsapp.gui.live import SourceFactory, on_new_source
from kwsapp.userwords.takes import BadTakeError, read_take

log = logging.getLogger(__name__)


def open_recorder(source_factory: SourceFactory, device: Any, seconds: float) -> Any:
    """A :class:`~kwsapp.userwords.record.TakeRecorder` of ``seconds`` on a
    new source for ``device``, started (on the dialog's runner thread), its
    audio dropped until its ``keep()``: the countdown's end."""
    from kwsapp.userwords.record import TakeRecorder

    def start(source: Any) -> TakeRecorder:
        recorder = TakeRecorder(source, seconds, keep=False)
        recorder.start()
        return recorder

    return on_new_source(source_factory, device, start)


def read_takes(paths: list[str], config: UserWordsConfig, cancel: threading.Event
               ) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Decode take files (on a worker thread): ``(name, 16 kHz audio)`` of
    each that reads and, for each that does not, its problem, both in the
    order given; stops early once ``cancel`` is set."""
    clips, problems = [], []
    for path in paths:
        if cancel.is_set():
            break
        name = Path(path).name
        try:
            clips.append((name, read_take(path, config, name)))
        except BadTakeError as exc:  # named already
            problems.append(str(exc))
        except KwsError as exc:
            problems.append(f"{name}: {getattr(exc, 'problem', None) or exc}")
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            log.exception("reading %s failed", path)
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return clips, problems
