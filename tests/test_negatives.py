"""Negative speech for the unknown class (training/negatives): loaders of
FLAC and of recordings longer than the window, the generators (deterministic,
right labels, cached, training speakers only), the per-epoch draw, and a real
tiny training run with negatives and one round of mining."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kwsapp import COMMAND_LABELS, LABELS
from kwsapp.errors import BadInputError
from training import data
from training.config import TrainConfig
from training.negatives import chimera, hard, kept, real

WINDOW = 24000
WAKE_WORDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "wake_words"


@pytest.fixture(scope="module")
def wake_words() -> Path:
    if not (WAKE_WORDS / "alexa").is_dir():
        pytest.skip(f"wake-word recordings not found at {WAKE_WORDS}")
    return WAKE_WORDS


def _word_recording(path: Path, seconds: float, word_at: float, word_s: float,
                    seed: int = 0) -> np.ndarray:
    """A recording of ``seconds`` of quiet noise with a loud 'word' (a
    harmonic sweep, which webrtcvad takes for voice) at ``word_at``."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 1e-3, int(seconds * 16000)).astype(np.float32)
    t = np.arange(int(word_s * 16000)) / 16000
    f0 = 140 + 40 * t / word_s
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) / k for k in range(1, 8))
    lo = int(word_at * 16000)
    audio[lo:lo + len(t)] += (0.3 * voice * np.hanning(len(t))).astype(np.float32)
    sf.write(str(path), audio, 16000, format=path.suffix[1:].upper())
    return audio


def test_flac_span_reads_the_samples_of_the_window(tmp_path):
    path = tmp_path / "rec.flac"
    audio = _word_recording(path, 3.0, 1.6, 0.5)
    clip = data.Clip(path, "unknown", "w", None, 8000, source="t", frames=WINDOW)
    rows, clips = data.load_clips([clip], WINDOW, cache=tmp_path / "cache")
    assert clips == [clip] and rows.shape == (1, WINDOW)
    assert np.allclose(rows[0], audio[8000:8000 + WINDOW], atol=1e-4)  # FLAC is lossless
    # Past the end: the shorter span is centred in the window, zero-padded.
    tail = data.Clip(path, "unknown", "w", None, 40000, source="t", frames=WINDOW)
    rows, _ = data.load_clips([tail], WINDOW, cache=tmp_path / "cache")
    left = (WINDOW - 8000) // 2
    assert np.allclose(rows[0, left:left + 8000], audio[40000:], atol=1e-4)
    assert not rows[0, :left].any() and not rows[0, left + 8000:].any()


def test_the_word_of_a_long_recording_is_its_speech_run(tmp_path):
    folder = tmp_path / "hello"
    folder.mkdir()
    _word_recording(folder / "a.flac", 3.0, 2.0, 0.6)
    _word_recording(folder / "b.wav", 2.0, 0.3, 0.5, seed=1)
    runs = real.speech_runs(real.audio_files(folder), tmp_path)
    (n_a, a0, a1), (n_b, b0, b1) = runs[folder / "a.flac"], runs[folder / "b.wav"]
    assert n_a == 48000 and abs(a0 - 32000) < 1600 and abs(a1 - 41600) < 1600
    assert n_b == 32000 and abs(b0 - 4800) < 1600 and abs(b1 - 12800) < 1600
    clips = real.recording_windows(folder, "hello", "test/hello", tmp_path, WINDOW, seed=0)
    centre = [c for c in clips if c.source.endswith("centre") and c.path.name == "a.flac"][0]
    # Centred on the word, clipped to the recording's end.
    assert centre.start + centre.frames == 48000 and centre.start < a0


def test_windows_around_show_the_whole_word_or_a_part_of_it():
    rng = np.random.default_rng(0)
    for trial in range(200):
        length = int(rng.integers(26000, 90000))
        start = int(rng.integers(0, length - 12000))
        end = start + int(rng.integers(4000, 12000))
        wins = {tag: (lo, n) for tag, lo, n in
                real.windows_around(length, start, end, WINDOW, np.random.default_rng(trial))}
        assert set(wins) == {"centre", "offset", "partial"}
        for lo, n in wins.values():
            assert 0 <= lo and lo + n <= length and 0 < n <= WINDOW
        lo, n = wins["offset"]
        assert lo <= start and end <= lo + n or n < WINDOW  # whole word unless clipped
        lo, n = wins["partial"]
        inside = min(end, lo + n) - max(start, lo)
        assert 0.25 * (end - start) <= inside <= 0.75 * (end - start)


def test_wake_word_windows_are_deterministic_unknown_and_cached(wake_words, tmp_path):
    cfg = TrainConfig()
    data_dir = wake_words.parent / "speech_commands_subset"
    first = real.wake_word_windows(data_dir, [], cfg, tmp_path, WINDOW)
    spans = list((tmp_path / "negatives").glob("spans-*.json"))
    assert len(spans) == 3  # one cache file per word folder
    second = real.wake_word_windows(data_dir, [], cfg, tmp_path, WINDOW)
    assert first == second
    assert {c.label for c in first} == {"unknown"}
    assert {c.word for c in first} == {"alexa", "snowboy", "smart mirror"}
    assert all(c.source.startswith(f"wake_words/{c.word.replace(' ', '_')}/") for c in first)
    assert all(c.path.suffix == ".flac" and 0 < c.frames <= WINDOW for c in first)
    # About three windows per recording (a few hold no speech).
    assert 3 * 1000 < len(first) <= 3 * 1085
    assert kept(first, ["alexa"]) == [i for i, c in enumerate(first) if c.word != "alexa"]


def test_hard_negatives_come_from_the_given_clips_only(data_dir, tmp_path):
    train = [c for c in data.split_clips(data_dir)["train"] if c.label != "silence"][::6]
    first = hard.hard_negatives(data_dir, train, TrainConfig(), tmp_path, WINDOW)
    wav = first[0].path
    mtime = wav.stat().st_mtime_ns
    second = hard.hard_negatives(data_dir, train, TrainConfig(), tmp_path, WINDOW)
    assert first == second and wav.stat().st_mtime_ns == mtime  # cached, not rewritten
    assert {c.label for c in first} == {"unknown"}
    kinds = {c.source.split("/")[1].split("-of-")[0] for c in first}
    assert kinds == {"start", "end", "pair"}
    commands = {c.source.rsplit("-of-", 1)[1] for c in first if "-of-" in c.source}
    assert commands <= set(COMMAND_LABELS)
    words = {c.word for c in train}
    for c in first:
        if c.source == "hard/pair":
            a, b = c.word.split(" ")
            assert a in words and b in words and a not in COMMAND_LABELS
    audio, _ = data.load_clips(first[:20], WINDOW, cache=tmp_path / "cache")
    assert audio.shape == (20, WINDOW) and (np.abs(audio).max(axis=1) > 0.01).all()
    # Another training split gives other windows.
    other = hard.hard_negatives(data_dir, train[1:], TrainConfig(), tmp_path, WINDOW)
    assert other[0].path != wav


def test_each_epoch_draws_its_share_of_negatives():
    from training import train as tr
    from training.models import embed_head
    from training.prepare import Prepared

    y = np.array([LABELS.index(lab) for lab in ("yes", "no", "unknown", "silence")])
    x = np.arange(len(y), dtype=np.float32)[None, :, None]
    x_neg = np.stack([100 + np.arange(50, dtype=np.float32)[:, None]] * 2)  # 2 copies
    prep = Prepared(x, y, x[0], y, x[0], y, {}, x[0], x_neg)
    cfg = TrainConfig(negatives_per_epoch=20)
    xs, ys = tr._epoch_arrays(prep, 0, cfg, embed_head)
    neg = xs[:, 0] >= 100
    assert neg.sum() == 20 and len(set(xs[neg, 0])) == 20
    assert (ys[neg] == LABELS.index("unknown")).all()
    assert sorted(xs[~neg, 0].astype(int)) == [0, 1, 2, 3]
    assert (ys[~neg] == y[xs[~neg, 0].astype(int)]).all()
    again, _ = tr._epoch_arrays(prep, 1, cfg, embed_head)
    assert set(again[again[:, 0] >= 100, 0]) != set(xs[neg, 0])  # another draw next epoch


def test_mining_sources_are_whole_recordings_not_banks_of_windows(tmp_path):
    """Hard, chimera and mined clips are windows of one bank file each (the
    chimeras' is an hour long): mining streams hold recordings, each once."""
    from training.negatives import mining

    wake, tts, bank = tmp_path / "alexa" / "0.flac", tmp_path / "tts" / "a.wav", \
        tmp_path / "chimera.wav"
    negatives = [data.Clip(wake, "unknown", "alexa", None, 100, "wake_words/alexa/centred"),
                 data.Clip(wake, "unknown", "alexa", None, 900, "wake_words/alexa/start"),
                 data.Clip(tts, "unknown", "lift", None, source="tts/flite-kal/near")]
    negatives += [data.Clip(bank, "unknown", "x", None, i * 24000, f"{kind}/y", 24000)
                  for kind in ("hard", "mined", "chimera") for i in range(2)]
    train = [data.Clip(tmp_path / "bed" / "1.wav", "unknown", "bed", "s1"),
             data.Clip(tmp_path / "yes" / "1.wav", "yes", "yes", "s1")]
    got = mining.sources(negatives, train)
    assert [(c.path, c.start, c.frames) for c in got] == [
        (wake, 0, 0), (tts, 0, 0), (tmp_path / "bed" / "1.wav", 0, 0)]
    assert {"chimera", "hard", "mined"} <= set(mining.BANKED)


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_tiny_training_run_with_negatives_and_mining(data_dir, wake_words, tmp_path,
                                                     conversions):
    """Real TensorFlow: a tiny embed run whose training split gets wake-word
    and hard negatives, then a round of mining over a stream of them (a
    few wake-word recordings of each word beside the real data). Words left
    out are left out everywhere: "alexa" of the wake words, "bed" and "cat"
    (two of the tiny split's unknown clips) of the data set itself."""
    pytest.importorskip("tensorflow")
    import _train_support as support

    (tmp_path / "speech_commands_subset").symlink_to(data_dir.resolve())
    for word in ("alexa", "snowboy", "smart_mirror"):
        folder = tmp_path / "wake_words" / word
        folder.mkdir(parents=True)
        for f in real.audio_files(wake_words / word)[:6]:
            (folder / f.name).symlink_to(f)
    data_dir = tmp_path / "speech_commands_subset"

    script = (
        "import dataclasses, json, logging, sys\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from training.config import TrainConfig\n"
        "from training.train import train\n"
        "cfg = dataclasses.replace(TrainConfig.tiny(), negatives=('wake_words', 'hard'),\n"
        "    negatives_exclude=('alexa', 'bed', 'cat'), negatives_per_epoch=16,\n"
        "    mining_rounds=1)\n"
        f"card = train({str(data_dir)!r}, 'embed', {str(tmp_path / 'out')!r}, cfg, tiny=True)\n"
        "print(json.dumps({k: card.get(k) for k in ('training', 'clip_weights',\n"
        "                                        'clip_weights_tuning')}))\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=support.REPO_ROOT,
                         env=support.training_env(conversions, tmp_path / "cache"),
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    printed = json.loads(run.stdout.strip().splitlines()[-1])
    training = printed["training"]
    # Trained with negatives: the card says how clips take the unknown prior
    # back out (training/clip_weights.py), chosen on its validation clips.
    tuning = printed["clip_weights_tuning"]
    assert tuning["clips"] == training["clips"]["validation"]["clips"]
    assert set(printed["clip_weights"] or {}) <= {"unknown"}
    assert json.loads((tmp_path / "out" / "card.json").read_text()).get("clip_weights") \
        == printed["clip_weights"]
    assert training["clips"]["negatives"]["unknown"] == training["clips"]["negatives"]["clips"]
    assert set(training["negatives"]) >= {"wake_words", "hard"}
    assert "mining round 1:" in run.stderr
    assert (tmp_path / "out" / "model.tflite").is_file()
    assert not (tmp_path / "out" / ".mining").exists()
    streams = list((tmp_path / "cache" / "negatives").glob("mining-*.json"))
    assert len(streams) == 1
    words = {w["word"] for w in json.loads(streams[0].read_text())}
    assert "alexa" not in words and words & {"snowboy", "smart mirror"}
    assert not words & {"bed", "cat"} and words & {"four", "happy"}


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tiny_ensemble_run_averages_its_members_and_resumes(data_dir, tmp_path, conversions):
    """Real TensorFlow: ``TrainConfig.ensemble = 2`` with
    ``member_seed_offset = 2`` trains two heads from seeds 2 and 3 on the
    same split (that of seed 0), exports one model whose head is their
    mean; a run killed after its members (here: combining them fails once)
    reuses them instead of training again."""
    pytest.importorskip("tensorflow")
    import _train_support as support

    out = tmp_path / "out"
    script = (
        "import dataclasses, json, logging, sys\n"
        "import numpy as np\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "import training.models as M\n"
        "import training.train as T\n"
        "from training.config import TrainConfig\n"
        "from training.models.embedding import load_keras\n"
        "cfg = dataclasses.replace(TrainConfig.tiny(), ensemble=2, member_seed_offset=2,\n"
        "                          member_overrides=((), (('max_train_clips', 40),)))\n"
        "combine = M.ensemble_head\n"
        "def broken(*a, **k):\n"
        "    raise KeyboardInterrupt\n"
        "M.ensemble_head = broken\n"
        "try:\n"
        f"    T.train({str(data_dir)!r}, 'embed', {str(out)!r}, cfg, tiny=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('first run stopped', file=sys.stderr)\n"
        "import os\n"
        f"kept = sorted(os.listdir({str(out / '.ensemble' / 'member-0')!r}))\n"
        "M.ensemble_head = combine\n"
        f"card = T.train({str(data_dir)!r}, 'embed', {str(out)!r}, cfg, tiny=True)\n"
        f"model = load_keras({str(out / 'model.keras')!r})\n"
        "head = model.layers[-1]\n"
        "members = [head.get_layer(f'member_{k}') for k in range(2)]\n"
        "x = np.random.default_rng(0).normal(size=(4, 10, 96)).astype('float32')\n"
        "mean = np.mean([m.predict(x, verbose=0) for m in members], axis=0)\n"
        "print(json.dumps({'training': card['training'], 'export': card['export'], 'kept': kept,\n"
        "    'mean_diff': float(np.abs(head.predict(x, verbose=0) - mean).max()),\n"
        "    'members_diff': float(np.abs(members[0].predict(x, verbose=0)\n"
        "                             - members[1].predict(x, verbose=0)).max())}))\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=support.REPO_ROOT,
                         env=support.training_env(conversions, tmp_path / "cache"),
                         capture_output=True, text=True, timeout=800)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "first run stopped" in run.stderr
    # The second run trained nothing: both members came from the first.
    assert run.stderr.count("ensemble member 1 of 2 (seed 2)") == 1
    assert "ensemble member 1 of 2: from" in run.stderr
    assert "ensemble member 2 of 2: from" in run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert [m["seed"] for m in result["training"]["ensemble"]] == [2, 3]
    # Member 1 trained on its own data (fewer clips), and the card says so.
    assert "overrides" not in result["training"]["ensemble"][0]
    assert result["training"]["ensemble"][1]["overrides"] == {"max_train_clips": 40}
    assert "ensemble member 2 of 2 (seed 3, max_train_clips 40)" in run.stderr
    # A finished member keeps only its head and state (no artifact of its own).
    assert result["kept"] == ["member.keras", "state.json"]
    assert result["mean_diff"] < 1e-6
    assert result["members_diff"] > 1e-4  # two seeds, two different heads
    assert result["export"]["float"]["top1_agreement"] == 1.0
    assert (out / "head.tflite").is_file() and not (out / ".ensemble").exists()


def test_member_overrides_give_each_member_its_settings_or_fail_early():
    """One entry per member, () for the ensemble's own settings; an override
    of an unknown field or of one that would change the split (so the
    members' validation clips) is refused before anything trains."""
    from training.train import member_configs

    cfg = dataclasses.replace(TrainConfig(), ensemble=3,
                              member_overrides=((), (("tts_words", 16000),),
                                                (("tts_words", 16000), ("tts_phrases", 9))))
    configs = member_configs(cfg)
    assert configs[0] == cfg
    assert (configs[1].tts_words, configs[1].tts_phrases) == (16000, None)
    assert (configs[2].tts_words, configs[2].tts_phrases) == (16000, 9)
    alike = dataclasses.replace(cfg, member_overrides=())
    assert member_configs(alike) == [alike] * 3
    for overrides, message in (
            (((),), "1 entries for an ensemble of 3"),
            (((), (), (("no_such_field", 1),)), "no_such_field"),
            (((), (("seed", 5),), ()), "seed"),
            (((), (("member_seed_offset", 3),), ()), "member_seed_offset"),
            (((), (("validation_share", 0.5),), ()), "validation_share")):
        with pytest.raises(ValueError, match=message):
            member_configs(dataclasses.replace(cfg, member_overrides=overrides))
    with pytest.raises(ValueError, match="two or more"):
        member_configs(dataclasses.replace(cfg, ensemble=1, member_overrides=((),)))


def test_member_seed_offset_moves_only_the_members_seeds(data_dir):
    """``member_seed_offset`` gives another seed set of one recipe (members
    from seeds 3-5 instead of 0-2) on the same speakers: the split and the
    features' cache key follow ``seed`` alone; 0 keeps every bundled run's
    seeds."""
    from training.make_models import setting
    from training.train import member_seed

    base = dataclasses.replace(TrainConfig(), ensemble=3)
    moved = dataclasses.replace(base, member_seed_offset=3)
    assert [member_seed(base, k) for k in range(3)] == [0, 1, 2]
    assert [member_seed(moved, k) for k in range(3)] == [3, 4, 5]
    assert [member_seed(dataclasses.replace(moved, seed=7), k) for k in range(3)] == [10, 11, 12]
    assert data.split_clips(data_dir, moved) == data.split_clips(data_dir, base)
    # A different seed would move speakers between the splits (the check
    # above can fail).
    assert data.split_clips(data_dir, dataclasses.replace(base, seed=3)) != \
        data.split_clips(data_dir, base)
    assert setting("member_seed_offset=3") == ("member_seed_offset", 3)


def test_chimeras_are_real_voices_cut_into_new_words(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(chimera, "COUNTS", {"reversed": 30, "splice": 60, "inside": 30})
    train = [c for c in data.split_clips(data_dir)["train"] if c.label != "silence"][::8]
    first = chimera.chimeras(data_dir, train, TrainConfig(), tmp_path, WINDOW)
    wav = first[0].path
    mtime = wav.stat().st_mtime_ns
    assert chimera.chimeras(data_dir, train, TrainConfig(), tmp_path, WINDOW) == first
    assert wav.stat().st_mtime_ns == mtime  # cached, not rewritten
    assert {c.label for c in first} == {"unknown"}
    assert [c.source for c in first] == (["chimera/reversed"] * 30 + ["chimera/splice"] * 60
                                         + ["chimera/inside"] * 30)
    donors = {c.word for c in train}
    if WAKE_WORDS.is_dir():
        donors |= {p.name.replace("_", " ") for p in WAKE_WORDS.iterdir() if p.is_dir()}
    for c in first:
        if c.source == "chimera/reversed":
            word = c.word.removesuffix(" (reversed)")
            assert word in donors and word not in chimera.NOT_REVERSED
            continue
        # splice: "a + b" (two donors, at most one a command); inside: "other + command"
        a, b = c.word.split(" + ")
        assert a in donors and b in donors and a != b
        assert (a in COMMAND_LABELS) + (b in COMMAND_LABELS) <= 1
        if c.source == "chimera/inside":
            assert b in COMMAND_LABELS
    audio, _ = data.load_clips(first, WINDOW, cache=tmp_path / "cache")
    assert audio.shape == (120, WINDOW) and (np.abs(audio).max(axis=1) > 1e-3).all()
    # A reversed window is a donor's speech backwards: not a copy of any clip.
    assert not np.allclose(audio[0], audio[0][::-1])
    # A held-out word leaves with its chimeras.
    for some in {c.word.split(" + ")[0] for c in first if c.source == "chimera/splice"}:
        left = [first[i] for i in kept(first, [some])]
        assert 0 < len(left) < len(first)
        assert all(some not in c.word.removesuffix(" (reversed)").split(" + ") for c in left)


def test_mining_stream_replays_bank_windows_one_at_a_time(data_dir, tmp_path):
    """``TrainConfig.mining_windows``: each window of a bank file (here two
    commands cut into one "chimera" bank) joins the mining stream on its
    own, once, beside the drawn recordings, whose draw does not change."""
    from kwsapp.audio.io import load_audio
    from training.negatives import mining

    window = 24000
    files = sorted((data_dir / "left").glob("*.wav"))[:2]
    bank = np.zeros(2 * window, np.float32)
    for i, f in enumerate(files):
        audio = load_audio(f)[:window]
        bank[i * window:i * window + len(audio)] = audio
    sf.write(tmp_path / "chimera.wav", bank, 16000)
    negatives = [data.Clip(tmp_path / "chimera.wav", "unknown", f"left + w{i}", None,
                           i * window, "chimera/inside", window) for i in range(2)]
    negatives.append(data.Clip(tmp_path / "bank.wav", "unknown", "x", None, 0, "hard/y", window))
    recordings = [data.Clip(f, "unknown", f.name.split("_")[0], None)
                  for f in sorted((data_dir / "_unknown_").glob("*.wav"))[:3]]

    windows = mining.banked_windows(negatives, ["chimera"])
    assert [(c.start, c.frames) for c in windows] == [(0, window), (window, window)]
    with pytest.raises(BadInputError, match="mining_windows: tts not among"):
        mining.banked_windows(negatives, ["tts"])
    cache = tmp_path / "cache"
    wav, words = mining.build_stream(recordings, data_dir, cache, seed=1, extra=windows)
    plain, plain_words = mining.build_stream(recordings, data_dir, cache, seed=1)
    assert wav != plain
    assert sorted(w["word"] for w in words) == sorted(
        [w["word"] for w in plain_words] + ["left + w0", "left + w1"])
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and all(w["end"] > w["start"] for w in words)
    stream = sf.read(str(wav), dtype="float32")[0]
    assert len(stream) > len(sf.read(str(plain), dtype="float32")[0]) + 2 * 8000
