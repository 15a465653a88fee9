"""Variants of a take for training a word detector: the word (its speech run
plus a little audio each side) at another speed, level and place, in noise
at several SNRs, with or without room reverberation.

numpy/scipy only; every draw comes from the generator passed in, so one seed
gives the same variants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal

from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig, ms_to_samples
from kwsapp.userwords.takes import Take

#: Power slope exponent k of generated noise, P(f) ~ f**k.
NOISE_EXPONENTS = {"white": 0.0, "pink": -1.0, "brown": -2.0}


@dataclass(frozen=True)
class Variant:
    """One augmented example: audio and where the word lies in it."""

    audio: np.ndarray  # float32, 16 kHz
    word_start: int  # samples
    word_end: int


def generated_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of unit-RMS white, pink or brown noise."""
    import scipy.fft

    exponent = NOISE_EXPONENTS[str(rng.choice(list(NOISE_EXPONENTS)))]
    m = scipy.fft.next_fast_len(n, real=True)  # an FFT of a prime-ish length is slow
    spectrum = scipy.fft.rfft(rng.standard_normal(m))
    freqs = scipy.fft.rfftfreq(m)
    gain = np.zeros_like(freqs)
    gain[1:] = freqs[1:] ** (exponent / 2.0)
    noise = scipy.fft.irfft(spectrum * gain, n=m)[:n]
    return (noise / max(float(np.sqrt(np.mean(noise ** 2))), 1e-12)).astype(np.float32)


def noise_piece(n: int, rng: np.random.Generator, recordings: list[np.ndarray]) -> np.ndarray:
    """``n`` samples of unit-RMS noise: a random stretch of a real recording
    (when given; half the time) or generated coloured noise."""
    if recordings and rng.random() < 0.5:
        rec = recordings[int(rng.integers(len(recordings)))]
        if rec.size > n:
            start = int(rng.integers(0, rec.size - n))
            piece = rec[start:start + n].astype(np.float32)
            rms = float(np.sqrt(np.mean(piece ** 2)))
            if rms > 1e-6:
                return piece / rms
    return generated_noise(n, rng)


def room_response(rng: np.random.Generator, rt60_s: float) -> np.ndarray:
    """A synthetic room impulse response: the direct sound, then noise decaying
    by 60 dB over ``rt60_s``."""
    n = ms_to_samples(rt60_s * 1000.0)
    t = np.arange(n) / SAMPLE_RATE_HZ
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60_s)
    tail[: ms_to_samples(5)] = 0.0  # early gap before the first reflections
    h = 0.3 * tail / max(float(np.sqrt(np.sum(tail ** 2))), 1e-12)
    h[0] = 1.0
    return h.astype(np.float32)


def make_variant(take: Take, rng: np.random.Generator, config: UserWordsConfig,
                 noise: list[np.ndarray], snr_db: float | None, plain: bool = False) -> Variant:
    """One variant of ``take``, placed with ``config.before_s`` of audio
    before it and ``config.after_s`` after.

    Args:
        snr_db: speech-to-noise ratio of the mix (None: no noise added).
        plain: keep speed, level and room as recorded (only place it).
    """
    pad = ms_to_samples(config.word_pad_ms)
    lo = max(0, take.speech_start - pad)
    word = take.audio[lo:take.speech_end + pad].astype(np.float32)
    lead, speech = take.speech_start - lo, take.speech_end - take.speech_start
    if not plain and rng.random() < config.speed_prob:
        up = 100
        down = max(1, int(round(up * float(rng.uniform(*config.speed_range)))))
        word = scipy.signal.resample_poly(word, up, down).astype(np.float32)
        lead, speech = int(round(lead * up / down)), int(round(speech * up / down))
    if not plain and rng.random() < config.reverb_prob:
        h = room_response(rng, float(rng.uniform(*config.rt60_range_s)))
        word = scipy.signal.fftconvolve(word, h)[:word.size].astype(np.float32)
    rms = float(np.sqrt(np.mean(word[lead:lead + speech] ** 2))) or 1e-6
    level_db = (config.plain_level_dbfs if plain
                else float(rng.uniform(*config.level_dbfs_range)))
    word *= 10 ** (level_db / 20.0) / rms
    before = ms_to_samples(1000.0 * rng.uniform(*config.before_s))
    total = before + word.size + ms_to_samples(1000.0 * config.after_s)
    audio = np.zeros(total, np.float32)
    audio[before:before + word.size] = word
    start, end = before + lead, before + lead + speech
    if snr_db is not None:
        speech_rms = 10 ** (level_db / 20.0)
        audio += noise_piece(total, rng, noise) * speech_rms / 10 ** (snr_db / 20.0)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    return Variant(audio, start, end)


def variants_per_take(n_takes: int, config: UserWordsConfig) -> int:
    """Variants made of each of ``n_takes`` takes: ``config.total_variants``
    spread over them, at least ``config.min_variants_per_take`` each."""
    return max(config.min_variants_per_take, -(-config.total_variants // max(1, n_takes)))


def variants(takes: list[Take], config: UserWordsConfig, noise: list[np.ndarray],
             seed: int = 0) -> list[Variant]:
    """:func:`variants_per_take` variants of every take: the first of each
    as recorded (placed only), the rest at SNRs cycling through
    ``config.snrs_db`` (None: clean) with random speed, level and room."""
    rng = np.random.default_rng(seed)
    out = []
    for take in takes:
        for k in range(variants_per_take(len(takes), config)):
            snr = config.snrs_db[k % len(config.snrs_db)]
            out.append(make_variant(take, rng, config, noise, snr, plain=(k == 0)))
    return out
