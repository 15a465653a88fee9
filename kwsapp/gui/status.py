"""The status bar's fields: input device and rate, xruns, dropped windows,
inference time and latency (refreshed on the window's slow timer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtWidgets

if TYPE_CHECKING:
    from kwsapp.inference.engine import EngineStats

#: Field -> tooltip, in display order.
FIELDS = {"device": "Input device and its sample rate",
          "xruns": "Input overflows reported by the audio device",
          "dropped": "Windows dropped because inference fell behind",
          "infer": "Inference time per analysed window",
          "latency": "Delay from the end of a word to its command"}


class StatusFields:
    """Permanent labels on a QStatusBar."""

    def __init__(self, bar: QtWidgets.QStatusBar) -> None:
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for key, tip in FIELDS.items():
            label = QtWidgets.QLabel("—")
            label.setToolTip(tip)
            if key == "device":
                # A normal widget, not a permanent one: a message shown for
                # a while (QStatusBar.showMessage: "exported 12 rows to …")
                # takes its place. Stretched over the bar as a permanent
                # widget, it left the message no room: never seen.
                label.setMinimumWidth(0)
                bar.addWidget(label, 1)
            else:
                label.setMinimumWidth(110)
                bar.addPermanentWidget(label, 0)
            self.labels[key] = label
        self.set_state("not listening")

    def set_state(self, text: str) -> None:
        """The input's state when no stream runs ("not listening", "input ended")."""
        self.labels["device"].setText(text)

    def show_stats(self, device: str, rate_hz: int, stats: EngineStats) -> None:
        """The running stream's device and its EngineStats."""
        self.labels["device"].setText(f"{device} · {rate_hz / 1000:g} kHz" if rate_hz
                                      else device)
        self.labels["xruns"].setText(f"xruns {stats.xruns}")
        self.labels["dropped"].setText(f"dropped {stats.dropped_windows}")
        self.labels["infer"].setText(f"infer {stats.infer_ms:.1f} ms")
        self.labels["latency"].setText(f"latency {stats.latency_ms:.0f} ms")
