"""Real tiny training runs: artifact and card, resume after SIGKILL, a clear
error on a full disk, mirrored training on two logical CPU devices."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kwsapp import LABELS
import _train_support as support

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_killed_run_resumes_from_its_last_checkpoint(tiny_embed_run):
    """Four SIGKILLs at seeded-random moments (tests/_train_support.py):
    each re-run of the same command resumes from the last whole checkpoint
    and says so, no checkpoint file is ever half-written, and the last run
    finishes with the same history as if it had never been killed. Killed
    while it wrote the artifact (in the staging folder), a run left the
    output folder without a card; the next deleted that staging folder.
    Killed while it put the artifact in place, a run left some of its files
    in the folder, the rest staged and no card (nothing the runtime loads);
    the next finished putting it in place before it resumed."""
    from kwsapp.models.artifact import STAGING_DIR, SWAP_FILE

    out, kills, final_log = tiny_embed_run
    assert [k.kind for k in kills] == ["checkpoint write", "epoch", "export", "swap"]
    # At least one kill cut a write in the middle (its partial file was
    # still there): the moments the atomic writes exist for.
    assert any(k.interrupted for k in kills), [k[:3] for k in kills]
    next_logs = [k.log for k in kills[1:]] + [final_log]
    for kill, log in zip(kills, next_logs):
        assert kill.state is not None, f"no whole checkpoint after the {kill.kind} kill"
        assert kill.whole[kill.state["model"]].startswith("zip")
        assert support.resumed_epoch(log) == kill.state["epoch"] + 1, (kill[:4], log[-2000:])
    export, swap = kills[2], kills[3]
    assert "card.json" not in export.files and export.staged and SWAP_FILE not in export.staged
    assert "removed the unfinished model a stopped run left" in next_logs[2]
    assert "card.json" not in swap.files and {SWAP_FILE, "card.json"} <= set(swap.staged)
    assert {n for n in swap.files if n.endswith(".tflite")}, swap.files  # half way
    assert "that is now done (the new model is in place)" in next_logs[3]
    assert not (out / STAGING_DIR).exists()
    card = json.loads((out / "card.json").read_text())
    history = card["training"]["history"]
    # Epochs done before each kill are kept, not run again.
    for kill in kills:
        assert history[:len(kill.state["history"])] == kill.state["history"]
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    # Every epoch ran (no early stopping), and the weights are the mean of
    # the last two: each counted once, whatever the kills interrupted.
    assert len(history) == support.TINY_EPOCHS
    assert card["training"]["averaged_epochs"] == [support.TINY_EPOCHS - 1, support.TINY_EPOCHS]
    assert not (out / ".checkpoint").exists()  # cleaned up after success
    # Partial files the kills left (.tmp-*) are gone too.
    assert not [p.name for p in out.rglob(".tmp-*")]


def test_resumed_run_is_the_run_never_killed(tiny_embed_run, data_dir, tmp_path, conversions):
    """The killed-and-resumed run ends with the history and figures of the
    same command run without a kill. A model loaded from a checkpoint once
    drew new dropout masks (Keras saves no generator state), so every epoch
    after a resume differed from the run it resumed."""
    out = tmp_path / "never_killed"
    cmd = support.train_cmd(data_dir, out, "--epochs", str(support.TINY_EPOCHS),
                            "--average-last", "2")
    run = subprocess.run(cmd, cwd=support.REPO_ROOT, env=support.training_env(conversions),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    killed = json.loads((tiny_embed_run.out / "card.json").read_text())
    never = json.loads((out / "card.json").read_text())
    assert killed["training"]["history"] == never["training"]["history"]
    assert killed["metrics"]["validation"] == never["metrics"]["validation"]


def test_tiny_embed_artifact_and_card(tiny_embed_run, data_dir):
    from kwsapp.audio.io import load_audio
    from kwsapp.inference.recognizer import Recognizer

    out = tiny_embed_run.out
    assert {p.name for p in out.iterdir()} >= {"model.keras", "model.tflite", "card.json",
                                               "embedding.tflite", "embedding_step.tflite",
                                               "embedding_chunk.tflite", "head.tflite",
                                               "embedding_stream1.tflite",
                                               "embedding_stream3.tflite"}
    card = json.loads((out / "card.json").read_text())
    assert card["labels"] == list(LABELS)
    assert card["input"] == {"kind": "waveform", "sample_rate_hz": 16000}
    assert card["window_ms"] == 1500 and card["hop_ms"] == 80  # streamed: one head per embedding
    assert card["streaming"]["head"]["frames"] == 10  # split for streaming (docs/contracts.md 1)
    assert card["export"]["split"]["max_abs_diff"] < 1e-4
    assert "speaker-disjoint" in card["training"]["split"]
    assert set(card["metrics"]["validation"]["per_class"]) <= set(LABELS)
    assert card["metrics"]["validation"]["confusion"]["labels"] == list(LABELS)
    assert card["export"]["float"]["top1_agreement"] >= 0.99
    assert card["code_version"] != "unknown"
    val = set(card["training"]["validation_speakers"])
    assert val and not val & {c for c in card["training"]["validation_speakers"]
                              if c in _train_speakers(data_dir)}
    rec = Recognizer.load(out)
    clip = load_audio(sorted((data_dir / "yes").glob("*.wav"))[0])
    probs = rec.probabilities(clip)
    assert probs.shape == (12,) and abs(float(probs.sum()) - 1) < 1e-4
    from kwsapp.audio.io import fit_length

    window = fit_length(clip, 24000)
    assert abs(rec.head(rec.embed(window)[None])[0] - probs).max() < 1e-4


def _train_speakers(data_dir: Path) -> set[str]:
    from training import data

    return {c.speaker for c in data.split_clips(data_dir)["train"] if c.speaker}


def test_full_disk_gives_a_clear_error(data_dir, tmp_path, conversions):
    """Checkpoints go to a real 64 kB tmpfs (needs root to mount; skipped
    otherwise, the /dev/full test below still runs)."""
    mount = tmp_path / "small"
    mount.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                        capture_output=True).returncode == 0
    if not ok:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        run = subprocess.run(support.train_cmd(data_dir, mount / "out", "--epochs", "1"),
                             cwd=support.REPO_ROOT, env=support.training_env(conversions),
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 1, run.stderr[-2000:]
        assert "DiskFullError" in run.stderr and "disk full" in run.stderr
        assert "Traceback" not in run.stderr
        leftovers = [p.name for p in (mount / "out").rglob("*") if p.name.startswith(".tmp-")]
        assert not leftovers
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_atomic_write_reports_enospc_from_dev_full(tmp_path):
    from kwsapp.atomic import write_atomic
    from kwsapp.errors import DiskFullError

    target = tmp_path / "ckpt.bin"
    target.write_bytes(b"previous")

    def to_dev_full(path: Path) -> None:
        with open("/dev/full", "wb") as f:  # the kernel answers ENOSPC
            f.write(b"x" * 65536)
            f.flush()

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with pytest.raises(DiskFullError, match="disk full"):
        write_atomic(target, to_dev_full)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.bin"]


def test_mirrored_training_on_two_logical_cpus(data_dir, tmp_path, conversions, repo_root):
    """Also: the run writes over a `cnn` artifact that `kwsapp export --int8`
    had given a model_int8.tflite: that int8 model of the earlier network
    goes (it once stayed beside the new embed model), the user's file stays."""
    import shutil

    out = tmp_path / "mirrored"
    shutil.copytree(repo_root / "assets" / "models" / "cnn", out)
    shutil.copy(out / "model.tflite", out / "model_int8.tflite")
    (out / "notes.txt").write_text("mine")
    run = subprocess.run(support.train_cmd(data_dir, out, "--epochs", "1", "--cpu-devices", "2"),
                         cwd=support.REPO_ROOT, env=support.training_env(conversions),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "MirroredStrategy" in run.stderr and "CPU:1" in run.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["epochs_run"] == 1
    assert "removed the earlier artifact's model_int8.tflite" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        {"notes.txt", "card.json", "model.keras", "model.tflite", "head.tflite",
         "embedding.tflite", "embedding_step.tflite", "embedding_chunk.tflite",
         "embedding_stream1.tflite", "embedding_stream2.tflite", "embedding_stream3.tflite"})


@pytest.mark.parametrize("arch", ["cnn", "wavception"])
def test_tiny_run_of_the_from_scratch_nets(arch, data_dir, tmp_path, conversions,
                                           bundled_model_dir):
    """`cnn` trains into a folder that held an `embed` artifact (the bundled
    one, with an `export --int8` file) and the user's own files: the folder
    then holds the new artifact and the user's files, none of the embed's
    (its split files and head once stayed beside the new card).
    `wavception` trains into a folder of the user's that held no artifact
    (no card): its files named like an artifact's are the user's, and stay."""
    import shutil

    from kwsapp.audio.io import load_audio
    from kwsapp.inference.recognizer import Recognizer

    out = tmp_path / arch
    if arch == "cnn":
        shutil.copytree(bundled_model_dir, out)
        shutil.copy(bundled_model_dir / "model.tflite", out / "model_int8.tflite")
    else:
        out.mkdir()
        for name in ("head.tflite", "model_int8.tflite"):
            (out / name).write_text("mine")
    (out / "notes.txt").write_text("mine")
    (out / "runs").mkdir()
    (out / "runs" / "head.tflite").write_text("mine too")
    earlier = {p.name for p in out.iterdir()}
    cmd = support.train_cmd(data_dir, out, "--epochs", "1")
    cmd[cmd.index("embed")] = arch
    run = subprocess.run(cmd, cwd=support.REPO_ROOT, env=support.training_env(conversions),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # Keras's "`shuffle=True` was passed, but will be ignored" once came with every run.
    assert "UserWarning" not in run.stderr, run.stderr[-3000:]
    card = json.loads((out / "card.json").read_text())
    assert card["arch"] == arch and card["window_ms"] == 1000
    assert card["export"]["float"]["top1_agreement"] >= 0.99
    left = sorted(p.name for p in out.iterdir())
    if arch == "cnn":
        # negatives.npz is made apart from training (training/user_negatives.py): kept.
        assert {"embedding.tflite", "head.tflite", "negatives.npz"} <= earlier
        assert left == ["card.json", "model.keras", "model.tflite", "negatives.npz",
                        "notes.txt", "runs"]
    else:
        assert left == ["card.json", "head.tflite", "model.keras", "model.tflite",
                        "model_int8.tflite", "notes.txt", "runs"]
        assert (out / "head.tflite").read_text() == "mine"
    assert (out / "runs" / "head.tflite").read_text() == "mine too"
    rec = Recognizer.load(out)
    probs = rec.probabilities(load_audio(sorted((data_dir / "no").glob("*.wav"))[0]))
    assert probs.shape == (12,) and abs(float(probs.sum()) - 1) < 1e-4


def test_unknown_oversampling_repeats_only_unknown_clips():
    from training.config import TrainConfig
    from training import train as tr
    from training.models import embed_head
    from training.prepare import Prepared

    y = np.array([LABELS.index(lab) for lab in ("yes", "unknown", "no", "unknown", "silence")])
    x = np.arange(len(y), dtype=np.float32)[None, :, None]  # one copy, value = clip index
    prep = Prepared(x, y, x[0], y, x[0], y, {}, x[0])
    xs, ys = tr._epoch_arrays(prep, 0, TrainConfig(unknown_oversample=3), embed_head)
    counts = np.bincount(xs[:, 0].astype(int), minlength=len(y))
    assert counts.tolist() == [1, 3, 1, 3, 1]
    assert (ys == y[xs[:, 0].astype(int)]).all()


def test_averaged_weights_count_each_epoch_once_across_a_kill(tmp_path):
    """The running mean of ``average_last_epochs`` (a real Keras model):
    a run killed after an epoch's mean was written but before the state
    named it resumes from the previous mean, so that epoch is not counted
    twice; the result is the plain mean of the epochs' weights."""
    import keras
    import numpy as np

    from training.checkpoint import (STATE_FILE, add_to_average, read_checkpoint_state,
                                     write_checkpoint)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    state = {"epoch": -1, "history": [], "fingerprint": "f", "model": None}
    seen = []
    for epoch, value in enumerate((1.0, 2.0, 6.0)):
        weights = [np.full_like(w, value + i) for i, w in enumerate(model.get_weights())]
        model.set_weights(weights)
        seen.append(weights)
        add_to_average(model, ckpt, state, epoch)
        if epoch == 1:  # killed before the state names epoch 2's mean
            state = read_checkpoint_state(ckpt, "f")
            assert state["averaged"] == 1
            add_to_average(model, ckpt, state, epoch)  # the resumed run redoes epoch 2
        write_checkpoint(model, ckpt, state, epoch)
    assert state["averaged"] == 3
    with np.load(ckpt / state["average"]) as saved:
        got = [saved[f"w{i}"] for i in range(len(saved.files))]
    for i, w in enumerate(got):
        np.testing.assert_allclose(w, np.mean([s[i] for s in seen], 0), rtol=1e-6)
    assert (ckpt / STATE_FILE).is_file()
