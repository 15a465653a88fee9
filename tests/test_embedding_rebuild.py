"""The Keras rebuild of the speech embedding against the original ONNX
network (onnxruntime), on real clips."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")

from training.models import embedding  # noqa: E402

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def clips(data_dir):
    from kwsapp.audio.io import fit_length, load_audio

    files = [sorted((data_dir / label).glob("*.wav"))[i]
             for label in ("yes", "stop", "_unknown_", "_silence_") for i in (0, 7)]
    return np.stack([fit_length(load_audio(f), 24000) for f in files])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b))


def test_embedding_count_follows_receptive_field():
    assert embedding.n_embeddings(16000) == 3
    assert embedding.n_embeddings(24000) == 10
    assert embedding.n_embeddings(32000) == 16
    assert embedding.n_embeddings(12399) == 0


def test_keras_rebuild_matches_onnxruntime_on_real_clips(clips):
    from training.models.embedding import OnnxEmbedding, build_embedding, embed_batches

    model = build_embedding(24000)
    ours = embed_batches(model, clips, batch_size=3)  # batches of 3, 3, 2
    ref = OnnxEmbedding()(clips)
    assert ours.shape == ref.shape == (len(clips), 10, 96)
    assert np.abs(ours - ref).max() < 2e-3 * np.abs(ref).max()
    for a, b in zip(ours, ref):
        assert _cosine(a, b) > 0.99999
    # A 1 s input gives the 3 embeddings of the ONNX network too.
    short = clips[:2, 4000:20000]
    np.testing.assert_allclose(embed_batches(build_embedding(16000), short),
                               OnnxEmbedding()(short), atol=2e-3 * np.abs(ref).max())


def test_front_end_constants_come_from_the_onnx_file():
    w = embedding.front_end_weights()
    assert w["dft_real"].shape == w["dft_imag"].shape == (400, 257)
    assert w["mel"].shape == (257, 32)
    assert w["log_offset"] == pytest.approx(0.001)
    # The Hann window is folded in: the first sample of each frame weighs 0.
    assert np.all(w["dft_real"][0] == 0)
