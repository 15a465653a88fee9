"""The split ``embed`` artifact (docs/contracts.md section 1): the frozen
embedding and the head as two .tflite files give what the whole-window
``model.tflite`` gives, on real clips; any length and any batch size give
the same embeddings; ``kwsapp export --split`` makes the files from
``model.keras`` without retraining."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import real_clip
from kwsapp.audio.io import fit_length, load_audio
from kwsapp.errors import ModelError
from kwsapp.inference.recognizer import Recognizer

WORDS = ("yes", "left", "off", "unknown", "go", "silence")


@pytest.fixture(scope="module")
def embed(bundled_model_dir):
    rec = Recognizer(bundled_model_dir)
    if rec.split is None:
        pytest.skip(f"{bundled_model_dir}: the bundled embed is not split")
    return rec


@pytest.fixture(scope="module")
def windows(data_dir):
    return np.stack([fit_length(load_audio(real_clip(data_dir, w, i)), 24000)
                     for i, w in enumerate(WORDS)])


def test_head_on_embeddings_equals_whole_window_model(embed, windows):
    emb = np.stack([embed.embed(w) for w in windows])
    assert emb.shape == (len(WORDS), 10, 96)
    got = embed.head(emb)
    want = np.stack([embed.probabilities(w) for w in windows])
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert (got.argmax(1) == want.argmax(1)).all()


def test_embeddings_of_a_long_signal_are_those_of_its_windows(embed, windows):
    """Embedding j of a signal depends only on samples [j*1280, j*1280+12400):
    the same vector whether computed from the whole signal or a window."""
    signal = np.concatenate(list(windows))  # 9 s of real words and noise
    emb = embed.embed(signal)
    assert emb.shape == (1 + (len(signal) - 12400) // 1280, 96)
    for start_emb in (0, 7, 25, 90):
        win = signal[start_emb * 1280:start_emb * 1280 + 24000]
        np.testing.assert_allclose(embed.embed(win), emb[start_emb:start_emb + 10], atol=1e-5)
    # Any batch size gives the same embeddings (resized LiteRT input).
    np.testing.assert_allclose(embed.split.embed(signal, batch=5), emb, atol=1e-5)
    assert embed.embed(signal[:12399]).shape == (0, 96)


def test_head_batches_like_single_calls(embed, windows):
    emb = np.stack([embed.embed(w) for w in windows])
    singles = np.stack([embed.head(e[None])[0] for e in emb])
    np.testing.assert_allclose(embed.head(emb), singles, atol=1e-6)


def test_window_models_have_no_split(tiny_model):
    rec = Recognizer(tiny_model)
    assert rec.split is None
    with pytest.raises(ModelError, match="not a split embed artifact"):
        rec.embed(np.zeros(24000, np.float32))


def test_bad_streaming_section_is_a_clear_model_error(bundled_model_dir, tmp_path):
    art = tmp_path / "embed"
    shutil.copytree(bundled_model_dir, art, ignore=shutil.ignore_patterns("model.keras"))
    card = json.loads((art / "card.json").read_text())
    if "streaming" not in card:
        pytest.skip("the bundled embed is not split")
    card["streaming"]["head"]["frames"] = 8
    (art / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="head.tflite: takes"):
        Recognizer(art)
    del card["streaming"]["head"]
    (art / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="bad 'streaming' section"):
        Recognizer(art)


STREAMING_FILES = ("embedding.tflite", "head.tflite", "embedding_step.tflite",
                   "embedding_chunk.tflite", "embedding_stream1.tflite",
                   "embedding_stream2.tflite", "embedding_stream3.tflite")


@pytest.mark.parametrize("missing", STREAMING_FILES)
def test_a_split_artifact_missing_a_streaming_file_is_refused_at_load(bundled_model_dir,
                                                                      tmp_path, missing):
    """A split embed artifact without one of the files its card's streaming
    section names is refused at load, naming the file: the step file (loaded
    only when asked for, since the stream files run) was missing unnoticed.
    Only the bundled card's files are copied (not model.keras)."""
    card = json.loads((bundled_model_dir / "card.json").read_text())
    if "streaming" not in card:
        pytest.skip("the bundled embed is not split")
    section = card["streaming"]
    named = [section[key]["file"] for key in ("embedding", "head", "step", "chunk")
             if key in section] + list(section.get("stream", {}).get("files", {}).values())
    assert set(named) == set(STREAMING_FILES)  # every one is tried here
    art = tmp_path / "embed"
    art.mkdir()
    for name in ("card.json", "model.tflite", *named):
        if name != missing:
            shutil.copy(bundled_model_dir / name, art / name)
    with pytest.raises(ModelError) as caught:
        Recognizer(art)
    assert str(caught.value).startswith(f"{(art / missing).resolve()}: model file missing")


def test_the_step_file_is_looked_at_not_loaded(bundled_model_dir):
    """With streaming models the step is still not loaded at start (one
    interpreter fewer at a cold start): its file is only looked for."""
    rec = Recognizer(bundled_model_dir)
    if rec.split is None or not rec.split.streams:
        pytest.skip("the bundled embed has no streaming models")
    assert rec.split._step is None


def test_a_step_file_put_in_place_after_the_load_is_not_paired_with_its_card(
        bundled_model_dir, tmp_path):
    """The step file, loaded only when asked for (outside the card's whole
    load), is refused when a new model put in place since replaced it
    (here by the same bytes in a new file: a head retrained on the frozen
    embedding keeps them; which model's file it is, not its bytes, is what
    counts), rather than loaded beside the earlier card. A swap that keeps
    the step file (an export staging it as a hard link, which changes its
    ctime) leaves it loadable, and a model loaded after the swap loads it.
    Real swaps (training/artifact_write.py) of a copy of the bundled embed."""
    from kwsapp.atomic import write_atomic, write_json_atomic
    from training.artifact_write import StagedArtifact

    card = json.loads((bundled_model_dir / "card.json").read_text())
    section = card.get("streaming", {})
    if not section.get("stream") or not section.get("step"):
        pytest.skip("the bundled embed has no streaming models and step")
    art = tmp_path / "embed"
    shutil.copytree(bundled_model_dir, art, ignore=shutil.ignore_patterns("model.keras"))
    step_name = section["step"]["file"]
    others = [p.name for p in art.iterdir() if p.name not in ("card.json", step_name)]

    def put_in_place(step_anew: bool) -> None:
        card["name"] = f"{card['name']}+"  # another model's card
        with StagedArtifact(art) as stage:
            if step_anew:
                write_atomic(stage.path / step_name, (art / step_name).read_bytes())
            else:
                stage.link(step_name)
            write_json_atomic(stage.path / "card.json", card)
            stage.commit(keep=others)

    kept = Recognizer(art)
    put_in_place(step_anew=False)
    assert kept.split._step is None and kept.split.step is not None

    earlier = Recognizer(art)
    put_in_place(step_anew=True)
    assert earlier.split._step is None  # not loaded yet: the streams run
    with pytest.raises(ModelError) as caught:
        earlier.split.step
    assert str(caught.value).startswith(f"{(art / step_name).resolve()}: replaced since "
                                        f"the model in {art} was loaded")
    later = Recognizer(art)
    assert later.card.name == card["name"] and later.split.step is not None


@pytest.mark.train
@pytest.mark.slow
def test_export_split_writes_the_halves_from_model_keras(bundled_model_dir, data_dir, repo_root,
                                                       tmp_path, conversions):
    pytest.importorskip("tensorflow")
    import _train_support as support

    art = tmp_path / "embed"
    shutil.copytree(bundled_model_dir, art)
    for name in ("embedding.tflite", "head.tflite"):
        (art / name).unlink(missing_ok=True)
    card = json.loads((art / "card.json").read_text())
    card.pop("streaming", None)
    (art / "card.json").write_text(json.dumps(card))
    before = (art / "model.tflite").read_bytes()
    run = subprocess.run([sys.executable, "-m", "kwsapp", "export", str(art), "--split",
                          "--data", str(data_dir), "--clips", "24", "--json"], cwd=repo_root,
                         env=support.training_env(conversions, tmp_path / "cache"),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["split"]["n"] == 24 and report["split"]["top1_agreement"] == 1.0
    assert report["split"]["max_abs_diff"] < 1e-4
    assert (art / "model.tflite").read_bytes() == before  # --split keeps it
    card = json.loads((art / "card.json").read_text())
    assert card["streaming"]["embedding"]["input_samples"] == 12400
    assert card["streaming"]["head"]["frames"] == 10
    rec = Recognizer(art)
    clip = fit_length(load_audio(real_clip(data_dir, "stop")), 24000)
    np.testing.assert_allclose(rec.head(rec.embed(clip)[None])[0], rec.probabilities(clip),
                               atol=1e-5)


@pytest.mark.parametrize("kind", ["step", "stream"])
def test_streaming_step_gives_the_one_shot_embeddings(embed, windows, kind):
    """The streaming step (kept rows between 80 ms steps) and the streaming
    models (kept rows of every layer; one, two or three embeddings a call)
    against the stateless one-embedding model, on 9 s of real audio, equal
    to the last bit; and ten steps make them exact again from any state
    (the card's warmup), one at a time or several per call."""
    from kwsapp.models.split import EmbeddingStream

    split = embed.split
    if (split.step if kind == "step" else split.streams) in (None, {}):
        pytest.skip(f"the bundled embed has no streaming {kind}")
    signal = np.concatenate(list(windows))
    views = np.lib.stride_tricks.sliding_window_view(signal, 12400)[::1280]
    once = split.embed_segments(views)
    stream = EmbeddingStream(split.step, split.spec) if kind == "step" else split.stream()
    np.testing.assert_array_equal(stream.embed_range(signal, 0, len(once)), once)
    rng = np.random.default_rng(0)
    for per_call in (1, 2, 3):
        if kind == "step":  # an arbitrary state
            stream._state = {k: rng.normal(0, 5, v.shape).astype(np.float32)
                             for k, v in stream._state.items()}
        else:
            stream._flat = rng.normal(0, 5, stream._flat.shape).astype(np.float32)
        warm = split.spec.stream_warmup if kind == "stream" else split.spec.step_warmup
        for j in range(30, 30 + warm):
            stream.step(stream._segment(signal, j))
        j, got = 30 + warm, []
        while j < 30 + warm + 6:
            got.extend(stream.steps(stream._segment(signal, j, per_call), per_call))
            j += per_call
        np.testing.assert_array_equal(np.stack(got), once[30 + warm:30 + warm + 6])


@pytest.mark.train
@pytest.mark.slow
def test_embedding_conversions_are_cached_checked_and_rebuilt(bundled_model_dir, windows,
                                                              tmp_path, monkeypatch):
    """The frozen embedding's six conversions come from the training cache
    the second time (byte-identical files, only the head converted); a
    corrupt cache entry and a stale one (valid bytes of another model under
    this key) are both caught and converted afresh, and the artifact's files
    and card section are those of a fresh export. (The corrupt and the stale
    entry are met in one export: the order of its conversions shows which
    check caught each.)"""
    pytest.importorskip("tensorflow")
    from training import export

    art, cache = tmp_path / "embed", tmp_path / "cache"
    shutil.copytree(bundled_model_dir, art, ignore=shutil.ignore_patterns(
        "embedding*.tflite", "head.tflite"))
    frozen = ("embedding.tflite", "embedding_step.tflite", "embedding_chunk.tflite",
              "embedding_stream1.tflite", "embedding_stream2.tflite", "embedding_stream3.tflite")
    converted = []
    real_to_tflite = export.to_tflite

    def counting(model, *args, **kwargs):  # a spy: the real conversion, counted
        converted.append(model.name)
        return real_to_tflite(model, *args, **kwargs)

    monkeypatch.setattr(export, "to_tflite", counting)
    from training.models.embedding import load_keras

    model = load_keras(art / "model.keras")

    def run():
        converted.clear()
        streaming, parity = export.export_split(art, windows, model, cache=cache)
        assert parity["max_abs_diff"] < 1e-4 and parity["top1_agreement"] == 1.0
        return streaming, {name: (art / name).read_bytes() for name in frozen + ("head.tflite",)}

    streaming, fresh = run()
    first_run = list(converted)  # the head, then the six embedding files
    assert len(first_run) == 7 and first_run[2] == "embedding_step"
    entries = sorted((cache / export.TFLITE_CACHE_FOLDER).glob("*.tflite"))
    assert [p.name.split("-")[0] for p in entries] == ["chunk", "embedding", "step", "stream1",
                                                       "stream2", "stream3"]
    assert streaming == json.loads((bundled_model_dir / "card.json").read_text())["streaming"]

    again_streaming, again = run()
    assert len(converted) == 1  # only the head: the rest came from the cache
    assert again == fresh and again_streaming == streaming

    step_entry = next(p for p in entries if p.name.startswith("step-"))
    blob = bytearray(step_entry.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # a flipped byte: caught by the entry's digest
    step_entry.write_bytes(bytes(blob))
    # A stale entry: whole bytes (digest right) of the one-embedding model
    # under the chunk model's key. Only the split's parity check sees it.
    chunk_entry = next(p for p in entries if p.name.startswith("chunk-"))
    wrong = fresh["embedding.tflite"]
    key = chunk_entry.name.rsplit("-", 1)[0]
    chunk_entry.unlink()
    (chunk_entry.parent / f"{key}-{export._digest(wrong)}.tflite").write_bytes(wrong)
    _, rebuilt = run()
    # The head; the corrupt step alone, at once (its digest); then, the
    # parity check having failed on the stale chunk, all six afresh.
    assert converted == [first_run[0], first_run[2], *first_run[1:]] and rebuilt == fresh
    assert step_entry.read_bytes() == fresh["embedding_step.tflite"]  # the entry rewritten
    assert (art / "model.tflite").read_bytes() == (bundled_model_dir / "model.tflite").read_bytes()
