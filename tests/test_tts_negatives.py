"""TTS negatives (training/negatives/tts.py): the plan (no engine needed),
then real espeak-ng / flite / festival renders on a few words each (skipped,
engine by engine, where one is not installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from kwsapp import COMMAND_LABELS
from kwsapp.audio.vad import speech_flags
from training import augment
from training.negatives import tts

WORDS = ["stop", "stopping", "know", "write", "outgoing", "Stop", "can't", "x", "a",
         "toolongwordsss", "table", "river", "garden", "window", "pencil", "marble",
         "tiger", "candle", "forest", "button", "yellow", "silver", "basket", "planet"]


@pytest.fixture
def word_list(tmp_path):
    path = tmp_path / "words"
    path.write_text("\n".join(WORDS) + "\n")
    return path


def _phrase_words(utterances):
    return {w for u in utterances for w in u.text.split()}


def test_plan_is_deterministic_labelled_and_split_disjoint(word_list):
    """Same plan twice; every negative labelled unknown and never a command
    or a command's homophone; "stopping"/"outgoing" kept; the held-out split
    shares no voice and no word with the training split."""
    cfg = tts.TtsConfig(words=10, phrases=4, heldout_words=10, heldout_phrases=4,
                        heldout_word_share=0.3)
    train = tts.plan("train", cfg, word_list)
    assert train == tts.plan("train", cfg, word_list)
    held = tts.plan("heldout", cfg, word_list)
    for split in (train, held):
        assert {u.label for u in split} == {"unknown"}
        assert not _phrase_words(split) & tts.excluded_words()
        assert {u.kind for u in split} == {"word", "phrase", "near"}
    assert {"know", "write", "rite", "wright", "stop"} <= tts.excluded_words()
    assert {"stopping", "outgoing"} & {u.text for u in train + held}
    assert not {u.voice.id for u in train} & {u.voice.id for u in held}
    assert not _phrase_words(train) & _phrase_words(held)
    assert {u.voice.id for u in held} == {v.id for v in tts.VOICES if v.heldout}
    # Clip identity: one file per (voice, text, rate, pitch); sources name the voice and kind.
    clips = [u.clip(word_list.parent) for u in train]
    assert len({c.path for c in clips}) == len(clips)
    assert all(c.source == f"tts/{c.speaker}/{u.kind}" for c, u in zip(clips, train))


def test_training_config_sets_the_vocabulary(word_list):
    """``TrainConfig.tts_words`` / ``tts_phrases`` size the training split's
    plan (an ensemble member with a larger vocabulary); None keeps the
    defaults; the held-out split is the same either way."""
    import dataclasses

    from training.config import TrainConfig

    assert tts.training_tts_config(TrainConfig()) == tts.TtsConfig()
    small = tts.training_tts_config(dataclasses.replace(TrainConfig(), tts_words=6,
                                                        tts_phrases=2))
    big = tts.training_tts_config(dataclasses.replace(TrainConfig(), tts_words=12,
                                                      tts_phrases=5))
    assert (small.words, small.phrases, big.words, big.phrases) == (6, 2, 12, 5)
    kinds = {name: Counter(u.kind for u in tts.plan("train", c, word_list))
             for name, c in (("small", small), ("big", big))}
    assert (kinds["small"]["word"], kinds["small"]["phrase"]) == (6, 2)
    assert (kinds["big"]["word"], kinds["big"]["phrase"]) == (12, 5)
    assert tts.plan("heldout", small, word_list) == tts.plan("heldout", big, word_list)


def test_commands_plan_is_every_command_by_every_voice():
    cfg = tts.TtsConfig(command_takes=2)
    for split in tts.SPLITS:
        plan = tts.plan_commands(split, cfg)
        assert {u.label for u in plan} == set(COMMAND_LABELS)
        assert all(u.text == u.label and u.kind == "command" for u in plan)
        per_voice = Counter(u.voice.id for u in plan)
        assert set(per_voice) == {v.id for v in tts.voices_of(split)}
        assert max(per_voice.values()) <= 2 * len(COMMAND_LABELS)


def test_dictionary_words_drop_commands_and_homophones():
    if not tts.WORD_LIST.is_file():
        pytest.skip(f"{tts.WORD_LIST} missing (apt-get install wamerican)")
    words = tts.dictionary_words()
    assert len(words) > 10000
    assert not set(words) & tts.excluded_words()
    assert {"stopping", "outgoing", "lift"} <= set(words)
    assert all(w.isalpha() and w.islower() and 2 <= len(w) <= 12 for w in words[::97])


def _phonemes(words):
    text = "".join(f"{w}.\n" for w in words)
    out = subprocess.run(["espeak-ng", "-q", "-x", "-v", "en-us"], input=text,
                         capture_output=True, text=True, check=True).stdout
    return ["".join(ch for ch in line if ch not in " ',") for line in out.splitlines()]


def test_no_negative_is_said_like_a_command():
    """espeak-ng's phonemes (stress aside) of every near-miss and of a seeded
    sample of the dictionary words differ from every command's."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    commands = set(_phonemes(COMMAND_LABELS))
    assert len(commands) == len(COMMAND_LABELS)
    words = sorted({w for ws in tts.NEAR_MISSES.values() for w in ws} - tts.excluded_words())
    if tts.WORD_LIST.is_file():
        dictionary = tts.dictionary_words()
        words += [dictionary[i] for i in np.random.default_rng(0).choice(len(dictionary), 300)]
    said = _phonemes(words)
    assert len(said) == len(words)
    assert [w for w, p in zip(words, said) if p in commands] == []
    # The check can fail: the homophones it removed are caught.
    assert set(_phonemes(sorted(tts.HOMOPHONES))) <= commands


def _engine_voices():
    """One training voice and the held-out voice of each installed engine."""
    out, missing = [], []
    for engine in ("espeak", "flite", "festival"):
        voices = [v for v in tts.VOICES if v.engine == engine]
        if not tts.engine_available(voices[0]):
            missing.append(engine)
            continue
        out += [voices[0].id, next(v.id for v in voices if v.heldout)]
    return out, missing


TINY = dict(words=3, phrases=1, heldout_words=2, heldout_phrases=1, near_miss_words=1,
            near_miss_voices=1, command_takes=1)


def test_render_gives_speech_from_every_engine_deterministic_and_cached(tmp_path, word_list):
    """A few clips per engine: 16 kHz mono float32 speech (webrtcvad), the
    same bytes when rendered again elsewhere, and a second call renders
    nothing and leaves the files (and their mtimes) as they were."""
    voices, missing = _engine_voices()
    if not voices:
        pytest.skip("no TTS engine installed (apt-get install espeak-ng flite festival)")
    cfg = tts.TtsConfig(voices=tuple(voices), **TINY)
    plan = tts.plan("train", cfg, word_list) + tts.plan("heldout", cfg, word_list)
    umask = os.umask(0o022)
    try:
        first = tts.render(plan, tmp_path / "a", cfg.render)
    finally:
        os.umask(umask)
    assert first.rendered == len(plan) and first.failed == 0
    # A rendered clip gets the umask's mode, as any written file (was 0600).
    assert {oct(u.path(tmp_path / "a").stat().st_mode & 0o777) for u in plan} == {"0o644"}
    for engine in {u.voice.engine for u in plan}:
        audio = [sf.read(str(u.path(tmp_path / "a")), dtype="float32", always_2d=True)
                 for u in plan if u.voice.engine == engine]
        for x, rate in audio:
            assert rate == 16000 and x.shape[1] == 1
            assert 0.1 < float(np.abs(x).max()) <= 0.95
            assert speech_flags(x[:, 0]).mean() > 0.3, engine
    mtimes = {u.path(tmp_path / "a"): u.path(tmp_path / "a").stat().st_mtime_ns for u in plan}
    again = tts.render(plan, tmp_path / "a", cfg.render)
    assert again.rendered == 0
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    tts.render(plan, tmp_path / "b", cfg.render)
    for u in plan:
        assert u.path(tmp_path / "a").read_bytes() == u.path(tmp_path / "b").read_bytes(), u
    if missing:
        pytest.skip(f"rendered and checked; not installed: {', '.join(missing)}")


def test_tts_negatives_and_commands_are_labelled_clips(tmp_path):
    """The public calls: negatives labelled unknown, commands by their name;
    a voice whose engine is missing is left out, not an error."""
    voices, _ = _engine_voices()
    if not voices:
        pytest.skip("no TTS engine installed")
    cfg = tts.TtsConfig(voices=(voices[0], "no-such-voice"), **TINY)
    neg = tts.tts_negatives(tmp_path, "train", cfg)
    assert neg and {c.label for c in neg} == {"unknown"}
    assert all(c.path.is_file() and c.source.startswith(f"tts/{voices[0]}/") for c in neg)
    cmd = tts.tts_commands(tmp_path, "train", cfg)
    assert sorted(c.label for c in cmd) == sorted(COMMAND_LABELS)
    assert all(c.word == c.label for c in cmd)
    # A voice's folder holds only negatives (make-stream --negatives may read it).
    assert {c.path.parent.parent.name for c in neg} == {tts.FOLDER}
    assert {c.path.parent.parent.name for c in cmd} == {tts.COMMANDS_FOLDER}


def test_export_folder_names_each_word_for_make_stream(tmp_path):
    """Exported clips lie in <word>/ so make-stream's word_of finds the word;
    a second export adds nothing."""
    from kwsapp.streaming.scoring import word_of

    voices, _ = _engine_voices()
    if not voices:
        pytest.skip("no TTS engine installed")
    cfg = tts.TtsConfig(voices=(voices[0],), **TINY)
    clips = tts.tts_negatives(tmp_path / "cache", "train", cfg)
    assert tts.export_folder(tmp_path / "out", clips) == len(clips)
    files = sorted((tmp_path / "out").rglob("*.wav"))
    assert sorted(word_of(f) for f in files) == sorted(c.word for c in clips)
    assert tts.export_folder(tmp_path / "out", clips) == 0


def test_postprocess_trims_shortens_pauses_and_levels():
    rate = 22050
    t = np.arange(int(0.3 * rate)) / rate
    tone = 0.05 * np.sin(2 * np.pi * 220 * t)
    quiet = np.zeros(int(1.0 * rate))
    raw = np.concatenate([quiet, tone, quiet, tone, quiet]).astype(np.float32)
    y = tts.postprocess(raw, rate, tts.RenderConfig(pause_ms=200))
    # 2 x 0.3 s of tone + a 0.2 s pause + 50 ms each side, at 16 kHz.
    assert abs(y.size / 16000 - 0.9) < 0.04
    rms = np.sqrt(np.mean(y[np.abs(y) > 1e-3] ** 2))
    assert abs(20 * np.log10(rms) - tts.RenderConfig().level_dbfs) < 1.0
    assert tts.postprocess(np.zeros(16000, np.float32), 16000) is None


def test_room_impulse_response_decays_at_rt60():
    rng = np.random.default_rng(0)
    rir = augment.room_impulse_response(0.4, 3.0, rng)
    assert rir[0] == 1.0
    tail = rir[1:].astype(np.float64) ** 2
    energy = lambda a, b: tail[int(a * 16000):int(b * 16000)].sum()  # noqa: E731
    # 60 dB per 0.4 s: the 0.2-0.3 s slice is ~30 dB below the 0-0.1 s one.
    drop = 10 * np.log10(energy(0, 0.1) / energy(0.2, 0.3))
    assert 22 < drop < 38
    assert abs(10 * np.log10(1.0 / tail.sum()) - 3.0) < 0.5  # the direct-to-reverberant ratio


def test_tts_augmenter_is_seeded_and_changes_the_sound():
    rng = np.random.default_rng(1)
    x = (0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)).astype(np.float32)
    x[8000:] *= rng.random(8000).astype(np.float32)
    aug = tts.TtsAugmenter([], tts.TtsAugmentConfig(reverb_prob=1.0, mic_prob=1.0))
    a = aug(x, np.random.default_rng(5))
    assert a.shape == x.shape and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, aug(x, np.random.default_rng(5)))
    assert not np.allclose(a, x, atol=1e-3)
    colored = augment.mic_color(x, np.random.default_rng(2))
    assert colored.shape == x.shape and not np.allclose(colored, x, atol=1e-3)


def test_legacy_espeak_unknown_is_deterministic_non_commands(tmp_path):
    """The first espeak negatives (the bundled embed's): same bytes on a
    second generation, labelled unknown, never a command, keyed outside
    the data folder."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    first = tts.legacy_espeak_unknown(tmp_path / "a")
    second = tts.legacy_espeak_unknown(tmp_path / "b")
    assert len(first) == len(tts.LEGACY_WORDS) * len(tts.LEGACY_VOICES)
    assert {c.label for c in first} == {"unknown"}
    assert not {c.word for c in first} & set(COMMAND_LABELS)
    for a, b in zip(first[:6], second[:6]):
        assert a.path.read_bytes() == b.path.read_bytes()
        x, _ = sf.read(str(a.path), dtype="float32")
        assert np.abs(x).max() > 0.05  # real speech, not silence
    assert first[0].key(tmp_path / "data") == f"{tts.LEGACY_FOLDER}/{first[0].path.name}"


def test_fresh_words_are_the_next_training_words_never_trained_on(tmp_path, word_list):
    """``TrainConfig.mining_tts_words``: the words after the training
    vocabulary in its seeded order, training voices, rendered; none of them
    trained on, none held out."""
    voices, _ = _engine_voices()
    if not voices:
        pytest.skip("no TTS engine installed")
    cfg = tts.TtsConfig(words=6, phrases=0, near_miss_words=0, heldout_word_share=0.3,
                        voices=(voices[0],))
    fresh = tts.fresh_words(cfg, 4, tmp_path, word_list)
    trained = {u.text for u in tts.plan("train", cfg, word_list)}
    more = {u.text for u in tts.plan("train", replace(cfg, words=10), word_list)}
    assert len(fresh) == 4 and all(c.path.is_file() for c in fresh)
    assert {c.word for c in fresh} == more - trained
    assert not any(tts.is_heldout_word(c.word, cfg) for c in fresh)
    assert {c.label for c in fresh} == {"unknown"} and {c.speaker for c in fresh} == {voices[0]}


def test_one_splits_words_by_the_other_splits_voices(tmp_path, word_list):
    """``voices_from``: the held-out words said by training voices (the
    same words, only the voices change), rendered to a folder of their own
    so that the held-out voices' folders (which the held-out stream reads
    whole) keep only what the held-out split says."""
    cfg = tts.TtsConfig(words=6, phrases=2, heldout_words=6, heldout_phrases=2,
                        heldout_word_share=0.3)
    held = tts.plan("heldout", cfg, word_list)
    cross = tts.plan("heldout", cfg, word_list, voices_from="train")
    assert {u.text for u in cross} == {u.text for u in held}
    assert {u.voice.id for u in cross} == {v.id for v in tts.VOICES if not v.heldout}
    assert all(tts.is_heldout_word(w, cfg) for u in cross for w in u.text.split())
    assert tts.plan("heldout", cfg, word_list, voices_from="heldout") == held
    voices, _ = _engine_voices()
    if not voices:
        pytest.skip("no TTS engine installed")
    one = replace(cfg, voices=(voices[0],), **TINY)
    clips = tts.tts_negatives(tmp_path, "heldout", one, voices_from="train")
    assert clips and {c.speaker for c in clips} == {voices[0]}
    assert {c.path.parent.parent.name for c in clips} == {tts.CROSS_FOLDER}
    assert not (tmp_path / tts.FOLDER).exists()
