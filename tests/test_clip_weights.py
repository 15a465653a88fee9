"""Clip weights (the card's ``clip_weights``, docs/contracts.md 2): a lone
clip's decision takes the training prior of ``unknown`` back out; streams
keep the raw probabilities."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kwsapp import LABELS
from kwsapp.errors import ModelError
from kwsapp.models.artifact import ModelCard

UNKNOWN = LABELS.index("unknown")


def _over_called(n_per_class: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list]:
    """Probabilities of a model that calls some commands ``unknown``: for a
    quarter of the command clips ``unknown`` beats the right label by a
    little (0.45 vs 0.40), unknown clips are confidently unknown."""
    rng = np.random.default_rng(seed)
    probs, y, speakers = [], [], []
    for label in range(len(LABELS)):
        for i in range(n_per_class):
            p = np.full(len(LABELS), 0.01)
            if label != UNKNOWN and i % 4 == 0:
                p[UNKNOWN], p[label] = 0.45, 0.40
            else:
                p[label] = 0.8 + 0.1 * rng.random()
            probs.append(p / p.sum())
            y.append(label)
            speakers.append(f"s{i % 10}" if LABELS[label] != "silence" else None)
    return np.array(probs), np.array(y), speakers


def test_choose_takes_the_unknown_prior_back_out():
    from training import clip_weights

    probs, y, speakers = _over_called()
    result = clip_weights.choose(probs, y, speakers, LABELS)
    # 0.45 x 0.8 < 0.40: 0.8 already flips them all, and of the weights that
    # score 100 % the one nearest 1 is chosen.
    assert result["clip_weights"] == {"unknown": 0.8}
    tuning = result["tuning"]
    assert tuning["validation_top1"] == 100.0
    assert tuning["validation_top1_raw"] < 100.0
    assert tuning["commands_called_unknown"] == [50, 0]
    assert tuning["speaker_cv"]["top1"] > tuning["speaker_cv"]["top1_raw"]
    assert tuning["speakers"] == 10  # silence has none (each clip its own in the halvings)


def test_a_calibrated_model_keeps_its_probabilities():
    from training import clip_weights

    probs, y, speakers = _over_called()
    probs = np.eye(len(LABELS))[y] * 0.9 + 0.1 / len(LABELS)
    result = clip_weights.choose(probs, y, speakers, LABELS)
    assert result["clip_weights"] == {}
    card = clip_weights.apply_to_card({"clip_weights": {"unknown": 0.5}}, result)
    assert "clip_weights" not in card and card["clip_weights_tuning"]["validation_top1"] == 100.0
    labels = [lab for lab in LABELS if lab != "unknown"]
    assert clip_weights.choose(probs[:, 1:], y, speakers, labels)["clip_weights"] == {}


@pytest.mark.parametrize("weights, problem", [
    ([0.5], "must be an object"),
    ({"maybe": 0.5}, "name labels the model lacks: maybe"),
    ({"unknown": 0}, "clip_weights.unknown must be a positive number"),
    ({"unknown": float("inf")}, "must be a positive number"),
    ({"unknown": True}, "must be a positive number"),
])
def test_bad_clip_weights_are_refused_naming_the_card(weights, problem):
    card = {"format_version": 1, "labels": list(LABELS), "sample_rate_hz": 16000,
            "window_ms": 1000, "input": {"kind": "waveform"}, "clip_weights": weights}
    with pytest.raises(ModelError, match=problem) as err:
        ModelCard.from_dict(card, where="/x/card.json")
    assert "/x/card.json" in str(err.value)


@pytest.fixture
def weighted_tiny(tiny_model, tmp_path) -> Path:
    """A copy of the tiny model whose card nearly removes ``unknown`` from clips."""
    out = tmp_path / "tiny"
    shutil.copytree(tiny_model, out)
    card = json.loads((out / "card.json").read_text())
    card["clip_weights"] = {"unknown": 1e-6}
    (out / "card.json").write_text(json.dumps(card))
    return out


def test_clip_probabilities_apply_the_weights_and_streams_do_not(tiny_model, weighted_tiny,
                                                                  data_dir):
    from kwsapp.audio.io import load_audio
    from kwsapp.inference.recognizer import Recognizer

    raw_rec, rec = Recognizer(tiny_model), Recognizer(weighted_tiny)
    clip = load_audio(sorted((data_dir / "yes").glob("*.wav"))[0])
    raw = raw_rec.probabilities(clip)
    np.testing.assert_array_equal(rec.probabilities(clip), raw)  # the window path is raw
    np.testing.assert_array_equal(raw_rec.clip_probabilities(clip), raw)  # no weights: as is
    got = rec.clip_probabilities(clip)
    want = raw * np.where(np.arange(len(raw)) == UNKNOWN, 1e-6, 1.0)
    np.testing.assert_allclose(got, want / want.sum(), rtol=1e-5)
    assert got.sum() == pytest.approx(1.0, abs=1e-5)


def _evaluate(model: Path, folder: Path, *extra: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "kwsapp", "evaluate", str(folder), "--model",
                          str(model), "--json", *extra], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_evaluate_judges_clips_with_the_card_weights(weighted_tiny, data_dir, tmp_path):
    """Real clips of other words: with unknown all but removed none is
    called unknown; ``--no-clip-weights`` scores the raw model."""
    folder = tmp_path / "data"
    for word in ("_unknown_", "yes"):
        (folder / word).mkdir(parents=True)
        for f in sorted((data_dir / word).glob("*.wav"))[:6]:
            (folder / word / f.name).symlink_to(f)
    weighted = _evaluate(weighted_tiny, folder)
    raw = _evaluate(weighted_tiny, folder, "--no-clip-weights")
    assert weighted["clip_weights"] == {"unknown": 1e-6} and raw["clip_weights"] == {}
    col = weighted["confusion"]["labels"].index("unknown")
    assert sum(row[col] for row in weighted["confusion"]["matrix"]) == 0
    assert sum(row[col] for row in raw["confusion"]["matrix"]) > 0


def test_clip_weights_of_the_bundled_model_are_reproduced(bundled_model_dir, data_dir,
                                                          tmp_path, repo_root):
    """The tool re-derives the validation clips from the card's training
    config: the raw top-1 it scores is the card's own validation figure,
    and it chooses the card's weights."""
    card = json.loads((bundled_model_dir / "card.json").read_text())
    if "clip_weights_tuning" not in card:
        pytest.skip("the bundled model's card has no clip weights yet")
    out = tmp_path / "embed"
    shutil.copytree(bundled_model_dir, out)
    run = subprocess.run([sys.executable, "-m", "training.clip_weights", str(out),
                          "--data", str(data_dir)], cwd=repo_root, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    again = json.loads((out / "card.json").read_text())
    tuning = again["clip_weights_tuning"]
    assert tuning["validation_top1_raw"] == pytest.approx(
        100 * card["metrics"]["validation"]["accuracy"], abs=0.01)
    assert again.get("clip_weights") == card.get("clip_weights")
    assert tuning == card["clip_weights_tuning"]


def test_the_tool_names_a_bad_artifact(tmp_path, repo_root):
    run = subprocess.run([sys.executable, "-m", "training.clip_weights", str(tmp_path / "none"),
                          "--data", str(tmp_path)], cwd=repo_root, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2
    assert str(tmp_path / "none") in run.stderr and "Traceback" not in run.stderr
