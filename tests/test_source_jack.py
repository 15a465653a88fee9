"""Real PortAudio through a JACK dummy server: a clip played into the input
reaches the engine intact, is classified, and counts no xruns; `kwsapp
listen` and `kwsapp devices` run against it. Each test runs PortAudio in a
subprocess (it reads JACK_DEFAULT_SERVER only when first imported)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO_ROOT, real_clip, run_cli, sigint_default, sure_clips

pytestmark = pytest.mark.jack


def verifier_installed() -> bool:
    from kwsapp.inference.verifier import model_dir

    return model_dir() is not None


def _play(env, model, clips, timeout=90):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "jack_play.py"),
                           "--model", str(model), "--clip", *map(str, clips)],
                          cwd=REPO_ROOT, env=dict(os.environ, **env), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _overloaded() -> str | None:
    """Why xruns cannot be expected now (None: normal load). The dummy JACK
    server runs without real-time priority, so a machine busy with other
    work makes it miss periods whatever the client does."""
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    return f"load average {load:.1f} on {cores} cores" if load > cores else None


@pytest.fixture(scope="module")
def tiny_run(jack_server, tiny_model, data_dir):
    load_before = _overloaded()
    result = _play(jack_server, tiny_model, [real_clip(data_dir, "stop", 2)])
    return result, load_before or _overloaded()


def test_played_clip_reaches_the_engine_through_portaudio(tiny_run):
    result, _ = tiny_run
    assert result["similarity"] > 0.99, result  # the samples arrive as played
    assert result["windows"] >= 3  # the gate opened on the word
    assert result["dropped"] == 0 and result["overruns"] == 0
    assert result["threads_left"] == []


def test_no_xruns_at_normal_load(tiny_run):
    result, overload = tiny_run
    if overload:
        pytest.skip(f"xruns not checked: {overload} (the run counted {result['xruns']})")
    assert result["xruns"] == 0


def test_bundled_model_hears_stop_then_stop_again_through_portaudio(jack_server, bundled_model_dir,
                                                                     data_dir):
    clips = list(sure_clips(bundled_model_dir, data_dir, "stop", 2))
    result = _play(jack_server, bundled_model_dir, clips)
    labels = [e["label"] for e in result["events"]]
    assert labels == ["stop", "stop"], result
    if verifier_installed():  # the card's second opinion heard both, on its own thread
        assert result["checked"] == 2 and result["unverified"] == 0, result
        assert "kwsapp-verify" in result["threads_running"], result
    for event, word_start in zip(result["events"], result["word_starts"]):
        assert word_start - 0.1 <= event["start"] and event["end"] <= word_start + 1.1, result
    assert result["dropped"] == 0


def test_devices_lists_the_jack_input(jack_server):
    proc = run_cli("devices", env=jack_server)
    assert proc.returncode == 0, proc.stderr
    assert "*" in proc.stdout and "JACK" in proc.stdout


def _listen_then(env, model, action, timeout=20):
    """Start `kwsapp listen`, wait for its "listening on" line, run
    ``action()``, wait for the exit; returns ``(exit code, stderr)``."""
    proc = subprocess.Popen([sys.executable, "-m", "kwsapp", "listen", "--model", str(model),
                             "--threshold", "0.9"], cwd=REPO_ROOT,
                            env=dict(os.environ, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("listening on" in ln for ln in lines) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("listening on" in ln for ln in lines), lines
        time.sleep(1.0)
        action(proc)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    return proc.returncode, "".join(lines)


def test_listen_runs_until_ctrl_c_and_exits_cleanly(jack_server, tiny_model):
    code, err = _listen_then(jack_server, tiny_model, lambda p: p.send_signal(signal.SIGINT))
    assert code == 0, err
    assert "Traceback" not in err and "stopped:" in err


def test_listen_with_an_unknown_device_is_one_line(jack_server, tiny_model):
    proc = run_cli("listen", "--model", str(tiny_model), "--device", "no-such-device",
                   env=jack_server)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "no-such-device" in proc.stderr
    assert "`kwsapp devices` lists the inputs" in proc.stderr
    # An index past the last device: PortAudio's "Error querying device 99"
    # alone said nothing of where the indices are listed.
    proc = run_cli("listen", "--model", str(tiny_model), "--device", "99", env=jack_server)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "input device 99" in proc.stderr and "`kwsapp devices` lists" in proc.stderr
