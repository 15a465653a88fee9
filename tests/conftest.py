"""Shared fixtures. Real data comes from ../shared/data when present; tests
that need it skip with the reason where it is absent."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get(
    "KWSAPP_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "speech_commands_subset"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared Speech Commands subset (skips where it is absent)."""
    if not (DATA_DIR / "yes").is_dir():
        pytest.skip(f"real data not found at {DATA_DIR} (set KWSAPP_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def conversions(tmp_path_factory) -> Path:
    """This test session's TFLite conversion cache (the ``tflite`` folder of a
    training cache, training/export.py ``cached_tflite``), shared by the
    training tests of both xdist workers (tests/_train_support.py
    ``training_cache``): the frozen embedding's six conversions (~20 s) are
    made once a session, not once per training test. Entries are keyed by
    what they convert and written atomically, as in the real cache several
    sessions share."""
    base = tmp_path_factory.getbasetemp()
    # A worker's basetemp is the session's basetemp/gwN (pytest-xdist).
    folder = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "conversions"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def tiny_embed_run(data_dir, conversions):
    """The tiny embed artifact trained by runs killed four times and resumed
    (tests/_train_support.py ``killed_and_resumed``, ~55 s). Every test that
    takes it must be in the ``tiny_embed`` unit of ``HEAVY_UNITS``: a worker
    without it would train it again (tests/test_work_units.py checks)."""
    import _train_support

    return _train_support.killed_and_resumed(data_dir, conversions)


#: A STRUCTURAL model (a few kB, in the tree): one dense softmax on pooled
#: log-mel of a 1 s window, rebuilt by tests/fixtures/make_tiny_model.py.
TINY_MODEL = REPO_ROOT / "tests" / "fixtures" / "tiny_model"


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """The tiniest honest model (``tests/fixtures/tiny_model``: ``model.tflite``
    + ``card.json``, trained with real TensorFlow on real clips by
    ``tests/fixtures/make_tiny_model.py``). It exercises the engine, CLI and
    GUI plumbing with no TensorFlow at test time; it is not meant to
    recognize well."""
    assert (TINY_MODEL / "card.json").is_file() and (TINY_MODEL / "model.tflite").is_file(), (
        f"{TINY_MODEL} is missing: rebuild it with tests/fixtures/make_tiny_model.py")
    return TINY_MODEL


@pytest.fixture(scope="session")
def bundled_model_dir(repo_root) -> Path:
    """The bundled default model (skips, with the reason, until it lands)."""
    from kwsapp.models.registry import DEFAULT_MODEL, models_dir

    path = models_dir() / DEFAULT_MODEL
    if not (path / "card.json").is_file() or not (path / "model.tflite").is_file():
        pytest.skip(f"bundled default model not present at {path} (the training issue "
                    "bundles it)")
    return path


@pytest.fixture(scope="module")
def bundled_setup(bundled_model_dir):
    """The bundled model's recognizer and the config its card gives."""
    from kwsapp.config import Config
    from kwsapp.inference.recognizer import Recognizer

    rec = Recognizer(bundled_model_dir)
    return rec, Config().with_card(rec.card.raw)


def label_clips(data_dir: Path, label: str) -> list[Path]:
    """The clips (sorted) of ``label`` in the shared data."""
    folder = {"silence": "_silence_", "unknown": "_unknown_"}.get(label, label)
    return sorted((Path(data_dir) / folder).glob("*.wav"))


def real_clip(data_dir: Path, label: str, index: int = 0) -> Path:
    """The ``index``-th clip (sorted) of ``label`` in the shared data."""
    return label_clips(data_dir, label)[index]


@functools.lru_cache(maxsize=None)
def cluttered_cnn(art: Path) -> Path:
    """The bundled cnn (card, model.keras, model.tflite) copied to ``art``
    with what a model folder collects: an earlier artifact's files its card
    does not name (an embed's head an older kwsapp left, an int8 export of
    an earlier model.keras) and the user's own file and folder."""
    import shutil

    shutil.copytree(REPO_ROOT / "assets" / "models" / "cnn", art)
    (art / "head.tflite").write_bytes(b"an embed's head an older kwsapp left")
    (art / "model_int8.tflite").write_bytes(b"an int8 export of an earlier model.keras")
    (art / "notes.txt").write_text("mine")
    (art / "runs").mkdir()
    (art / "runs" / "model.tflite").write_text("mine too")
    return art


def sure_clips(model_dir: Path, data_dir: Path, label: str, n: int = 1) -> tuple[Path, ...]:
    """The first ``n`` clips of ``label`` (sorted) that the model at
    ``model_dir`` finds alone, exactly once and as ``label``, at every phase
    of its grids (tests/soak.py ``phase_outcomes``). Tests of the pipeline
    (PortAudio, the window) play these: a retrained model misses a few
    clips near its threshold, which is the model's figure to report, not a
    fault of the pipeline under test."""
    from kwsapp.audio.io import load_audio
    from kwsapp.inference.recognizer import load_with_config
    from soak import phase_outcomes

    recognizer, config = load_with_config(str(model_dir))
    found = []
    for path in label_clips(data_dir, label):
        if all(labels == [label] for labels in phase_outcomes(recognizer, config,
                                                                load_audio(path))):
            found.append(path)
            if len(found) == n:
                return tuple(found)
    raise AssertionError(f"{model_dir} finds fewer than {n} {label!r} clips at every phase")


def run_cli(*args: str, env: dict | None = None, timeout: float = 120,
            obey_file_modes: bool = False):
    """``python -m kwsapp ARGS`` from this work tree (never the installed
    script); ``obey_file_modes``: under :func:`without_root_file_access`."""
    import subprocess
    import sys

    full_env = dict(os.environ)
    full_env.update(env or {})
    prefix = without_root_file_access() if obey_file_modes else []
    return subprocess.run([*prefix, sys.executable, "-m", "kwsapp", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def without_root_file_access() -> list[str]:
    """A command prefix under which root obeys file modes (tests run as
    root, who reads a mode-000 file or folder anyway): setpriv drops the two
    capabilities that bypass permission checks."""
    import shutil

    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: cannot "
                    "test an unreadable file")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", "--"]


def wait_for_lines(lines: list[str], match, timeout: float, times: int = 1) -> bool:
    """Whether ``times`` of the ``lines`` (a list another thread fills from a
    child's output) satisfy ``match(line)`` within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for line in list(lines) if match(line)) >= times:
            return True
        time.sleep(0.05)
    return False


class HandedSource:
    """An input whose audio the test hands it: :meth:`hand` delivers blocks
    to what started it, on the caller's thread, so a test says exactly what
    the input heard before and after a point (a take's countdown's end)."""

    sample_rate_hz = 16000

    def __init__(self) -> None:
        self.on_block = None  # set while started
        self.started = False
        self.stopped = False
        self.error: Exception | None = None

    def start(self, on_block) -> None:
        self.on_block, self.started = on_block, True

    def stop(self) -> None:
        self.on_block, self.stopped = None, True

    def hand(self, audio, block: int = 320) -> None:
        """Deliver ``audio`` (16 kHz float32) in blocks of ``block`` samples."""
        on_block = self.on_block
        assert on_block is not None, "the input is not started"
        for i in range(0, len(audio), block):
            on_block(audio[i:i + block])


class StuckSource(HandedSource):
    """An input whose open blocks until ``release`` is set (for ever if it
    never is): a device that never finishes opening. No real device can be
    made to hang on demand, so this one is simulated; once released it
    opens, and the test hands it audio as a :class:`HandedSource`'s.

    Args:
        release: what its open waits for.
        device_name: the name it gives itself, as a sound card's source does.
    """

    def __init__(self, release, device_name: str | None = None) -> None:
        import threading

        super().__init__()
        self.release = release
        if device_name is not None:
            self.device_name = device_name
        self.opening = threading.Event()  # its open has begun (and blocks)
        self.stopped_on: str | None = None  # the thread that stopped it

    def start(self, on_block) -> None:
        self.opening.set()
        self.release.wait()
        super().start(on_block)

    def stop(self) -> None:
        import threading

        if self.stopped_on is None:
            self.stopped_on = threading.current_thread().name
        super().stop()


def sigint_default() -> None:
    """``preexec_fn`` of a child a test Ctrl-Cs: SIGINT at its default, as a
    terminal gives it. A suite started in the background by a shell script
    (``make test &``) ignores SIGINT, its children inherit that, and Python
    then never raises KeyboardInterrupt in them: the Ctrl-C is lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_jack_server(name: str | None = None, client_timeout_ms: int | None = None):
    """Start a JACK dummy server (16 kHz, 256-sample periods, 1 in, 1 out)
    under a unique name (or ``name``: a server restarted); returns
    ``(process, env)`` or skips with the reason it cannot run.
    ``client_timeout_ms``: how long a client may take per cycle before the
    server drops it (JACK's default is short for a loaded test machine)."""
    import shutil
    import subprocess
    import time
    import uuid

    for tool in ("jackd", "jack_lsp", "jack_connect"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian package jackd2)")
    name = name or f"kwsapp-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    env = {"JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
    timeout = ["-t", str(client_timeout_ms)] if client_timeout_ms else []
    # One server starts at a time on the machine (test workers, other test
    # sessions): the stale-state sweep below must not unlink the registry of
    # a server another process is starting.
    with _jack_start_lock():
        _clear_stale_jack_state()
        proc = subprocess.Popen(["jackd", "--no-realtime", "-n", name, *timeout, "-d", "dummy",
                                 "-r", "16000",
                                 "-p", "256", "-C", "1", "-P", "1"], env=dict(os.environ, **env),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while subprocess.run(["jack_lsp"], env=dict(os.environ, **env),
                             capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.communicate()[1][-2000:]
                pytest.skip(f"jackd (dummy driver) could not start: {err.strip()}")
            time.sleep(0.1)
    return proc, env


@contextlib.contextmanager
def _jack_start_lock():
    """An exclusive lock (``flock``) held while a JACK server starts."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "kwsapp-jack-start.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _clear_stale_jack_state() -> None:
    """With no jackd running, JACK's shared-memory registry and semaphores in
    /dev/shm can only be left by servers that were killed (a dummy server that
    did not stop in time): they count against JACK's few server slots ("Too
    many servers already active") and outlive the test run on the machine."""
    import glob
    import subprocess

    if subprocess.run(["pgrep", "-x", "jackd"], capture_output=True).returncode == 0:
        return  # a live server (ours or another session's) owns that state
    for path in glob.glob("/dev/shm/jack-shm-registry") + glob.glob("/dev/shm/jack_*"):
        try:
            os.unlink(path)
        except OSError:
            pass


def stop_jack_server(proc) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def jack_server():
    """A JACK dummy server for real-PortAudio tests, under a name unique to
    this session (other test sessions may run their own). Yields the
    environment a subprocess needs to reach it; stopped at session end."""
    proc, env = start_jack_server()
    try:
        yield env
    finally:
        stop_jack_server(proc)


@pytest.fixture
def frozen_jack():
    """A JACK dummy server of this test's own that it may freeze: its
    ``pid``, the ``env`` a subprocess needs to reach it, ``freeze()`` and
    ``thaw()``. Frozen (SIGSTOP), the server answers nobody and PortAudio's
    start in a new process hangs on it (the JACK host's), as on a sound
    server that stopped answering; thawed at the end whatever happens, then
    stopped."""
    import types

    proc, env = start_jack_server()
    server = types.SimpleNamespace(
        pid=proc.pid, env=env, freeze=lambda: proc.send_signal(signal.SIGSTOP),
        thaw=lambda: proc.send_signal(signal.SIGCONT))
    try:
        yield server
    finally:
        server.thaw()
        stop_jack_server(proc)


def capture_children(server: str, module: str = "kwsapp.audio.child_source") -> list:
    """The capture children (``python -m kwsapp.audio.child_source``; or
    ``module``'s, e.g. ``kwsapp.audio.portaudio_child``: listing devices,
    playing a take) running on the JACK server named ``server``, wherever
    they are (one whose parent ended is no one's child)."""
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if (module in " ".join(p.info["cmdline"] or ())
                    and p.environ().get("JACK_DEFAULT_SERVER") == server):
                found.append(p)
        except (psutil.Error, OSError):
            pass  # gone meanwhile, or not ours to read
    return found


# -- pytest-xdist (`make test` runs two workers: -n 2) ------------------------
# A unit of work is a test module: one worker runs all of it, so its module-
# and session-scoped fixtures (a trained net, a rendered stream, a JACK
# server) are built once. The heavy tests below are units of their own (or
# share one where they share an artifact across modules), and the heavy
# units are handed out first, longest first, so that the two workers end
# together: what is left at the end are short modules. (xdist's own --dist
# loadgroup cannot do this under pytest 9: it renames node ids, which
# pytest 9 no longer lets a plugin do.)

#: node id (or module) -> unit; about 10 s or more each on CI's 2 cores,
#: handed out in this order: longest first (seconds of a quiet two-worker
#: run on this machine, 2026-11-29; keep the order when adding one).
HEAVY_UNITS = {
    # One tiny embed artifact (the tiny_embed_run fixture), trained by five
    # runs, and the tests that take it (~150 s).
    "tests/test_train.py::test_killed_run_resumes_from_its_last_checkpoint": "tiny_embed",
    "tests/test_train.py::test_resumed_run_is_the_run_never_killed": "tiny_embed",
    "tests/test_train.py::test_tiny_embed_artifact_and_card": "tiny_embed",
    "tests/test_export.py::test_export_cli_float_and_int8_agree_with_keras": "tiny_embed",
    "tests/test_export.py::test_evaluate_keras_flag_scores_like_the_tflite": "tiny_embed",
    # int8 conversions of two embed artifacts and a tiny int8 training run (~95 s)
    "tests/test_embedding_int8.py": "tests/test_embedding_int8.py",
    "tests/test_split.py::test_embedding_conversions_are_cached_checked_and_rebuilt":
        "export-cache",  # ~78 s
    "tests/test_soak.py::test_listen_soak_60s": "soak",  # ~77 s
    "tests/test_user_words.py": "tests/test_user_words.py",  # ~75 s, its other tests
    # three kwsapp export runs of the bundled cnn, two of them SIGKILLed (~70 s)
    "tests/test_export.py::test_an_export_stopped_part_way_leaves_one_whole_model_and_the_next_run_finishes_it":
        "export-stopped",
    "tests/test_negatives.py::test_tiny_ensemble_run_averages_its_members_and_resumes":
        "train-ensemble",  # ~40 s
    "tests/test_nets.py": "tests/test_nets.py",  # ~40 s, its module-scoped trained nets
    "tests/test_negatives.py::test_tiny_training_run_with_negatives_and_mining":
        "train-mining",  # ~35 s
    "tests/test_engine_streaming.py": "tests/test_engine_streaming.py",  # ~35 s
    "tests/test_train.py::test_tiny_run_of_the_from_scratch_nets[wavception]":
        "train-wavception",  # ~30 s
    "tests/test_split.py::test_export_split_writes_the_halves_from_model_keras":
        "export-split",  # ~30 s
    "tests/test_soak.py": "tests/test_soak.py",  # ~25 s, its other tests
    "tests/test_gui_window.py": "tests/test_gui_window.py",  # ~25 s
    "tests/test_make_models.py::test_a_stopped_swap_is_finished_then_the_model_is_replaced_in_its_folder":
        "make-models-swap",  # ~25 s
    "tests/test_train.py::test_mirrored_training_on_two_logical_cpus": "train-mirrored",
    "tests/test_user_words.py::test_enrol_records_takes_from_the_microphone_and_retakes_a_silent_one":
        "enrol-record",  # ~21 s
    "tests/test_user_words_gui.py::test_dialog_records_from_jack_and_the_live_view_hears_the_word":
        "words-dialog-jack",  # ~21 s
    "tests/test_user_words_gui.py::test_records_drops_redoes_trains_and_removes":
        "words-dialog",  # ~19 s
    "tests/test_train.py::test_tiny_run_of_the_from_scratch_nets[cnn]": "train-cnn",  # ~15 s
    "tests/test_export.py::test_a_full_disk_during_export_leaves_the_model_whole":
        "export-full-disk",  # ~15 s
    # two window runs on frozen JACK servers (~12 s)
    "tests/test_gui_devices.py": "tests/test_gui_devices.py",
}
#: Hand-out rank of each heavy unit (its first entry above).
UNIT_RANK = {unit: rank for rank, unit in enumerate(dict.fromkeys(HEAVY_UNITS.values()))}


def work_unit(nodeid: str) -> tuple[str, bool]:
    """``(unit, heavy)`` of a test under xdist."""
    module = nodeid.split("::")[0]
    for key in (nodeid, module):
        if key in HEAVY_UNITS:
            return HEAVY_UNITS[key], True
    return module, False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)[0]

    config.option.loadscopereorder = False  # units in collection order: heavy first
    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker: the order units are handed out
        def rank(item) -> int:
            unit, heavy = work_unit(item.nodeid)
            return UNIT_RANK[unit] if heavy else len(UNIT_RANK)

        items.sort(key=rank)  # stable: a unit's tests, and the light modules, keep their order
