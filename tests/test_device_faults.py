"""Issue 15, devices: a device refusing the sample rate asked for, and a busy
device. `listen` and the window say so in one line naming the device and
what was refused; a refused rate is replaced by one the device takes (and
listening goes on), a busy device stops `listen` with exit 2 and leaves the
window running, ready to listen when the device is free.

The refused rate is real: PortAudio's JACK host takes only the server's
rate (16 kHz here) and refuses 44100 Hz. A busy device is a MOCK: no real
part here can be busy (a JACK server takes any number of clients and the
test machine has no ALSA card), so ``sounddevice.InputStream`` raises the
error PortAudio's ALSA host gives when another program holds the card.

A sound server that answers nobody is real too (the frozen_jack fixture: a
JACK dummy server stopped with SIGSTOP hangs PortAudio's start): `listen`
and the window give the open up past AudioConfig.open_timeout_s, in one
line naming the device, and kill the capture child hung on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, run_cli

#: Makes `listen`'s capture child (kwsapp/audio/child_source.py, where its
#: PortAudio runs) replace sounddevice's stream with one failing as a held
#: ALSA card does (paDeviceUnavailable, PortAudio's own text), then runs the CLI.
BUSY_CHILD = """
import os, sys, sounddevice as sd
def busy(*args, **kwargs):
    raise sd.PortAudioError("Error opening InputStream: Device unavailable", -9985)
sd.InputStream = busy
from kwsapp.audio.child_source import child_main
code = child_main(sys.argv[1:]); sys.stdout.flush(); os._exit(code)
"""
BUSY_MOCK = f"""
import sys
from kwsapp.audio import child_source
child_source.CHILD_COMMAND = [sys.executable, "-c", {BUSY_CHILD!r}]
from kwsapp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.jack
def test_listen_says_the_refused_rate_and_listens_at_the_devices(jack_server, tiny_model):
    proc = run_cli("listen", "--model", str(tiny_model), "--device-rate", "44100",
                   "--seconds", "1.5", env=jack_server, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    said = [line for line in _lines(proc.stderr) if "44100" in line]
    assert len(said) == 1, proc.stderr
    assert "'system' refused 44100 Hz" in said[0] and "listening at 16000 Hz" in said[0], said
    assert "listening on system at 16000 Hz" in proc.stderr and "stopped:" in proc.stderr


@pytest.mark.jack
def test_listen_on_a_busy_device_is_one_line_and_exit_2(jack_server, tiny_model):
    proc = subprocess.run([sys.executable, "-c", BUSY_MOCK, "listen", "--model", str(tiny_model),
                           "--seconds", "5"], cwd=REPO_ROOT, env=dict(os.environ, **jack_server),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert _lines(proc.stderr) == [
        "kwsapp: DeviceError: input device 'system' is busy: another program is using it "
        "(PortAudio: Device unavailable); close that program or choose another device"], \
        proc.stderr
    # Without the mock the same command listens: the line above is the mock's.
    # (test_listen_says_the_refused_rate_and_listens_at_the_devices runs it.)


@pytest.mark.jack
def test_window_says_refused_rate_and_busy_device_and_keeps_running(jack_server, tiny_model):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "gui_device_faults_run.py"),
                           "--model", str(tiny_model)], cwd=REPO_ROOT,
                          env=dict(os.environ, **jack_server), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    refused, busy, freed = result["refused_rate"], result["busy"], result["freed"]
    assert refused["started"] and refused["listening"] and refused["rate"] == 16000, result
    assert "'system' refused 44100 Hz" in refused["banner"], result
    assert "\n" not in refused["banner"]
    assert refused["samples"] > 0  # audio flows at the rate the device took
    assert not busy["started"] and not busy["listening"] and busy["visible"], result
    assert "'system' is busy" in busy["banner"] and "another program" in busy["banner"], result
    assert "\n" not in busy["banner"]
    # The device is free again: Space (start_listening) listens at once.
    assert freed["started"] and freed["listening"] and freed["samples"] > 0, result
    assert result["threads_left"] == []


#: Runs the CLI with ``listen``'s open limit (AudioConfig.open_timeout_s)
#: set to the first argument: the config has no option for it, and the
#: model's config is where `listen` reads it.
SHORT_OPEN = """
import sys
from dataclasses import replace
from kwsapp.inference import recognizer
limit, load = float(sys.argv.pop(1)), recognizer.load_with_config
def load_with_short_open(*args, **kwargs):
    rec, config = load(*args, **kwargs)
    return rec, replace(config, audio=replace(config.audio, open_timeout_s=limit))
recognizer.load_with_config = load_with_short_open
from kwsapp.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.jack
def test_listen_gives_up_opening_on_a_sound_server_that_answers_nobody(frozen_jack, tiny_model,
                                                                        tmp_path):
    """Real parts: `kwsapp listen` on a JACK server that answers nobody
    (SIGSTOP): PortAudio's start hangs in the capture child, and `listen`
    waited the child's own 20 s limit (REPLY_TIMEOUT_S) before failing. Past
    the open limit it says the device did not open and to pick another or
    check the sound server, one line, exit 2; the hung child is killed
    (gone while the server is still frozen, not left to end with `listen`)."""
    from conftest import capture_children
    from kwsapp.audio.child_source import REPLY_TIMEOUT_S

    open_s = 2.0
    server = frozen_jack.env["JACK_DEFAULT_SERVER"]
    frozen_jack.freeze()
    try:
        asked = time.monotonic()
        # Files, not pipes: a child left hanging would hold the pipes open
        # (it inherits stderr), and the test would wait for it.
        with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
            code = subprocess.run([sys.executable, "-c", SHORT_OPEN, str(open_s), "listen",
                                   "--model", str(tiny_model)], cwd=REPO_ROOT, stdout=out,
                                  stderr=err, env=dict(os.environ, **frozen_jack.env),
                                  timeout=120).returncode
        took = time.monotonic() - asked
        left = capture_children(server)
    finally:
        frozen_jack.thaw()
    said = (tmp_path / "err").read_text()
    assert code == 2, said
    assert _lines(said) == [
        f"kwsapp: DeviceError: the default input device did not open in {open_s:g} s (the "
        "sound system did not answer); pick another input device or check the sound server"], said
    assert took < REPLY_TIMEOUT_S, took  # the model's load and Python's start included
    assert left == []


@pytest.mark.jack
def test_window_gives_up_opening_on_a_sound_server_that_answers_nobody(frozen_jack, tiny_model):
    """tests/gui_listen_frozen_jack_run.py: Listen while the server answers
    nobody says "Starting…" (the GUI thread runs on), and past the open
    limit the banner says the device did not open, to pick another or check
    the sound server, and how to try again (it said so after 20 s, the
    capture child's own limit); the hung child is killed. The server
    thawed, Listen listens; no child or thread is left."""
    from kwsapp.audio.child_source import REPLY_TIMEOUT_S

    open_s = 2.0
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "gui_listen_frozen_jack_run.py"),
                           "--jackd-pid", str(frozen_jack.pid), "--model", str(tiny_model),
                           "--open-s", str(open_s)], cwd=REPO_ROOT,
                          env=dict(os.environ, **frozen_jack.env), capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["listed"] and r["button"] == "Starting…", r
    assert r["gave_up"] and open_s <= r["gave_up_s"] < REPLY_TIMEOUT_S, r
    assert r["ticks_while_starting"] > 0, r  # the GUI thread ran meanwhile
    assert not r["listening"], r
    name = (f"input device {r['device']!r}" if r["device"] is not None
            else "the default input device")
    where = f" on {r['device']}" if r["device"] else ""
    assert r["banner"] == (
        f"Cannot listen{where}: {name} did not open in {open_s:g} s (the sound system did not "
        "answer); pick another input device or check the sound server. ⟳ refreshes the list; "
        "Space tries again. Dropped files are still classified."), r
    assert r["children_after"] == 0, r  # the hung child was killed
    assert r["started_again"] and r["samples"], r
    assert r["children_gone"] and r["threads_left"] == [], r


def test_a_device_refusing_every_rate_is_one_line(monkeypatch):
    """MOCK (no real device refuses every rate): PortAudio's answer for each
    rate asked is "Invalid sample rate"."""
    sd = pytest.importorskip("sounddevice")
    from kwsapp.audio.source import FALLBACK_RATES_HZ, SoundDeviceSource
    from kwsapp.errors import DeviceError

    asked = []

    def refuse(device=None, samplerate=None, **_kwargs):
        asked.append(samplerate)
        raise sd.PortAudioError("Invalid sample rate", -9997)

    monkeypatch.setattr(sd, "query_devices", lambda *a, **k: {"name": "mic",
                                                                "default_samplerate": 22050.0})
    monkeypatch.setattr(sd, "check_input_settings", refuse)
    with pytest.raises(DeviceError) as caught:
        SoundDeviceSource("mic", rate_hz=44100)
    message = str(caught.value)
    assert message.startswith("input device 'mic' refused 44100 Hz and every other rate tried "
                              "(22050, 16000, 48000, "), message
    assert "\n" not in message and message.endswith("(PortAudio: Invalid sample rate)")
    assert asked == [44100, 22050, *[r for r in FALLBACK_RATES_HZ if r not in (44100, 22050)]]
