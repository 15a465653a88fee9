"""Issue 15, safety: loading a model never unpickles; Keras loads in safe
mode (no Lambda code runs); file names a card gives cannot leave the
artifact folder; a card of a newer format is refused with a clear message."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile

import numpy as np
import pytest

from kwsapp.errors import ModelError
from kwsapp.models.registry import bundled_models, resolve


def _no_pickle(*_a, **_k):
    raise AssertionError("something unpickled while loading a model")


def test_loading_and_running_models_never_unpickles(monkeypatch, tiny_model):
    from kwsapp.inference.recognizer import Recognizer

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, _no_pickle)
    specs = [str(tiny_model), *bundled_models()]
    for spec in specs:
        rec = Recognizer.load(spec)
        probs = rec.probabilities(np.zeros(rec.card.window_samples, np.float32))
        assert probs.shape == (len(rec.labels),)


def test_newer_card_format_is_refused_clearly(tmp_path, tiny_model):
    from kwsapp.inference.recognizer import Recognizer

    art = tmp_path / "newer"
    shutil.copytree(tiny_model, art)
    card = json.loads((art / "card.json").read_text())
    card["format_version"] = 99
    (art / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"card format 99 .*newer.*upgrade kwsapp"):
        Recognizer.load(str(art))


@pytest.mark.parametrize("name", ["../outside.tflite", "/etc/passwd", "sub/../../x.tflite"])
def test_card_file_names_cannot_leave_the_artifact(tmp_path, name):
    from kwsapp.models.artifact import artifact_file

    art = tmp_path / "art"
    art.mkdir()
    with pytest.raises(ModelError, match="outside"):
        artifact_file(art, name)
    assert artifact_file(art, "head.tflite") == (art / "head.tflite").resolve()


def test_split_card_pointing_outside_is_refused(tmp_path):
    """The bundled embed card's streaming section, its embedding file named
    outside the folder: refused before anything is opened."""
    from kwsapp.inference.recognizer import Recognizer

    src = resolve("embed")
    card = json.loads((src / "card.json").read_text())
    if "streaming" not in card:
        pytest.skip("the bundled embed card has no streaming section yet")
    art = tmp_path / "embed"
    shutil.copytree(src, art)
    outside = tmp_path / "evil.tflite"
    shutil.copy(art / card["streaming"]["embedding"]["file"], outside)
    card["streaming"]["embedding"]["file"] = "../evil.tflite"
    (art / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="outside"):
        Recognizer.load(str(art))


def test_keras_loads_in_safe_mode(tmp_path):
    """A .keras file with a Lambda layer (arbitrary code) is refused."""
    keras = pytest.importorskip("keras")
    from training.models.embedding import load_keras

    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ModelError, match="(?i)not a loadable Keras model .*(safe_mode|lambda)"):
        load_keras(path)


def test_keras_file_that_is_no_model_is_a_model_error(tmp_path):
    """A zip without a Keras model inside, and a file that is no zip: the
    file named and what is wrong, not Keras's KeyError or "File not found"."""
    pytest.importorskip("keras")
    from training.models.embedding import load_keras

    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "no config.json here")
    with pytest.raises(ModelError, match=r"model\.keras: not a loadable Keras model .*config\.json"):
        load_keras(path)
    path.write_text("junk\n")
    with pytest.raises(ModelError, match=r"model\.keras: not a loadable Keras model \(not a \.keras zip"):
        load_keras(path)
