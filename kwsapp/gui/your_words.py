"""The "Your words" part of the "Add word…" dialog: the words already
taught, each with its takes, its date and whether it was made for another
model, and Remove / Retrain buttons.

Retrain is the dialog's to run (its button is connected there): it trains
on the dialog's one worker thread, which Train and Record wait for too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from PySide6 import QtCore, QtWidgets

from kwsapp.errors import KwsError

log = logging.getLogger(__name__)


class YourWords(QtWidgets.QWidget):
    """The words in ``root``, listed, and removed on request.

    Args:
        root: user words folder (None: ``$KWSAPP_HOME`` / platformdirs).
        models: ``() -> (embedder, pool)`` the words are trained on now
            (a word trained on others is marked to retrain).
    """

    said = QtCore.Signal(str, bool)  # a message for the dialog's prompt, and whether an error
    removed = QtCore.Signal(str)  # a word's name

    def __init__(self, root: Path | None, models: Callable[[], tuple[Any, Any]],
                 parent=None) -> None:
        super().__init__(parent)
        self.root, self._models = root, models
        self.words_list = QtWidgets.QListWidget()
        self.words_list.setToolTip("Your words")
        self.words_list.setMaximumHeight(84)  # a few words; more scroll
        self.remove_button = QtWidgets.QPushButton("Remove word")
        self.remove_button.setToolTip("Delete the selected word")
        self.remove_button.clicked.connect(self.remove_selected)
        self.retrain_button = QtWidgets.QPushButton("Retrain")
        self.retrain_button.setToolTip("Train the selected word again from its kept takes "
                                       "(after an update changed the model it listens on)")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QtWidgets.QLabel("Your words"))
        lay.addWidget(self.words_list)
        # The row of buttons: the dialog ends it with its Close.
        self.buttons = QtWidgets.QHBoxLayout()
        self.buttons.addWidget(self.remove_button)
        self.buttons.addWidget(self.retrain_button)
        self.buttons.addStretch(1)
        lay.addLayout(self.buttons)

    def refresh(self) -> None:
        """List the words in :attr:`root` again."""
        from kwsapp.userwords.store import list_words

        self.words_list.clear()
        words = list_words(self.root)
        ids = None
        if words:
            try:
                embedder, pool = self._models()
                ids = (getattr(embedder, "id", ""), getattr(pool, "digest", ""))
            except KwsError as exc:  # no bundled model to compare with: list them as they are
                log.warning("cannot tell which words are current: %s", exc)
        for w in words:
            stale = ("" if ids is None or w.trained_on(*ids)
                     else "  ·  made for another model: Retrain")
            level = (f" (sounds like a command: vetoes at {w.threshold:.2f})"
                     if w.sounds_like() else "")
            item = QtWidgets.QListWidgetItem(
                f"{w.name}{'  ·  ignored' if w.ignore else ''}{level}  ·  "
                f"{len(w.card.get('takes', []))} takes  ·  "
                f"{str(w.card.get('created', ''))[:10]}{stale}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, w.name)
            self.words_list.addItem(item)

    def names(self) -> list[str]:
        """The words listed, in order."""
        return [self.words_list.item(i).data(QtCore.Qt.ItemDataRole.UserRole)
                for i in range(self.words_list.count())]

    def selected(self) -> str | None:
        """The selected word's name (None: none is)."""
        item = self.words_list.currentItem()
        return None if item is None else item.data(QtCore.Qt.ItemDataRole.UserRole)

    def remove_selected(self) -> None:
        """Delete the selected word from :attr:`root`; says so, or why not."""
        from kwsapp.userwords.store import remove_word

        name = self.selected()
        if name is None:
            self.said.emit("Select a word to remove.", True)
            return
        try:
            remove_word(name, self.root)
        except (KwsError, OSError) as exc:  # gone meanwhile, or a folder we may not delete
            self.refresh()
            self.said.emit(f"{name!r} was not removed: {exc}", True)
            return
        self.refresh()
        self.said.emit(f"{name!r} removed.", False)
        self.removed.emit(name)
