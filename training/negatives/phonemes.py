"""Near-misses of the commands found by sound, not picked by hand: every
dictionary word whose espeak-ng phonemes are one edit away from a command's
("cleft", "fight", "yet"), or hold a command's phonemes with at most a few
more around them ("stopwatch", "downtown", "coffee").

The held-out TTS stream's false activations were near-misses said by new
voices (docs/streaming.md): the hand-written :data:`training.negatives.tts.NEAR_MISSES`
has 15 a command, the dictionary holds about 60 more each. The phonemes are
espeak-ng's en-us ones (one process over the whole word list, about a minute,
then cached); stress marks and espeak's reduced-vowel and flap marks (``#``)
are dropped, so "left" is ``l E f t``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from kwsapp.atomic import write_json_atomic

log = logging.getLogger(__name__)

Phonemes = tuple[str, ...]


def parse(espeak_x: str) -> Phonemes:
    """espeak-ng ``-x --sep=' '`` output of one word -> its phonemes without
    stress (``'``, ``,``), reduction and flap marks (``#``) or pauses (``;``)."""
    out = []
    for p in espeak_x.split():
        p = p.lstrip("',").rstrip("#")
        if p and p != ";":
            out.append(p)
    return tuple(out)


def espeak_phonemes(words: Sequence[str], cache: Path | None = None,
                    voice: str = "en-us") -> dict[str, Phonemes]:
    """Phonemes of each word by espeak-ng (one word a sentence, so one
    output line a word), cached in ``cache`` by the word list and the
    espeak-ng version. Empty (with a warning) without espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        log.warning("espeak-ng not installed: no near-misses found by phonemes")
        return {}
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    key = hashlib.sha1("\n".join([version, voice, *words]).encode()).hexdigest()[:16]
    path = None if cache is None else cache / f"phonemes-{key}.json"
    if path is not None and path.is_file():
        return {w: tuple(p) for w, p in json.loads(path.read_text()).items()}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "words.txt"
        src.write_text("".join(f"{w}.\n" for w in words), encoding="utf-8")
        lines = subprocess.run([exe, "-q", "-x", "--sep= ", "-v", voice, "-f", str(src)],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    lines = [line for line in lines if line.strip()]
    if len(lines) != len(words):
        raise RuntimeError(f"espeak-ng gave {len(lines)} phoneme lines for {len(words)} words")
    out = {w: parse(line) for w, line in zip(words, lines)}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, out, follow_symlinks=False)  # a cache entry: a link replaced
    return out


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two phoneme sequences."""
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        diag, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1]))
    return row[len(b)]


def _holds(word: Phonemes, part: Phonemes) -> bool:
    n = len(part)
    return any(word[i:i + n] == part for i in range(len(word) - n + 1))


def near_misses(words: dict[str, Phonemes], commands: dict[str, Phonemes],
                max_extra: int = 3) -> dict[str, list[str]]:
    """Words that sound close to each command: one phoneme edit away, or
    holding the command's phonemes with at most ``max_extra`` more. A word
    said exactly like a command (a homophone) is never one, nor is a word
    spelled like a command."""
    out: dict[str, list[str]] = {c: [] for c in commands}
    homophones = {w for w, p in words.items() if p in set(commands.values())}
    for word, ph in sorted(words.items()):
        if word in commands or word in homophones or not ph:
            continue
        for command, cp in commands.items():
            if (abs(len(ph) - len(cp)) <= 1 and edit_distance(ph, cp) == 1) or (
                    len(cp) < len(ph) <= len(cp) + max_extra and _holds(ph, cp)):
                out[command].append(word)
    return out


def command_near_misses(words: Iterable[str], commands: Sequence[str],
                        cache: Path | None = None, max_extra: int = 3) -> dict[str, list[str]]:
    """:func:`near_misses` of ``commands`` among ``words``, both phonemized by
    espeak-ng (empty lists without it)."""
    words = list(words)
    ph = espeak_phonemes(sorted(set(words) | set(commands)), cache)
    if not ph:
        return {c: [] for c in commands}
    found = near_misses({w: ph[w] for w in words if w in ph}, {c: ph[c] for c in commands},
                        max_extra)
    log.info("near-misses by phonemes: %s", ", ".join(f"{c} {len(v)}" for c, v in found.items()))
    return found
