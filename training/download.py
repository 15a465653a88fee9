"""Fetch and unpack the official Speech Commands v0.02 archive
(``kwsapp train --download DIR``): HTTP range requests resume a partial
download, the SHA-256 is checked before unpacking, and the unpacked folder
appears only when complete."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kwsapp.errors import BadInputError, KwsError

log = logging.getLogger(__name__)

URL = "https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
#: SHA-256 of the official archive (2.4 GB), as TensorFlow Datasets records it.
SHA256 = "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"
CHUNK_BYTES = 1 << 20
DONE_MARKER = ".complete"


class DownloadError(KwsError):
    """The archive could not be fetched (network) or is not the expected one."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, target: Path, sha256: str | None = None, timeout_s: float = 60.0) -> Path:
    """Download ``url`` to ``target``, resuming ``target.part`` if present.

    Raises:
        DownloadError: network failure (the partial file is kept for a
            resume) or checksum mismatch (the bad file is removed).
    """
    from tqdm import tqdm

    if target.is_file() and (sha256 is None or sha256_of(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            if have and resp.status != 206:  # the server ignored the range
                have = 0
            total = resp.headers.get("Content-Length")
            total = int(total) + have if total is not None else None
            with open(part, "ab" if have else "wb") as f, \
                    tqdm(total=total, initial=have, unit="B", unit_scale=True,
                         desc=target.name, file=sys.stderr) as bar:
                for block in iter(lambda: resp.read(CHUNK_BYTES), b""):
                    f.write(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as exc:
        if exc.code != 416:  # 416: nothing left to fetch, the part is whole
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DownloadError(f"{url}: download interrupted ({exc}); run again to resume "
                            f"from {part.stat().st_size if part.is_file() else 0} bytes") from None
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256:
            part.unlink()
            raise DownloadError(f"{url}: checksum mismatch (SHA-256 {got}, expected {sha256}); "
                                f"the download was removed, run again")
    # Not kwsapp.atomic.write_atomic: the partial file outlives a failed
    # run under a fixed name, so that the next run resumes it.
    os.replace(part, target)
    return target


def extract(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into ``dest`` (through a staging folder renamed at
    the end), refusing members that leave the folder."""
    if (dest / DONE_MARKER).is_file():
        return dest
    staging = dest.with_name(dest.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BadInputError(f"{archive}: cannot unpack ({exc})") from None
    (staging / DONE_MARKER).write_text(archive.name + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return dest


def download_speech_commands(folder: str | Path, url: str = URL,
                             sha256: str | None = SHA256) -> Path:
    """The v0.02 data set unpacked under ``folder`` (fetched once).

    Returns:
        The data folder (``folder/speech_commands_v0.02``) to train on.
    """
    folder = Path(folder)
    dest = folder / "speech_commands_v0.02"
    if (dest / DONE_MARKER).is_file():
        return dest
    archive = fetch(url, folder / Path(urllib.parse.urlparse(url).path).name, sha256)
    log.info("unpacking %s", archive)
    return extract(archive, dest)
