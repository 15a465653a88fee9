"""Text-to-speech engines: one :class:`Utterance` (a text, a voice, a rate
and a pitch) becomes one 16 kHz mono float32 WAV file.

espeak-ng and flite run one process per utterance; festival renders all of
a voice's utterances from one ``festival -b`` script (far faster than one
process each). Engines run niced, :attr:`RenderConfig.workers` at once.
Engine output is resampled, trimmed of silence before and after the speech,
its long pauses shortened and its speech level normalized
(:func:`postprocess`). A file that exists is never rewritten (its mtime may
be part of a cache key), also when two runs render into one cache at once.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.io.wavfile
import soundfile as sf

from kwsapp.atomic import new_file_mode
from kwsapp.audio.io import resample
from kwsapp.config import SAMPLE_RATE_HZ
from training.data import Clip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Voice:
    """One engine voice and the ranges its utterances are drawn from.

    ``rate``: espeak-ng words per minute; flite/festival diphone duration
    stretch (1 = engine default, > 1 slower); festival HTS speed (> 1 faster).
    ``pitch``: espeak-ng ``-p`` (0-99); flite/festival mean F0 in Hz; None
    where the voice ignores it (pitch then comes from augmentation).
    """

    engine: str  # "espeak", "flite" or "festival"
    name: str  # the engine's name for it
    id: str  # short id: folder, Clip.speaker, middle of Clip.source
    rate: tuple[float, float]
    pitch: tuple[float, float] | None
    heldout: bool = False


@dataclass(frozen=True)
class RenderConfig:
    """How utterances become files."""

    workers: int = 2  # engine processes at once (the machine has 2 cores)
    nice: int = 10
    pause_ms: float = 250.0  # longer pauses inside an utterance are cut to this
    level_dbfs: float = -20.0  # RMS of the speech frames after normalizing


@dataclass(frozen=True)
class Utterance:
    """One clip to render: a text said by a voice at a rate and pitch."""

    voice: Voice
    text: str
    kind: str
    label: str
    rate: float
    pitch: float | None

    @property
    def filename(self) -> str:
        pitch = "" if self.pitch is None else f"_p{self.pitch:g}"
        return f"{self.text.replace(' ', '-')}_r{self.rate:g}{pitch}.wav"

    def path(self, root: Path) -> Path:
        return root / self.voice.id / self.filename

    def clip(self, root: Path) -> Clip:
        return Clip(self.path(root), self.label, self.text, self.voice.id,
                    source=f"tts/{self.voice.id}/{self.kind}")


@lru_cache(maxsize=1)
def _festival_voices() -> frozenset[str]:
    exe = shutil.which("festival")
    if exe is None:
        return frozenset()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "list.scm"
        script.write_text("(print (voice.list))\n")
        res = subprocess.run([exe, "-b", str(script)], capture_output=True, text=True,
                             timeout=60)
    return frozenset(re.findall(r"[\w-]+", res.stdout))


def engine_available(voice: Voice) -> bool:
    """Whether ``voice`` can be rendered on this machine."""
    if voice.engine == "festival":
        return voice.name in _festival_voices()
    return shutil.which({"espeak": "espeak-ng", "flite": "flite"}[voice.engine]) is not None


def _nice(config: RenderConfig) -> list[str]:
    exe = shutil.which("nice")
    return [exe, "-n", str(config.nice)] if exe and config.nice else []


def _engine_command(u: Utterance, out: Path) -> list[str]:
    v = u.voice
    if v.engine == "espeak":
        cmd = ["espeak-ng", "-v", v.name, "-s", str(int(u.rate)), "-w", str(out)]
        if u.pitch is not None:
            cmd += ["-p", str(int(u.pitch))]
        return cmd + ["--", u.text]
    cmd = ["flite", "-voice", v.name, "--setf", f"duration_stretch={u.rate:g}"]
    if u.pitch is not None:
        cmd += ["--setf", f"int_f0_target_mean={u.pitch:g}"]
    return cmd + ["-t", u.text, "-o", str(out)]


def _festival_script(utterances: Sequence[Utterance], outs: Sequence[Path]) -> str:
    """One script that renders every utterance of one festival voice."""
    name = utterances[0].voice.name
    lines = [f"(voice_{name})"]
    hts = "hts" in name
    if hts:
        lines.append("(set! kws_base hts_engine_params)")
    else:
        lines.append("(set! kws_base (cdr int_lr_params))")  # target_f0_mean comes first
    for u, out in zip(utterances, outs):
        if hts:
            lines.append(f"(set! hts_engine_params (append kws_base (list '(\"-r\" {u.rate:g}))))")
        else:
            lines.append(f"(Parameter.set 'Duration_Stretch {u.rate:g})")
            if u.pitch is not None:
                lines.append(f"(set! int_lr_params (cons (list 'target_f0_mean {u.pitch:g}) "
                             "kws_base))")
        text = u.text.replace("\\", "").replace('"', "")
        lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{out}" \'riff)')
    return "\n".join(lines) + "\n"


def postprocess(audio: np.ndarray, rate_hz: int, config: RenderConfig = RenderConfig()
                ) -> np.ndarray | None:
    """Engine output -> 16 kHz mono float32: silence before and after the
    speech trimmed (50 ms kept), pauses longer than
    :attr:`RenderConfig.pause_ms` shortened to it, speech RMS set to
    :attr:`RenderConfig.level_dbfs` (peak at most 0.95). None when there is no
    speech in it."""
    x = resample(np.asarray(audio, np.float32).reshape(len(audio), -1).mean(axis=1),
                 rate_hz, SAMPLE_RATE_HZ)
    frame = SAMPLE_RATE_HZ // 100  # 10 ms
    n = x.size // frame
    if n == 0:
        return None
    rms = np.sqrt(np.mean(x[:n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1))
    peak = float(rms.max())
    if peak < 1e-4:
        return None
    voiced = rms > peak * 10 ** (-40 / 20)
    idx = np.flatnonzero(voiced)
    keep = np.zeros(n, bool)
    keep[max(0, idx[0] - 5):idx[-1] + 6] = True
    # Shorten long pauses: drop the middle of every quiet run longer than pause_ms.
    max_pause = int(config.pause_ms / 10)
    run_start = None
    for i in range(idx[0], idx[-1] + 2):
        quiet = i <= idx[-1] and not voiced[i]
        if quiet and run_start is None:
            run_start = i
        elif not quiet and run_start is not None:
            if i - run_start > max_pause:
                half = max_pause // 2
                keep[run_start + half:i - (max_pause - half)] = False
            run_start = None
    y = x[:n * frame].reshape(n, frame)[keep].reshape(-1)
    speech_rms = float(np.sqrt(np.mean(rms[voiced] ** 2)))
    gain = 10 ** (config.level_dbfs / 20) / speech_rms
    gain = min(gain, 0.95 / max(float(np.abs(y).max()), 1e-9))
    return (y * gain).astype(np.float32)


def _finish(raw: Path, dest: Path, config: RenderConfig) -> bool:
    """Post-process an engine's file into ``dest`` (atomically); False when
    the engine made nothing usable."""
    try:
        audio, rate = sf.read(str(raw), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        log.warning("%s: engine output unreadable (%s)", dest.name, exc)
        return False
    y = postprocess(audio, rate, config)
    if y is None:
        log.warning("%s/%s: no speech rendered", dest.parent.name, dest.name)
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Not kwsapp.atomic.write_atomic: that replaces a file already there, and
    # a rendering must keep the one another run made meanwhile (below).
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        # scipy writes plain IEEE-float WAV; libsndfile would add a PEAK chunk
        # holding the time of writing, and identical audio must give identical bytes.
        scipy.io.wavfile.write(tmp, SAMPLE_RATE_HZ, y)
        os.chmod(tmp, new_file_mode())  # as a plain write would make it, not 0600
        try:
            # A hard link never replaces a file another run made meanwhile
            # (its mtime may already be in a cache key).
            os.link(tmp, dest)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system
            if not dest.exists():
                os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _render_job(job: list[Utterance], root: Path, config: RenderConfig) -> int:
    """Render one voice's utterances (one festival process, or one
    espeak/flite process per utterance); returns how many files were made."""
    made = 0
    with tempfile.TemporaryDirectory(prefix="kwsapp-tts-") as tmp_dir:
        tmp = Path(tmp_dir)
        raws = [tmp / f"{i}.wav" for i in range(len(job))]
        if job[0].voice.engine == "festival":
            script = tmp / "render.scm"
            script.write_text(_festival_script(job, raws))
            res = subprocess.run(_nice(config) + ["festival", "-b", str(script)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                log.warning("festival %s failed: %s", job[0].voice.name, res.stderr.strip()[-300:])
        else:
            for u, raw in zip(job, raws):
                res = subprocess.run(_nice(config) + _engine_command(u, raw),
                                     capture_output=True, text=True)
                if res.returncode != 0:
                    log.warning("%s %r failed: %s", u.voice.id, u.text, res.stderr.strip()[-300:])
        for u, raw in zip(job, raws):
            if raw.is_file() and _finish(raw, u.path(root), config):
                made += 1
    return made


@dataclass
class RenderStats:
    """What one :func:`render` call did."""

    planned: int = 0
    rendered: int = 0
    failed: int = 0
    skipped_voices: list[str] = field(default_factory=list)
    seconds: float = 0.0


def render(utterances: Sequence[Utterance], root: Path, config: RenderConfig = RenderConfig(),
           chunk: int = 400) -> RenderStats:
    """Render every utterance whose file is missing under ``root``, with at
    most :attr:`RenderConfig.workers` engine processes at once; existing files
    are left untouched."""
    t0 = time.perf_counter()
    stats = RenderStats(planned=len(utterances))
    todo: dict[str, list[Utterance]] = {}
    for u in utterances:
        if not u.path(root).is_file():
            todo.setdefault(u.voice.id, []).append(u)
    jobs: list[list[Utterance]] = []
    for vid, us in todo.items():
        if not engine_available(us[0].voice):
            log.warning("TTS voice %s (%s) not installed: its %d clips are left out",
                        vid, us[0].voice.engine, len(us))
            stats.skipped_voices.append(vid)
            continue
        jobs += [us[i:i + chunk] for i in range(0, len(us), chunk)]
    # Longest first, so two workers finish together.
    jobs.sort(key=lambda j: (-len(j), j[0].voice.id))
    n_todo = sum(len(j) for j in jobs)
    if n_todo:
        log.info("rendering %d TTS clips in %d jobs", n_todo, len(jobs))
        with ThreadPoolExecutor(max_workers=max(1, config.workers)) as pool:
            stats.rendered = sum(pool.map(lambda j: _render_job(j, root, config), jobs))
        stats.failed = n_todo - stats.rendered
    stats.seconds = time.perf_counter() - t0
    return stats
