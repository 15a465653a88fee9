"""`kwsapp export` on a tiny trained artifact: float and int8 .tflite, TFLite
vs Keras agreement on real validation clips; the float embed model against
the original ONNX embedding."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import _train_support as support
from conftest import cluttered_cnn

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_export_cli_float_and_int8_agree_with_keras(conversions, tiny_embed_run):
    out = tiny_embed_run.out
    run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(out), "--int8",
                          "--clips", "24", "--json"], cwd=support.REPO_ROOT,
                         env=support.training_env(conversions), capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["float"]["top1_agreement"] >= 0.99 and report["float"]["n"] == 24
    assert report["float"]["max_abs_diff"] < 1e-3
    assert "accuracy_change" in report["int8"]
    assert report["int8"]["size_bytes"] < report["float"]["size_bytes"]
    assert (out / "model_int8.tflite").is_file()


def test_exported_embedding_matches_onnx(data_dir, tmp_path):
    """The embedding part of the .tflite (builtin ops only) against
    onnxruntime on real clips."""
    from ai_edge_litert.interpreter import Interpreter

    from kwsapp.audio.io import fit_length, load_audio
    from training.export import write_tflite
    from training.models.embedding import OnnxEmbedding, build_embedding

    path = write_tflite(build_embedding(24000), tmp_path / "emb.tflite")
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    ops = {d["op_name"] for d in interp._get_ops_details()}
    assert not ops & {"FLEX", "CUSTOM", "WHILE"}, ops
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    files = [sorted((data_dir / w).glob("*.wav"))[3] for w in ("go", "off", "_unknown_")]
    clips = np.stack([fit_length(load_audio(f), 24000) for f in files])
    ref = OnnxEmbedding()(clips)
    for clip, want in zip(clips, ref):
        interp.set_tensor(inp["index"], clip[None])
        interp.invoke()
        got = interp.get_tensor(outp["index"])[0]
        assert np.abs(got - want).max() < 2e-3 * np.abs(want).max()


def test_export_without_keras_model_is_bad_input(tmp_path):
    (tmp_path / "card.json").write_text(json.dumps({
        "labels": ["a", "b"], "sample_rate_hz": 16000, "window_ms": 1000,
        "input": {"kind": "waveform"}}))
    run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(tmp_path)],
                         cwd=support.REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "no model.keras" in run.stderr


def test_export_of_a_path_that_is_no_folder_says_so(tmp_path):
    (tmp_path / "file").write_text("x")
    for path, problem in ((tmp_path / "nosuch", "no such folder"),
                          (tmp_path / "file", "not a folder")):
        run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(path)],
                             cwd=support.REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and f"{path}: {problem}" in run.stderr, run.stderr
        assert "no card.json)" not in run.stderr


def test_corrupt_keras_model_is_bad_input(data_dir, repo_root, tmp_path):
    """export and evaluate --keras on a model.keras that is not one: the
    file named and what is wrong (Keras itself says "File not found")."""
    art = tmp_path / "badk"
    art.mkdir()
    shutil.copy(repo_root / "assets" / "models" / "cnn" / "card.json", art)
    (art / "model.keras").write_text("junk\n")
    for cmd in (["export", str(art), "--data", str(data_dir), "--clips", "1"],
                ["evaluate", "--keras", "--model", str(art), str(data_dir), "--per-class", "1"]):
        run = subprocess.run([sys.executable, "-m", "kwsapp", *cmd], cwd=support.REPO_ROOT,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 2, run.stderr[-3000:]
        assert f"{art / 'model.keras'}: not a loadable Keras model" in run.stderr
        assert "Traceback" not in run.stderr and "File not found" not in run.stderr
    # export says so before it looks for the check clips (reading them took
    # seconds before the model was found broken).
    run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(art), "--data",
                          str(tmp_path / "no such data")], cwd=support.REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "not a loadable Keras model" in run.stderr, run.stderr[-3000:]


def test_evaluate_keras_flag_scores_like_the_tflite(data_dir, conversions, tiny_embed_run):
    out = tiny_embed_run.out
    results = {}
    for extra in ([], ["--keras"]):
        run = subprocess.run([sys.executable, "-m", "kwsapp", "evaluate", str(data_dir),
                              "--model", str(out), "--per-class", "2", "--json", *extra],
                             cwd=support.REPO_ROOT, env=support.training_env(conversions),
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        results[bool(extra)] = json.loads(run.stdout)
    assert results[True]["n"] == results[False]["n"] == 24
    keras_m = np.array(results[True]["confusion"]["matrix"])
    tflite_m = np.array(results[False]["confusion"]["matrix"])
    assert np.abs(keras_m - tflite_m).sum() <= 2  # at most one clip classified otherwise


def test_export_removes_an_earlier_artifacts_files_the_card_does_not_name(
        data_dir, repo_root, tmp_path, monkeypatch, capsys):
    """A cnn folder that an older kwsapp trained over an embed artifact kept
    the embed's split files and head beside the cnn card; exporting it
    removes them, keeps model_int8.tflite (an export of its model.keras)
    and the user's own files."""
    from kwsapp.cli import main

    art = tmp_path / "cnn"
    shutil.copytree(repo_root / "assets" / "models" / "cnn", art)
    embed = repo_root / "assets" / "models" / "embed"
    for name in ("head.tflite", "embedding.tflite", "embedding_step.tflite",
                 "embedding_stream2.tflite"):
        shutil.copy(embed / name, art / name)
    (art / "model_int8.tflite").write_bytes((art / "model.tflite").read_bytes())
    (art / "embedding_notes.tflite").write_text("mine")
    monkeypatch.setenv("KWSAPP_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["export", str(art), "--data", str(data_dir), "--clips", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["float"]["n"] == 8
    assert sorted(p.name for p in art.iterdir()) == [
        "card.json", "embedding_notes.tflite", "model.keras", "model.tflite",
        "model_int8.tflite"]


def _files(folder):
    """Every file under ``folder`` (its staging folder aside) -> sha256."""
    import hashlib

    from kwsapp.models.artifact import STAGING_DIR

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and STAGING_DIR not in p.relative_to(folder).parts}


def _classify(artifact, data_dir):
    """The runtime loads ``artifact`` and classifies a real clip."""
    from kwsapp.audio.io import load_audio
    from kwsapp.inference.recognizer import Recognizer

    rec = Recognizer(artifact)
    return rec.probabilities(load_audio(sorted((data_dir / "yes").glob("*.wav"))[0]))


def test_an_export_stopped_part_way_leaves_one_whole_model_and_the_next_run_finishes_it(
        data_dir, tmp_path):
    """`kwsapp export --int8` of a cnn folder, SIGKILLed by
    tests/kill_at_rename_run.py at a chosen rename:

    1. while it writes the new files (before model_int8.tflite lands in the
       staging folder): the folder is as it was, its model loads and
       classifies as before;
    2. half way through putting them in place (model.tflite in, then
       killed): the folder holds no card, and the runtime says a model is
       being put in place instead of loading the earlier card with the new
       files;
    3. the next run (one that then stops on a missing --data) finishes the
       swap first: the folder holds what run 2 had staged, whole, none of
       the earlier artifact's other files, and the user's files;
    4. a whole export then replaces that model completely."""
    from kwsapp.errors import ModelError
    from kwsapp.inference.recognizer import Recognizer
    from kwsapp.models.artifact import STAGING_DIR, SWAP_FILE

    art = cluttered_cnn(tmp_path / "cnn")
    env = support.env(tmp_path / "cache")
    export = ["kwsapp", "export", str(art), "--int8", "--data", str(data_dir), "--clips", "8"]

    def killed(nth, folder):
        run = subprocess.run([sys.executable, str(support.REPO_ROOT / "tests" /
                                                  "kill_at_rename_run.py"), str(nth),
                              str(folder), *export], cwd=support.REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == -9, run.stderr[-3000:]
        where = [line for line in run.stderr.splitlines() if line.startswith("kill_at_rename:")]
        assert len(where) == 1, run.stderr[-3000:]
        return run.stderr, where[0]

    before, probs = _files(art), _classify(art, data_dir)
    said, where = killed(2, art / STAGING_DIR)  # 1: model.tflite staged, model_int8 not
    assert where.endswith(str(art / STAGING_DIR / "model_int8.tflite"))
    assert sorted(p.name for p in (art / STAGING_DIR).iterdir()
                  if not p.name.startswith(".tmp-")) == ["card.json", "model.keras",
                                                         "model.tflite"]
    assert _files(art) == before
    np.testing.assert_array_equal(_classify(art, data_dir), probs)

    said, where = killed(2, art)  # 2: model.tflite moved in, model_int8.tflite not
    assert "removed the unfinished model a stopped run left" in said
    assert where.endswith(f"-> {art / 'model_int8.tflite'}")
    staged = _files(art / STAGING_DIR)
    assert set(staged) == {"card.json", "model.keras", "model_int8.tflite", SWAP_FILE}
    assert not (art / "card.json").exists() and not (art / "head.tflite").exists()
    with pytest.raises(ModelError, match="a new model is being put in place here"):
        Recognizer(art)

    run = subprocess.run([sys.executable, "-m", *export[:-4], "--data",
                          str(tmp_path / "no such data")], cwd=support.REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=600)  # 3
    assert run.returncode == 2 and "no such data" in run.stderr, run.stderr[-3000:]
    assert "that is now done (the new model is in place)" in run.stderr
    after = _files(art)
    assert sorted(after) == ["card.json", "model.keras", "model.tflite", "model_int8.tflite",
                             "notes.txt", "runs/model.tflite"]
    assert {n: after[n] for n in ("card.json", "model_int8.tflite")} == {
        n: staged[n] for n in ("card.json", "model_int8.tflite")}
    for name in ("model.keras", "card.json", "notes.txt", "runs/model.tflite"):
        assert after[name] == before[name]  # the export's card: the earlier one's copy
    assert not (art / STAGING_DIR).exists()
    np.testing.assert_allclose(_classify(art, data_dir), probs, atol=1e-5)

    inode = (art / "model.tflite").stat().st_ino
    run = subprocess.run([sys.executable, "-m", *export, "--json"], cwd=support.REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=600)  # 4
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["float"]["top1_agreement"] >= 0.99
    assert sorted(_files(art)) == sorted(after)
    assert (art / "model.tflite").stat().st_ino != inode
    np.testing.assert_allclose(_classify(art, data_dir), probs, atol=1e-5)


def test_a_full_disk_during_export_leaves_the_model_whole(data_dir, repo_root, tmp_path):
    """The model folder on a real tmpfs with room for it and 256 kB more
    (needs root to mount; skipped otherwise): the export's model.tflite
    (441 kB) does not fit. One clear line, exit 1, and the folder as it
    was, its model loading as before, no staging folder left."""
    from kwsapp.models.artifact import STAGING_DIR

    mount = tmp_path / "small"
    mount.mkdir()
    cnn = repo_root / "assets" / "models" / "cnn"
    size = sum(-(-p.stat().st_size // 4096) * 4096 for p in cnn.iterdir()) + 5 * 4096
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size + 256 * 1024}", "tmpfs",
                         str(mount)], capture_output=True).returncode == 0
    if not ok:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        art = mount / "cnn"
        shutil.copytree(cnn, art)
        (art / "notes.txt").write_text("mine")
        before, probs = _files(art), _classify(art, data_dir)
        run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(art), "--data",
                              str(data_dir), "--clips", "8"], cwd=support.REPO_ROOT,
                             env=support.env(tmp_path / "cache"), capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 1, run.stderr[-3000:]
        assert "DiskFullError" in run.stderr and "disk full" in run.stderr
        assert "Traceback" not in run.stderr
        assert _files(art) == before
        assert not (art / STAGING_DIR).exists()
        np.testing.assert_array_equal(_classify(art, data_dir), probs)
    finally:
        subprocess.run(["umount", str(mount)], check=False)
