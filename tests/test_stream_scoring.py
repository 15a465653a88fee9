"""The streaming scorer on hand-made event lists (no engine, no model)."""

from __future__ import annotations

import pytest

from kwsapp.errors import BadInputError
from kwsapp.streaming.scoring import Event, TruthWord, lies_on, read_truth, repeat_pairs, \
    score_events, withheld_outcomes, write_truth

TRUTH = [
    TruthWord("yes", 1.0, 1.5, "yes/a.wav"),
    TruthWord("unknown", 3.0, 3.6, "_unknown_/bed_x.wav"),
    TruthWord("no", 5.0, 5.4, "no/b.wav"),
    TruthWord("go", 8.0, 8.5, "go/c.wav"),
]
HOUR = 3600.0


def ev(label: str, emitted_at: float, score: float = 0.9, span: tuple[float, float] | None = None
       ) -> Event:
    """An event emitted at ``emitted_at`` whose heard span is ``span``
    (default: the 0.5 s before emission)."""
    start, end = span if span is not None else (emitted_at - 0.5, emitted_at)
    return Event(label, score, start, end, emitted_at)


def test_withheld_commands_are_scored_as_if_they_had_fired_after_the_emitted_ones():
    """The second opinion's drops: one on a word an emitted event matched is
    a duplicate, one on an unmatched command word a command lost, one on
    another command's word wrong, one on other speech a false activation
    avoided; the emitted events' own score does not change."""
    emitted = score_events(TRUTH, [ev("yes", 1.7)], HOUR)
    withheld = [ev("no", 5.5), ev("yes", 1.8), ev("left", 8.6), ev("go", 3.5)]
    assert withheld_outcomes(emitted, withheld) == ["duplicate", "false", "match", "wrong"]
    assert (emitted.matched, emitted.false_activations) == (1, 0)
    # Two drops on one unmatched word: the first loses it, the second is a duplicate.
    assert withheld_outcomes(emitted, [ev("go", 8.6), ev("go", 8.7)]) == ["match", "duplicate"]


def test_all_matched_with_latency():
    s = score_events(TRUTH, [ev("yes", 1.7), ev("no", 5.5), ev("go", 8.6)], HOUR)
    assert (s.matched, s.wrong, s.missed, s.false_activations, s.duplicates) == (3, 0, 0, 0, 0)
    assert s.matched_pct == 100.0
    assert s.latencies_s == pytest.approx([0.2, 0.1, 0.1])
    assert s.latency_median_ms == pytest.approx(100.0)


def test_wrong_label_near_a_word():
    s = score_events(TRUTH, [ev("yes", 1.7), ev("off", 5.5)], HOUR)
    assert s.word_outcomes == ["matched", "wrong", "missed"]
    assert s.wrong_events == 1 and s.false_activations == 0
    assert s.matched_pct + s.wrong_pct + s.missed_pct == pytest.approx(100.0)


def test_wrong_then_right_counts_the_word_matched():
    s = score_events(TRUTH, [ev("off", 5.2), ev("no", 5.6)], HOUR)
    assert s.word_outcomes[1] == "matched" and s.wrong_events == 1


def test_duplicate_counted_apart():
    s = score_events(TRUTH, [ev("yes", 1.6), ev("yes", 2.1, span=(1.2, 1.5))], HOUR)
    assert s.outcomes == ["match", "duplicate"]
    assert s.duplicates == 1 and s.false_activations == 0 and s.matched == 1


def test_missed_words():
    s = score_events(TRUTH, [], HOUR)
    assert s.missed == 3 and s.matched_pct == 0.0 and s.latency_median_ms is None


def test_false_activation_in_silence_and_on_unknown_word():
    s = score_events(TRUTH, [ev("stop", 3.5, span=(3.0, 3.5)), ev("up", 12.0)], 1800.0)
    assert s.outcomes == ["false", "false"]
    assert s.fa_per_hour == pytest.approx(4.0)


@pytest.mark.parametrize("span,outcome", [
    ((0.60, 0.75), "match"),    # ends at the word's start - 250 ms
    ((0.50, 0.749), "false"),   # just before it
    ((1.75, 2.0), "match"),     # starts at the word's end + 250 ms
    ((1.751, 2.0), "false"),    # just after it
    ((1.2, 1.3), "match"),      # inside the word
    ((0.0, 3.0), "match"),      # around it
])
def test_edges_of_tolerance(span, outcome):
    s = score_events(TRUTH[:1], [ev("yes", 2.0, span=span)], HOUR)
    assert s.outcomes == [outcome]
    assert lies_on(ev("yes", 2.0, span=span), TRUTH[0]) == (outcome == "match")


def test_late_event_on_the_word_matches_and_counts_its_latency():
    s = score_events(TRUTH[:1], [ev("yes", 2.4, span=(1.0, 1.5))], HOUR)
    assert s.outcomes == ["match"] and s.latencies_s == pytest.approx([0.9])


def test_tolerance_is_a_parameter():
    s = score_events(TRUTH[:1], [ev("yes", 2.4, span=(1.8, 2.4))], HOUR, tolerance_ms=400.0)
    assert s.outcomes == ["match"]
    s = score_events(TRUTH[:1], [ev("yes", 2.4, span=(1.8, 2.4))], HOUR)
    assert s.outcomes == ["false"]


def test_same_word_twice_needs_two_events():
    twice = [TruthWord("up", 1.0, 1.5), TruthWord("up", 2.5, 3.0)]
    one = score_events(twice, [ev("up", 1.8)], HOUR)
    assert one.word_outcomes == ["matched", "missed"]
    # The second event's span touches both words: it goes to the word not
    # matched yet.
    two = score_events(twice, [ev("up", 1.8), ev("up", 3.1, span=(1.6, 3.0))], HOUR)
    assert two.word_outcomes == ["matched", "matched"] and two.duplicates == 0


def test_non_command_events_are_ignored():
    s = score_events(TRUTH, [ev("unknown", 3.3), ev("silence", 10.0)], HOUR)
    assert s.events == 0 and s.false_activations == 0


def test_truth_csv_round_trip(tmp_path):
    path = tmp_path / "t.csv"
    write_truth(path, TRUTH)
    assert read_truth(path) == TRUTH


def test_truth_csv_bad(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("label,start\nyes,1\n")
    with pytest.raises(BadInputError, match="columns"):
        read_truth(path)
    path.write_text("label,start,end\nyes,one,2\n")
    with pytest.raises(BadInputError, match="line 2"):
        read_truth(path)


def test_repeat_pairs_count_words_said_twice():
    truth = [TruthWord("up", 1.0, 1.5, "up/a.wav"), TruthWord("unknown", 2.0, 2.2, "u.wav"),
             TruthWord("up", 2.5, 3.0, "up/a.wav"), TruthWord("go", 6.0, 6.4, "go/b.wav"),
             TruthWord("go", 7.5, 7.9, "go/b.wav")]
    assert repeat_pairs(truth, ["matched", "matched", "matched", "missed"]) == (1, 2)


@pytest.mark.parametrize("k,n", [(160, 177), (0, 20), (20, 20), (1, 3)])
def test_matched_interval_is_wilsons(k, n):
    """The 95 % interval of the matched share is the Wilson score interval
    (scipy.stats as the reference) and holds the share itself."""
    from scipy.stats import binomtest

    from kwsapp.streaming.scoring import wilson_interval_pct

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval_pct(k, n)
    assert (lo, hi) == pytest.approx((100 * ref.low, 100 * ref.high), abs=1e-9)
    assert lo <= 100 * k / n <= hi


@pytest.mark.parametrize("k,hours", [(11, 0.25), (0, 1.0), (23, 1.0), (1, 0.1)])
def test_false_activation_interval_is_exact_poisson(k, hours):
    """The rate's 95 % interval is the exact (Garwood) one, from chi-squared
    quantiles as the reference."""
    from scipy.stats import chi2

    from kwsapp.streaming.scoring import poisson_rate_interval

    low = 0.0 if k == 0 else chi2.ppf(0.025, 2 * k) / 2
    high = chi2.ppf(0.975, 2 * k + 2) / 2
    assert poisson_rate_interval(k, hours) == pytest.approx((low / hours, high / hours),
                                                             rel=1e-9)


def test_summary_carries_both_intervals():
    s = score_events(TRUTH, [ev("stop", 3.5, span=(3.0, 3.5)), ev("yes", 1.6)], 1800.0)
    out = s.summary()
    lo, hi = out["matched_pct_ci95"]
    assert lo < out["matched_pct"] < hi
    lo, hi = out["fa_per_hour_ci95"]
    assert out["fa_per_hour"] == pytest.approx(2.0) and lo < 2.0 < hi


def test_matched_words_are_counted_by_label_in_the_scorers_own_matching():
    from kwsapp.streaming.scoring import Event, TruthWord, score_events

    truth = [TruthWord("yes", 1.0, 1.4), TruthWord("yes", 3.0, 3.4), TruthWord("no", 5.0, 5.4),
             TruthWord("unknown", 7.0, 7.4)]
    events = [Event("yes", 0.9, 1.0, 1.4, 1.6), Event("yes", 0.9, 1.1, 1.4, 1.7),  # a duplicate
              Event("go", 0.9, 5.0, 5.4, 5.6)]  # wrong on "no"
    s = score_events(truth, events, 10.0)
    assert s.matched_by_label() == {"yes": 1}
    assert [w.label for w in s.command_words] == ["yes", "yes", "no"]
    assert "command_words" not in s.summary()


def test_truth_csv_with_a_byte_order_mark(tmp_path):
    """A truth file saved by Excel (UTF-8 with a BOM) reads as the same rows."""
    path = tmp_path / "t.csv"
    write_truth(path, TRUTH)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_truth(path) == TRUTH


def test_truth_rows_checked_against_the_stream(tmp_path):
    """A row may end at the stream's end as write_truth rounds it (ms); past
    that, before 0 or of another label it is refused, its line named."""
    path = tmp_path / "t.csv"
    write_truth(path, TRUTH + [TruthWord("unknown", 9.0, 10.0004)])
    labels = ("yes", "no", "go", "unknown")
    assert read_truth(path, 10.0, labels)[-1].end == 10.0
    with pytest.raises(BadInputError, match=r"line 6: word at 9.0-10.0 s is past the stream's "
                                            r"end \(9.99 s\)"):
        read_truth(path, 9.99, labels)
    with pytest.raises(BadInputError, match=r"line 4: unknown label 'no' \(labels: yes, unknown\)"):
        read_truth(path, 10.0, ("yes", "unknown"))
    path.write_text("label,start,end\nyes,-0.5,0.2\n")
    with pytest.raises(BadInputError, match="line 2: word at -0.5 to 0.2 s starts before"):
        read_truth(path)
