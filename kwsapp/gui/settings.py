"""What the window remembers between runs (QSettings), with typed defaults.

Values are stored, not combo indices (a device list changes between runs).
A value the window cannot use (the file edited by hand, or written by
another version) is read as not chosen: the model card's value holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from PySide6 import QtCore

from kwsapp.config import THRESHOLD_RANGE
from kwsapp.models.artifact import VAD_MODES

ORGANIZATION = "kwsapp"
APPLICATION = "kwsapp"


def open_settings() -> QtCore.QSettings:
    """The user's settings store (platform default location)."""
    return QtCore.QSettings(ORGANIZATION, APPLICATION)


@dataclass
class WindowSettings:
    """The remembered choices; ``None`` means "not chosen: use the default"."""

    device: str | None = None  # input device name
    model: str | None = None  # bundled model name or artifact directory
    threshold: float | None = None  # None: the model card's threshold
    vad_aggressiveness: int | None = None
    verify: bool | None = None  # None: the model card's (on where it sets levels)
    show_withheld: bool = True  # the history lists the commands the second opinion stopped
    geometry: QtCore.QByteArray | None = None

    @classmethod
    def load(cls, store: QtCore.QSettings) -> "WindowSettings":
        def text(key: str) -> str | None:
            value = store.value(key)
            return str(value) if value not in (None, "") else None

        def number(key: str, kind: type, ok: Callable[[Any], bool]) -> float | int | None:
            # Out of range (a threshold of 5, a VAD mode of 9), the window
            # did not open (a traceback) or could not listen.
            value = store.value(key)
            try:
                value = kind(value) if value not in (None, "") else None
            except (TypeError, ValueError, OverflowError):
                return None
            return value if value is not None and ok(value) else None

        def flag(key: str) -> bool | None:
            value = (text(key) or "").lower()
            return True if value in ("true", "1") else False if value in ("false", "0") else None

        withheld = flag("history/show_withheld")
        geometry = store.value("window/geometry")
        return cls(device=text("audio/device"), model=text("model/spec"),
                   threshold=number("model/threshold", float, lambda v: math.isfinite(v) and
                                    THRESHOLD_RANGE[0] <= v <= THRESHOLD_RANGE[1]),
                   vad_aggressiveness=number("vad/aggressiveness", int, VAD_MODES.__contains__),
                   verify=flag("model/verify"),
                   show_withheld=withheld is not False,
                   geometry=geometry if isinstance(geometry, QtCore.QByteArray) else None)

    def save(self, store: QtCore.QSettings) -> None:
        store.setValue("audio/device", self.device or "")
        store.setValue("model/spec", self.model or "")
        store.setValue("model/threshold", "" if self.threshold is None else float(self.threshold))
        store.setValue("vad/aggressiveness",
                       "" if self.vad_aggressiveness is None else int(self.vad_aggressiveness))
        store.setValue("model/verify", "" if self.verify is None else str(self.verify).lower())
        store.setValue("history/show_withheld", str(self.show_withheld).lower())
        if self.geometry is not None:
            store.setValue("window/geometry", self.geometry)
        store.sync()
