"""`kwsapp devices` without any audio device: one line, no traceback."""

from conftest import run_cli


def test_no_device_gives_one_line():
    # No JACK server (a name nobody runs, no autostart) and no ALSA cards in
    # this environment: PortAudio sees no input device.
    env = {"JACK_DEFAULT_SERVER": "kwsapp-none", "JACK_NO_START_SERVER": "1"}
    proc = run_cli("devices", env=env)
    if proc.returncode == 0:  # a machine with a real device: it is listed
        assert proc.stdout.strip()
        return
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("kwsapp:")]
    assert len(lines) == 1 and "no audio input device" in lines[0]
