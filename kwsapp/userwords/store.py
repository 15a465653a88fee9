"""Where user words live: ``$KWSAPP_HOME`` (else the platformdirs user data
folder of ``kwsapp``) / ``words/<slug>/``, each folder holding

- ``card.json``: name, takes used, threshold, measured figures, date, code
  version, the embedding and pool it was trained against;
- ``detector.npz``: the detector's weights (plain arrays, never a pickle);
- ``takes/take_<n>.wav``: the takes (16-bit, 16 kHz), so the word can be
  trained again when the pool or the embedding changes.

A word is written to a temporary folder and renamed into place, so a reader
never sees half a word; the hidden folders a killed save or removal leaves
(``.<slug>.*``) are no words, except a word a save moved aside and was
killed before it put the new one in its place.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp import LABELS
from kwsapp.errors import BadInputError, ModelError
from kwsapp.models.artifact import artifact_file
from kwsapp.write_check import nearest_existing, try_write

WORDS_DIR = "words"
CARD_FILE = "card.json"
DETECTOR_FILE = "detector.npz"
TAKES_DIR = "takes"
CARD_KIND = "user_word"
MAX_NAME = 32
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9 '_-]*$")


class BadNameError(BadInputError):
    """A user word's name cannot be used."""


def home() -> Path:
    """``$KWSAPP_HOME``, else the user data folder (platformdirs)."""
    env = os.environ.get("KWSAPP_HOME")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("kwsapp", appauthor=False))


def words_dir(root: Path | None = None) -> Path:
    """The folder of the user's words under ``root`` (default :func:`home`)."""
    return (root or home()) / WORDS_DIR


#: Suffix of the folder a word is moved aside to while :func:`save_word`
#: replaces it (``.<slug>.replaced``).
REPLACED_SUFFIX = ".replaced"


def _aside(folder: Path) -> Path:
    """Where :func:`save_word` moves the word in ``folder`` while replacing it."""
    return folder.with_name(f".{folder.name}{REPLACED_SUFFIX}")


def _folder_of(folder: Path) -> Path:
    """The folder holding the word whose own folder is ``folder``: that one,
    or, when a save replacing the word was killed between its two renames
    (the word moved aside, the new one not yet in place), the word moved
    aside: still the word, until a save puts another in its place."""
    aside = _aside(folder)
    if not folder.exists() and (aside / CARD_FILE).is_file():
        return aside
    return folder


def normalize_name(name: str) -> str:
    """The name as stored: lower case, single spaces."""
    return " ".join(str(name).lower().split())


def slug(name: str) -> str:
    """Folder name of a word (spaces become ``_``)."""
    return normalize_name(name).replace(" ", "_")


def check_name(name: str, root: Path | None = None, reserved: tuple[str, ...] = LABELS,
               taken_ok: bool = False, remove_with: str | None = None) -> str:
    """The normalized name, if it can be a new word (or, with ``taken_ok``,
    replace the word of that name).

    Args:
        remove_with: how to remove a word, said when the name is taken
            (default: the ``kwsapp words --remove`` command; the window
            names its button).

    Raises:
        BadNameError: empty, too long, odd characters, a bundled command (or
            silence/unknown), or already taken.
    """
    norm = normalize_name(name)
    if not norm:
        raise BadNameError("the word needs a name")
    if len(norm) > MAX_NAME:
        # Not the whole name: 200 characters typed or pasted made the
        # message (and the Add word dialog showing it) as wide.
        raise BadNameError(f"{norm[:MAX_NAME] + '…'!r} is {len(norm)} characters long: names "
                           f"are at most {MAX_NAME}")
    if not _NAME_RE.match(norm):
        raise BadNameError(f"{name!r}: use ASCII letters, digits, spaces, ' - and _ only "
                           "(a-z, 0-9: no accented letters; starting with a letter or digit)")
    if norm in reserved or slug(norm) in reserved:
        raise BadNameError(f"{name!r} is a bundled command (or class) name; pick another name")
    if not taken_ok and (_folder_of(words_dir(root) / slug(norm)) / CARD_FILE).exists():
        how = remove_with or f"kwsapp words --remove {slug(norm)!r}"
        raise BadNameError(f"{norm!r} is already taken; remove it first ({how}) or pick "
                           "another name")
    return norm


def _cannot_write(base: Path, exc: OSError) -> BadInputError:
    return BadInputError(f"user words folder {base}: cannot write there "
                         f"({exc.strerror or exc}); set KWSAPP_HOME to a folder you can write")


def check_writable(root: Path | None = None) -> Path:
    """The words folder under ``root`` (default :func:`home`), if a word can
    be saved there: checked before training one (seconds of work, and takes
    recorded, that a save there would lose). Nothing is left behind: a
    file made to try is removed, and a words folder not there yet is not
    made (:func:`save_word` makes it).

    Raises:
        BadInputError: it cannot be written (read-only, not a folder, a
            ``KWSAPP_HOME`` that is a file), in the words :func:`save_word`
            would use.
    """
    base = words_dir(root)
    try:
        # Where save_word's first mkdir would land.
        try_write(nearest_existing(base))
    except OSError as exc:
        raise _cannot_write(base, exc) from None
    return base


@dataclass(frozen=True)
class StoredWord:
    """A word on disk: its card and folder."""

    name: str
    path: Path
    card: dict[str, Any]

    def detector_arrays(self) -> dict[str, np.ndarray]:
        path = artifact_file(self.path, self.card.get("detector", {}).get("file", DETECTOR_FILE))
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            # A cut-off .npz is a BadZipFile: `kwsapp words` was a traceback.
            raise ModelError(f"{path}: unreadable detector ({exc})") from None

    def problem(self) -> str | None:
        """Why the word cannot run (its detector unreadable), else None."""
        try:
            self.detector_arrays()
        except ModelError as exc:
            return str(exc)
        return None

    @property
    def threshold(self) -> float:
        return float(self.card.get("threshold", 0.5))

    def take_paths(self) -> list[Path]:
        """The kept takes (WAV), as enrolled."""
        return [self.path / rel for rel in self.card.get("take_files", [])]

    def trained_on(self, embedding_id: str, pool_digest: str) -> bool:
        """Whether the detector was trained on this embedding and pool
        (else ``kwsapp words --retrain`` enrols it again from its takes)."""
        return (self.card.get("embedding") == embedding_id
                and self.card.get("pool", {}).get("sha1") == pool_digest)

    @property
    def ignore(self) -> bool:
        """A word to ignore (``kwsapp enrol --ignore``): it fires nothing and
        vetoes the commands decided where it is heard (card ``"role": "ignore"``)."""
        return self.card.get("role") == "ignore"

    def sounds_like(self) -> dict[str, float]:
        """For a word to ignore whose veto level enrol raised: the commands
        it would veto at the usual level, with the share of the pool's
        held-out clips of each (card ``figures.command_clips_vetoed``)."""
        vetoed = self.card.get("figures", {}).get("command_clips_vetoed") or {}
        usual, level = vetoed.get("default", {}), vetoed.get("level", {})
        return {c: float(share) for c, share in usual.items() if level.get(c, share) < share}


def read_word(folder: Path) -> StoredWord:
    """Read one word folder.

    Raises:
        ModelError: no card, or not a user word's card.
    """
    path = folder / CARD_FILE
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable word card ({exc})") from None
    if not isinstance(card, dict) or card.get("kind") != CARD_KIND or "name" not in card:
        raise ModelError(f"{path}: not a user word's card")
    _check_card(card, path)
    return StoredWord(str(card["name"]), folder, card)


def _check_card(card: dict[str, Any], path: Path) -> None:
    """The values a word's card is read for have their types (a hand-edited
    ``"threshold": "x"`` was a traceback in classify, listen and words; a
    threshold of 5 a word that could never fire).

    Raises:
        ModelError: naming the card and the value.
    """
    threshold = card.get("threshold", 0.5)
    if (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
            or not 0 < threshold <= 1):
        raise ModelError(f"{path}: threshold must be a number in (0, 1], not {threshold!r}")
    for key, kind, what in (("detector", dict, "an object"), ("figures", dict, "an object"),
                            ("pool", dict, "an object"), ("takes", list, "a list"),
                            ("take_files", list, "a list")):
        if key in card and not isinstance(card[key], kind):
            raise ModelError(f"{path}: {key} must be {what}, not {card[key]!r}")
    if not all(isinstance(f, str) for f in card.get("take_files", [])):
        raise ModelError(f"{path}: take_files must name files")
    if card.get("role", "word") not in ("word", "ignore"):
        raise ModelError(f"{path}: role must be \"word\" or \"ignore\", not {card['role']!r}")


@dataclass(frozen=True)
class UnreadableWord:
    """A word folder whose card cannot be read (only removing it helps)."""

    name: str  # the folder's name, which ``remove_word`` takes
    path: Path
    problem: str


def scan_words(root: Path | None = None) -> tuple[list[StoredWord], list[UnreadableWord]]:
    """Every word folder (one holding a card): the readable words by name,
    and the folders whose card cannot be read. Hidden folders are none:
    :func:`save_word` and :func:`remove_word` work in ``.<slug>.*`` folders
    (a word's slug never starts with a dot), which a process killed there
    leaves behind with a card (the word it was replacing or removing, or one
    it never finished); but a word moved aside by a save killed before the
    new word was in place is still the word (:func:`_folder_of`)."""
    folder = words_dir(root)
    good, bad = [], []
    for sub in sorted(folder.iterdir()) if folder.is_dir() else []:
        if sub.name.startswith(".") and not (
                sub.name.endswith(REPLACED_SUFFIX)
                and _folder_of(folder / sub.name[1:-len(REPLACED_SUFFIX)]) == sub):
            continue
        if not (sub / CARD_FILE).is_file():
            continue
        try:
            good.append(read_word(sub))
        except ModelError as exc:
            bad.append(UnreadableWord(sub.name, sub, str(exc)))
    return sorted(good, key=lambda w: w.name), bad


def list_words(root: Path | None = None) -> list[StoredWord]:
    """Every readable word, by name; unreadable folders are skipped (logged)."""
    import logging

    good, bad = scan_words(root)
    for word in bad:
        logging.getLogger(__name__).warning("skipped user word %s", word.problem)
    return good


def _word_folder(name: str, root: Path | None = None) -> Path:
    """The folder of the word called ``name``: one folder right under the
    words folder, holding a card.

    Raises:
        BadNameError: no such word.
    """
    base = words_dir(root)
    folder = base / slug(name)
    # A name like ".." or "a/b" must not reach outside the words folder.
    if folder.parent != base or folder.name in ("", ".", "..") \
            or not (_folder_of(folder) / CARD_FILE).is_file():
        good, bad = scan_words(root)
        known = ", ".join([w.name for w in good] + [f"{u.name} (broken)" for u in bad])
        raise BadNameError(f"{name!r}: no such user word (words: {known or 'none yet'})")
    return _folder_of(folder)


def find_word(name: str, root: Path | None = None) -> StoredWord:
    """The stored word called ``name`` (any spelling :func:`slug` maps alike).

    Raises:
        BadNameError: no such word.
        ModelError: its card cannot be read.
    """
    return read_word(_word_folder(name, root))


#: A word's hidden working folder older than this is a killed save's
#: leftover (a save takes seconds; a younger one may be another process's).
_LEFTOVER_AGE_S = 3600.0


def _sweep(base: Path, word_slug: str, keep: Path) -> None:
    """Delete the working folders (``.<slug>.*``) that saves or removals of
    this word killed before they finished left behind, an hour old or more;
    never ``keep``, the word a killed save moved aside (still the word)."""
    import time

    for path in base.glob(f".{glob.escape(word_slug)}.*"):
        try:
            if (path != keep and path.is_dir() and not path.is_symlink()
                    and time.time() - path.stat().st_mtime >= _LEFTOVER_AGE_S):
                shutil.rmtree(path, ignore_errors=True)
        except OSError:  # gone meanwhile
            continue


def save_word(name: str, card: dict[str, Any], detector: dict[str, np.ndarray],
              takes: list[np.ndarray], root: Path | None = None,
              replace: bool = False) -> StoredWord:
    """Write a word atomically (temporary folder, then rename); with
    ``replace``, in place of the word of that name (moved aside first, then
    deleted; a word a killed save left aside is replaced too)."""
    import soundfile as sf

    from kwsapp.config import SAMPLE_RATE_HZ

    base = words_dir(root)
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".{slug(name)}."))
    except OSError as exc:  # a read-only home, or KWSAPP_HOME a file: was a traceback
        raise _cannot_write(base, exc) from None
    final = base / slug(name)
    old = _aside(final)
    _sweep(base, slug(name), keep=old)
    try:
        (tmp / TAKES_DIR).mkdir()
        files = []
        for i, audio in enumerate(takes, 1):
            rel = f"{TAKES_DIR}/take_{i}.wav"
            sf.write(str(tmp / rel), np.clip(audio, -1, 1), SAMPLE_RATE_HZ, subtype="PCM_16")
            files.append(rel)
        np.savez(tmp / DETECTOR_FILE, **detector)
        card = {**card, "kind": CARD_KIND, "name": normalize_name(name),
                "detector": {**card.get("detector", {}), "file": DETECTOR_FILE},
                "take_files": files}
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        if (final.exists() or _folder_of(final) != final) and not replace:
            raise BadNameError(f"{normalize_name(name)!r} is already taken")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if replace and old.exists() and not final.exists():  # nothing lost
            old.rename(final)
        if isinstance(exc, OSError):
            from kwsapp.atomic import is_disk_full
            from kwsapp.errors import DiskFullError

            if is_disk_full(exc, base):
                raise DiskFullError(f"user words folder {base}: disk full while saving "
                                    f"{normalize_name(name)!r}; free some space") from None
            raise BadInputError(f"user words folder {base}: cannot save "
                                f"{normalize_name(name)!r} ({exc.strerror or exc})") from None
        raise
    return read_word(final)


def remove_word(name: str, root: Path | None = None) -> str:
    """Delete a word's folder, even when its card cannot be read (else a
    broken word could never go); returns the name removed.

    Raises:
        BadNameError: no such word.
    """
    folder = _word_folder(name, root)
    own = words_dir(root) / slug(name)
    try:
        removed = read_word(folder).name
    except ModelError:
        removed = own.name
    # A copy a killed save left aside goes too, first: once the word's own
    # folder is gone, it would stand for the word (_folder_of).
    for path in dict.fromkeys((_aside(own), folder)):
        if not path.exists():
            continue
        trash = path.with_name(f"{path.name if path.name.startswith('.') else '.' + path.name}"
                               ".removed")
        shutil.rmtree(trash, ignore_errors=True)
        try:
            path.rename(trash)  # gone for readers at once; then deleted
        except OSError as exc:  # a read-only words folder: was a traceback
            raise BadInputError(f"{removed!r}: cannot remove {path} "
                                f"({exc.strerror or exc})") from None
        shutil.rmtree(trash, ignore_errors=True)
    return removed
