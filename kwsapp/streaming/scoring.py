"""Score the commands a stream produced against the words really said.

Matching rule (also in README "Streaming accuracy"):

- A *command word* is a truth row whose label is one of the ten commands;
  rows labelled ``unknown``/``silence`` only mark where other sounds are.
- An event *lies on* a word when the event's span (``start``..``end``: the
  speech the engine heard in the window that fired) overlaps the word's true
  span widened by a tolerance on each side (250 ms by default, for where the
  engine's VAD and the truth's trimming draw a word's soft edges apart).
  Where the word was heard decides what the event was about; *when* it
  was emitted is judged by the latency, reported apart (a late command is
  a slow one, not a false one).
- Events are taken in emission order. An event on a command word of its own
  label that no event has matched yet *matches* it (the earliest such word);
  on only already-matched words of its label it is a *duplicate* (counted
  apart, not a false activation); on only command words of other labels it
  is *wrong*; on no command word at all (silence, noise, an unknown word) it
  is a *false activation*.
- Each command word ends up *matched* (some event matched it), else *wrong*
  (only other labels fired on it), else *missed*; the three shares add up
  to 100 %.
- False activations per hour = false activations / stream duration in hours.
- Latency = emission time - word end (true end), for the event that matched
  each word (negative when a command fires before the word is over).

Events labelled ``silence``/``unknown`` are not commands and are ignored.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Collection, Iterable, Sequence

import numpy as np

from kwsapp.atomic import write_atomic
from kwsapp.errors import BadInputError
from kwsapp.speakers import UNKNOWN_DIR

#: Labels that are not commands (truth rows and events with these are not words to find).
NON_COMMANDS = frozenset({"silence", "unknown", "_silence_", "_unknown_"})
DEFAULT_TOLERANCE_MS = 250.0
#: z of a two-sided 95 % interval. Test streams are small (177 command words,
#: 11 false activations in 15 minutes), so a figure comes with its interval.
_Z95 = 1.959963984540054


def wilson_interval_pct(k: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """95 % Wilson score interval of the share ``k`` of ``n``, in percent
    (``(0, 100)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 100.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def poisson_rate_interval(k: int, hours: float) -> tuple[float, float]:
    """Exact (Garwood) 95 % interval of a rate of ``k`` events in ``hours``,
    per hour (``(0, inf)`` for no time)."""
    if hours <= 0:
        return 0.0, float("inf")
    from scipy.special import gammaincinv  # only here: scoring itself needs no scipy

    low = 0.0 if k == 0 else float(gammaincinv(k, 0.025))
    return low / hours, float(gammaincinv(k + 1, 0.975)) / hours


@dataclass(frozen=True)
class TruthWord:
    """A word (or other sound) really in the stream; times in seconds."""

    label: str
    start: float
    end: float
    file: str = ""
    word: str = ""  # the word said (other-speech rows: which word it was)


@dataclass(frozen=True)
class Event:
    """The parts of a :class:`kwsapp.inference.engine.CommandEvent` scoring reads."""

    label: str
    score: float
    start: float
    end: float
    emitted_at: float


@dataclass
class StreamScore:
    """Outcome of :func:`score_events`; shares are in percent of command words."""

    words: int
    matched: int
    wrong: int
    missed: int
    events: int
    duplicates: int
    wrong_events: int
    false_activations: int
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    #: the command events scored, in emission order, and what each was:
    #: "match" | "duplicate" | "wrong" | "false"
    scored: list[Event] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    #: per command word, in truth order: "matched" | "wrong" | "missed"
    word_outcomes: list[str] = field(default_factory=list)
    #: the command words those outcomes are of, in the same order
    command_words: list[TruthWord] = field(default_factory=list)

    def matched_by_label(self) -> dict[str, int]:
        """Matched command words of each label (labels with none left out)."""
        out: dict[str, int] = {}
        for w, o in zip(self.command_words, self.word_outcomes):
            if o == "matched":
                out[w.label] = out.get(w.label, 0) + 1
        return out

    def _pct(self, n: int) -> float:
        return 100.0 * n / self.words if self.words else 0.0

    @property
    def matched_pct(self) -> float:
        return self._pct(self.matched)

    @property
    def wrong_pct(self) -> float:
        return self._pct(self.wrong)

    @property
    def missed_pct(self) -> float:
        return self._pct(self.missed)

    @property
    def fa_per_hour(self) -> float:
        return self.false_activations / (self.duration_s / 3600.0) if self.duration_s > 0 else 0.0

    @property
    def matched_ci_pct(self) -> tuple[float, float]:
        """95 % interval of :attr:`matched_pct` (Wilson)."""
        return wilson_interval_pct(self.matched, self.words)

    @property
    def fa_per_hour_ci(self) -> tuple[float, float]:
        """95 % interval of :attr:`fa_per_hour` (exact Poisson)."""
        return poisson_rate_interval(self.false_activations, self.duration_s / 3600.0)

    @property
    def latency_median_ms(self) -> float | None:
        return 1000.0 * float(np.median(self.latencies_s)) if self.latencies_s else None

    @property
    def latency_p95_ms(self) -> float | None:
        return (1000.0 * float(np.percentile(self.latencies_s, 95))
                if self.latencies_s else None)

    def summary(self) -> dict[str, object]:
        """Flat JSON-ready dict: counts, shares, FA/h and latency."""
        out = {k: v for k, v in asdict(self).items()
               if k not in ("latencies_s", "scored", "outcomes", "word_outcomes",
                            "command_words")}
        out.update(matched_pct=self.matched_pct, wrong_pct=self.wrong_pct,
                   missed_pct=self.missed_pct, fa_per_hour=self.fa_per_hour,
                   matched_pct_ci95=list(self.matched_ci_pct),
                   fa_per_hour_ci95=list(self.fa_per_hour_ci),
                   latency_median_ms=self.latency_median_ms,
                   latency_p95_ms=self.latency_p95_ms)
        return out


def _match(events: Sequence[Event], words: Sequence[TruthWord], first_match: list,
           wrong_near: list[bool], tolerance_ms: float) -> list[str]:
    """The matching rule, event by event in the order given: each event's
    outcome ("match" | "duplicate" | "wrong" | "false"); ``first_match`` (the
    event that matched each word, or None) and ``wrong_near`` are updated."""
    tol = tolerance_ms / 1000.0
    starts = np.array([w.start for w in words]) - tol
    ends = np.array([w.end for w in words]) + tol
    outcomes: list[str] = []
    for ev in events:
        near = np.flatnonzero((starts <= ev.end) & (ev.start <= ends)) \
            if len(words) else np.array([], int)
        same = [i for i in near if words[i].label == ev.label]
        fresh = [i for i in same if first_match[i] is None]
        if fresh:
            first_match[fresh[0]] = ev
            outcomes.append("match")
        elif same:
            outcomes.append("duplicate")
        elif len(near):
            for i in near:
                wrong_near[i] = True
            outcomes.append("wrong")
        else:
            outcomes.append("false")
    return outcomes


def withheld_outcomes(score: StreamScore, events: Iterable[Event],
                      tolerance_ms: float = DEFAULT_TOLERANCE_MS) -> list[str]:
    """What each of ``events``, commands decided but not emitted (the second
    opinion's), would have been had it fired after the emitted ones of
    ``score``: "match" (a command word the check lost), "duplicate" (its word
    was matched anyway), "wrong", or "false" (a false activation avoided).
    In ``events``' time order (emission, then start)."""
    first_match: list = [True if o == "matched" else None for o in score.word_outcomes]
    wrong_near = [o == "wrong" for o in score.word_outcomes]
    evs = sorted(events, key=lambda e: (e.emitted_at, e.start))
    return _match(evs, score.command_words, first_match, wrong_near, tolerance_ms)


def lies_on(event: Any, word: TruthWord, tolerance_ms: float = DEFAULT_TOLERANCE_MS) -> bool:
    """Whether ``event`` (anything with ``start``/``end`` in seconds) lies on
    ``word`` by the matching rule: its span overlaps the word's, widened by
    ``tolerance_ms`` on each side (:func:`score_events` tests the same, for
    all words at once)."""
    tol = tolerance_ms / 1000.0
    return event.start <= word.end + tol and word.start - tol <= event.end


def score_events(truth: Sequence[TruthWord], events: Iterable[Event], duration_s: float,
                 tolerance_ms: float = DEFAULT_TOLERANCE_MS) -> StreamScore:
    """Score ``events`` against ``truth`` by the module's matching rule.

    Args:
        truth: every word of the stream (commands, and optionally the unknown
            words and silences, which are not scored).
        events: the commands emitted, any order; times in seconds.
        duration_s: stream length, for false activations per hour.
        tolerance_ms: slack on each side of a word's true span.
    Returns:
        A :class:`StreamScore`.
    """
    words = sorted((w for w in truth if w.label not in NON_COMMANDS),
                   key=lambda w: (w.start, w.end))
    first_match: list[Event | None] = [None] * len(words)
    wrong_near = [False] * len(words)
    evs = sorted((e for e in events if e.label not in NON_COMMANDS),
                 key=lambda e: (e.emitted_at, e.start))
    outcomes = _match(evs, words, first_match, wrong_near, tolerance_ms)
    word_outcomes = ["matched" if m is not None else "wrong" if w else "missed"
                     for m, w in zip(first_match, wrong_near)]
    latencies = [m.emitted_at - w.end for m, w in zip(first_match, words) if m is not None]
    return StreamScore(
        words=len(words), matched=word_outcomes.count("matched"),
        wrong=word_outcomes.count("wrong"), missed=word_outcomes.count("missed"),
        events=len(evs), duplicates=outcomes.count("duplicate"),
        wrong_events=outcomes.count("wrong"), false_activations=outcomes.count("false"),
        duration_s=float(duration_s), latencies_s=latencies, scored=evs, outcomes=outcomes,
        word_outcomes=word_outcomes, command_words=words)


def repeat_pairs(truth: Sequence[TruthWord], word_outcomes: Sequence[str]) -> tuple[int, int]:
    """``(fired twice, pairs)`` over the command words said twice in a row
    (same recording, onsets 1.5 s apart, as make-stream places them).

    Args:
        truth: the stream's truth rows, in order.
        word_outcomes: :attr:`StreamScore.word_outcomes` of that stream.
    """
    words = sorted((w for w in truth if w.label not in NON_COMMANDS),
                   key=lambda w: (w.start, w.end))
    pairs = fired = 0
    for i in range(1, len(words)):
        a, b = words[i - 1], words[i]
        if a.file == b.file and a.label == b.label and abs(b.start - a.start - 1.5) < 0.01:
            pairs += 1
            fired += word_outcomes[i - 1] == word_outcomes[i] == "matched"
    return fired, pairs


def stream_summary(score: StreamScore, truth: Sequence[TruthWord]) -> dict[str, Any]:
    """``evaluate-stream --json``'s figures of one stream: the score's
    :meth:`~StreamScore.summary` and the words said twice that fired twice
    (``twice_fired`` of ``twice_pairs``)."""
    twice, pairs = repeat_pairs(truth, score.word_outcomes)
    return {**score.summary(), "twice_fired": twice, "twice_pairs": pairs}


def word_of(path: str | Path) -> str:
    """The word a recording says, from where it lies: the file-name prefix
    in Speech Commands' ``_unknown_`` (``backward_0c540988_nohash_0.wav``),
    else the folder name (``wake_words/smart_mirror/7.flac``: "smart
    mirror"); lower case, ``_`` as a space."""
    path = Path(path)
    if path.parent.name == UNKNOWN_DIR and "_nohash_" in path.stem:
        return path.stem.split("_nohash_")[0].rsplit("_", 1)[0].replace("_", " ").lower()
    return path.parent.name.replace("_", " ").lower()


def word_of_row(w: TruthWord) -> str:
    """The word a truth row says: its ``word`` column, else (older truth
    files) from its file name (:func:`word_of`), else
    its label."""
    if w.word:
        return w.word
    if w.file:
        return word_of(w.file) or w.label
    return w.label


@dataclass
class FalseActivations:
    """Where a stream's false activations came from (:func:`false_activations`)."""

    duration_s: float
    #: per false event (emission order): the other-speech row it lies on, or None
    sources: list[tuple[Event, TruthWord | None]]
    #: per word: how many times the stream says it
    said: dict[str, int]
    #: per file: how many times the stream says it
    said_files: dict[str, int]

    def by_word(self) -> list[dict[str, object]]:
        """Per source word, most false activations first: ``word``, ``said``
        (utterances in the stream), ``false_activations``, ``per_hour``,
        ``utterances_fired`` (distinct utterances that fired) and ``labels``
        (command -> count). Events on no word are under ``word`` None."""
        hours = self.duration_s / 3600.0
        rows: dict[str | None, dict[str, object]] = {}
        for word, n in self.said.items():
            rows[word] = {"word": word, "said": n, "false_activations": 0,
                          "utterances_fired": set(), "labels": {}}
        for ev, row in self.sources:
            word = None if row is None else word_of_row(row)
            r = rows.setdefault(word, {"word": word, "said": 0, "false_activations": 0,
                                       "utterances_fired": set(), "labels": {}})
            r["false_activations"] += 1
            if row is not None:
                r["utterances_fired"].add((row.start, row.file))
            r["labels"][ev.label] = r["labels"].get(ev.label, 0) + 1
        out = []
        for r in rows.values():
            r["utterances_fired"] = len(r["utterances_fired"])
            r["per_hour"] = r["false_activations"] / hours if hours > 0 else 0.0
            r["labels"] = dict(sorted(r["labels"].items(), key=lambda kv: -kv[1]))
            out.append(r)
        return sorted(out, key=lambda r: (-r["false_activations"], str(r["word"])))

    def worst_files(self, n: int = 10) -> list[dict[str, object]]:
        """The ``n`` recordings that fired most: ``file``, ``word``, ``said``,
        ``false_activations``, ``labels``."""
        rows: dict[str, dict[str, object]] = {}
        for ev, row in self.sources:
            if row is None or not row.file:
                continue
            r = rows.setdefault(row.file, {"file": row.file, "word": word_of_row(row),
                                           "said": self.said_files.get(row.file, 0),
                                           "false_activations": 0, "labels": {}})
            r["false_activations"] += 1
            r["labels"][ev.label] = r["labels"].get(ev.label, 0) + 1
        return sorted(rows.values(), key=lambda r: (-r["false_activations"], r["file"]))[:n]


def false_activations(truth: Sequence[TruthWord], score: StreamScore,
                      tolerance_ms: float = DEFAULT_TOLERANCE_MS) -> FalseActivations:
    """Attribute each false activation of ``score`` to the other-speech row
    (``unknown`` etc.) its span overlaps most (rows widened by the same
    tolerance as matching), or to none (noise, a pause)."""
    tol = tolerance_ms / 1000.0
    others = sorted((w for w in truth if w.label in NON_COMMANDS and w.label not in
                     ("silence", "_silence_")), key=lambda w: (w.start, w.end))
    starts = np.array([w.start for w in others]) - tol
    ends = np.array([w.end for w in others]) + tol
    sources: list[tuple[Event, TruthWord | None]] = []
    for ev, outcome in zip(score.scored, score.outcomes):
        if outcome != "false":
            continue
        overlap = np.minimum(ends, ev.end) - np.maximum(starts, ev.start) if others else \
            np.array([])
        best = int(np.argmax(overlap)) if overlap.size else -1
        sources.append((ev, others[best] if best >= 0 and overlap[best] > 0 else None))
    said: dict[str, int] = {}
    said_files: dict[str, int] = {}
    for w in others:
        said[word_of_row(w)] = said.get(word_of_row(w), 0) + 1
        if w.file:
            said_files[w.file] = said_files.get(w.file, 0) + 1
    return FalseActivations(score.duration_s, sources, said, said_files)


TRUTH_COLUMNS = ("label", "start", "end", "file", "word")


def write_truth(path: str | Path, truth: Iterable[TruthWord]) -> None:
    """Write truth rows as CSV with header ``label,start,end,file,word``
    (seconds, ms precision; ``word`` added after ``file``, so readers of the
    first four columns keep working)."""
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(TRUTH_COLUMNS)
    for w in truth:
        out.writerow([w.label, f"{w.start:.3f}", f"{w.end:.3f}", w.file, w.word])
    write_atomic(path, text.getvalue().encode())


#: Slack past a stream's end for a truth row's end: write_truth rounds to ms.
_TRUTH_ROUNDING_S = 0.0005


def read_truth(path: str | Path, duration_s: float | None = None,
               labels: Collection[str] | None = None) -> list[TruthWord]:
    """Read a truth CSV written by :func:`write_truth` (or by hand).

    Args:
        duration_s: the stream's length; a row past it is refused (None: not checked).
        labels: the labels a row may have (None: any).
    Raises:
        BadInputError: missing file, missing columns, a non-numeric or negative
            time, a row past ``duration_s`` or of a label not in ``labels``;
            naming the line.
    """
    path = Path(path)
    try:
        # utf-8-sig: Excel saves a CSV with a byte-order mark before "label".
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            # line_num, not a count of rows: blank lines are skipped.
            rows = [(reader.line_num, row) for row in reader]
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read truth file ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error):
        raise BadInputError(f"{path}: not a text CSV truth file (binary data?)") from None
    if header is None:
        raise BadInputError(f"{path}: truth file is empty (want a header label,start,end[,file])")
    if not {"label", "start", "end"} <= set(header):
        raise BadInputError(f"{path}: truth CSV needs the columns label,start,end[,file,word] "
                            f"in its header, not {','.join(header)[:60]!r}")
    out = []
    for n, row in rows:
        try:
            word = TruthWord(row["label"], float(row["start"]), float(row["end"]),
                             row.get("file") or "", row.get("word") or "")
        except (TypeError, ValueError):
            raise BadInputError(f"{path}: line {n}: start/end must be numbers") from None
        problem = _row_problem(word, duration_s, labels)
        if problem:
            raise BadInputError(f"{path}: line {n}: {problem}")
        out.append(word)
    return out


def _row_problem(word: TruthWord, duration_s: float | None,
                 labels: Collection[str] | None) -> str | None:
    """Why a truth row cannot be scored against its stream, or None."""
    if not (np.isfinite(word.start) and np.isfinite(word.end) and word.start <= word.end):
        return "start and end must be finite, start <= end"
    if word.start < 0:
        return (f"word at {_secs(word.start)} to {_secs(word.end)} s starts before the "
                "stream (at 0 s)")
    if duration_s is not None and word.end > duration_s + _TRUTH_ROUNDING_S:
        return (f"word at {_secs(word.start)}-{_secs(word.end)} s is past the stream's end "
                f"({_secs(duration_s)} s)")
    if labels is not None and word.label not in labels:
        return f"unknown label {word.label!r} (labels: {', '.join(labels)})"
    return None


def _secs(t: float) -> str:
    """Seconds as a truth file holds them (ms), without trailing zeros: 500.0, 12.345."""
    text = f"{t:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
