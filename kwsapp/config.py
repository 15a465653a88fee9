"""Every runtime tunable, in one place, with defaults.

Times are given in milliseconds and converted to samples here only (as
kws_streaming's ``update_flags`` does), so no other module repeats the
arithmetic. A model's card states its live defaults (hop, thresholds,
smoother, VAD) and the user may override some: :func:`runtime_settings`
merges the three once, when a model is loaded; the engine, the GUI and the
CLI take its result as given. The window length and front end are the
card's alone (:class:`~kwsapp.models.artifact.ModelCard`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

#: Every model and the engine work at this rate; devices at other rates are
#: resampled in the pipeline thread (never in the audio callback).
SAMPLE_RATE_HZ = 16000


def ms_to_samples(ms: float, sample_rate_hz: int = SAMPLE_RATE_HZ) -> int:
    """Milliseconds to a whole number of samples at ``sample_rate_hz``."""
    return int(round(ms * sample_rate_hz / 1000.0))


@dataclass(frozen=True)
class AudioConfig:
    """Input stream and ring buffer."""

    device: str | int | None = None  # None: the system default input
    device_rate_hz: int | None = None  # None: the device's default rate
    block_ms: float = 20.0  # PortAudio block per callback (the window: its waveform scrolls per block)
    # `kwsapp listen`'s PortAudio block: one Python callback per 80 ms step
    # instead of four (the capture child's CPU: 0.65 -> 0.3 % of a core). No
    # later at 48 or 44.1 kHz (the resampler's look-ahead already waits for
    # the block after a step's end), up to 20 ms later at 16 kHz.
    listen_block_ms: float = 80.0
    ring_seconds: float = 20.0  # history kept for the engine and the GUI
    # The pipeline thread never waits on the audio callback (which must not
    # take locks): it sleeps until the audio its next window or embedding
    # step needs can be there by the device's clock (the ring's write
    # stamps). When that audio is not there yet it looks again after this
    # (from the fourth time in a row doubling, up to 250 ms: a stalled device).
    poll_ms: float = 5.0
    # While the speech gate is shut nothing is decided, so the live pipeline
    # lets up to this much audio gather before it wakes (whole steps or
    # windows, run back to back; the same ones, in the same order). The
    # gate's opening is then seen up to this late, before a command word
    # that opened it can fire: wake-ups and windows are on the same 80 ms
    # grid, so only a command firing within 160 ms of the opening could wait
    # (the earliest in the validation and held-out TTS streams: 170 ms;
    # 480 ms would delay 171 of their 528: docs/benchmarks.md). 0: wake
    # for every step.
    gated_wake_ms: float = 240.0
    # While the gate is open, a step whose window cannot fire whatever the
    # model says (the smoother's bound: its mean with that window at 1.0
    # stays under every threshold) is run at the next step's wake-up, with
    # it (within the refractory time after a command, which nothing fires
    # in, up to `gated_wake_ms` of steps wait for one wake-up): the same
    # windows in the same order, no event later, and one
    # wake-up of the pipeline instead of two (a cold wake-up costs several
    # times what the second step back to back does). Off while embedding
    # listeners (user words) want every embedding as soon as it can be made.
    defer_unfireable_steps: bool = True
    # While the gate is shut and no embedding listener (user words) wants
    # them, the live pipeline runs no embedding steps: the first step after
    # the gate opens recomputes from the audio ring the embeddings its head
    # reads (at most `frames` + the stream's warm-up, three per model call;
    # the same values, exact to the bit).
    lazy_shut_steps: bool = True
    # Also bring the 16 kHz ring and the VAD flags up to date at least this
    # often (None: only when a window or step is due, every 80 ms with
    # `embed`). The GUI sets its redraw period, so the waveform scrolls smoothly.
    refresh_ms: float | None = None
    # A lost input device (`listen`, the window) is looked for this often,
    # each look a fresh PortAudio in a child process; one that has not
    # answered within `device_probe_timeout_s` (PortAudio hung) is killed.
    device_poll_s: float = 1.0
    device_probe_timeout_s: float = 15.0
    # Listing the input devices (`kwsapp devices`, the window's chooser at
    # start and on refresh) runs a fresh PortAudio in a child process
    # (kwsapp/audio/portaudio_child.py), killed and said when it has not
    # answered in this long: PortAudio's start hangs for ever on a sound
    # server that answers nobody. It answers in 0.2-0.3 s here (JACK dummy
    # server, the Python start included).
    device_list_timeout_s: float = 10.0
    # Opening the live input (Listen in the window, `kwsapp listen`): the
    # capture child is given this long to find the device, and as long again
    # to start its stream, then killed and said (naming the device): a sound
    # server that answers nobody hangs PortAudio's start for ever, and the
    # child's own limit (child_source.REPLY_TIMEOUT_S) is 20 s. A normal
    # open takes 0.18-0.23 s to find the device and 0.05 s to start here
    # (JACK dummy server, Python's start included; idle machine).
    open_timeout_s: float = 10.0


@dataclass(frozen=True)
class VadConfig:
    """webrtcvad speech gate."""

    enabled: bool = True
    aggressiveness: int = 2  # 0 (least) .. 3 (most aggressive filtering)
    frame_ms: int = 30  # webrtcvad accepts 10, 20 or 30 ms frames
    # Gate stays open this long after the last speech frame, so the
    # window that holds the word's end still gets classified.
    hangover_ms: float = 800.0
    # Speech needs this many voiced ms in a row to open the gate.
    onset_ms: float = 60.0
    # Voiced frames closer than this belong to one word (a "speech run"):
    # stop closures inside a word are shorter, pauses between words longer.
    word_gap_ms: float = 250.0
    # A window's decision is about the speech run that fills most of its
    # last this many ms (kwsapp/audio/vad.py heard_run): the command just
    # heard, not an earlier burst that fills more of the 1.5 s.
    heard_ms: float = 1000.0
    # Frames quieter than this (RMS, dB re full scale) are never speech:
    # webrtcvad alone calls even -60 dBFS white noise speech. The loudest
    # frame of 360 shared command clips was at least -33 dBFS.
    min_level_dbfs: float = -50.0


#: Smallest and largest threshold a class can have (a shifted per-class
#: threshold is clipped into this range).
THRESHOLD_RANGE = (0.01, 1.0)


@dataclass(frozen=True)
class SmoothingConfig:
    """Window probabilities -> commands (see inference/smoothing.py).

    Per-class thresholds are held as offsets from the global ``threshold``
    (the card states absolute values; :meth:`Config.with_card` converts), so
    moving the global threshold (the GUI's sensitivity slider, ``--threshold``)
    moves every class with it and the tuned differences between classes stay.
    """

    average_window_ms: float = 500.0  # mean of the windows in this span
    threshold: float = 0.6  # fire when a command's mean probability passes it
    refractory_ms: float = 1000.0  # no second event this soon after one
    # (label, threshold - global threshold) per class tuned apart; a class
    # not named uses `threshold`. Pairs, not a dict, so the config stays hashable.
    class_offsets: tuple[tuple[str, float], ...] = ()
    # End of word: a command fires only once the speech has paused this long
    # (ms since the last voiced frame; 0: at once), and only if the window
    # then, which holds the whole utterance, still gives the label at least
    # `confirm_ratio` x its threshold: a command heard inside a longer word
    # ("no" in "snowboy") is dropped when the rest of the word arrives.
    confirm_pause_ms: float = 0.0
    # ... or once it has waited this long for the pause (noise the VAD takes
    # for speech must not hold a command back for good).
    confirm_wait_ms: float = 300.0
    confirm_ratio: float = 0.0

    def card_fields(self) -> dict[str, float]:
        """The card's ``smoothing`` object: every field but the thresholds
        (the card states those as ``threshold`` and ``thresholds``)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__
                if k not in ("threshold", "class_offsets")}

    def threshold_for(self, label: str) -> float:
        """The threshold ``label`` fires at (clipped to :data:`THRESHOLD_RANGE`)."""
        offset = dict(self.class_offsets).get(label, 0.0)
        if not offset:
            return self.threshold
        return float(min(max(self.threshold + offset, THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1]))

    def class_thresholds(self) -> dict[str, float]:
        """``{label: absolute threshold}`` of the classes tuned apart (the
        card's ``thresholds``)."""
        return {label: round(self.threshold_for(label), 4) for label, _ in self.class_offsets}

    def with_class_thresholds(self, thresholds: Mapping[str, float]) -> "SmoothingConfig":
        """This config with absolute per-class ``thresholds`` (replacing any)."""
        offsets = tuple(sorted((str(k), float(v) - self.threshold) for k, v in thresholds.items()))
        return replace(self, class_offsets=offsets)


@dataclass(frozen=True)
class SplitConfig:
    """The seeded speaker-disjoint split of data without official lists
    (kwsapp/speakers.py). Training's ``TrainConfig`` carries the same three
    fields, so either can be given where a split is asked for."""

    seed: int = 0
    # A speaker's seeded hash decides its share.
    validation_share: float = 0.15
    test_share: float = 0.10


@dataclass(frozen=True)
class ArtifactConfig:
    """Loading a model artifact (kwsapp/models/artifact.py ``load_whole``).

    ``train``, ``export`` and ``make models`` put a new artifact in place by
    a few renames, card last (training/artifact_write.py). A load that a
    swap overlapped (the card read before it, a file after, or the card
    missing meanwhile) is done again after a pause, at most ``swap_tries``
    times in all, then refused as "a model is being put in place". A swap
    is a few renames long (milliseconds); a stopped one stays until the
    next run finishes it, and is refused after these tries (0.4 s).
    """

    swap_tries: int = 5
    swap_pause_s: float = 0.1


@dataclass(frozen=True)
class GuiConfig:
    """Desktop window (kwsapp/gui): drawing rates, spans and looks."""

    redraw_hz: float = 30.0  # live spectrogram/waveform/meter repaint rate
    status_hz: float = 2.0  # status bar text (xruns, drops, timings)
    status_message_ms: int = 5000  # how long a status bar message (exported, a hint) stays
    # A status bar counter (xruns, dropped, infer, latency) is at least this
    # wide, so that it keeps still as its number changes (a longer text
    # widens it; the device's name is elided to what they leave).
    status_counter_px: int = 110
    # The window's size at the first run (later: as the user left it), at most
    # window_screen_share of the screen's free area each way.
    window_size: tuple[int, int] = (1180, 760)
    window_screen_share: float = 0.9
    spectrogram_seconds: float = 6.0  # span of the scrolling spectrogram
    spectrogram_n_mels: int = 64
    spectrogram_window_ms: float = 25.0
    spectrogram_hop_ms: float = 10.0
    spectrogram_n_fft: int = 512
    # Fixed image levels (natural-log mel power); autoLevels would flicker.
    spectrogram_levels: tuple[float, float] = (-11.0, 4.0)
    colormap: str = "inferno"  # perceptual map (pyqtgraph.colormap.get)
    waveform_seconds: float = 3.0
    waveform_buckets: int = 1000  # min/max segments drawn per frame (>= plot width)
    meter_span_ms: float = 50.0  # level meter RMS span
    meter_floor_db: float = -60.0
    # The meter's dBFS scale: at most this many labels (a round step from 0
    # down to the floor: -60, -40, -20, 0), drawn inside the bar in a font
    # this many pixels high; one with no room is left out, not overlapped.
    meter_scale_ticks: int = 4
    meter_scale_px: int = 10
    result_hold_ms: float = 1500.0  # command shown at full strength this long
    result_fade_ms: float = 1200.0  # then fades out over this long
    history_rows: int = 200  # oldest rows dropped past this
    # The history's note column (why a command did not fire) is at least
    # this many characters wide while the other columns' names and values
    # fit whole (in a narrower view the note elides first).
    history_note_min_chars: int = 6
    # The history's columns (by name) left out, in this order, where the
    # others' names and values do not fit whole beside the note's first
    # letter: at the window's least width "time | at… | com… | con… | n…"
    # could not tell its columns apart. The clock goes first (the stream
    # time still says when; the clock is in that cell's tooltip and the
    # export), then the note (a greyed row's note is in its tooltip).
    # Each comes back where it fits.
    history_leave_out: tuple[str, ...] = ("time", "note")
    # Each probability bar's row is at least this many lines of its label's
    # font; where the space is lower the bars scroll. Left to shrink, the 12
    # labels overlapped below a ~500-px window, and at about one line
    # pyqtgraph drops them all (its axis text may fill at most 80 % of it).
    bar_row_lines: float = 1.2
    # The bars' caption, in their scale row's names column (64 px, so a
    # word or two; longer is elided): the bars are the latest window's
    # probabilities, while the command above shows its smoothed confidence
    # when it fired ("go 53 %" beside a 78 % bar puzzled).
    bars_caption: str = "now"
    # The Files tab's columns keep at least this many characters of a file's
    # name and of its result while the other shrinks (a name elides in the
    # middle, its whole path in the tooltip) ...
    files_name_min_chars: int = 12
    files_result_min_chars: int = 10
    # ... and are fitted to new rows' text at most this often: a fit
    # measures up to 1,000 rows (9 ms), and a folder's results come by the
    # hundred a second.
    files_fit_ms: int = 100
    # The selected file's detail (its probabilities, its timeline) takes
    # this share of the Files tab's width, the table the rest, at any
    # window width (a drag of the handle between them sets another).
    files_detail_share: float = 0.55
    file_max_columns: int = 3000  # long-file spectrogram pooled to this width
    # Zoomed in on a file whose image is pooled (one column of an hour's is
    # ~1.2 s), the timeline draws over it the full-resolution spectrogram of
    # the part in view, read from the file off the GUI thread: when the view
    # spans at most file_detail_max_s and at most file_detail_max_share of
    # the file (wider, it is dropped). 60 s is 6,000 columns in view.
    file_detail_max_s: float = 60.0
    file_detail_max_share: float = 0.5
    # What is read: the view and this share of its span either side, so
    # that a small pan or zoom out needs no new read.
    file_detail_margin: float = 0.5
    # Asked for once the view has kept still this long (wheel zooming and
    # dragging move it many times a second: a read for each was wasted).
    file_detail_delay_ms: int = 250
    # A long file's timeline spans and labels the commands in view when
    # they are at most this many (more overlap into unreadable text).
    file_labels_max: int = 40
    # Of those, a label is drawn only where it has room (their text ran
    # together into a smear in a narrow window): in the top row, as far as
    # it goes, else in the first of file_label_rows rows below it with
    # room, the rows taking at most file_labels_height_share of the plot's
    # height (the spectrogram under them stays in sight); a label with no
    # room is left out, its command's marker, span and row in the list
    # kept (the marker's tooltip names it).
    file_label_rows: int = 2
    file_labels_height_share: float = 0.5
    # A long file's progress (its row, the Files tab's bar) is sent this
    # often at most: the engine reports every block, thousands a minute.
    file_progress_s: float = 0.2


@dataclass(frozen=True)
class VerifyConfig:
    """A speech recogniser's second opinion on each command before it fires
    (kwsapp/inference/verifier.py). The card states the levels; without
    them, or with ``enabled`` off, every command fires on the head alone."""

    enabled: bool = True
    # (label, lowest log-probability of its spelling) per command checked;
    # a command the recogniser neither heard nor finds this likely is dropped.
    levels: tuple[tuple[str, float], ...] = ()
    # The audio it hears: from this long before the end of the event's
    # speech run to this long after it (as much of that as has arrived).
    before_ms: float = 1000.0
    after_ms: float = 300.0
    # The head's own score moves the level: a command the head is sure of
    # needs less of the recogniser, one at the threshold more (the level
    # drops by score_weight x (score - score_pivot)). Commands the check
    # dropped scored higher than the false activations it let through
    # (medians 0.55 and 0.50): at 20, a fifth to a third fewer false
    # activations on real words never trained on, at equal commands kept
    # (docs/streaming.md, session 18).
    score_weight: float = 0.0
    score_pivot: float = 0.5
    # A command whose transcription is another word (not empty, not the
    # command) must clear its level by this much more: the recogniser heard
    # a word, and not this one ("Two" for go, "Lexa" for left). At 1.5, a
    # quarter fewer false activations on every speaker's held-out words for
    # 5 of the 953 commands four validation streams matched (docs/streaming.md,
    # session 19).
    other_word_margin: float = 0.0
    # The recogniser's encoder threads (its decoder runs on one). One: a
    # second took an encoder call from 25 to 16 ms only back to back; after
    # an idle pause, as live, it takes what one does (live checks 35-40 ms
    # either way), and waking it costs CPU that a file's replay, both cores
    # busy, lacks: an hour's replay 4% faster on one (docs/benchmarks.md,
    # "The encoder's threads").
    threads: int = 1
    # A file's replay (classify, evaluate-stream, the Files tab) checks its
    # commands on a thread of its own, in order, while the head goes on: the
    # head may decide at most this many commands ahead of their checks (each
    # waits with its 1.3 s of audio, 83 KB), so an hour-long file's memory
    # stays bounded; 0 checks each on the inference thread, the head waiting.
    # The checks are not batched: the encoder's outputs move by 1e-5 in a
    # batch, and the decoder's int8 products make that up to 0.3 nats of a
    # spelling's log-probability (docs/benchmarks.md, "A file's checks beside
    # the head").
    replay_ahead: int = 32
    # ... and runs their encoder calls (two thirds of a check) ahead of
    # them on this many workers, the same states to the bit (0: each on the
    # verify thread, in turn).
    replay_encoders: int = 2

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.levels)

    def level(self, label: str, score: float | None = None) -> float | None:
        """The lowest log-probability of ``label``'s spelling that confirms
        it, for a command the head gave ``score`` (None: no level)."""
        level = dict(self.levels).get(label)
        if level is None or score is None:
            return level
        return level - self.score_weight * (score - self.score_pivot)


@dataclass(frozen=True)
class UserWordsConfig:
    """User words (kwsapp/userwords): takes, augmentation, the detector and
    its live defaults."""

    min_takes: int = 3  # fewer takes are refused
    # A word to ignore may be taught from one take ("Ignore this word…" on a
    # single false activation): from the audio of 1 false activation the
    # held-out "alexa" 13 -> 2 later commands on three streams, from 2
    # 6 -> 0, commands at 10 and 5 dB all kept (README "Words to ignore",
    # 2026-11-30).
    min_ignore_takes: int = 1
    default_takes: int = 5  # `enrol --record` and the GUI ask for this many
    max_recording_s: float = 10.0  # a longer file is not one take
    record_s: float = 2.5  # one recorded take (`enrol --record`, the GUI)
    # A take's input gives up (the Add word dialog and `enrol --record`
    # alike: kwsapp/userwords/record.py InputWatch) when it has not opened
    # this long after Record (or the take's turn) and is left to itself,
    # saying which device to leave: a device can block its open for ever
    # (a JACK server that stopped answering hangs PortAudio's start), and a
    # sound card's capture child waits 20 s for its answer (the window's
    # children AudioConfig.open_timeout_s). A capture child opens in
    # 0.25-0.5 s, about 1 s on a busy machine.
    record_open_s: float = 10.0
    # ... or when the input, open, sent no audio in this long (counted from
    # its opening, countdown included; or from its last audio, mid-take): a
    # sound card's capture child reports an error after 3 s of silence, but
    # another source may never say anything.
    record_no_audio_s: float = 5.0
    # Play (a take, in the dialog) runs a fresh PortAudio in a child process
    # that is given this long beyond the take's own length to play it, then
    # killed and said (a sound server that answers nobody hangs its start).
    play_answer_s: float = 10.0
    min_word_s: float = 0.15  # less speech than this is no word
    max_word_s: float = 3.0  # more speech than this is not one word
    silent_peak_dbfs: float = -45.0  # a take whose peak stays below is silent
    clip_level: float = 0.999  # |sample| at or above this counts as clipped
    max_clipped_share: float = 0.002  # more clipped samples than this: retake
    # A take's speech this much shorter/longer than the takes' median is odd.
    short_ratio: float = 0.5
    long_ratio: float = 2.0
    # Augmentation of each take (kwsapp/userwords/augment.py).
    # Variants made in all (spread over the takes, at least 4 each), so
    # enrolment takes as long with 10 takes as with 5.
    total_variants: int = 60
    min_variants_per_take: int = 4
    snrs_db: tuple[float | None, ...] = (None, 20.0, 10.0, 5.0)
    speed_prob: float = 0.7
    speed_range: tuple[float, float] = (0.88, 1.12)
    reverb_prob: float = 0.3
    rt60_range_s: tuple[float, float] = (0.15, 0.5)
    level_dbfs_range: tuple[float, float] = (-40.0, -14.0)
    plain_level_dbfs: float = -26.0  # the speech level of each take's plain variant
    word_pad_ms: float = 60.0  # audio kept each side of a take's speech run
    before_s: tuple[float, float] = (0.3, 0.9)  # audio before the word
    after_s: float = 0.9  # and after it
    seed: int = 0
    # Detector training (kwsapp/userwords/enrol.py, detector.py).
    embed_groups: int = 4  # embedding calls (progress steps) over all variants
    end_margin_ms: float = 80.0  # a positive window reaches this far past the word
    partial_cover: float = 0.5  # windows with less of the word are negatives
    l2: float = 1e-2  # weight decay of the logistic regression
    # A pool word that a probe detector (trained against the pool's commands
    # and noise) finds at `same_word_level` in `same_word_share` of its clips
    # is the takes' word under another name, and is left out of the negatives
    # (kwsapp/userwords/enrol.py). At 0.99, 3 takes of each wake word found
    # 67-84 % of its own pool clips and at most 35 % of any other word's (at
    # 0.8 other words reached 73 %).
    same_word_level: float = 0.99
    same_word_share: float = 0.5
    # Live decisions: smoothing over the detectors' scores (as the commands').
    threshold: float = 0.8
    average_window_ms: float = 400.0
    refractory_ms: float = 1000.0
    # An ignore word (`kwsapp enrol --ignore`) vetoes the commands decided on
    # a window where it scores this much, or within 0.5 s after one
    # (calibrated as `threshold` is; kwsapp/inference/hold.py). 0.8:
    # "alexa" from 3 takes took a held-out rotation's 7 activations on 15 min
    # of other alexas to 0 and kept all 160 matched commands at 10 dB
    # (README "User words").
    ignore_threshold: float = 0.8
    # A word to ignore that sounds like a command would veto it too ("bright"
    # taught from 3 TTS takes vetoed 22 % of held-out "right" clips at 0.8):
    # enrol raises its own level (its card's threshold) until a detector
    # trained without half the pool's command clips vetoes at most this share
    # of any command's clips among them (kwsapp/userwords/enrol.py veto_level),
    # never above `ignore_max_level`.
    ignore_command_loss: float = 0.05
    ignore_max_level: float = 0.999
    # While an ignore word listens, commands it stirs on (`ignore_alert`)
    # wait this long before they are emitted: its score on an utterance can
    # peak a step after the command could fire. 80 ms (one step): with
    # none, measure_words --ignore let 2-3 commands on "alexa" through
    # where the hold lets 0-1 (README "Words to ignore").
    ignore_hold_ms: float = 80.0
    # Only commands decided where an ignore word scored this much (short of
    # a veto) in the half second before are held; 0: every command is held.
    # 0.05: the same vetoes as holding every command (held-out "alexa" and
    # "snowboy", measure_words --ignore and measure_ignore), and the 10 dB
    # validation commands' median latency 164 ms instead of 244 (measured
    # with the plain-head model bundled before 2026-11-29's eleventh part).
    ignore_alert: float = 0.05


@dataclass(frozen=True)
class Config:
    """All runtime settings. Build variants with ``dataclasses.replace``."""

    hop_ms: float = 250.0  # one window classified every hop while gated open
    queue_size: int = 2  # windows waiting for inference; oldest dropped
    # `classify`: files up to this long get one centred window (label +
    # probabilities); longer ones a timeline of events from the engine.
    clip_max_ms: float = 1550.0
    # A clip shorter than this (and than the model's window) gets a note
    # that its label may be wrong: the window is padded with silence, and
    # the audio is likely less than a whole word. The bundled model's top
    # label on 120 command clips of the shared subset (12 a command, some
    # it trained on: a rough figure), cut centred on their word, was right
    # for 97-98 % at 0.6 s and 1 s, 91 % at 0.5 s, 79 % at 0.4 s, 56 % at
    # 0.25 s and 1 % at 0.05 s. A note on every clip shorter than the
    # window (1.5 s for embed) would mark every 1-s Speech Commands clip.
    short_clip_ms: float = 500.0
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    @property
    def hop_samples(self) -> int:
        return ms_to_samples(self.hop_ms)

    def with_card(self, card: Mapping[str, Any]) -> "Config":
        """This config with the hop, threshold (and per-class ``thresholds``),
        smoother and VAD defaults a model card states (``card.json``); the
        card step of :func:`runtime_settings`."""
        out = self
        if "hop_ms" in card:
            out = replace(out, hop_ms=float(card["hop_ms"]))
        smoothing = dict(card.get("smoothing") or {})
        if "threshold" in card:
            smoothing.setdefault("threshold", card["threshold"])
        known = set(SmoothingConfig.__dataclass_fields__) - {"class_offsets"}
        out = replace(out, smoothing=replace(
            out.smoothing, **{k: float(v) for k, v in smoothing.items() if k in known}))
        # Per-class thresholds are relative to the card's own threshold.
        out = replace(out, smoothing=out.smoothing.with_class_thresholds(
            dict(card.get("thresholds") or {})))
        vad = {k: v for k, v in dict(card.get("vad") or {}).items()
               if k in VadConfig.__dataclass_fields__}
        if vad:
            out = replace(out, vad=replace(out.vad, **vad))
        verify = dict(card.get("verify") or {})
        if verify:
            out = replace(out, verify=replace(
                out.verify, levels=tuple(sorted((str(k), float(v)) for k, v in
                                                dict(verify.get("levels") or {}).items())),
                **{k: float(verify[k]) for k in ("before_ms", "after_ms", "score_weight",
                                                 "score_pivot", "other_word_margin")
                   if k in verify}))
        return out


@dataclass(frozen=True)
class Overrides:
    """What the user set over a model card's live defaults (``--threshold``,
    the GUI's slider and VAD choice, the input device). None: not set, the
    card's (or the default) value holds."""

    threshold: float | None = None
    vad_aggressiveness: int | None = None
    device: str | int | None = None
    verify: bool | None = None  # the recogniser's second opinion on or off


def runtime_settings(card: Mapping[str, Any], overrides: Overrides = Overrides(),
                     base: "Config | None" = None) -> "Config":
    """The runtime settings for a model: ``base`` (default :class:`Config`),
    then the card's live defaults (hop, threshold and per-class thresholds,
    smoother, VAD), then the user's ``overrides``. The one place these are
    merged: the engine, the GUI and the CLI take the result as given.

    Raises:
        ValueError: an override out of range (the CLI reports it as bad input).
    """
    config = (base or Config()).with_card(card)
    if overrides.threshold is not None:
        if not THRESHOLD_RANGE[0] <= overrides.threshold <= THRESHOLD_RANGE[1]:
            raise ValueError(f"threshold must be in [{THRESHOLD_RANGE[0]}, "
                             f"{THRESHOLD_RANGE[1]}], not {overrides.threshold}")
        config = replace(config, smoothing=replace(config.smoothing,
                                                   threshold=float(overrides.threshold)))
    if overrides.vad_aggressiveness is not None:
        config = replace(config, vad=replace(config.vad,
                                             aggressiveness=int(overrides.vad_aggressiveness)))
    if overrides.device is not None:
        config = replace(config, audio=replace(config.audio, device=overrides.device))
    if overrides.verify is not None:
        config = replace(config, verify=replace(config.verify, enabled=bool(overrides.verify)))
    return config
