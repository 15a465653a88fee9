"""The notes' two nets, real TensorFlow on their TINY configs: shapes, a few
training steps that lower the loss, the front end the card names, and a
TFLite conversion with builtin ops only that agrees with Keras."""

from __future__ import annotations

import numpy as np
import pytest

from kwsapp import LABELS, features
from training.models import arch_module
from training.prepare import frontend_of

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

ARCHS = ("cnn", "wavception")
N_CLASSES = len(LABELS)


def tflite_predict(model, x: np.ndarray, tmp_path) -> np.ndarray:
    """Convert ``model`` with builtin TFLite ops only (conversion fails
    otherwise), check no Flex/custom op slipped in, and run ``x`` through it."""
    from ai_edge_litert.interpreter import Interpreter

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path = tmp_path / "model.tflite"
    path.write_bytes(converter.convert())
    interp = Interpreter(model_path=str(path))
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert not any(op.startswith("FlexDelegate") or op == "CUSTOM" for op in ops), ops
    interp.resize_tensor_input(interp.get_input_details()[0]["index"], x.shape)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.fixture(scope="module")
def clips(data_dir) -> tuple[np.ndarray, np.ndarray]:
    """Two real clips of each of three classes, 1 s at 16 kHz, labels."""
    from kwsapp.audio.io import fit_length, load_audio

    audio, labels = [], []
    for label in ("yes", "no", "stop"):
        for path in sorted((data_dir / label).glob("*.wav"))[:2]:
            audio.append(fit_length(load_audio(path), 16000))
            labels.append(LABELS.index(label))
    return np.stack(audio), np.array(labels)


@pytest.fixture(scope="module", params=ARCHS)
def trained(request, clips):
    """(module, model, inputs, labels) after a few steps on real clips."""
    keras.utils.set_random_seed(0)
    module = arch_module(request.param)
    model = module.build(module.TINY, N_CLASSES)
    # The trainer's front end: what the runtime computes from the card.
    x = frontend_of(module)(clips[0])
    y = keras.utils.to_categorical(clips[1], N_CLASSES)
    model.compile(keras.optimizers.Adam(3e-3), "categorical_crossentropy")
    # Training-mode losses: a few steps barely move BatchNorm's moving
    # statistics, which inference-mode evaluation would use.
    loss = model.fit(x, y, batch_size=6, epochs=30, verbose=0).history["loss"]
    return module, model, x, (float(np.mean(loss[:3])), float(np.mean(loss[-3:])))


@pytest.mark.parametrize("name", ARCHS)
def test_interface_and_full_size(name: str) -> None:
    module = arch_module(name)
    assert module.WINDOW_MS == 1000.0
    assert module.INPUT["kind"] in ("waveform", *features.FEATURES)
    tiny = module.build(module.TINY, N_CLASSES)
    assert tiny.count_params() < 10_000
    full = module.build(module.DEFAULTS, N_CLASSES)
    # Float32 weights must fit the 20 MB asset budget with room to spare.
    assert 50_000 < full.count_params() < 2_000_000
    assert full.output_shape == (None, N_CLASSES)


def test_cnn_input_shapes() -> None:
    module = arch_module("cnn")
    assert module.input_shape() == (98, 40)
    assert module.build(module.TINY, N_CLASSES).input_shape == (None, 98, 40)
    # The notes' 99x81 log-spectrogram at 8 kHz still builds.
    notes = module.input_shape(spec=module.NOTES_INPUT)
    assert notes == (99, 81)
    assert module.build({**module.TINY, "input_shape": notes}, N_CLASSES).input_shape == \
        (None, 99, 81)


def test_wavception_rejects_mismatched_config() -> None:
    module = arch_module("wavception")
    with pytest.raises(ValueError, match="one entry per module"):
        module.build({"branch_filters": (2, 2), "pools": (4,)}, N_CLASSES)


def test_training_steps_lower_the_loss(trained) -> None:
    module, model, x, (before, after) = trained
    assert after < 0.75 * before, f"{module.__name__}: loss {before:.3f} -> {after:.3f}"
    probs = model.predict(x, verbose=0)
    assert probs.shape == (len(x), N_CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_tflite_has_builtin_ops_and_agrees(trained, tmp_path) -> None:
    _, model, x, _ = trained
    np.testing.assert_allclose(tflite_predict(model, x, tmp_path), model.predict(x, verbose=0),
                               atol=1e-4)


@pytest.mark.parametrize("name", ARCHS)
def test_train_overrides_are_train_config_fields(name: str) -> None:
    import dataclasses

    from training.config import TrainConfig

    module = arch_module(name)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(module.TRAIN) <= fields
    assert module.TRAIN["aug_copies"] > TrainConfig().aug_copies


def test_cnn_clip_norm_exports_with_builtin_ops(tmp_path) -> None:
    """The optional per-clip standardization converts to builtin ops and
    makes the output independent of the recording's gain (a constant added
    to the log-spectrogram)."""
    module = arch_module("cnn")
    model = module.build({**module.TINY, "clip_norm": True}, N_CLASSES)
    x = np.random.default_rng(0).standard_normal((1, *module.input_shape())).astype(np.float32) - 10
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x + 3.0, verbose=0),
                               atol=1e-4)
    np.testing.assert_allclose(tflite_predict(model, x, tmp_path), model.predict(x, verbose=0),
                               atol=1e-4)
