"""Atomic file writes: a temporary file in the target's folder, then
``os.replace``, so a reader (or a resumed training run) never sees half a
file, and a full disk is reported as such with the previous file kept.

A write over an existing file changes it as an in-place write would: a
symbolic link is written through (the file it points to is replaced, the
link stays), and the file keeps its mode bits and, where the process may
set them, its owner and group. A new file gets the mode the umask gives."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kwsapp.errors import BadInputError, DiskFullError

#: Prefix of write_atomic's temporary files: a process killed mid-write
#: (SIGKILL skips the clean-up) leaves one; its owner may delete them.
PARTIAL_PREFIX = ".tmp-"

#: Links followed before a chain counts as a loop (Linux's own limit).
MAX_SYMLINKS = 40


def write_atomic(path: str | os.PathLike[str], payload: bytes | Callable[[Path], None], *,
                 follow_symlinks: bool = True) -> None:
    """Write ``path`` through a temporary file in its folder and ``os.replace``.

    Args:
        payload: the bytes, or a function writing the temporary path it gets.
        follow_symlinks: where ``path`` is a symbolic link, write the file it
            points to (:func:`write_target`; the temporary file goes in that
            file's folder, so the rename stays on one file system); False
            replaces the link itself with the new file (a cache's entries,
            which are kwsapp's own, not a user's file reached by a link).

    Raises:
        BadInputError: ``path`` is a symbolic link into a folder that does
            not exist, or a loop of links.
        DiskFullError: the disk is full (the old file, if any, is kept).
    """
    path = Path(path)
    target = write_target(path) if follow_symlinks else path
    if target == path:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not target.parent.is_dir():  # a dangling link: its folder is not made
        raise BadInputError(f"{path}: a symbolic link to {target}, in a folder that does not "
                            f"exist; make the folder {target.parent} or remove the link")
    try:
        before = os.lstat(target)
    except FileNotFoundError:
        before = None
    if before is not None and not stat.S_ISREG(before.st_mode):
        before = None  # a link replaced (follow_symlinks=False) keeps no mode of its own
    # The temporary name keeps every suffix: Keras checks ".weights.h5".
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=PARTIAL_PREFIX,
                                suffix="".join(path.suffixes) or ".tmp")
    tmp = Path(name)
    try:
        if isinstance(payload, (bytes, bytearray)):
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        else:
            os.close(fd)
            payload(tmp)
        if before is None:
            os.chmod(tmp, new_file_mode())
        else:
            _keep_owner(tmp, before)
            os.chmod(tmp, stat.S_IMODE(before.st_mode))  # after chown, which may clear set-id bits
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc, target.parent):
            free = shutil.disk_usage(target.parent).free
            via = f" (the file it links to, {target})" if target != path else ""
            raise DiskFullError(f"{path}: disk full while writing{via} ({free / 1e6:.1f} MB "
                                f"free); free some space or write elsewhere. The previous "
                                f"complete file is kept (a training run resumes from its last "
                                f"checkpoint).") from None
        raise


def write_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` changes: ``path``, or where its chain of
    symbolic links ends (which may not exist: a dangling link). Links in
    the folders above are left to the system, which follows them anyway.

    Raises:
        BadInputError: the links loop (or are more than :data:`MAX_SYMLINKS`).
    """
    path = target = Path(path)
    for _ in range(MAX_SYMLINKS):
        try:
            link = os.readlink(target)
        except OSError:
            return target  # not a link (EINVAL), or not there
        # A relative link is relative to the folder holding it.
        target = target.parent / link
    raise BadInputError(f"{path}: a loop of symbolic links (or more than {MAX_SYMLINKS} in a "
                        f"row); remove the link or point it at a file")


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *,
                      follow_symlinks: bool = True) -> None:
    """``obj`` as indented JSON (numpy scalars, tuples, sets, paths allowed);
    ``follow_symlinks`` as :func:`write_atomic`'s."""
    write_atomic(path, (json.dumps(obj, indent=2, default=json_default) + "\n").encode(),
                 follow_symlinks=follow_symlinks)


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars, tuples, sets and paths."""
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def is_disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc`` (or what it wraps) means no space left in ``folder``."""
    seen: BaseException | None = exc
    while seen is not None:  # h5py/zipfile may wrap the OSError
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left" in str(seen) or "ENOSPC" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return isinstance(exc, Exception) and shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


def _keep_owner(tmp: Path, before: os.stat_result) -> None:
    """Give ``tmp`` the owner and group of the file it replaces, or the group
    alone, as far as the process may (only root may give a file away; an
    owner may give it a group of theirs); else it stays the process's."""
    now = os.stat(tmp)
    if (now.st_uid, now.st_gid) == (before.st_uid, before.st_gid) or not hasattr(os, "chown"):
        return  # (Windows has no chown)
    for uid in (before.st_uid, -1):
        try:
            os.chown(tmp, uid, before.st_gid)
            return
        except OSError:  # not allowed: the writer's own owner and group stand
            pass


def new_file_mode() -> int:
    """The mode a new file gets from the process's umask (``mkstemp``'s
    files are 0600 whatever the umask)."""
    return 0o666 & ~_umask()


def _umask() -> int:
    # /proc says it without changing it: os.umask reads it only by setting
    # it, and for that moment files other threads create get the value set.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # narrowest, for the moment it is in force
    os.umask(mask)
    return mask
