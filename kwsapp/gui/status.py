"""The status bar's fields: input device and rate, xruns, dropped windows,
inference time and latency (refreshed on the window's slow timer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from kwsapp.config import GuiConfig
from kwsapp.gui.labels import ElidedLabel

if TYPE_CHECKING:
    from kwsapp.inference.engine import EngineStats

#: Field -> tooltip, in display order.
FIELDS = {"device": "Input device and its sample rate",
          "xruns": "Input overflows reported by the audio device",
          "dropped": "Windows dropped because inference fell behind",
          "infer": "Inference time per analysed window",
          "latency": "Delay from the end of a word to its command"}


class CounterLabel(QtWidgets.QLabel):
    """A counter's label: at least ``least_px`` wide, so that it keeps still
    as its number changes, and never narrower than its text (a fixed
    least width let a long text be cut)."""

    def __init__(self, text: str, least_px: int) -> None:
        super().__init__(text)
        self.least_px = least_px

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        return QtCore.QSize(max(hint.width(), self.least_px), hint.height())

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        return QtCore.QSize(max(hint.width(), self.least_px), hint.height())


class StatusFields:
    """Labels on a QStatusBar: the input device, elided to the room the
    counters leave it (its whole name in the tooltip), or for a while a
    passing message in its place (:meth:`show_message`); the counters."""

    def __init__(self, bar: QtWidgets.QStatusBar, config: GuiConfig | None = None) -> None:
        least_px = (config or GuiConfig()).status_counter_px
        # QStatusBar's width policy is Ignored: the window's least width did
        # not count the bar's, and narrower the bar squeezed its labels below
        # their least widths, onto each other.
        policy = bar.sizePolicy()
        policy.setHorizontalPolicy(QtWidgets.QSizePolicy.Policy.Preferred)
        bar.setSizePolicy(policy)
        self.bar = bar
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for key, tip in FIELDS.items():
            if key == "device":
                label = ElidedLabel("—", tip)
                # An em's gap before the counters: a name that reached
                # them read as one with "xruns 0".
                label.setContentsMargins(0, 0, label.fontMetrics().horizontalAdvance("M"), 0)
                # A normal widget, not a permanent one: QStatusBar hides it
                # for a message of its own (an action's status tip; ours are
                # :attr:`message`), which a permanent one left no room.
                bar.addWidget(label, 1)
            else:
                label = CounterLabel("—", least_px)
                label.setToolTip(tip)
                bar.addPermanentWidget(label, 0)
            label.setTextFormat(QtCore.Qt.TextFormat.PlainText)  # a device's name is not markup
            self.labels[key] = label
        # A passing message (a hint, an export's file) takes the device's
        # place for a while, cut as the device's name is, to the room it
        # has as it changes. Drawn by QStatusBar (showMessage) it had to be
        # cut by hand to the room there was when it came.
        self.message = ElidedLabel(mode=QtCore.Qt.TextElideMode.ElideMiddle)
        self.message.setContentsMargins(self.labels["device"].contentsMargins())
        self.message.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.message.hide()
        bar.addWidget(self.message, 1)
        self._message_timer = QtCore.QTimer(bar, singleShot=True)
        self._message_timer.timeout.connect(self.clear_message)
        self.set_state("not listening")

    def show_message(self, text: str, ms: int, path: str = "") -> None:
        """``text`` + ``path`` in the device's place for ``ms`` (a hint, an
        export's file), cut to the room the counters leave it: ``path`` in
        the middle first, so that its file name stays, then the whole at
        its end (the whole in the tooltip). Drawn whole, a long path ran
        under the counters and its file name was lost."""
        self.message.set_text(path, head=text)
        self.labels["device"].hide()
        self.message.show()
        self._message_timer.start(ms)

    def clear_message(self) -> None:
        """The device's state again in place of a message."""
        self._message_timer.stop()
        self.message.hide()
        self.labels["device"].show()

    def set_state(self, text: str) -> None:
        """The input's state when no stream runs ("not listening", "input ended")."""
        self.labels["device"].setText(text)

    def show_stats(self, device: str, rate_hz: int, stats: EngineStats) -> None:
        """The running stream's device and its EngineStats."""
        # The name is cut before the rate.
        self.labels["device"].set_text(device, f" · {rate_hz / 1000:g} kHz" if rate_hz else "")
        self.labels["xruns"].setText(f"xruns {stats.xruns}")
        self.labels["dropped"].setText(f"dropped {stats.dropped_windows}")
        self.labels["infer"].setText(f"infer {stats.infer_ms:.1f} ms")
        self.labels["latency"].setText(f"latency {stats.latency_ms:.0f} ms")
