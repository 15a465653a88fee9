"""``kwsapp words [--remove NAME]``: list or remove user words."""

from __future__ import annotations

import argparse

HELP = "list the user words (name, takes, date, figures) or remove one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remove", metavar="NAME", default=None, help="delete this user word")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")


def run(args: argparse.Namespace) -> int:
    import json

    from kwsapp.userwords.store import home, list_words, remove_word

    if args.remove is not None:
        word = remove_word(args.remove)
        if args.json:
            print(json.dumps({"removed": word.name}))
        else:
            print(f"removed {word.name!r}")
        return 0
    words = list_words()
    if args.json:
        print(json.dumps({"home": str(home()), "words": [
            {"name": w.name, "role": "ignore" if w.ignore else "word", "path": str(w.path),
             "takes": len(w.card.get("takes", [])),
             "created": w.card.get("created"), "threshold": w.threshold,
             "figures": w.card.get("figures", {})} for w in words]}, indent=2))
        return 0
    if not words:
        print(f"no user words yet (in {home()}); add one with kwsapp enrol NAME FILE...")
        return 0
    print(f"{'name':<20} {'takes':>5}  {'created':<25} {'threshold':>9}  figures")
    for w in words:
        fig = w.card.get("figures", {})
        figures = ", ".join(f"{k} {v}" for k, v in fig.items())
        name = f"{w.name} (ignored)" if w.ignore else w.name
        print(f"{name:<20} {len(w.card.get('takes', [])):>5}  {w.card.get('created', '?'):<25} "
              f"{w.threshold:>9.2f}  {figures}")
    return 0
