"""Where audio comes from: a PortAudio input stream or a file played as one.

Every source calls ``on_block(block)`` with mono float32 blocks at its own
``sample_rate_hz``; the engine resamples to 16 kHz in its pipeline thread.
A realtime source calls it from the audio thread with a view that is valid
only during the call, so ``on_block`` must copy it and do nothing else (the
engine writes it into a ring buffer); :class:`FileSource` in
non-realtime mode calls it from its own thread and lets it block.

sounddevice is imported lazily: PortAudio initializes at import and reads
``JACK_DEFAULT_SERVER`` then, and a machine without PortAudio can still
classify files.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from kwsapp.audio.io import AudioFileBlocks
from kwsapp.audio.portaudio_child import (InputDevice, parse_device,  # noqa: F401
                                          query_input_devices, sounddevice_module)
from kwsapp.config import SAMPLE_RATE_HZ, ms_to_samples
from kwsapp.errors import DeviceError, KwsError

log = logging.getLogger(__name__)

BlockCallback = Callable[[np.ndarray], None]

#: What `devices`, `listen` and the GUI say when PortAudio sees no input.
NO_INPUT_DEVICE = ("no audio input device found (PortAudio sees none: connect a microphone "
                   "or start a sound server such as PulseAudio or JACK)")

#: Rates tried, in this order after the device's default, when a device
#: refuses the one asked for (the engine resamples any of them to 16 kHz).
FALLBACK_RATES_HZ = (16000, 48000, 44100, 32000, 22050, 96000, 8000)

#: PortAudio error codes (portaudio.h PaErrorCode) told apart for the user.
PA_INVALID_SAMPLE_RATE = -9997
PA_DEVICE_UNAVAILABLE = -9985

#: A realtime FileSource notices a stop within this (s).
_PACE_SLICE_S = 0.05

#: How long stopping a PortAudio stream may take before it is abandoned
#: (the engine promises to stop within a second).
CLOSE_TIMEOUT_S = 0.5


def _sounddevice() -> Any:
    return sounddevice_module()


def list_input_devices() -> list[InputDevice]:
    """Every device with at least one input channel (default one marked),
    from this process's PortAudio: in a process that must not hang (the
    window, ``kwsapp devices``) use
    :func:`~kwsapp.audio.portaudio_child.list_input_devices_in_child`."""
    return query_input_devices()


class AudioSource(Protocol):
    """What the engine needs from a source."""

    sample_rate_hz: int  # the source's own rate
    realtime: bool  # blocks arrive at the pace of real time (from an audio thread)
    xruns: int  # input overflows reported by the device
    finished: bool  # every block delivered (files) or the stream ended
    error: Exception | None  # why the source stopped unexpectedly

    def start(self, on_block: BlockCallback) -> None: ...

    def stop(self) -> None: ...


def _pa_code(exc: BaseException) -> int | None:
    """The PortAudio error code sounddevice put in ``exc.args`` (or None)."""
    args = getattr(exc, "args", ())
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _pa_reason(exc: BaseException) -> str:
    """PortAudio's own words, without sounddevice's "Error opening ...: "."""
    text = str(exc.args[0]) if getattr(exc, "args", None) else str(exc)
    return text.split(": ", 1)[1] if text.startswith("Error ") and ": " in text else text


def device_error(device_name: str, exc: BaseException) -> DeviceError:
    """A PortAudio failure to open ``device_name`` as one line saying what
    happened and what to do (a busy device is the common case on ALSA: another
    program holds the card)."""
    code = _pa_code(exc)
    if code == PA_DEVICE_UNAVAILABLE:
        return DeviceError(f"input device {device_name!r} is busy: another program is using it "
                           f"(PortAudio: {_pa_reason(exc)}); close that program or choose "
                           "another device")
    return DeviceError(f"cannot open input device {device_name!r}: {_pa_reason(exc)}")


class SoundDeviceSource:
    """A PortAudio input stream (mono).

    The stream callback checks the status flags, counts overflows and hands
    the block (a view) to ``on_block``, which copies it; nothing else happens there.

    Args:
        device: index, name substring, or None for the default input.
        block_ms: audio per callback.
        rate_hz: stream rate; None takes the device's default rate.
    """

    realtime = True

    def __init__(self, device: str | int | None = None, block_ms: float = 20.0,
                 rate_hz: int | None = None) -> None:
        self.device = parse_device(device)
        self.block_ms = block_ms
        self.xruns = 0
        self.finished = False
        self.error: Exception | None = None
        self._stopping = False
        self._stream: Any = None
        sd = _sounddevice()
        try:
            info = sd.query_devices(self.device, kind="input")
        except (sd.PortAudioError, ValueError) as exc:
            if not list_input_devices():  # not this device: there is none at all
                raise DeviceError(NO_INPUT_DEVICE) from None
            # PortAudio's own words ("Error querying device 7") say nothing
            # of what to do; the listing does.
            raise DeviceError(f"no usable input device {device if device is not None else '(default)'}"
                              f": {exc}; `kwsapp devices` lists the inputs") from None
        self.device_name = str(info["name"])
        #: One line for the user when the device would not take the rate
        #: asked for and another is used (None: the rate asked for is used).
        self.notice: str | None = None
        self.sample_rate_hz = self._accepted_rate(int(rate_hz or info["default_samplerate"]),
                                                  int(info["default_samplerate"]))

    def _accepted_rate(self, asked_hz: int, default_hz: int) -> int:
        """``asked_hz`` if the device takes it, else the first rate it takes
        (its default first; ``notice`` says so).

        Raises:
            DeviceError: it takes none of them, or it is busy.
        """
        sd = _sounddevice()

        def refusal(rate_hz: int) -> BaseException | None:
            try:
                sd.check_input_settings(self.device, channels=1, dtype="float32",
                                        samplerate=rate_hz)
            except (sd.PortAudioError, ValueError) as exc:
                if _pa_code(exc) not in (None, PA_INVALID_SAMPLE_RATE):
                    raise device_error(self.device_name, exc) from None  # busy, gone ...
                return exc
            return None

        refused = refusal(asked_hz)
        if refused is None:
            return asked_hz
        tried = [asked_hz]
        for rate_hz in dict.fromkeys((default_hz, *FALLBACK_RATES_HZ)):
            if rate_hz in tried:
                continue
            tried.append(rate_hz)
            if refusal(rate_hz) is None:
                self.notice = (f"input device {self.device_name!r} refused {asked_hz} Hz "
                               f"(PortAudio: {_pa_reason(refused)}); listening at {rate_hz} Hz "
                               "instead")
                log.info("%s", self.notice)  # the caller shows it to the user
                return rate_hz
        raise DeviceError(f"input device {self.device_name!r} refused {asked_hz} Hz and every "
                          f"other rate tried ({', '.join(map(str, tried[1:]))} Hz) "
                          f"(PortAudio: {_pa_reason(refused)})")

    def start(self, on_block: BlockCallback) -> None:
        sd = _sounddevice()
        self._stopping = False

        def audio_callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status.input_overflow:
                self.xruns += 1
            # A view, valid only during this call: on_block copies it (the
            # engine writes it into its ring), so nothing allocates here.
            on_block(indata[:, 0])

        def stream_finished() -> None:
            self.finished = True
            if not self._stopping:  # PortAudio ended the stream on its own
                self.error = DeviceError(f"input device {self.device_name!r} stopped delivering audio")

        try:
            self._stream = sd.InputStream(
                device=self.device, channels=1, dtype="float32",
                samplerate=self.sample_rate_hz,
                blocksize=ms_to_samples(self.block_ms, self.sample_rate_hz),
                callback=audio_callback, finished_callback=stream_finished)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise device_error(self.device_name, exc) from None
        log.info("listening on %s at %d Hz", self.device_name, self.sample_rate_hz)

    def check(self) -> None:
        """Record an error if the stream died without calling back."""
        stream = self._stream
        if stream is not None and not self._stopping and self.error is None:
            try:
                active = stream.active
            except Exception as exc:  # PortAudio raises its own types here
                self.error = DeviceError(f"input device {self.device_name!r} failed: {exc}")
                return
            if not active and not stream.stopped:
                self.error = DeviceError(f"input device {self.device_name!r} stopped delivering audio")

    def stop(self) -> None:
        """Stop and close the stream. A stream whose device vanished can
        block PortAudio's stop for ever (seen with JACK when the server
        dies), so closing runs on a helper thread that is given
        ``CLOSE_TIMEOUT_S`` and then abandoned."""
        self._stopping = True
        stream, self._stream = self._stream, None
        if stream is None:
            return
        failed = self.error is not None

        def close() -> None:
            try:
                stream.abort() if failed else stream.stop()
                stream.close()
            except Exception as exc:  # a vanished device may fail to close
                log.warning("closing the input stream: %s", exc)

        closer = threading.Thread(target=close, name="portaudio-close", daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT_S)
        if closer.is_alive():
            log.warning("input device %r did not close (it is gone); leaving it", self.device_name)
            # sounddevice's exit handler would hang on (or abort about) the
            # same dead stream when the process ends.
            skip_portaudio_exit_handler()


def skip_portaudio_exit_handler() -> None:
    """Let this process end without sounddevice's ``Pa_Terminate`` (if
    sounddevice was loaded): it hangs on, or aborts about, a dead JACK stream
    or a JACK server that went away since PortAudio started (pa_jack.c
    Terminate assertion), and there is nothing left for it to close."""
    import sys

    sd = sys.modules.get("sounddevice")
    handler = getattr(sd, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


class FileSource:
    """A file (or array) fed to the engine block by block.

    Args:
        path_or_array: an audio file (decoded to 16 kHz mono) or mono
            float32 samples at ``sample_rate_hz``.
        block_size: samples per block.
        sample_rate_hz: rate of an array (files are decoded to 16 kHz).
        realtime: pace the blocks like a live stream (for the GUI); otherwise
            as fast as the engine takes them, with nothing dropped.
    """

    def __init__(self, path_or_array: str | Path | np.ndarray, block_size: int = 1024,
                 sample_rate_hz: int = SAMPLE_RATE_HZ, realtime: bool = False,
                 on_progress: Callable[[float], None] | None = None) -> None:
        if block_size <= 0:
            raise ValueError(f"block size must be positive, not {block_size}")
        self.on_progress = on_progress  # seconds delivered so far (source thread)
        self._blocks: AudioFileBlocks | None = None
        if isinstance(path_or_array, (str, Path)):
            # Decoded block by block at the file's rate (the engine resamples
            # as for a device): memory does not grow with the file.
            self.name = str(path_or_array)
            self._blocks = AudioFileBlocks(path_or_array)
            self.audio = None
            self.sample_rate_hz = self._blocks.sample_rate_hz
        else:
            self.name = "<array>"
            self.audio = np.asarray(path_or_array, dtype=np.float32).reshape(-1)
            self.sample_rate_hz = int(sample_rate_hz)
        self.block_size = int(block_size)
        self.realtime = realtime
        self.xruns = 0
        self.finished = False
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_file(cls, path: str | Path, block_ms: float,
                  on_progress: Callable[[float, float], None] | None = None) -> "FileSource":
        """A file decoded block by block, in blocks of ``block_ms`` at its own
        rate, as fast as the engine takes them; ``on_progress(done_s,
        total_s)`` follows it.

        Raises:
            AudioFileError: the file's header is unreadable or truncated.
        """
        source = cls(path)
        source.block_size = max(1, ms_to_samples(block_ms, source.sample_rate_hz))
        if on_progress is not None:
            total = source.duration
            source.on_progress = lambda done: on_progress(done, total)
        return source

    @property
    def duration(self) -> float:
        """Length in seconds."""
        if self._blocks is not None:
            return self._blocks.duration_s
        return self.audio.shape[0] / float(self.sample_rate_hz)

    def _chunks(self):
        """The audio in blocks of ``block_size`` samples."""
        if self._blocks is None:
            for i in range(0, self.audio.shape[0], self.block_size):
                yield self.audio[i:i + self.block_size].copy()
            return
        carry = np.zeros(0, np.float32)
        for data in self._blocks:
            data = np.concatenate([carry, data]) if carry.size else data
            whole = data.shape[0] - data.shape[0] % self.block_size
            for i in range(0, whole, self.block_size):
                yield data[i:i + self.block_size].copy()
            carry = data[whole:]
        if carry.size:
            yield carry.copy()

    def start(self, on_block: BlockCallback) -> None:
        self._stop.clear()
        self.finished = False
        self._thread = threading.Thread(target=self._feed, args=(on_block,),
                                        name="kwsapp-file-source", daemon=True)
        self._thread.start()

    def _feed(self, on_block: BlockCallback) -> None:
        t0 = time.monotonic()
        done = 0
        try:
            for block in self._chunks():
                if self._stop.is_set():
                    return
                done += block.shape[0]
                if self.realtime and not self._sleep_until(t0 + done / self.sample_rate_hz):
                    return
                on_block(block)
                if self.on_progress is not None:
                    self.on_progress(done / self.sample_rate_hz)
        except KwsError as exc:  # a bad file: the engine reports it, one line
            self.error = exc
        except Exception as exc:  # reaches the engine's on_error, not the void
            self.error = exc
            log.exception("file source failed")
        finally:
            self.finished = True

    def _sleep_until(self, due: float) -> bool:
        """Pace a realtime file like a device: sleep until ``due``
        (monotonic s); False once stopped. ``time.sleep`` in slices of at most
        ``_PACE_SLICE_S``, as the block period is short: an ``Event.wait``
        per block costs twice the CPU, which the ``listen`` benchmark counts
        in place of PortAudio's own thread."""
        while not self._stop.is_set():
            left = due - time.monotonic()
            if left <= 0.0:
                return True
            time.sleep(min(left, _PACE_SLICE_S))
        return False

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
