"""``kwsapp words [--remove NAME | --retrain [NAME ...]]``: list, remove or
retrain user words."""

from __future__ import annotations

import argparse
from typing import Any, Callable

HELP = "list the user words (name, takes, date, figures), remove one, or retrain them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--remove", metavar="NAME", default=None, help="delete this user word")
    group.add_argument("--retrain", metavar="NAME", nargs="*", default=None,
                       help="enrol the named words again from their kept takes (none named: "
                            "every word trained on another embedding or negative pool, "
                            "as after an update)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")


def run(args: argparse.Namespace) -> int:
    import json

    from kwsapp.userwords.store import home, remove_word, scan_words

    if args.retrain is not None:
        return _retrain(args.retrain, args.json)
    if args.remove is not None:
        name = remove_word(args.remove)
        if args.json:
            print(json.dumps({"removed": name}))
        else:
            print(f"removed {name!r}")
        return 0
    words, unreadable = scan_words()
    current = _current(words)
    broken = {w.name: w.problem() for w in words}
    if args.json:
        entries = [
            {"name": w.name, "role": "ignore" if w.ignore else "word", "path": str(w.path),
             "takes": len(w.card.get("takes", [])),
             "created": w.card.get("created"), "threshold": w.threshold,
             "figures": w.card.get("figures", {}), "current": current(w),
             "broken": broken[w.name]}
            for w in words]
        # A card that cannot be read tells nothing but where the word is.
        entries += [{"name": u.name, "role": None, "path": str(u.path), "takes": None,
                     "created": None, "threshold": None, "figures": {}, "current": None,
                     "broken": u.problem} for u in unreadable]
        print(json.dumps({"home": str(home()),
                          "words": sorted(entries, key=lambda e: e["name"])}, indent=2))
        return 0
    if not words and not unreadable:
        print(f"no user words yet (in {home()}); add one with kwsapp enrol NAME FILE...")
        return 0
    rows = [(w.name, _row(w, broken[w.name])) for w in words]
    rows += [(u.name, f"{u.name:<20} {'?':>5}  {'?':<25} {'?':>9}  "
                      f"BROKEN: {u.problem}; {_fix(u.name, card_ok=False)}")
             for u in unreadable]
    print(f"{'name':<20} {'takes':>5}  {'created':<25} {'threshold':>9}  figures")
    for _, row in sorted(rows):
        print(row)
    stale = [w.name for w in words if not current(w)]
    if stale:
        print(f"trained on another embedding or negative pool than the bundled model's: "
              f"{', '.join(stale)}; kwsapp words --retrain enrols them again from their takes")
    return 0


def _row(w: Any, problem: str | None) -> str:
    """One word's line of the listing; a broken word's figures say why and
    what to do."""
    fig = w.card.get("figures", {})
    figures = ", ".join(f"{k} {v}" for k, v in fig.items() if k != "command_clips_vetoed")
    alike = w.sounds_like()
    if alike:  # why its threshold (veto level) is above the usual
        figures += f", sounds like {' and '.join(map(repr, alike))}"
    if problem:
        figures = f"BROKEN: {problem}; {_fix(w.name, card_ok=True)}"
    name = f"{w.name} (ignored)" if w.ignore else w.name
    return (f"{name:<20} {len(w.card.get('takes', [])):>5}  {w.card.get('created', '?'):<25} "
            f"{w.threshold:>9.2f}  {figures}")


def _fix(name: str, card_ok: bool) -> str:
    """What mends a broken word: its kept takes train it again when its
    card is readable; else only removing it helps."""
    from kwsapp.userwords.store import slug

    remove = f"kwsapp words --remove {slug(name)!r}"
    if card_ok:
        return f"retrain it (kwsapp words --retrain {slug(name)!r}) or remove it ({remove})"
    return f"remove it ({remove}) and enrol it again"


def _current(words: list) -> Callable[[Any], bool]:
    """Whether a word was trained on the bundled embedding and pool (every
    word counts as current when there are none to compare with)."""
    if not words:
        return lambda _w: True
    import logging

    from kwsapp.errors import KwsError
    from kwsapp.userwords.embedding import default_embedder, default_pool

    try:
        embedding, pool = default_embedder().id, default_pool().digest
    except KwsError as exc:  # no bundled model to compare with: list them as they are
        logging.getLogger(__name__).warning("cannot tell which words are current: %s", exc)
        return lambda _w: True
    return lambda w: w.trained_on(embedding, pool)


def _retrain(names: list[str], as_json: bool) -> int:
    """Enrol again the named words (else every stale one); a word that
    cannot be retrained is named on stderr and the others still are."""
    import json
    import sys

    from kwsapp.errors import BadInputError
    from kwsapp.userwords.embedding import default_embedder, default_pool
    from kwsapp.userwords.enrol import retrain
    from kwsapp.userwords.store import find_word, list_words

    words = [find_word(n) for n in names] if names else list_words()
    embedder, pool = default_embedder(), default_pool()
    if not names:
        words = [w for w in words if not w.trained_on(embedder.id, pool.digest)]
    done, failed = [], 0
    for w in words:
        try:
            new = retrain(w, embedder, pool, embedding_id=embedder.id)
        except BadInputError as exc:
            print(f"{w.name!r} not retrained: {exc}", file=sys.stderr)
            failed += 1
            continue
        done.append(new.name)
        if not as_json:
            print(f"retrained {new.name!r} from {len(new.take_paths())} takes in "
                  f"{new.card['figures']['enrol_seconds']:.1f} s")
    if as_json:
        print(json.dumps({"retrained": done, "failed": failed}))
    elif not words:
        print("every user word is trained on the bundled embedding and pool; nothing to do")
    return 2 if failed else 0
