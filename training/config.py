"""Training-side settings: the data split and training loop, augmentation
and the data-set exploration report. Pure Python (no TensorFlow); the
runtime's settings stay in :mod:`kwsapp.config`, which never imports these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kwsapp.config import SplitConfig


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (training/augment.py); no TensorFlow here."""

    noise_prob: float = 0.8  # share of clips that get noise mixed in
    snr_db_range: tuple[float, float] = (0.0, 20.0)
    # Colours of generated noise, besides real _background_noise_ files.
    noise_colors: tuple[str, ...] = ("white", "pink", "blue", "brown", "violet")
    background_share: float = 0.6  # of noisy clips, share with real noise
    shift_ms: float = 100.0  # random time shift up to +- this
    speed_range: tuple[float, float] = (0.9, 1.1)  # speed/pitch perturbation
    speed_prob: float = 0.5
    spec_freq_masks: int = 2  # SpecAugment (spectrogram models only)
    spec_freq_width: int = 8
    spec_time_masks: int = 2
    spec_time_width: int = 10


@dataclass(frozen=True)
class TrainConfig:
    """Data split and training loop (training/data.py, training/train.py);
    pure Python, no TensorFlow. ``TrainConfig.tiny()`` is the test preset."""

    # Speaker-disjoint split when the data set has no validation/testing lists
    # (kwsapp/speakers.py; same fields as the runtime's SplitConfig).
    seed: int = SplitConfig.seed
    validation_share: float = SplitConfig.validation_share
    test_share: float = SplitConfig.test_share
    # Full v0.02 layout only: unknown words kept and silence clips cut from
    # _background_noise_, each as this share of the resulting set.
    unknown_share: float = 0.1
    silence_share: float = 0.1
    batch_size: int = 64
    epochs: int = 40
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    patience: int = 12  # epochs without a better validation accuracy before stopping
    # Final weights: 0 keeps the epoch with the best validation accuracy
    # (early stopping after `patience`); N > 0 trains every epoch and takes
    # the mean of the weights after each of the last N. Nothing is then
    # chosen on the validation clips, so their figures are not flattered by
    # the pick, and a seed's held-out false activations vary less
    # (docs/streaming.md "Weights averaged over the last epochs").
    average_last_epochs: int = 0
    # Augmented copies of each training clip computed once (front end and,
    # for `embed`, the embedding cached on disk); each epoch draws one copy.
    aug_copies: int = 6
    # Random level change of augmented copies (dB), so that a quiet word is
    # not taken for silence.
    gain_db_range: tuple[float, float] = (-20.0, 6.0)
    steps_per_epoch: int | None = None  # None: one pass over the training clips
    max_train_clips: int | None = None  # None: every training clip
    max_val_clips: int | None = None  # None: every validation (and test) clip
    # Extra `unknown` training clips from espeak-ng (training/negatives/tts.py legacy_espeak_unknown):
    # streams showed false activations come from unknown words taken for commands.
    synthetic_unknown: bool = False
    # Synthetic positives: the ten commands said by the training TTS voices
    # (training/negatives/tts.py tts_commands).
    synthetic_commands: bool = False
    # Each epoch draws the unknown training clips this many times (>= 1).
    unknown_oversample: int = 1
    # More folders in the Speech Commands layout (names relative to the data
    # folder's parent, or absolute): every clip joins its speaker's split;
    # commands are more positives, other words `unknown`.
    extra_data: tuple[str, ...] = ()
    # Kinds of other speech added to the training split's `unknown` class
    # (training/negatives: "wake_words", "hard", "tts", ...); never to
    # validation or test.
    negatives: tuple[str, ...] = ()
    # Words never trained on (held-out false-activation checks): left out of
    # those negatives and of the training split's own clips ("bed").
    negatives_exclude: tuple[str, ...] = ()
    # Versions of each negative window embedded once (copy 0 clean).
    negative_copies: int = 2
    # Negative windows drawn per epoch (None: all): a balanced share keeps
    # ~10,000 windows of other speech from drowning the ten commands.
    negatives_per_epoch: int | None = None
    # Rounds of mining: train, run the model over long streams of training
    # other speech, add the windows that fire as negatives, train again.
    mining_rounds: int = 0
    # Banked negative kinds (training/negatives/mining.py BANKED, e.g.
    # "chimera") whose windows also go into the mining stream, each on its own.
    mining_windows: tuple[str, ...] = ()
    # A command's averaged probability at which a stream window is mined.
    mining_threshold: float = 0.4
    # More TTS dictionary words than trained on, rendered only to mine on.
    mining_tts_words: int = 0
    max_negatives: int | None = None  # None: every negative (a seeded draw otherwise)
    # Heads trained from different seeds (init and epoch draws; same data and
    # split) and averaged into one model: one run's false activations on
    # held-out speech vary several-fold with the seed (docs/streaming.md).
    ensemble: int = 1
    # Member k trains with seed ``seed + member_seed_offset + k`` (init and
    # epoch draws only); the split, the augmented copies and the cached
    # embeddings stay those of ``seed``. Another seed set of one recipe on
    # the same speakers (e.g. 3: members from seeds 3-5), to tell a recipe's
    # effect from seed noise. 0: every bundled result as it was.
    member_seed_offset: int = 0
    # Ensemble members trained on other data than ``cfg``: one tuple of
    # (field, value) pairs per member, () for ``cfg`` as is (empty: every
    # member alike). Heads that saw different negatives disagree on other
    # speech more than on the commands, so their mean fires less
    # (docs/streaming.md "Members that saw different data").
    member_overrides: tuple[tuple[tuple[str, Any], ...], ...] = ()
    # The TTS negatives' vocabulary (training/negatives/tts.py TtsConfig;
    # None: its defaults): dictionary words and short phrases.
    tts_words: int | None = None
    tts_phrases: int | None = None
    # Also the dictionary's near-misses of each command found by phonemes
    # (training/negatives/phonemes.py), not only the hand-picked list.
    tts_phoneme_near_misses: bool = False
    # `embed` only: the frozen embedding's precision, "float" or "int8"
    # (training/models/embedding_int8.py: int8 weights and activations at
    # fixed ranges; the head trains on the int8 embeddings as LiteRT
    # computes them, and every embedding file of the artifact is int8; its
    # card says "embedding_weights").
    embedding_weights: str = "float"

    @classmethod
    def tiny(cls) -> "TrainConfig":
        """A few steps on a few clips: the tests' preset."""
        return cls(batch_size=8, epochs=2, patience=2, aug_copies=2, steps_per_epoch=3,
                   max_train_clips=48, max_val_clips=16, max_negatives=48)


@dataclass(frozen=True)
class ExploreConfig:
    """Data-set exploration report (training/explore/; `kwsapp explore`).

    Every cap below bounds memory on large folders: statistics are running
    sums per word, per-clip values are kept in seeded reservoir samples of at
    most these sizes, and figures are drawn from sampled clips only.
    """

    clip_ms: float = 1000.0  # clips shorter than this are "short" (padded in training)
    low_rate_hz: int = 8000  # the CNN's input rate (log-spectrogram 99x81)
    fft_window_ms: float = 32.0  # spectrum per clip: mean Hann-window power
    fft_step_ms: float = 16.0
    fft_bins: int = 128  # normalized spectrum length fed to the PCA
    band_hz: tuple[float, float] = (2500.0, 3500.0)  # violin-plot band (< low_rate_hz / 2)
    # Band-limited (phone-like) recordings: level of high_band_hz relative to
    # ref_band_hz, dB; clips below narrowband_db are counted as narrow-band.
    high_band_hz: tuple[float, float] = (5000.0, 7000.0)
    ref_band_hz: tuple[float, float] = (1000.0, 3000.0)
    narrowband_db: float = -45.0
    values_per_word: int = 2000  # reservoir of per-clip values per word (violins, boxes)
    pca_clips: int = 5000  # reservoir of normalized spectra for the PCA
    outliers: int = 10  # clips listed (with players) as PCA outliers
    narrowband_clips: int = 4  # lowest-bandwidth clips (distinct speakers) plotted
    example_candidates: int = 8  # reservoir per word from which the example is picked
    max_listed: int = 10000  # short / unreadable files listed by name (all are counted)
    length_bin_ms: float = 20.0  # clip-length histogram bin
    length_max_ms: float = 2000.0  # longer clips fall in the last bin
    noise_excerpt_s: float = 5.0  # background-noise excerpt written for the player
    noise_max_s: float = 600.0  # background-noise files are analysed up to this length
    seed: int = 0
    jobs: int = 2  # processes drawing figures
