"""The embed head's "window_mean" (training/models/embed_head.py, on by
default): the head also reads each embedding minus the window's mean, and
the runtime runs it (LiteRT, builtin ops, the same numbers as Keras)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")


def test_the_window_mean_option_converts_and_reads_the_centred_window(tmp_path):
    from kwsapp.models.artifact import TfliteModel
    from training.export import to_tflite
    from training.models import embed_head

    assert embed_head.DEFAULTS["window_mean"] and embed_head.TINY["window_mean"]
    plain = embed_head.build({**embed_head.TINY, "window_mean": False}, 12)
    head = embed_head.build(embed_head.TINY, 12)
    assert head.get_layer("norm").input.shape[-1] == 2 * 96  # as heard, and centred
    assert plain.get_layer("norm").input.shape[-1] == 96
    x = np.random.default_rng(0).standard_normal((5, 10, 96)).astype(np.float32)
    want = np.asarray(head.predict(x, verbose=0))
    path = tmp_path / "head.tflite"
    path.write_bytes(to_tflite(head, batch=None))
    got = TfliteModel(path).invoke_batch(x)
    np.testing.assert_allclose(got.reshape(want.shape), want, atol=1e-5)
    # The centred half sees only what changes within the window: the same
    # offset added to every embedding moves it not at all.
    probe = head.get_layer("centred")
    import keras

    centred = keras.Model(head.inputs, probe.output)
    np.testing.assert_allclose(centred.predict(x + 3.0, verbose=0), centred.predict(x, verbose=0),
                               atol=1e-5)
