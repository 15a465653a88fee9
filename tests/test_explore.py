"""`kwsapp explore`: the report on a generated folder (tones, noise, espeak-ng
words, a short clip, unreadable files, split lists) and on a sample of the
shared data; the page rendered in headless Chromium; the streaming
statistics' bounds."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

# The report draws with matplotlib: the `explore` (or `train`) extra.
pytest.importorskip("matplotlib", reason="kwsapp explore needs the explore extra (matplotlib)")

from kwsapp.audio.io import load_audio  # noqa: E402
from training.config import ExploreConfig  # noqa: E402
from training.explore.layout import Clip, scan, word_and_speaker  # noqa: E402
from training.explore.stats import ClipMeasures, DatasetStats, Reservoir  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
RATE = 16000


# -- a generated data folder ---------------------------------------------------

def _tone(seconds: float, hz: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    env = np.exp(-((t - seconds / 2) / (seconds / 5)) ** 2)  # a word-like burst mid-clip
    x = env * (0.3 * np.sin(2 * np.pi * hz * t) + 0.1 * np.sin(2 * np.pi * 2.7 * hz * t))
    return (x + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def _word(text: str, tmp: Path, seed: int) -> np.ndarray:
    """espeak-ng saying ``text``, 16 kHz, padded to 1 s (a tone burst where
    espeak-ng is missing)."""
    if shutil.which("espeak-ng") is None:
        return _tone(1.0, 200.0 + 40 * seed, seed)
    wav = tmp / f"espeak_{text}_{seed}.wav"
    subprocess.run(["espeak-ng", "-s", str(150 + 10 * seed), "-w", str(wav), text], check=True)
    audio = load_audio(wav, RATE)[:RATE]
    return np.pad(audio, (0, RATE - audio.size)) * 0.8


def _write(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, RATE, subtype="PCM_16")


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explore_data") / "data"
    tmp = tmp_path_factory.mktemp("espeak")
    rng = np.random.default_rng(0)
    _write(root / "yes" / "aaaa1111_nohash_0.wav", _word("yes", tmp, 0))
    _write(root / "yes" / "bbbb2222_nohash_0.wav", _word("yes", tmp, 1))
    _write(root / "yes" / "bbbb2222_nohash_1.wav", _tone(1.0, 300.0, 2))
    _write(root / "no" / "aaaa1111_nohash_0.wav", _word("no", tmp, 2))
    _write(root / "no" / "cccc3333_nohash_0.wav", _tone(0.6, 250.0, 3))  # short clip
    _write(root / "no" / "dddd4444_nohash_0.wav",
           (0.05 * rng.standard_normal(RATE)).astype(np.float32))
    _write(root / "_unknown_" / "bed_aaaa1111_nohash_0.wav", _word("bed", tmp, 3))
    _write(root / "_unknown_" / "cat_dddd4444_nohash_0.wav", _word("cat", tmp, 4))
    for i in range(2):
        _write(root / "_silence_" / f"{i}.wav",
               (0.01 * rng.standard_normal(RATE)).astype(np.float32))
    _write(root / "_background_noise_" / "white_noise.wav",
           (0.05 * rng.standard_normal(3 * RATE)).astype(np.float32))
    _write(root / "_background_noise_" / "hum.wav", _tone(2.0, 50.0, 5))
    (root / "no" / "eeee5555_nohash_0.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    (root / "yes" / "ffff6666_nohash_0.wav").write_bytes(b"")
    (root / "_background_noise_" / "README.md").write_text("not audio\n")
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("no/cccc3333_nohash_0.wav\nno/aaaa1111_nohash_0.wav\n")
    return root


def _explore(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kwsapp", "explore", str(data), "--out",
                           str(out), "--json", *extra],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def generated_report(generated_dir: Path, tmp_path_factory: pytest.TempPathFactory
                     ) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("explore_report")
    proc = _explore(generated_dir, out)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


# -- reading a report back -------------------------------------------------------

class _Page(HTMLParser):
    """Collects image and audio sources and figure captions."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.audio: list[str] = []
        self.captions: list[str] = []
        self.figures = 0
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"])
        elif tag == "audio":
            self.audio.append(a["src"])
        elif tag == "figure":
            self.figures += 1
        elif tag == "figcaption":
            self._in_caption = True
            self.captions.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.captions[-1] += data


def _check_report(out: Path) -> tuple[_Page, str]:
    """Every referenced figure exists and decodes, every figure has a
    caption, every player's file is audio; returns the parsed page."""
    from PIL import Image

    index = out / "index.html"
    assert index.is_file()
    text = index.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert page.images and page.figures == len(page.images) == len(page.captions)
    for src in page.images:
        path = out / src
        assert path.is_file() and path.stat().st_size > 0, src
        with Image.open(path) as im:
            im.load()  # decodes the whole PNG
            assert im.width > 100 and im.height > 100, src
    for caption in page.captions:
        assert len(caption.split()) >= 8, caption  # says what to read, not just a title
    assert page.audio
    for src in page.audio:
        info = sf.info(str(out / src))
        assert info.samplerate == RATE and info.frames > 0, src
    assert not re.search(r'src="(https?:)?//', text)  # nothing from the network
    return page, text


def _direct_short_count(clips: list[Path]) -> int:
    short = 0
    for path in clips:
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError):
            continue
        short += info.frames < info.samplerate
    return short


# -- tests -------------------------------------------------------------------------

def test_report_on_generated_folder(generated_dir: Path, generated_report: tuple[Path, dict]):
    out, summary = generated_report
    page, text = _check_report(out)
    clips = [p for p in generated_dir.glob("*/*.wav") if p.parent.name != "_background_noise_"]
    assert summary["short"] == _direct_short_count(clips) == 1
    assert "no/cccc3333_nohash_0.wav" in text  # the short clip is listed by name
    assert summary["clips"] == len(clips) - 2 and summary["unreadable"] == 2
    for bad in ("no/eeee5555_nohash_0.wav", "yes/ffff6666_nohash_0.wav"):
        assert bad in text  # listed in the report, not fatal
    assert summary["labels"]["_unknown_"] == 2
    # Words inside _unknown_ are their own words; speakers and split overlap are counted.
    assert "figures/counts_unknown_words.png" in page.images
    assert "speakers in both" in text
    # One player per example word (yes, no, bed, cat, silence) and per background file.
    for name in ("example_yes", "example_bed", "example_cat", "example__silence",
                 "noise_white_noise", "noise_hum"):
        assert f"audio/{name}.wav" in page.audio
    # Every analysis has its section.
    for anchor in ("counts", "lengths", "examples", "vad", "resampling", "means", "band",
                   "conditions", "background", "unreadable"):
        assert f'id="{anchor}"' in text


def test_report_renders_in_headless_chromium(generated_report: tuple[Path, dict]):
    from training.explore.render_check import find_browser, render

    if find_browser() is None:
        pytest.skip("no Chromium found (Debian: apt-get install chromium)")
    out, _ = generated_report
    result = render(out)
    assert result.images and not result.broken_images
    assert not result.broken_audio
    assert all(w > 100 and h > 100 for _, _, w, h in result.images)
    assert not (out / ".render-check.html").exists()


def test_render_check_flags_a_broken_image(generated_report: tuple[Path, dict], tmp_path: Path):
    from training.explore.render_check import find_browser, main

    if find_browser() is None:
        pytest.skip("no Chromium found (Debian: apt-get install chromium)")
    out = tmp_path / "report"
    shutil.copytree(generated_report[0], out)
    (out / "figures" / "lengths.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main([str(out)]) == 1


def test_report_on_shared_data_sample(data_dir: Path, tmp_path: Path):
    per_label = 4
    proc = _explore(data_dir, tmp_path, "--max-clips-per-label", str(per_label))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    page, text = _check_report(tmp_path)
    layout = scan(data_dir)
    sampled = [c.path for c in layout.clips(per_label, ExploreConfig().seed)]
    assert summary["clips"] + summary["unreadable"] == len(sampled) == 12 * per_label
    assert summary["short"] == _direct_short_count(sampled)
    assert "figures/example_unknown_words.png" in page.images
    assert "figures/background.png" in page.images
    assert len(layout.background) == 6


def test_smallest_folder_gives_a_whole_report(tmp_path: Path):
    """One stereo 44.1 kHz 24-bit word clip and one silence clip: every
    figure is still drawn (single-clip violins, no PCA, no background).
    Drawn in this process (jobs=1): a fork of a test process where
    TensorFlow has run may abort in the child (the CLI tests above draw in
    forked workers)."""
    from training.explore import build_report

    root = tmp_path / "data"
    t = np.arange(44100) / 44100
    word = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-((t - 0.5) / 0.1) ** 2)
    (root / "yes").mkdir(parents=True)
    sf.write(root / "yes" / "aaaa1111_nohash_0.wav", np.stack([word, 0.5 * word], 1), 44100,
             subtype="PCM_24")
    _write(root / "_silence_" / "0.wav",
           (0.01 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32))
    summary = build_report(root, tmp_path / "out", cfg=ExploreConfig(jobs=1), progress=False)
    assert summary["clips"] == 2 and summary["short"] == 0
    page, text = _check_report(tmp_path / "out")
    assert "Too few clips for a PCA" in text and "No _background_noise_/" in text


def test_a_clip_longer_than_the_length_figure_gives_a_whole_report(tmp_path: Path):
    """A clip of 2 s or more (the length histogram's last bin, "longer")
    made the figure fail (bars one longer than their heights) and the whole
    report exit 1: "a figure worker failed"."""
    from training.explore import build_report

    root = tmp_path / "data"
    _write(root / "yes" / "aaaa1111_nohash_0.wav", _tone(1.0, 300.0, 0))
    _write(root / "no" / "bbbb2222_nohash_0.wav", _tone(2.5, 250.0, 1))
    summary = build_report(root, tmp_path / "out", cfg=ExploreConfig(jobs=1), progress=False)
    assert summary["clips"] == 2
    page, _ = _check_report(tmp_path / "out")
    assert "figures/lengths.png" in page.images


def test_an_out_folder_whose_files_would_be_lost_or_read_is_refused(tmp_path: Path, capsys):
    """--out once overwrote any index.html it found (a web folder's page),
    and --out DATA_DIR wrote the report's audio/ excerpts into the data
    folder, read as a word folder by the next explore or train. An earlier
    report is still replaced."""
    from training.explore import build_report

    root = tmp_path / "data"
    _write(root / "yes" / "aaaa1111_nohash_0.wav", _tone(1.0, 300.0, 0))
    _write(root / "no" / "bbbb2222_nohash_0.wav", _tone(1.0, 250.0, 1))
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html>my page</html>")
    rc, err = _explore_in_process(capsys, str(root), "--out", str(site))
    assert rc == 2, err
    assert f"--out {site}: holds an index.html that is not a kwsapp explore report" in err
    assert (site / "index.html").read_text() == "<html>my page</html>"
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]
    rc, err = _explore_in_process(capsys, str(root), "--out", str(root))
    assert rc == 2, err
    assert f"--out {root}: is the data folder itself" in err
    assert sorted(p.name for p in root.iterdir()) == ["no", "yes"]
    out = tmp_path / "report"
    for _ in range(2):  # the second run replaces the first's report
        build_report(root, out, cfg=ExploreConfig(jobs=1), progress=False)
    _check_report(out)
    # A word gone from the data: its example audio and figures go with it
    # (they were left beside the new report); a file of another kind stays.
    first = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    (out / "audio" / "notes.txt").write_text("mine")
    shutil.rmtree(root / "no")
    _write(root / "yes" / "cccc3333_nohash_0.wav", _tone(1.0, 320.0, 2))
    build_report(root, out, cfg=ExploreConfig(jobs=1), progress=False)
    after = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    gone = first - after
    assert {"audio/example_no.wav", "figures/example_no.png"} <= set(map(str, gone)), gone
    def of_no(p: Path) -> bool:  # "no"'s example and speaker excerpts
        return p.stem == "example_no" or p.stem.startswith("speaker_no_")

    assert all(of_no(p) for p in gone), gone  # only the word's files
    assert not any(of_no(p) for p in after), after
    assert (out / "audio" / "notes.txt").read_text() == "mine"
    _check_report(out)


def test_missing_folder_exits_2_from_the_command_line(tmp_path: Path):
    proc = _explore(tmp_path / "nowhere", tmp_path / "out")
    assert proc.returncode == 2
    assert "no such folder" in proc.stderr and str(tmp_path / "nowhere") in proc.stderr


def test_unreadable_folders_are_one_line_or_a_warning(generated_dir: Path, tmp_path: Path):
    """DATA_DIR that cannot be listed: one line, exit 2 (a PermissionError
    traceback); a label folder that cannot be listed: a warning naming it,
    as for an unreadable clip, and the report on the rest (a traceback)."""
    from conftest import without_root_file_access

    root = tmp_path / "data"
    shutil.copytree(generated_dir, root)
    prefix = without_root_file_access()

    def explore(out: Path) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, sys.executable, "-m", "kwsapp", "explore", str(root),
                               "--out", str(out), "--no-progress"], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=600)

    root.chmod(0)
    try:
        shut = explore(tmp_path / "out1")
    finally:
        root.chmod(0o755)
    assert shut.returncode == 2 and "Traceback" not in shut.stderr
    assert f"kwsapp: BadInputError: {root}: no permission to read this folder" in shut.stderr
    (root / "no").chmod(0)
    try:
        part = explore(tmp_path / "out2")
    finally:
        (root / "no").chmod(0o755)
    assert part.returncode == 0, part.stderr
    assert f"skipped {root / 'no'}: no permission to read this folder" in part.stderr
    assert (tmp_path / "out2" / "index.html").is_file()


def _explore_in_process(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    from kwsapp.cli import main

    try:
        rc = main(["explore", *argv])
    except SystemExit as exc:  # argparse's usage errors (ranged numbers) exit 2 themselves
        rc = exc.code
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("make, message", [
    (lambda root: (root / "yes").mkdir(parents=True), "no audio clips"),
    (lambda root: (root.mkdir(), (root / "notes.txt").write_text("x")), "no audio clips"),
    (lambda root: ((root / "yes").mkdir(parents=True),
                   (root / "yes" / "a_nohash_0.wav").write_bytes(b"garbage")), "could be read"),
])
def test_folders_without_usable_audio_exit_2(tmp_path: Path, capsys, make, message: str):
    root = tmp_path / "data"
    make(root)
    rc, err = _explore_in_process(capsys, str(root), "--out", str(tmp_path / "out"))
    assert rc == 2
    assert message in err and str(root) in err
    assert not (tmp_path / "out" / "index.html").exists()


def test_band_outside_the_8khz_spectrogram_is_refused(generated_dir: Path, tmp_path: Path,
                                                      capsys):
    rc, err = _explore_in_process(capsys, str(generated_dir), "--out", str(tmp_path),
                                  "--band-hz", "3000", "6000")
    assert rc == 2 and "band" in err


# -- the streaming statistics --------------------------------------------------------

def test_word_and_speaker_from_file_names():
    assert word_and_speaker("_unknown_", "backward_0c540988_nohash_0") == ("backward", "0c540988")
    assert word_and_speaker("yes", "0a7c2a8d_nohash_1") == ("yes", "0a7c2a8d")
    assert word_and_speaker("_silence_", "1024") == ("_silence_", None)


def test_reservoir_is_bounded_and_uniform():
    counts = np.zeros(100)
    for seed in range(400):
        r: Reservoir[int] = Reservoir(10, random.Random(seed))
        for i in range(100):
            r.add(i)
        assert len(r.items) == 10 and r.seen == 100
        counts[r.items] += 1
    # Each item is kept with probability 10/100: 40 expected of 400 runs.
    assert counts.min() > 15 and counts.max() < 70
    assert counts[:50].sum() == pytest.approx(counts[50:].sum(), rel=0.15)


def _measures(value: float, n_samples: int = RATE) -> ClipMeasures:
    return ClipMeasures(n_samples=n_samples, rms_db=-20.0,
                        log_spec=np.full((99, 81), value, np.float32),
                        power=np.full(257, value, np.float64), share_above=0.1,
                        high_band_db=-20.0, shape=np.zeros(128, np.float32),
                        band_value=value, trim_samples=n_samples // 2)


def test_statistics_stay_bounded_and_means_are_exact():
    cfg = ExploreConfig(values_per_word=50, pca_clips=40, max_listed=5, example_candidates=3)
    stats = DatasetStats(cfg)
    n = 3000
    for i in range(n):
        clip = Clip(Path(f"yes/{i:08x}_nohash_0.wav"), "yes", "yes", f"{i % 300:08x}", "train")
        stats.add(clip, _measures(float(i % 7), n_samples=RATE // 2 if i % 10 == 0 else RATE))
    word = stats.words["yes"]
    assert word.n == n and stats.n_ok == n
    assert len(word.values.items) == 50 and len(word.candidates.items) == 3
    assert len(stats.pca.items) == 40 and stats.pca.seen == n
    assert stats.n_short == n // 10 and len(stats.short) == 5  # all counted, few listed
    assert len(stats.narrowband) == cfg.narrowband_clips
    assert len({c.speaker for _, c in stats.narrowband}) == cfg.narrowband_clips
    expected = np.mean([i % 7 for i in range(n)])
    np.testing.assert_allclose(word.mean_log_spec, expected)
    np.testing.assert_allclose(word.mean_power, expected)
    assert stats.length_hist.sum() == n


def test_full_layout_words_speakers_and_official_splits(tmp_path: Path):
    """The v0.02 layout: raw-word folders, lists decide the split (no audio read)."""
    root = tmp_path / "full"
    for name in ("yes/aaaa1111_nohash_0.wav", "yes/bbbb2222_nohash_0.wav",
                 "bed/aaaa1111_nohash_0.wav", "six/cccc3333_nohash_1.wav",
                 "_background_noise_/white_noise.wav"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    (root / "_background_noise_" / "README.md").write_text("x")
    (root / "validation_list.txt").write_text("bed/aaaa1111_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("six/cccc3333_nohash_1.wav\n")
    layout = scan(root)
    assert layout.kind == "full" and layout.n_clips == 4
    assert [p.name for p in layout.background] == ["white_noise.wav"]
    clips = {c.name: c for c in layout.clips()}
    assert clips["bed/aaaa1111_nohash_0.wav"].word == "bed"
    assert clips["bed/aaaa1111_nohash_0.wav"].split == "validation"
    assert clips["six/cccc3333_nohash_1.wav"].split == "test"
    assert clips["yes/bbbb2222_nohash_0.wav"].split == "train"
    assert clips["six/cccc3333_nohash_1.wav"].speaker == "cccc3333"
    assert len(list(layout.clips(max_per_label=1))) == 3
