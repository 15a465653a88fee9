"""The window's tables leave it: File > Export… writes the history or the
classified files as CSV; Copy rows puts them on the clipboard; Help > About
names the bundled models and the credits. Real widgets, offscreen; the
history is fed real CommandEvents through the engine bridge's signal, the
files through the real worker and classify service."""

from __future__ import annotations

import csv
import os
import stat

import pytest

from conftest import real_clip
from gui_helpers import grab_pixels, quiet_window

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from PySide6 import QtGui, QtWidgets  # noqa: E402

from kwsapp.inference.engine import CommandEvent, Unconfirmed  # noqa: E402

WAIT_MS = 15000


@pytest.fixture
def window(qtbot, tmp_path, tiny_model):
    win = quiet_window(qtbot, tmp_path / "s.ini", str(tiny_model))
    yield win
    win.close()


def _event(label, score, end):
    return CommandEvent(label=label, score=score, start=end - 0.5, end=end, emitted_at=end + 0.2,
                        latency=0.2)


def test_history_exports_to_csv_and_copies_rows(qtbot, window, tmp_path):
    for ev in (_event("yes", 0.8123456, 1.25), _event("stop", 0.91, 3.5)):
        window.bridge.on_event(ev)  # as the engine's thread would
    qtbot.waitUntil(lambda: len(window.history.rows()) == 2, timeout=WAIT_MS)
    out = tmp_path / "history.csv"
    assert window.export_csv(str(out))
    with out.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", "stream_s", "command", "confidence", "note"]
    assert [r[1:] for r in rows[1:]] == [["3.5", "stop", "0.91", ""],
                                         ["1.25", "yes", "0.8123", ""]]

    window.history.topLevelItem(1).setSelected(True)  # the older one only
    window.history.setFocus()
    copy = next(a for a in window.history.actions() if "Copy" in a.text())
    copy.trigger()
    assert QtGui.QGuiApplication.clipboard().text().split("\t")[1:] == ["1.25", "yes",
                                                                        "0.8123", "\n"]


def test_a_command_the_second_opinion_stopped_is_a_greyed_history_row(qtbot, window,
                                                                       tmp_path):
    """What the head heard and the recogniser did not confirm: in the history,
    greyed, with what the recogniser heard; the big label stays on the last
    command that fired; the export says why it did not fire."""
    window.bridge.on_event(_event("yes", 0.8, 1.25))
    window.bridge.on_unconfirmed(Unconfirmed(_event("left", 0.52, 4.0), "Last.", -12.3, -9.7))
    window.bridge.on_unconfirmed(Unconfirmed(_event("go", 0.47, 6.0), "", -15.0, -7.0))
    qtbot.waitUntil(lambda: len(window.history.rows()) == 3, timeout=WAIT_MS)
    rows = window.history.rows()
    assert [r[2] for r in rows] == ["go", "left", "yes"]
    assert rows[1][4] == "not emitted: heard “Last.”" and rows[0][4] == "not emitted: heard no word"
    assert rows[2][4] == "" and window.result.text == "yes"
    fired, dropped = window.history.topLevelItem(2), window.history.topLevelItem(1)
    assert dropped.foreground(2).color() != fired.foreground(2).color()
    assert fired.font(2).bold() and not dropped.font(2).bold()
    out = tmp_path / "history.csv"
    assert window.export_csv(str(out))
    with out.open() as f:
        assert [r[2:] for r in csv.reader(f)][1:] == [
            ["go", "0.47", "not emitted: heard no word"],
            ["left", "0.52", "not emitted: heard “Last.”"], ["yes", "0.8", ""]]

    # Hidden from the history's menu (remembered): the rows that fired stay,
    # and the export is what is listed; shown again, they are back.
    show = window.withheld_action
    assert show.isChecked() and show in window.history.actions()
    show.setChecked(False)
    assert [r[2] for r in window.history.rows()] == ["yes"] and not window.prefs.show_withheld
    window.bridge.on_unconfirmed(Unconfirmed(_event("up", 0.5, 8.0), "", -15.0, -9.9))
    window.bridge.on_event(_event("stop", 0.9, 9.0))
    qtbot.waitUntil(lambda: len(window.history.rows()) == 2, timeout=WAIT_MS)
    assert [r[2] for r in window.history.rows()] == ["stop", "yes"]
    assert window.export_csv(str(out))
    with out.open() as f:
        assert [r[2] for r in csv.reader(f)][1:] == ["stop", "yes"]
    show.setChecked(True)
    assert [r[2] for r in window.history.rows()] == ["stop", "up", "go", "left", "yes"]


def test_files_tab_exports_to_csv(qtbot, window, tmp_path, data_dir):
    clip = real_clip(data_dir, "go")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio")
    window.classify_files([str(clip), str(bad)])
    qtbot.waitUntil(lambda: all("classifying" not in r[1] for r in window.files.result_rows()),
                    timeout=WAIT_MS)
    assert window.current_table() is window.files  # the Files tab is in view
    out = tmp_path / "files.csv"
    assert window.export_csv(str(out))
    with out.open() as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    assert set(rows) == {str(clip), str(bad)}
    assert rows[str(clip)]["label"] in window.recognizer.labels
    assert 0.0 < float(rows[str(clip)]["score"]) <= 1.0
    assert float(rows[str(clip)]["duration_s"]) == pytest.approx(1.0, abs=0.05)
    assert rows[str(bad)]["label"] == "" and "not a readable audio" in rows[str(bad)]["error"]


def test_export_to_an_unwritable_place_is_a_message(window, tmp_path):
    """The failure is said in the banner, and a later export that works
    takes it away (it stayed up, stale, before); another message stays."""
    # /proc takes no new files, even for root.
    assert not window.export_csv("/proc/kwsapp-cannot-write.csv")
    assert not window.banner.isHidden() and "Cannot export" in window.banner.text.text()
    assert window.export_csv(str(tmp_path / "history.csv"))
    assert window.banner.isHidden()
    window.banner.show_message("the input device stopped")
    assert window.export_csv(str(tmp_path / "history.csv"))
    assert not window.banner.isHidden()


def test_exporting_over_a_read_only_file_keeps_it_and_says_so(window, tmp_path):
    """A file the user made read-only, in a folder that may be written: the
    export (past the dialog's "replace it?") replaced it, as the atomic
    write's rename ignores the file's mode; now it is kept, its name said.
    The test checks the file's mode and content, not a failed open (root,
    running the tests, could open it)."""
    out = tmp_path / "history.csv"
    out.write_text("mine\n")
    out.chmod(0o444)
    inode = out.stat().st_ino
    assert not window.export_csv(str(out))
    assert out.read_text() == "mine\n" and out.stat().st_ino == inode
    assert stat.S_IMODE(out.stat().st_mode) == 0o444
    said = window.banner.text.text()
    assert not window.banner.isHidden() and said.startswith("Cannot export:")
    assert f"{out}: the file is read-only" in said
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []

    out.chmod(0o644)  # made writable: exported over, the banner taken away
    assert window.export_csv(str(out))
    assert out.read_text().startswith("time,") and window.banner.isHidden()


def text_columns(widget, start_x: int, end_x: int) -> int:
    """How many pixel columns of ``widget`` from ``start_x`` to ``end_x``
    have dark text drawn in them."""
    return int((grab_pixels(widget)[:, start_x:end_x].min(axis=2) < 110).any(axis=0).sum())


def test_the_export_is_said_in_the_status_bar(qtbot, window, tmp_path):
    """ "exported N rows to …" (and the other passing messages) take the
    state's place on the status bar: stretched over the bar as a permanent
    widget, the state left them no room, and they were never seen."""
    window.show()
    window.resize(1400, window.height())  # room for the whole path (else cut: below)
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.statusBar().width() >= 1400, timeout=2000)
    bar, state = window.statusBar(), window.status_labels["device"]
    assert window.export_csv(str(tmp_path / "history.csv"))
    message = window.status.message.shown_text()
    assert message == f"exported 0 rows to {tmp_path / 'history.csv'}"
    width = bar.fontMetrics().horizontalAdvance(message)
    assert width > 2 * bar.fontMetrics().horizontalAdvance(state.text())
    # Drawn past where the state's text ends (once the bar has laid itself out).
    beyond_state = bar.fontMetrics().horizontalAdvance(state.text()) + 20
    qtbot.waitUntil(lambda: text_columns(bar, beyond_state, int(0.8 * width)) > 0.3 * (
        0.8 * width - beyond_state), timeout=2000)
    window.status.clear_message()
    assert state.isVisible() and state.text() == "not listening"


def test_about_names_the_models_and_credits(window, monkeypatch):
    shown = {}
    # The real box is modal (it would wait for a click): record what it is given.
    monkeypatch.setattr(QtWidgets.QMessageBox, "about",
                        lambda parent, title, text: shown.update(title=title, text=text))
    window.about_action.trigger()
    from kwsapp.models.registry import bundled_models

    for name in bundled_models():
        assert name in shown["text"]
    assert "Speech Commands" in shown["text"] and "speech_embedding" in shown["text"]
    # The second opinion's recogniser runs in the app where it is installed.
    from kwsapp.inference.verifier import model_dir

    assert ("Moonshine base-en" in shown["text"]) == (model_dir() is not None)


def test_an_export_to_a_long_path_keeps_its_file_name_in_view(qtbot, window, tmp_path):
    """"exported N rows to PATH" with a long PATH is cut in the middle of
    the path to the room the counters leave (its file name kept, the whole
    in the tooltip), at the window's least width cut to fit, and cut anew as
    the window is resized: drawn whole, it ran under the counters and its
    file name was lost."""
    folder = tmp_path / ("a-folder-with-a-long-name-" * 4)
    folder.mkdir()
    path = folder / "history.csv"
    window.show()
    qtbot.waitExposed(window)
    bar = window.statusBar()

    def resized(width: int) -> None:
        window.resize(width, window.height())
        qtbot.waitUntil(lambda: bar.width() == window.width(), timeout=2000)

    def shown() -> str:
        """The message as drawn, which ends before the counters."""
        message = window.status.message.shown_text()
        counters = min(label.geometry().left() for key, label in window.status_labels.items()
                       if key != "device")
        assert bar.fontMetrics().horizontalAdvance(message) < counters, (bar.width(), message)
        return message

    def exported_at(width: int) -> str:
        resized(width)
        assert window.export_csv(str(path))
        return shown()

    whole = f"exported 0 rows to {path}"
    message = exported_at(900)
    assert message.startswith("exported 0 rows to /") and message.endswith("/history.csv")
    assert "…" in message and len(message) < len(whole)
    assert whole in window.status.message.toolTip()
    least = window.minimumSizeHint().width()
    assert exported_at(least).startswith("exported 0 rows")

    # Resized while it shows, it is cut anew (cut once when it came, it ran
    # under the counters of a narrowed window, and a widened one showed no
    # more of it); it goes after its time, the device's state back.
    wide = exported_at(1200)
    resized(least)
    narrow = shown()
    assert narrow.startswith("exported 0 rows") and len(narrow) < len(wide)
    resized(1200)
    assert shown() == wide and wide.endswith("/history.csv")
    window.status.show_message("a hint", 50)
    assert shown() == "a hint"
    qtbot.waitUntil(lambda: window.status_labels["device"].isVisible(), timeout=2000)
    assert window.status.message.isHidden()


def test_exporting_over_a_symlink_writes_the_file_it_points_to(window, tmp_path):
    """The link is kept and the file it points to is the export, its mode
    (group-writable) kept; the link became a regular file before, the file
    it pointed to left stale, and an overwrite took the umask's 0644. A link
    to a read-only file keeps it, as the file itself would."""
    shared = tmp_path / "shared"
    shared.mkdir()
    real = shared / "history.csv"
    real.write_text("mine\n")
    real.chmod(0o664)
    link = tmp_path / "history.csv"
    link.symlink_to(real)
    assert window.export_csv(str(link))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("time,") and stat.S_IMODE(real.stat().st_mode) == 0o664
    assert [p.name for p in tmp_path.rglob(".tmp-*")] == []

    real.write_text("mine\n")
    real.chmod(0o444)
    assert not window.export_csv(str(link))
    assert real.read_text() == "mine\n" and link.is_symlink()
    assert f"{link}: the file is read-only" in window.banner.text.text()


def test_exporting_over_a_link_to_no_folder_says_so(window, tmp_path):
    link = tmp_path / "history.csv"
    link.symlink_to(tmp_path / "unmounted" / "history.csv")
    assert not window.export_csv(str(link))
    assert window.banner.text.text() == (
        f"Cannot export: {link}: a symbolic link to {tmp_path / 'unmounted' / 'history.csv'}, "
        f"in a folder that does not exist; make the folder {tmp_path / 'unmounted'} or remove "
        f"the link")
    assert link.is_symlink() and not (tmp_path / "unmounted").exists()


def test_a_write_problem_names_the_folder_a_link_points_into(tmp_path):
    """The temporary file is made beside the file a link points to, so a
    folder that may not be written is that one (the error itself, which
    root never gets in tmp_path, is made here)."""
    from kwsapp.gui.table_export import write_problem

    (tmp_path / "locked").mkdir()
    link = tmp_path / "history.csv"
    link.symlink_to(tmp_path / "locked" / "history.csv")
    denied = PermissionError(13, "Permission denied")
    assert write_problem(link, denied) == f"no permission to write in {tmp_path / 'locked'}"
