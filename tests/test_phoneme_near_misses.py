"""Near-misses found by phonemes (training/negatives/phonemes.py): the finder
on hand-written phonemes, then on real espeak-ng output (skipped without
it), and in the TTS plan."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from training.negatives import phonemes, tts

LEFT, NO, STOP = ("l", "E", "f", "t"), ("n", "oU"), ("s", "t2", "0", "p")


def test_parse_drops_stress_reduction_marks_and_pauses():
    assert phonemes.parse("a# b 'a n d @ n ;") == ("a", "b", "a", "n", "d", "@", "n")
    assert phonemes.parse(" l 'E f t\n") == LEFT


@pytest.mark.parametrize("a,b,d", [(LEFT, LEFT, 0), (("k",) + LEFT, LEFT, 1),
                                   (("l", "I", "f", "t"), LEFT, 1), (LEFT[:3], LEFT, 1),
                                   (NO, LEFT, 4), ((), NO, 2)])
def test_edit_distance(a, b, d):
    assert phonemes.edit_distance(a, b) == d == phonemes.edit_distance(b, a)


def test_near_misses_one_edit_or_holding_the_command():
    """One edit away, or the command inside at most max_extra more
    phonemes; never a homophone, a word spelled like a command or a word
    far from every command."""
    words = {
        "cleft": ("k", "l", "E", "f", "t"), "lift": ("l", "I", "f", "t"),
        "know": NO, "now": ("n", "aU"), "snow": ("s", "n", "oU"),
        "stopwatch": STOP + ("w", "0", "tS"), "nonstopping": ("n", "0", "n") + STOP + ("I", "N"),
        "banana": ("b", "@", "n", "a", "n", "@"), "left": LEFT,
    }
    found = phonemes.near_misses(words, {"left": LEFT, "no": NO, "stop": STOP}, max_extra=3)
    assert found == {"left": ["cleft", "lift"], "no": ["now", "snow"], "stop": ["stopwatch"]}


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_near_misses_are_found_and_cached(tmp_path):
    """Real espeak-ng phonemes: "cleft" and "lift" near "left", "snow" near
    "no", "downtown" holds "down"; "know" (said like "no") is not a near-miss;
    the phonemes are cached and read back the same."""
    words = ["cleft", "lift", "snow", "know", "downtown", "banana", "elephant"]
    found = phonemes.command_near_misses(words, ["left", "no", "down"], tmp_path)
    assert {"cleft", "lift"} <= set(found["left"])
    assert "snow" in found["no"] and "know" not in found["no"]
    assert found["down"] == ["downtown"]
    assert "banana" not in {w for ws in found.values() for w in ws}
    cached = list(tmp_path.glob("phonemes-*.json"))
    assert len(cached) == 1
    assert phonemes.command_near_misses(words, ["left", "no", "down"], tmp_path) == found


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_a_dangling_link_in_the_phoneme_cache_is_replaced(tmp_path):
    """The cache's entry is kwsapp's own: a link of its name (into a folder
    gone) is replaced by the entry, not written through or refused (as a
    user's output file would be: kwsapp/atomic.py)."""
    words = ["cleft", "snow"]
    found = phonemes.espeak_phonemes(words, tmp_path)
    entry = next(tmp_path.glob("phonemes-*.json"))
    entry.unlink()
    entry.symlink_to(tmp_path / "gone" / entry.name)
    assert phonemes.espeak_phonemes(words, tmp_path) == found
    assert not entry.is_symlink() and entry.is_file() and not (tmp_path / "gone").exists()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_plan_adds_phoneme_near_misses_by_split(tmp_path, monkeypatch):
    """With ``phoneme_near_misses`` the plan adds each found word, labelled
    unknown, said by ``phoneme_near_voices`` voices, in its own split only;
    the hand-picked near-misses and the other kinds are unchanged."""
    monkeypatch.setenv("KWSAPP_CACHE_DIR", str(tmp_path / "cache"))
    words = tmp_path / "words"
    new = ["weft", "leapt", "downtown", "kickoff", "backstop", "coffee"]  # not hand-picked
    assert not set(new) & {w for ws in tts.NEAR_MISSES.values() for w in ws}
    words.write_text("\n".join(new + ["cleft", "snow", "banana", "river", "garden",
                                       "window"]) + "\n")
    base = tts.TtsConfig(words=3, phrases=1, heldout_words=2, heldout_phrases=1,
                         heldout_word_share=0.4)
    more = tts.TtsConfig(**{**base.__dict__, "phoneme_near_misses": True,
                            "phoneme_near_voices": 2})
    for split in ("train", "heldout"):
        before, after = tts.plan(split, base, words), tts.plan(split, more, words)
        near_before = {u.text for u in before if u.kind == "near"}
        added = [u for u in after if u.kind == "near" and u.text not in near_before]
        assert {u.label for u in added} == {"unknown"}
        assert all(tts.is_heldout_word(u.text, more) == (split == "heldout") for u in added)
        assert set(Counter(u.text for u in added).values()) <= {2}
        assert {u.text for u in added} <= set(new)
        # The rest of the plan is the same utterances (other words may move out of
        # the dictionary pick only when they became near-misses).
        assert [u for u in before if u.kind == "near"] == [
            u for u in after if u.kind == "near" and u.text in near_before]
    found = {u.text for s in ("train", "heldout") for u in tts.plan(s, more, words)
             if u.kind == "near"}
    assert set(new) | {"cleft", "snow"} <= found


def test_training_config_turns_it_on():
    import dataclasses

    from training.config import TrainConfig

    assert not tts.training_tts_config(TrainConfig()).phoneme_near_misses
    on = dataclasses.replace(TrainConfig(), tts_phoneme_near_misses=True)
    assert tts.training_tts_config(on).phoneme_near_misses
