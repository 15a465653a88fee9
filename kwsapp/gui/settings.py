"""What the window remembers between runs (QSettings), with typed defaults.

Values are stored, not combo indices (a device list changes between runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore

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

        def number(key: str, kind: type) -> float | int | None:
            value = store.value(key)
            try:
                return kind(value) if value not in (None, "") else None
            except (TypeError, ValueError):
                return None

        verify = text("model/verify")
        withheld = text("history/show_withheld")
        geometry = store.value("window/geometry")
        return cls(device=text("audio/device"), model=text("model/spec"),
                   threshold=number("model/threshold", float),
                   vad_aggressiveness=number("vad/aggressiveness", int),
                   verify=None if verify is None else verify.lower() in ("true", "1"),
                   show_withheld=withheld is None or withheld.lower() in ("true", "1"),
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
