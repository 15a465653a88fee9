"""kwsapp/atomic.py: a write over an existing file changes it as the user
sees it: through a symbolic link to the file it points to (the link kept),
with the file's mode, owner and group kept; a new file gets the umask's
mode. Real files, links and modes in tmp_path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kwsapp.atomic import (PARTIAL_PREFIX, new_file_mode, write_atomic, write_json_atomic,
                           write_target)
from kwsapp.errors import BadInputError


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _partials(*folders: Path) -> list[str]:
    return [p.name for f in folders for p in f.iterdir() if p.name.startswith(PARTIAL_PREFIX)]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def linked(tmp_path):
    """``out/table.csv`` -> ``../store/real.csv`` (a relative link, as
    ``ln -s`` makes), the file holding "old"."""
    store, out = tmp_path / "store", tmp_path / "out"
    store.mkdir()
    out.mkdir()
    real = store / "real.csv"
    real.write_text("old\n")
    link = out / "table.csv"
    link.symlink_to(Path("..") / "store" / "real.csv")
    return link, real


def test_a_write_through_a_symlink_changes_the_file_it_points_to(linked):
    """The link stayed a link (it became a regular file, the file it
    pointed to left stale)."""
    link, real = linked
    inode = real.stat().st_ino
    write_atomic(link, b"new\n")
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "store", "real.csv")
    assert real.read_text() == "new\n" and real.stat().st_ino != inode  # replaced whole
    assert _partials(link.parent, real.parent) == []


def test_a_chain_of_links_is_followed_to_its_end(linked, tmp_path):
    link, real = linked
    first = tmp_path / "first.json"
    first.symlink_to(link)  # absolute, to the relative one
    write_json_atomic(first, {"a": 1})
    assert first.is_symlink() and link.is_symlink()
    assert write_target(first) == link.parent / ".." / "store" / "real.csv"
    assert real.read_text() == '{\n  "a": 1\n}\n'


@pytest.mark.parametrize("mode", [0o640, 0o664, 0o600], ids=oct)
def test_an_overwrite_keeps_the_files_mode(tmp_path, umask_022, mode):
    """A file made group-writable (or private) keeps its mode; the umask's
    0644 was given to it before."""
    path = tmp_path / "history.csv"
    path.write_text("old\n")
    path.chmod(mode)
    write_atomic(path, b"new\n")
    assert path.read_text() == "new\n" and _mode(path) == mode


def test_a_write_through_a_link_keeps_the_mode_of_the_file_it_points_to(linked, umask_022):
    link, real = linked
    real.chmod(0o660)
    write_atomic(link, lambda tmp: tmp.write_text("new\n"))  # a function writing the file
    assert real.read_text() == "new\n" and _mode(real) == 0o660


def test_a_new_file_gets_the_umasks_mode(tmp_path, umask_022):
    write_atomic(tmp_path / "sub" / "new.csv", b"x")
    assert _mode(tmp_path / "sub" / "new.csv") == 0o644
    os.umask(0o007)
    write_atomic(tmp_path / "other.csv", b"x")
    assert _mode(tmp_path / "other.csv") == 0o660


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="only root may give a file to another owner")
def test_an_overwrite_keeps_the_files_owner_and_group(tmp_path):
    """Root (who may) keeps another user's file theirs: it became root's."""
    path = tmp_path / "theirs.csv"
    path.write_text("old\n")
    os.chown(path, 12345, 12346)
    write_atomic(path, b"new\n")
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (12345, 12346) and path.read_text() == "new\n"


def test_a_dangling_link_into_a_folder_writes_the_file_it_names(tmp_path, umask_022):
    (tmp_path / "store").mkdir()
    link = tmp_path / "table.csv"
    link.symlink_to(tmp_path / "store" / "later.csv")
    write_atomic(link, b"new\n")
    assert link.is_symlink() and (tmp_path / "store" / "later.csv").read_bytes() == b"new\n"
    assert _mode(tmp_path / "store" / "later.csv") == 0o644  # a new file's


def test_a_dangling_link_into_no_folder_is_a_clear_error(tmp_path):
    """The folder is not made (a link's target may be on a drive not
    mounted); the message names the link, its target and what to do."""
    link = tmp_path / "table.csv"
    link.symlink_to(tmp_path / "gone" / "table.csv")
    with pytest.raises(BadInputError) as caught:
        write_atomic(link, b"new\n")
    assert str(caught.value) == (f"{link}: a symbolic link to {tmp_path / 'gone' / 'table.csv'}, "
                                 f"in a folder that does not exist; make the folder "
                                 f"{tmp_path / 'gone'} or remove the link")
    assert link.is_symlink() and not (tmp_path / "gone").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_a_loop_of_links_is_a_clear_error(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(BadInputError, match="a loop of symbolic links"):
        write_atomic(a, b"x")
    assert a.is_symlink() and b.is_symlink() and _partials(tmp_path) == []


def test_follow_symlinks_false_replaces_the_link(linked):
    """What caches ask for: their entry becomes the new file, and the file a
    stray link pointed to is not written."""
    link, real = linked
    write_atomic(link, b"new\n", follow_symlinks=False)
    assert not link.is_symlink() and link.read_text() == "new\n"
    assert real.read_text() == "old\n"


def test_new_file_mode_reads_the_umask_and_leaves_it():
    """The umask read from /proc (os.umask can only be read by setting it,
    which for that moment changes the mode of files other threads make)."""
    old = os.umask(0o027)
    try:
        assert new_file_mode() == 0o640
        assert os.umask(0o027) == 0o027  # still in force
    finally:
        os.umask(old)
