"""Write a model artifact so that its folder never holds a mix of two.

``kwsapp train --out DIR``, ``kwsapp export DIR`` and ``make models`` all
write a new artifact through :class:`StagedArtifact`:

1. the new artifact's files are written into ``DIR/.kwsapp-staging``
   (kwsapp/models/artifact.py ``STAGING_DIR``: hidden, inside ``DIR`` so on
   its file system), ``card.json`` among them. ``DIR`` is not touched: a
   failed conversion, a full disk or a kill leaves the earlier artifact as
   it was, and the next run deletes the unfinished staging folder;
2. :meth:`StagedArtifact.commit` writes the swap's manifest
   (``STAGING_DIR/swap.json``, atomically): the files to move in, every
   file of the new artifact, and whether ``DIR`` held an artifact (a
   ``card.json``). This is the commit point: from here the swap is only
   ever finished, by this run or, if it is stopped, by the next one
   (:func:`finish_swap`, which every writer calls first);
3. the swap (:func:`_swap`): the earlier ``card.json`` is deleted, then the
   earlier artifact's files the new one does not hold (training/export.py
   ``is_artifact_file``; only where ``DIR`` held a card: elsewhere such a
   name is the user's file), then each new file is renamed into ``DIR``,
   ``card.json`` last, and the staging folder is removed.

So ``DIR`` holds the whole earlier artifact (its card and files) until
step 3, the whole new one after it, and during it, a few renames long, no
card at all: the runtime loads no model from it and says a model is being
put in place (kwsapp/models/artifact.py ``read_card``); a load that read
the earlier card just before the swap, and its files during it, sees the
card changed once the files are loaded and loads again
(kwsapp/models/artifact.py ``load_whole``): a model is never loaded from
one artifact's card and another's files. Files of other names
(the user's, ``negatives.npz``) and folders (``.checkpoint``) are never
touched. A swap of whole folders would spare even the card-less moment,
but ``DIR`` may be a user's folder (``--out ~``): its other files stay in
place instead of being moved or copied.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from kwsapp.atomic import write_json_atomic
from kwsapp.errors import BadInputError
from kwsapp.models.artifact import CARD_FILE, STAGING_DIR, SWAP_FILE

log = logging.getLogger(__name__)

#: Version of the swap manifest's layout.
SWAP_FORMAT = 1


class StagedArtifact:
    """A new artifact for ``target``, written in its staging folder and put
    in place by :meth:`commit`; left uncommitted (an exception, a return
    without commit), the staging folder is deleted and ``target`` is as it
    was. ::

        with StagedArtifact(out_dir) as stage:
            write_atomic(stage.path / "model.tflite", ...)
            write_json_atomic(stage.path / "card.json", card)
            stage.commit()
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.path = self.target / STAGING_DIR
        self._unchanged: set[str] = set()
        self.committed = False

    def __enter__(self) -> "StagedArtifact":
        finish_swap(self.target)  # a stopped run's swap first, or its unfinished staging gone
        self.target.mkdir(parents=True, exist_ok=True)
        self.path.mkdir()
        return self

    def __exit__(self, *exc: object) -> None:
        # Committed: the swap is finished here or by the next run. Not
        # committed: nothing in target changed, and the staging goes.
        if not (self.path / SWAP_FILE).exists():
            shutil.rmtree(self.path, ignore_errors=True)

    def link(self, name: str) -> bool:
        """Put ``target/name`` in the staging folder unchanged (a hard link,
        or a copy where the file system has none), so that the staged
        artifact is whole (an export reads ``model.keras`` beside the files
        it writes); it stays as it is in ``target``.

        Returns:
            Whether ``target/name`` exists (nothing is staged otherwise).
        """
        source, staged = self.target / name, self.path / name
        if not (source.is_file() or source.is_symlink()):
            return False
        try:
            os.link(source, staged, follow_symlinks=False)
        except OSError:
            shutil.copy2(source, staged, follow_symlinks=False)
        self._unchanged.add(name)
        return True

    def copy(self, name: str) -> bool:
        """Copy ``target/name`` into the staging folder as a file of the new
        artifact (e.g. the card, which the new artifact may then rewrite).

        Returns:
            Whether ``target/name`` exists.
        """
        source = self.target / name
        if not source.is_file():
            return False
        shutil.copy2(source, self.path / name)
        return True

    def commit(self, keep: Iterable[str] = ()) -> list[str]:
        """Put the staged artifact in place (module docstring, steps 2-3).

        Args:
            keep: names of artifact files in ``target`` that belong to the
                new artifact without being staged (``kwsapp export`` keeps
                ``model_int8.tflite``, an export of the same
                ``model.keras``).

        Returns:
            The earlier artifact's files removed (not part of the new one).

        Raises:
            BadInputError: a staged file's name is a folder in ``target``
                (nothing changed).
        """
        staged = sorted(p.name for p in self.path.iterdir())
        if CARD_FILE not in staged:
            raise ValueError(f"{self.path}: no {CARD_FILE} staged; nothing to commit")
        moved = [n for n in staged if n != CARD_FILE and n not in self._unchanged] + [CARD_FILE]
        for name in moved:
            if (self.path / name).is_dir() and not (self.path / name).is_symlink():
                raise ValueError(f"{self.path / name}: a folder; an artifact holds files")
            if (self.target / name).is_dir() and not (self.target / name).is_symlink():
                raise BadInputError(f"{self.target / name} is a folder: the new model's {name} "
                                    f"cannot replace it; move it away and run again")
        for name in moved:  # whole on disk before the commit point
            _fsync(self.path / name)
        _fsync(self.path)
        manifest = {"format": SWAP_FORMAT, "files": moved,
                    "artifact": sorted(set(staged) | set(keep)),
                    "held_artifact": (self.target / CARD_FILE).is_file()}
        write_json_atomic(self.path / SWAP_FILE, manifest)
        _fsync(self.path)
        self.committed = True
        try:
            return _swap(self.target, self.path, manifest)
        except KeyboardInterrupt:  # a few renames from done: finish them, then stop
            _swap(self.target, self.path, manifest)
            raise


def finish_swap(target: str | os.PathLike[str]) -> str | None:
    """Put right what a stopped writer left in ``target``'s staging folder:
    a committed swap (its manifest written) is finished, putting the new
    artifact in place; an uncommitted staging folder (a run stopped while it
    wrote the new artifact) is deleted, leaving the artifact in place as it
    was. Every writer calls this first (:class:`StagedArtifact`, and
    ``train`` and ``export`` before they read the folder).

    Returns:
        ``"finished"``, ``"discarded"`` or None (nothing to put right).

    Raises:
        BadInputError: something of the staging folder's name is in the way
            (a file), or its manifest is damaged (never by kwsapp: it is
            written atomically); the message says what to do.
    """
    target = Path(target)
    staging = target / STAGING_DIR
    if not (staging.exists() or staging.is_symlink()):
        return None
    if not staging.is_dir() or staging.is_symlink():
        raise BadInputError(f"{staging}: in the way of the model's staging folder (not a "
                            f"folder kwsapp made); move it away and run again")
    manifest_path = staging / SWAP_FILE
    if not manifest_path.exists():
        shutil.rmtree(staging)
        log.warning("%s: removed the unfinished model a stopped run left in %s; the model "
                    "in place is unchanged", target, STAGING_DIR)
        return "discarded"
    manifest = _read_manifest(manifest_path)
    _swap(target, staging, manifest)
    log.warning("%s: a run stopped while it put a new model in place; that is now done "
                "(the new model is in place)", target)
    return "finished"


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
        files, artifact = manifest["files"], manifest["artifact"]
        if (manifest.get("format") != SWAP_FORMAT or not isinstance(files, list)
                or not isinstance(artifact, list) or not files or files[-1] != CARD_FILE
                or not all(isinstance(n, str) and n and "/" not in n and n not in (".", "..")
                           for n in files + artifact)):
            raise ValueError("not a swap manifest of this kwsapp")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{path}: damaged swap manifest ({exc}); the folder "
                            f"{path.parent.parent} may hold parts of two models: delete "
                            f"{path.parent} and train or export the model again") from None
    return manifest


def _swap(target: Path, staging: Path, manifest: dict[str, Any]) -> list[str]:
    """Step 3 of the module docstring; each step is skipped where it is
    already done, so a swap stopped anywhere is finished by running it
    again. Returns the earlier artifact's files removed."""
    from training.export import is_artifact_file

    staged_card = staging / CARD_FILE
    if staged_card.exists():  # the new card is not in place yet
        if manifest["held_artifact"] and (target / CARD_FILE).exists():
            (target / CARD_FILE).unlink()
            _fsync(target)  # no card on disk before any new file is
    removed = []
    if manifest["held_artifact"]:
        artifact = set(manifest["artifact"])
        for path in sorted(target.iterdir()):
            if (is_artifact_file(path.name) and path.name not in artifact
                    and (path.is_symlink() or path.is_file())):  # never a folder of that name
                path.unlink(missing_ok=True)
                removed.append(path.name)
    for name in manifest["files"]:  # card.json last
        if (staging / name).exists() or (staging / name).is_symlink():
            os.replace(staging / name, target / name)
    _fsync(target)
    shutil.rmtree(staging, ignore_errors=True)
    if removed:
        log.info("%s: removed the earlier artifact's %s (not part of this one)", target,
                 ", ".join(removed))
    return removed


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk (where the
    system allows: not every platform fsyncs folders)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
