"""Atomic file writes: a temporary file in the target's folder, then
``os.replace``, so a reader (or a resumed training run) never sees half a
file, and a full disk is reported as such with the previous file kept."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kwsapp.errors import DiskFullError

#: Prefix of write_atomic's temporary files: a process killed mid-write
#: (SIGKILL skips the clean-up) leaves one; its owner may delete them.
PARTIAL_PREFIX = ".tmp-"


def write_atomic(path: str | os.PathLike[str], payload: bytes | Callable[[Path], None]) -> None:
    """Write ``path`` through a temporary file in its folder and ``os.replace``.

    Args:
        payload: the bytes, or a function writing the temporary path it gets.

    Raises:
        DiskFullError: the disk is full (the old file, if any, is kept).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps every suffix: Keras checks ".weights.h5".
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=PARTIAL_PREFIX,
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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc, path.parent):
            free = shutil.disk_usage(path.parent).free
            raise DiskFullError(f"{path}: disk full while writing ({free / 1e6:.1f} MB free); "
                                f"free some space or write elsewhere. The previous complete "
                                f"file is kept (a training run resumes from its last "
                                f"checkpoint).") from None
        raise


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """``obj`` as indented JSON (numpy scalars, tuples, sets, paths allowed)."""
    write_atomic(path, (json.dumps(obj, indent=2, default=json_default) + "\n").encode())


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
