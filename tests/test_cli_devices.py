"""`kwsapp devices` without any audio device, or on a sound server that
answers nobody: one line, no traceback, exit 2."""

import pytest

from conftest import capture_children, run_cli


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


@pytest.mark.jack
def test_a_sound_server_that_answers_nobody_is_given_up(frozen_jack):
    """Real parts: a JACK dummy server frozen with SIGSTOP answers nobody,
    and PortAudio's start hangs on it for ever (`kwsapp devices` hung: it
    started PortAudio in its own process). The devices are listed by a
    fresh PortAudio in a child process, killed after the config's
    device_list_timeout_s: one line saying so, exit 2, no child left. Once
    the server answers again, the same command lists its input."""
    from kwsapp.config import AudioConfig

    server = frozen_jack.env["JACK_DEFAULT_SERVER"]
    frozen_jack.freeze()
    try:
        proc = run_cli("devices", env=frozen_jack.env, timeout=120)
        left = capture_children(server, "kwsapp.audio.portaudio_child")
    finally:
        frozen_jack.thaw()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("kwsapp:")]
    limit = AudioConfig().device_list_timeout_s
    assert lines == [f"kwsapp: DeviceError: the sound system did not list its input devices "
                     f"in {limit:g} s: PortAudio hangs starting (a sound server that stopped "
                     "answering, such as a JACK server?); restart it, then try again"], lines
    assert left == []
    again = run_cli("devices", env=frozen_jack.env)
    assert again.returncode == 0 and "system" in again.stdout, again.stderr
