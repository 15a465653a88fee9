"""`kwsapp listen --json`: one JSON object per command (JSON lines).
(Listening itself, through real PortAudio, is tests/test_source_jack.py.)"""

import json

from kwsapp.commands.listen import event_json
from kwsapp.inference.engine import CommandEvent


def test_an_event_is_one_json_line():
    event = CommandEvent(label="stop", score=0.87654321, start=1.23456, end=1.8,
                         emitted_at=2.05, latency=0.25)
    line = event_json(event)
    assert "\n" not in line
    assert json.loads(line) == {"label": "stop", "score": 0.8765, "start": 1.235, "end": 1.8,
                                "emitted_at": 2.05, "latency": 0.25, "emitted": True}


def test_not_emitted_without_json_is_refused(capsys):
    """`--not-emitted` adds JSON lines: alone it is a usage mistake, said
    before any model or device is opened."""
    from kwsapp.cli import main

    assert main(["listen", "--not-emitted"]) == 2
    assert "--not-emitted adds JSON lines: use it with --json" in capsys.readouterr().err
