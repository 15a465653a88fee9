"""The soak's 60 s version (`make soak` runs 30 minutes; figures in
docs/reliability.md): `kwsapp listen` on a JACK dummy server, real clips
played at random moments. No command doubled; none lost unless the run
reports xruns or dropped windows that explain it; resident memory flat
within 5 % after warm-up; listen ends cleanly on Ctrl-C. And why a clip
found offline can be missed live: its phase on the model's grids."""

from __future__ import annotations

from dataclasses import replace

import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.mark.jack
def test_listen_soak_60s(jack_server, bundled_model_dir, data_dir):
    # A subprocess: PortAudio binds to a JACK server once per process.
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "soak.py"), "--minutes",
                           "1", "--model", str(bundled_model_dir), "--data", str(data_dir),
                           "--seed", "1", "--per-label", "1"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["exit_code"] == 0, result["stderr_tail"]
    assert "Traceback" not in result["stderr_tail"]
    assert result["played"] >= 8 and result["events"] >= 1, result
    assert result["doubled"] == 0, result
    assert result["rss_growth"] is not None and result["rss_growth"] < 0.05, result
    explained = (result["xruns"] or 0) + (result["dropped_windows"] or 0) > 0
    # The truth holds only clips found at every phase on the model's grids
    # (tests/soak.py offline_truth), so a clip lost without an xrun or a
    # dropped window is the live pipeline's fault.
    assert explained or result["lost"] == 0, {k: v for k, v in result.items()
                                              if k != "stderr_tail"}


def test_a_stream_finds_in_each_clip_what_the_clip_alone_gives(bundled_model_dir, data_dir):
    """What explained the soak's lost clip (docs/reliability.md): a word near
    its threshold is found at some phases of the 80 ms embedding grid (and
    the 30 ms VAD frames) and not at others; the live pipeline adds nothing.
    Clips played 1.5-6 s apart in one stream, embedded step by step as live,
    each give exactly what the clip alone gives at the same phase (found,
    missed or doubled): the gate, the smoother and the embedding ring carry
    nothing from one word to the next that changes what is found."""
    import numpy as np

    from kwsapp.audio.io import load_audio
    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine
    from kwsapp.inference.recognizer import load_with_config
    import soak

    recognizer, config = load_with_config(bundled_model_dir)
    # The head's pipeline alone: the recogniser's second opinion hears a
    # clip alone and in a stream through different audio (tests/test_verifier.py).
    config = replace(config, verify=replace(config.verify, enabled=False))
    cycle, step, sr = soak.phase_cycle(config), soak.PHASE_STEP, soak.SR
    # Two clips this model finds at only some phases, three it finds at all
    # (looked for among the last clips of seven commands, in this order, until
    # there are enough: which ones depends on the model; the window-mean
    # model's second is a "yes").
    mixed, steady = [], []
    for word, n in (("stop", 6), ("go", 4), ("no", 4), ("left", 4), ("up", 4), ("yes", 4),
                    ("off", 4)):
        for f in sorted((data_dir / word).glob("*.wav"))[-n:]:
            if len(mixed) >= 2 and len(steady) >= 3:
                break
            outcomes = soak.phase_outcomes(recognizer, config, load_audio(f))
            if all(o == [word] for o in outcomes):
                steady.append((f, outcomes))
            elif any(o == [word] for o in outcomes):
                mixed.append((f, outcomes))
    if len(mixed) < 2 or len(steady) < 3:
        pytest.skip(f"the bundled model found {len(mixed)} clips of 30 at only some phases and "
                    f"{len(steady)} at all: too few to show that a miss is the phase's")
    picked = mixed[:2] + steady[:3]
    files = [f for f, _ in picked]
    clips = [load_audio(f) for f in files]
    alone = [o for _, o in picked]
    rng = np.random.default_rng(3)
    schedule, pos = [], 2 * sr
    for _ in range(30):
        i = int(rng.integers(len(clips)))
        pos = pos // step * step  # on the phases tried alone
        schedule.append((pos, i))
        pos += len(clips[i]) + int(rng.uniform(1.5, 6.0) * sr)
    audio = np.zeros(pos + 2 * sr, np.float32)
    for start, i in schedule:
        audio[start:start + len(clips[i])] = clips[i]
    recognizer, config = load_with_config(bundled_model_dir)
    recognizer.split.chunk = None  # embedded step by step, as a live stream is
    events = Engine(recognizer, config, FileSource(audio, 256)).run()
    got = [[e.label for e in events if start <= e.end * sr < start + len(clips[i]) + sr]
           for start, i in schedule]
    want = [alone[i][start % cycle // step] for start, i in schedule]
    assert got == want
    assert len(events) == sum(map(len, got))  # no event outside a clip
    assert any(w != [files[i].parent.name] for w, (_, i) in zip(want, schedule)), \
        "no played phase misses: the test would not show a miss is the phase's"


def test_a_command_counts_for_the_clip_it_follows_not_an_earlier_one():
    """Two "yes" clips 2.6 s apart, each heard 1.06 s after it starts (the
    30-minute soak of 2026-11-29): each is found once, none doubled or lost;
    a command after the next clip started is not the earlier clip's."""
    from soak import score

    played = [{"label": "yes", "start": 376.576, "end": 377.576},
              {"label": "yes", "start": 379.148, "end": 380.148}]
    arrivals = [(377.636, "yes"), (380.196, "yes")]
    result = score(played, arrivals, [], "", 0, 10.0)
    assert [c["found"] for c in played] == [1, 1]
    assert (result["lost"], result["doubled"], result["stray"]) == (0, 0, 0)
    # A second command inside the first clip's own span is still a double.
    result = score([dict(c) for c in played], [(377.636, "yes"), (378.9, "yes")], [], "", 0,
                   10.0)
    assert (result["lost"], result["doubled"]) == (1, 1)
