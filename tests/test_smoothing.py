"""Smoother: averaging, threshold, refractory, re-arming, reset."""

from dataclasses import replace

import numpy as np
import pytest

from kwsapp import LABELS
from kwsapp.config import SmoothingConfig
from kwsapp.inference.smoothing import Smoother

HOP_S = 0.25


def _probs(label: str | None, p: float = 0.9) -> np.ndarray:
    out = np.full(len(LABELS), 0.0, np.float32)
    if label is None:
        out[LABELS.index("silence")] = 1.0
        return out
    out[LABELS.index(label)] = p
    out[LABELS.index("unknown")] = 1.0 - p
    return out


def _run(smoother, seq, words=None):
    fired = []
    for i, probs in enumerate(seq):
        d = smoother.update((i + 1) * HOP_S, probs, None if words is None else words[i])
        if d:
            fired.append((d.label, d.time))
    return fired


def test_fires_once_for_a_word_that_lasts_several_windows():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=500, threshold=0.6, refractory_ms=1000))
    seq = [_probs(None)] * 2 + [_probs("stop")] * 8 + [_probs(None)] * 2
    assert _run(s, seq, words=[None, None] + [7] * 8 + [None, None]) == [("stop", 1.0)]


def test_average_needs_two_windows_above_threshold():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=500, threshold=0.6))
    # One confident window between silences averages to 0.45: no event.
    assert _run(s, [_probs(None), _probs("go"), _probs(None)]) == []


def test_silence_and_unknown_never_fire():
    s = Smoother(LABELS, SmoothingConfig(threshold=0.5))
    unknown = np.zeros(len(LABELS), np.float32)
    unknown[LABELS.index("unknown")] = 1.0
    assert _run(s, [unknown] * 6 + [_probs(None)] * 6) == []


def test_same_word_twice_fires_twice():
    """'stop' ... 1.5 s ... 'stop' in one open gate: two speech runs, two events."""
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=500, threshold=0.6, refractory_ms=1000))
    seq = [_probs("stop")] * 10
    words = [100] * 5 + [200] * 5  # the second utterance starts a new speech run
    fired = _run(s, seq, words)
    assert [f[0] for f in fired] == ["stop", "stop"]
    assert fired[1][1] - fired[0][1] >= 1.0


def test_same_utterance_lingering_in_windows_does_not_fire_again():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=500, threshold=0.6, refractory_ms=500))
    assert len(_run(s, [_probs("stop")] * 12, words=[5] * 12)) == 1


def test_without_word_keys_a_label_rearms_after_its_probability_drops():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=250, threshold=0.6, refractory_ms=500))
    seq = [_probs("yes")] * 4 + [_probs(None)] * 2 + [_probs("yes")] * 4
    assert [f[0] for f in _run(s, seq)] == ["yes", "yes"]


def test_refractory_holds_back_a_different_word():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=250, threshold=0.6, refractory_ms=1000))
    fired = _run(s, [_probs("up"), _probs("down"), _probs("down"), _probs("down"),
                     _probs("down"), _probs("down")])
    assert fired == [("up", 0.25), ("down", 1.25)]


def test_reset_forgets_the_averaged_history():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=1000, threshold=0.6))
    assert s.update(0.25, _probs("left", 0.2)) is None
    s.reset()
    assert s.mean() is None
    # Averaged with the window before the reset it would be 0.55: no event.
    assert s.update(0.5, _probs("left", 0.9)).label == "left"


def test_threshold_validation_and_change():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=250, threshold=0.95))
    assert s.update(0.25, _probs("on", 0.9)) is None
    s.set_threshold(0.8)
    assert s.update(0.5, _probs("on", 0.9)).label == "on"
    with pytest.raises(ValueError):
        s.set_threshold(0.0)
    # The range --threshold and the card take: 0.005 passed here, and the
    # engine then fired at a threshold the CLI refuses.
    with pytest.raises(ValueError, match=r"\[0.01, 1.0\]"):
        s.set_threshold(0.005)


def test_a_nan_window_never_fires():
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=250, threshold=0.6))
    assert s.update(0.25, np.full(len(LABELS), np.nan, np.float32)) is None
    assert s.update(0.5, _probs("go")).label == "go"


def _run_quiet(smoother, seq, quiet):
    fired = []
    for i, (probs, q) in enumerate(zip(seq, quiet)):
        d = smoother.update((i + 1) * HOP_S, probs, 1, q)
        if d:
            fired.append((d.label, d.time))
    return fired


CONFIRM = SmoothingConfig(average_window_ms=500, threshold=0.6, refractory_ms=1000,
                          confirm_pause_ms=100, confirm_wait_ms=900, confirm_ratio=1.0)


def test_a_command_waits_for_the_end_of_the_word():
    """Issue 11: "no" heard while "snowboy" goes on must not fire at once."""
    seq = [_probs("no")] * 6
    # Speech goes on for three windows, then pauses.
    assert _run_quiet(Smoother(LABELS, CONFIRM), seq, [0, 0, 0, 0, 150, 400]) == [("no", 1.25)]
    # Without the wait (the default) it fires as soon as the mean passes.
    plain = replace(CONFIRM, confirm_pause_ms=0.0, confirm_ratio=0.0)
    assert _run_quiet(Smoother(LABELS, plain), seq, [0] * 6) == [("no", 0.25)]


def test_a_command_the_rest_of_the_word_contradicts_is_dropped():
    # "sno..." looks like "no"; once "...wboy" is in the window, it does not.
    seq = [_probs("no")] * 4 + [_probs("no", 0.35)] * 2
    quiet = [0, 0, 0, 0, 150, 400]
    assert _run_quiet(Smoother(LABELS, CONFIRM), seq, quiet) == []
    # The mean alone (0.625 at 1.25 s) would still have fired.
    no_ratio = replace(CONFIRM, confirm_ratio=0.0)
    assert _run_quiet(Smoother(LABELS, no_ratio), seq, quiet) == [("no", 1.25)]


def test_speech_that_never_pauses_holds_a_command_back_only_so_long():
    # Noise the VAD takes for speech: the command fires confirm_wait_ms
    # (900) after it first could, at the next window.
    seq = [_probs("go")] * 8
    fired = _run_quiet(Smoother(LABELS, CONFIRM), seq, [0] * 8)
    assert fired == [("go", 1.25)]


def test_an_unknown_pause_does_not_wait():
    # quiet None: the VAD is off, nothing to wait for.
    assert _run_quiet(Smoother(LABELS, CONFIRM), [_probs("up")] * 4, [None] * 4) == [("up", 0.25)]


def test_confirmation_reads_from_and_writes_to_the_card():
    from kwsapp.config import Config
    card = {"threshold": 0.5, "smoothing": {**CONFIRM.card_fields()}}
    s = Config().with_card(card).smoothing
    assert (s.confirm_pause_ms, s.confirm_wait_ms, s.confirm_ratio) == (100, 900, 1.0)
    assert "threshold" not in CONFIRM.card_fields() and "class_offsets" not in CONFIRM.card_fields()


@pytest.mark.parametrize("thresholds", [{}, {"left": 0.8, "no": 0.3}])
def test_can_fire_at_is_a_bound_no_window_breaks(thresholds):
    """When ``can_fire_at`` says the next window cannot fire, no
    probabilities of that window fire it (all ones, each command alone at
    1.0, random ones), with any word key and any pause up to the bound it
    was given; and it does say so on real-looking streams, not only when it
    must, by the probabilities and by the pause."""
    import copy

    rng = np.random.default_rng(3)
    hop_s = 0.08
    cfg = SmoothingConfig(average_window_ms=250, threshold=0.5, refractory_ms=1000,
                          class_offsets=tuple((k, v - 0.5) for k, v in thresholds.items()),
                          confirm_pause_ms=90.0, confirm_wait_ms=320.0)
    s = Smoother(LABELS, cfg)
    commands = [i for i, lab in enumerate(LABELS) if lab not in ("silence", "unknown")]
    candidates = [np.ones(len(LABELS), np.float32)]
    for i in commands:
        one = np.zeros(len(LABELS), np.float32)
        one[i] = 1.0
        candidates.append(one)
    said = {"yes": 0, "no": 0, "no, by the pause": 0, "refractory": 0}
    for n in range(1500):
        t = (n + 1) * hop_s
        at_most = (None, 0.0, 50.0, 89.0, 150.0)[n % 5]
        if s.can_fire_at(t):
            said["no, by the pause" if not s.can_fire_at(t, at_most) else "yes"] += 1
        if s.refractory_at(t):  # a bound for every window up to its end
            said["refractory"] += 1
            for later in (t, t + 0.3):
                if s.refractory_at(later):
                    for probs in candidates:
                        assert copy.deepcopy(s).update(later, probs, n + 1, 400.0) is None
        if not s.can_fire_at(t, at_most):
            said["no"] += 1
            extra = [rng.dirichlet(np.full(len(LABELS), 0.3)).astype(np.float32)
                     for _ in range(3)]
            pauses = [None] if at_most is None else [0.0, at_most]
            for probs in candidates + extra:
                for word in (None, n, n + 1):
                    for quiet in pauses:
                        assert copy.deepcopy(s).update(t, probs, word, quiet) is None, \
                            (n, probs, word, quiet)
        # Mostly background, now and then a command building up; pauses of
        # every length.
        p = rng.dirichlet(np.full(len(LABELS), 0.5)).astype(np.float32)
        if rng.random() < 0.4:
            p = 0.3 * p + 0.7 * candidates[1 + rng.integers(len(commands))]
        quiet = (None, 0.0, 30.0, 60.0, 100.0, 400.0)[rng.integers(6)]
        s.update(t, p, n // 10, quiet)
    assert said["yes"] > 50 and said["no"] > 300 and said["no, by the pause"] > 20, said
    assert said["refractory"] > 20, said


def test_can_fire_at_lets_a_command_that_waited_for_the_pause_fire():
    """Speech that never pauses: the command fires once it has waited
    confirm_wait_ms, and can_fire_at (told the pause is still under
    confirm_pause_ms) says so for that window, and no for those before."""
    cfg = SmoothingConfig(average_window_ms=250, threshold=0.5, confirm_pause_ms=90.0,
                          confirm_wait_ms=320.0)
    s = Smoother(LABELS, cfg)
    said = []
    for n in range(12):
        t = (n + 1) * 0.08
        said.append(s.can_fire_at(t, 10.0))
        if s.update(t, _probs("stop", 0.95), 1, 10.0) is not None:
            break
    # The first window (empty history) may fire as far as it knows; "stop"
    # passes the threshold there and starts waiting: 320 ms later (0.40 s)
    # it fires, the only window after the first that could.
    assert said == [True, False, False, False, True]


def test_refractory_at_bounds_every_window_until_it_ends_across_resets():
    """After a detection, ``refractory_at`` says yes for every window that
    ends within the refractory time (none of them fires, whatever its
    probabilities, after a reset too) and no from its end on; before any
    detection, no."""
    s = Smoother(LABELS, SmoothingConfig(average_window_ms=250, threshold=0.5,
                                         refractory_ms=1000))
    assert not s.refractory_at(0.08)
    fired = next(t for t in (0.08 * (n + 1) for n in range(10))
                 if s.update(t, _probs("stop", 0.95), 1) is not None)
    s.reset()  # the gate closed: the refractory time holds
    later = [fired + 0.08 * k for k in range(1, 20)]
    inside = [t for t in later if s.refractory_at(t)]
    assert inside == [t for t in later if t - fired < 1.0 - 1e-6] and len(inside) == 12
    for t in inside:
        assert s.update(t, _probs("go", 1.0), 2) is None
    after = next(t for t in later if not s.refractory_at(t))
    assert s.update(after, _probs("go", 1.0), 2) is not None
