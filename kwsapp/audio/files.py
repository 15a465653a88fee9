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
    that reading it reports it, as when it is named alone. Folders that
    cannot be read are left out: :func:`scan_audio` names them."""
    return scan_audio(folder, recursive)[0]


def scan_audio(folder: str | os.PathLike[str], recursive: bool = False
               ) -> tuple[list[Path], list[tuple[Path, str]]]:
    """:func:`audio_files_in`, and ``(folder, problem)`` for each folder
    (``folder`` itself or, ``recursive``, a subfolder) that could not be
    listed: its files would be missed without a word (a mode-000 subfolder
    of ``classify -r``, an unreadable DATA_DIR). Links to folders are not
    followed (as ``Path.glob("**")`` did not)."""
    folder = Path(folder)
    files: list[Path] = []
    unreadable: list[tuple[Path, str]] = []

    def refused(exc: OSError) -> None:
        unreadable.append((Path(exc.filename or folder), folder_problem(exc)))

    if recursive:
        walk = os.walk(folder, onerror=refused)
    else:
        try:
            with os.scandir(folder) as it:
                names = [e.name for e in it]
        except OSError as exc:
            refused(exc)
            names = []
        walk = iter([(str(folder), [], names)])
    for top, _, names in walk:
        for name in names:
            p = Path(top) / name
            if (not name.startswith(".") and is_audio_name(p)
                    and (p.is_file() or _is_broken_link(p))):
                files.append(p)
    return sorted(files), sorted(unreadable)


def folder_problem(exc: OSError) -> str:
    """Why a folder could not be listed, in words."""
    if isinstance(exc, PermissionError):
        return "no permission to read this folder"
    return f"this folder cannot be read ({exc.strerror or exc})"


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


#: A folder with no audio file in it: :func:`files_to_read`'s problem.
NO_AUDIO = "no audio files in this folder"


def files_to_read(given: list[str], recursive: bool = False,
                  no_audio: str = NO_AUDIO) -> list[tuple[str, str | None]]:
    """``(path, problem)`` per file to read, in the order given (``kwsapp
    classify``, the window's Open and drop): a file as given, with no
    problem (decoding says what is wrong with it); a folder expanded into
    its audio files (sorted); a folder or subfolder that cannot be listed,
    one entry with its problem (its files were skipped without a word, or
    said "no audio files"); a folder with neither, one entry with
    ``no_audio``."""
    out: list[tuple[str, str | None]] = []
    for path in given:
        if not path:  # Path("") is "." : the current folder was classified
            out.append((path, "no such file (an empty name)"))
            continue
        try:
            is_dir = Path(path).is_dir()
        except OSError:  # a name too long: reading it says so
            is_dir = False
        if not is_dir:
            out.append((path, None))
            continue
        found, unreadable = scan_audio(path, recursive)
        entries = [(str(f), None) for f in found] + [(str(d), why) for d, why in unreadable]
        out += sorted(entries, key=lambda e: e[0]) if entries else [(path, no_audio)]
    return out
