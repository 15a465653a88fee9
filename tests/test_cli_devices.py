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


def test_enrol_record_without_a_device_says_so_before_the_countdown(tmp_path):
    """No "3… 2… 1… say the word now" when there is nothing to record from."""
    import pytest

    env = {"JACK_DEFAULT_SERVER": "kwsapp-none", "JACK_NO_START_SERVER": "1"}
    if run_cli("devices", env=env).returncode == 0:
        pytest.skip("this machine has an input device: the countdown is right here")
    proc = run_cli("enrol", "mine", "--record", "3",
                   env={**env, "KWSAPP_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2 and "no audio input device" in proc.stderr, proc.stderr
    assert "take 1/3" not in proc.stderr and "say the word" not in proc.stderr
    assert not (tmp_path / "home" / "words").exists()
