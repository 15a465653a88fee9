"""Int8 embedding weights (card ``"embedding_weights": "int8"``,
training/models/embedding_int8.py): every embedding file of the artifact
and ``model.tflite`` give the same embeddings bit for bit, live equals
files, the head trains on the embeddings the runtime computes, and a card
without the key keeps the float files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from kwsapp.inference.recognizer import Recognizer  # noqa: E402
from test_engine_streaming import (_assert_live_decides_as_file, _config, _run,  # noqa: E402
                                   _whole_window, stream)  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.train, pytest.mark.slow]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A private training cache: the int8 conversions are made here once
    and shared by the two artifacts (the frozen embedding is the same)."""
    return tmp_path_factory.mktemp("int8-cache")


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "KWSAPP_CACHE_DIR": str(cache), "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def int8_dir(bundled_model_dir, data_dir, tmp_path_factory, cache, repo_root):
    """The bundled head on the int8 embedding: ``kwsapp export`` of a copy
    whose card asks for int8 (the head was trained on float embeddings, so
    it still fires on clear words: enough to compare paths)."""
    out = tmp_path_factory.mktemp("int8") / "embed"
    shutil.copytree(bundled_model_dir, out, ignore=shutil.ignore_patterns("negatives.npz"))
    card = json.loads((out / "card.json").read_text())
    assert card.get("embedding_weights", "float") == "float"  # the bundled model is float
    card["embedding_weights"] = "int8"
    (out / "card.json").write_text(json.dumps(card))
    run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(out), "--data",
                          str(data_dir), "--clips", "32", "--json"], cwd=repo_root,
                         env=_env(cache), capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    return out, json.loads(run.stdout)


@pytest.fixture(scope="module")
def int8(int8_dir):
    return Recognizer(int8_dir[0])


@pytest.fixture(scope="module")
def int8_steps(int8_dir):
    """Without its chunk file: a file runs one step per 80 ms, as live."""
    rec = Recognizer(int8_dir[0])
    rec.split.chunk = None
    return rec


def _int8_tensors(path: Path) -> int:
    from ai_edge_litert.interpreter import Interpreter

    return sum(t["dtype"] == np.int8 for t in Interpreter(model_path=str(path))
               .get_tensor_details())


def test_int8_files_give_the_same_embeddings_bit_for_bit(int8_dir, bundled_model_dir, data_dir):
    out, report = int8_dir
    split = report["split"]
    assert split["step_vs_one_shot_max_abs_diff"] == 0.0
    assert split["chunk_vs_one_shot_max_abs_diff"] == 0.0
    assert split["stream_vs_one_shot_max_abs_diff"] == 0.0
    assert split["max_abs_diff"] < 1e-5 and split["top1_agreement"] == 1.0
    # model.tflite against the Keras head on the int8 embeddings
    assert report["float"]["top1_agreement"] == 1.0 and report["float"]["max_abs_diff"] < 1e-5
    card = json.loads((out / "card.json").read_text())
    for name in ("embedding.tflite", "embedding_chunk.tflite", "embedding_step.tflite",
                 *card["streaming"]["stream"]["files"].values()):
        assert _int8_tensors(out / name) > 20, name  # every conv's weights and activations
        assert _int8_tensors(bundled_model_dir / name) == 0, name
    assert _int8_tensors(out / "head.tflite") == 0  # the head stays float
    # Not the float embeddings (else nothing here could fail), but near them.
    from conftest import real_clip
    from kwsapp.audio.io import fit_length, load_audio

    clip = fit_length(load_audio(real_clip(data_dir, "yes", 1)), 24000)
    got, want = Recognizer(out).embed(clip), Recognizer(bundled_model_dir).embed(clip)
    rel = float(np.sqrt(((got - want) ** 2).mean() / (want ** 2).mean()))
    assert 1e-3 < rel < 0.15, rel


def test_int8_streamed_probabilities_equal_whole_window_ones(int8, int8_steps, stream):
    for model in (int8, int8_steps):
        events, windows, _ = _run(model, stream, 1000, _config(int8))
        assert len(windows) > 20 and events
        ends = [int(round(w.end * 16000)) for w in windows]
        want = np.stack([int8.probabilities(_whole_window(stream, e)) for e in ends])
        np.testing.assert_allclose(np.stack([w.probs for w in windows]), want, atol=1e-5)


def test_int8_live_stream_decides_as_the_file(int8, int8_steps, stream):
    """Live (the streaming models, 1-3 embeddings a call, paced in real time)
    equals the file (the chunk model, 128 a call) to the bit."""
    _assert_live_decides_as_file(int8, int8_steps, stream[:int(4.5 * 16000)])


def test_export_int8_of_an_int8_artifact_is_refused(int8_dir, repo_root):
    run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(int8_dir[0]), "--int8"],
                         cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "already int8" in run.stderr
    assert str(int8_dir[0]) in run.stderr


def test_user_words_see_another_embedding_id(int8_dir, bundled_model_dir):
    """A word enrolled on the float embedding is told apart from the int8
    artifact's (the warning when it listens under it rests on this)."""
    from kwsapp.userwords.embedding import embedding_id

    assert embedding_id(bundled_model_dir, "embed", "embedding.tflite") != \
        embedding_id(int8_dir[0], "embed", "embedding.tflite")


def test_training_a_tiny_head_on_int8_embeddings(data_dir, tmp_path, cache, repo_root, int8_dir):
    """``kwsapp train --embedding-weights int8``: the card says so, every
    file is int8 and agrees, and the head trained on exactly what the
    runtime computes (the training's embeddings are the artifact's)."""
    out = tmp_path / "tiny-int8"
    run = subprocess.run([sys.executable, "-m", "kwsapp", "train", "--data", str(data_dir),
                          "--arch", "embed", "--out", str(out), "--config", "tiny",
                          "--embedding-weights", "int8", "--json"], cwd=repo_root,
                         env=_env(cache), capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    card = json.loads(run.stdout)
    assert card["embedding_weights"] == "int8"
    assert card["training"]["config"]["embedding_weights"] == "int8"
    split = card["export"]["split"]
    assert split["stream_vs_one_shot_max_abs_diff"] == 0.0 and split["max_abs_diff"] < 1e-5
    assert _int8_tensors(out / "embedding_stream1.tflite") > 20
    from training.export import int8_window_embeddings

    windows = np.stack([_whole_window(np.random.default_rng(k).standard_normal(40000)
                                      .astype(np.float32) * 0.1, 30000) for k in range(3)])
    trained_on = int8_window_embeddings(windows, cache=cache)  # what train computes
    rec = Recognizer(out)
    np.testing.assert_array_equal(trained_on, np.stack([rec.embed(w) for w in windows]))
    # The same network whatever the head: the bundled head's int8 artifact too.
    np.testing.assert_array_equal(trained_on, np.stack([Recognizer(int8_dir[0]).embed(w)
                                                        for w in windows]))


def test_embedding_precision_is_part_of_the_cache_key_and_embed_only():
    from kwsapp.errors import BadInputError
    from training.config import TrainConfig
    from training.models import arch_module
    from training.prepare import frontend_id

    embed = arch_module("embed")
    # float keeps the key the caches were made under
    assert frontend_id(embed, TrainConfig()) == embed.FRONTEND_ID
    assert frontend_id(embed, TrainConfig(embedding_weights="int8")) != embed.FRONTEND_ID
    for arch, weights in (("cnn", "int8"), ("embed", "int4")):
        with pytest.raises(BadInputError, match="embedding_weights"):
            frontend_id(arch_module(arch), TrainConfig(embedding_weights=weights))
