"""Which files are audio: the suffixes libsndfile reads, and folders
expanded into the audio files inside them (``kwsapp classify DIR``, the
GUI's Open and drop)."""

from __future__ import annotations

import os
from pathlib import Path

import soundfile as sf

#: File suffixes (lower case, with the dot) that libsndfile decodes.
AUDIO_SUFFIXES = frozenset({"." + f.lower() for f in sf.available_formats()} | {".oga", ".opus"})


def is_audio_name(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``'s suffix is one libsndfile decodes."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def audio_files_in(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """The audio files of ``folder`` (and of its subfolders, ``recursive``),
    sorted by path; hidden files are left out. A broken link is kept, so
    that reading it reports it, as when it is named alone."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in Path(folder).glob(pattern)
                  if (p.is_file() or _is_broken_link(p)) and is_audio_name(p)
                  and not p.name.startswith("."))


def _is_broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def expand_paths(paths: list[str], recursive: bool = False) -> list[str]:
    """Files as given (whatever their suffix: decoding says what is wrong);
    folders replaced by the audio files inside them."""
    out: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            out += [str(f) for f in audio_files_in(path, recursive)]
        else:
            out.append(str(path))
    return out
