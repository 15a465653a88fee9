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

    from kwsapp.userwords.store import home, list_words, remove_word

    if args.retrain is not None:
        return _retrain(args.retrain, args.json)
    if args.remove is not None:
        word = remove_word(args.remove)
        if args.json:
            print(json.dumps({"removed": word.name}))
        else:
            print(f"removed {word.name!r}")
        return 0
    words = list_words()
    current = _current(words)
    if args.json:
        print(json.dumps({"home": str(home()), "words": [
            {"name": w.name, "role": "ignore" if w.ignore else "word", "path": str(w.path),
             "takes": len(w.card.get("takes", [])),
             "created": w.card.get("created"), "threshold": w.threshold,
             "figures": w.card.get("figures", {}), "current": current(w)}
            for w in words]}, indent=2))
        return 0
    if not words:
        print(f"no user words yet (in {home()}); add one with kwsapp enrol NAME FILE...")
        return 0
    print(f"{'name':<20} {'takes':>5}  {'created':<25} {'threshold':>9}  figures")
    for w in words:
        fig = w.card.get("figures", {})
        figures = ", ".join(f"{k} {v}" for k, v in fig.items() if k != "command_clips_vetoed")
        alike = w.sounds_like()
        if alike:  # why its threshold (veto level) is above the usual
            figures += f", sounds like {' and '.join(map(repr, alike))}"
        name = f"{w.name} (ignored)" if w.ignore else w.name
        print(f"{name:<20} {len(w.card.get('takes', [])):>5}  {w.card.get('created', '?'):<25} "
              f"{w.threshold:>9.2f}  {figures}")
    stale = [w.name for w in words if not current(w)]
    if stale:
        print(f"trained on another embedding or negative pool than the bundled model's: "
              f"{', '.join(stale)}; kwsapp words --retrain enrols them again from their takes")
    return 0


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
