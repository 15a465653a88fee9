"""The window never starts PortAudio in its own process: its input device
list and the Add word dialog's Play run a fresh PortAudio in a child
process, off the GUI thread, given up past a limit from the config. Real
parts: a JACK dummy server frozen with SIGSTOP answers nobody, and
PortAudio's start hangs on it for ever (the frozen_jack fixture)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

pytestmark = [pytest.mark.jack, pytest.mark.gui]

GIVEN_UP = ("the sound system did not {what} in {s:g} s: PortAudio hangs starting (a sound "
            "server that stopped answering, such as a JACK server?); restart it, then try again")


def run_script(name: str, env: dict, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / name), *args],
                          cwd=REPO_ROOT, env=dict(os.environ, **env), capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_window_lists_devices_off_the_gui_thread_and_gives_up_on_a_frozen_server(
        frozen_jack, tiny_model):
    """tests/gui_devices_frozen_jack_run.py: built while the server answers
    nobody, the window is up at once (it hung in its constructor: PortAudio
    started on the GUI thread to list the devices), says it is looking for
    them and, past device_list_timeout_s, that they were not listed and
    why; the server thawed, ⟳ lists its input (the default marked) and the
    message goes; frozen again, ⟳ returns at once and gives up again. No
    listing child is left, and the window never loaded sounddevice."""
    list_s = 2.0
    r = run_script("gui_devices_frozen_jack_run.py", frozen_jack.env, "--jackd-pid",
                   str(frozen_jack.pid), "--model", str(tiny_model), "--list-s", str(list_s))
    said = GIVEN_UP.format(what="list its input devices", s=list_s)
    assert r["built"]["items"] == ["looking for input devices…"], r
    assert r["built"]["looking"] and not r["built"]["enabled"], r
    assert r["gave_up"] and r["ticks_while_looking"] > 0, r  # the GUI thread ran meanwhile
    given_up = r["given_up"]
    assert given_up["items"] == ["input devices not listed (⟳ looks again)"], r
    assert given_up["tooltip"] == said, r
    assert given_up["banner"] == f"No input devices listed: {said}; ⟳ (F5) looks for them again.", r
    assert given_up["children"] == 0, r  # the hung child was killed
    assert r["refreshing"]["items"] == ["looking for input devices…"], r
    assert r["listed"] and r["refreshed"]["items"] == ["system ★ default"], r
    assert r["refreshed"]["enabled"] and r["refreshed"]["banner"] == "", r
    assert r["refreshing_frozen"]["looking"], r
    assert r["gave_up_again"] and r["given_up_again"]["tooltip"] == said, r
    assert not r["sounddevice_loaded"], r
    assert r["children_left"] == 0 and r["threads_left"] == [], r


def test_play_take_returns_at_once_and_gives_up_on_a_frozen_server(frozen_jack, tmp_path):
    """tests/add_word_play_jack_run.py: Play on a take while the server
    answers nobody returns at once (it hung the dialog: sounddevice.play on
    the GUI thread), and past play_answer_s beyond the take's length the
    prompt says the take was not played and why, its child killed; the
    server thawed, Play plays it (a new JACK port while it plays)."""
    answer_s = 2.0
    r = run_script("add_word_play_jack_run.py",
                   {**frozen_jack.env, "KWSAPP_HOME": str(tmp_path / "home")},
                   "--jackd-pid", str(frozen_jack.pid), "--answer-s", str(answer_s))
    said = GIVEN_UP.format(what="play the clip", s=answer_s + 1.5)
    assert r["returned"] and r["playing"] and r["gave_up"], r
    assert r["prompt"] == f"Cannot play the take: {said}", r
    assert r["children_after"] == 0, r
    assert r["played"] and r["answers"] == [said, None], r
    assert any(not p.startswith("system:") for p in r["new_ports"]), r
    assert not r["sounddevice_loaded"], r
    assert r["children_left"] == 0 and r["threads_left"] == [], r
