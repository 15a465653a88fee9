"""The wheel built from this repository installs into a fresh venv and works
from any folder: ``kwsapp classify`` with the bundled default model,
``kwsapp --version`` naming the bundled models, and ``kwsapp`` without the
``gui`` extra saying what to install (one line, exit 2).

Kept fast and offline: the wheel is built with ``pip wheel --no-deps
--no-build-isolation`` (the test extra carries setuptools), installed with
``--no-deps`` into a venv made ``--without-pip``, and that venv sees the
runtime dependencies (and only those: no Qt, no TensorFlow) through a
``.pth`` file naming a folder of links to this interpreter's copies of them.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: What a copy of the source tree leaves out (builds, venvs, caches).
IGNORED = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", "report", "runs", ".cache")


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's runtime ``Requires-Dist`` (extras left out)."""
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line]


def _name(requirement: str) -> str:
    return re.split(r"[ <>=!~;\[(]", requirement.strip(), maxsplit=1)[0]


def link_runtime_deps(requirements: list[str], target: Path) -> list[str]:
    """Link every top-level file and folder of ``requirements`` and of what
    they require in turn (as installed for this interpreter) into ``target``;
    returns the distributions linked."""
    target.mkdir()
    linked: list[str] = []
    todo = [_name(r) for r in requirements]
    while todo:
        name = todo.pop()
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # an optional or platform-specific dependency
        if dist.metadata["Name"] in linked:
            continue
        linked.append(dist.metadata["Name"])
        todo += [_name(r) for r in dist.requires or [] if "extra ==" not in r]
        # Its modules, packages, shared-library folders and its .dist-info
        # (so importlib.metadata finds it too); not its scripts ("../bin").
        for top in {Path(str(f)).parts[0] for f in dist.files or []
                    if not str(f).startswith("..")}:
            src = Path(dist.locate_file(top))
            if src.exists() and not (target / top).exists():
                (target / top).symlink_to(src)
    return linked


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel built from this tree; returns its bin/."""
    pytest.importorskip("setuptools", minversion="77")
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(REPO_ROOT, src, ignore=IGNORED, symlinks=True)
    dist = work / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(dist.glob("kwsapp-*.whl"))
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    deps = work / "deps"
    names = {n.lower().replace("_", "-") for n in link_runtime_deps(wheel_requirements(wheel), deps)}
    assert {"numpy", "ai-edge-litert", "soundfile"} <= names, names
    assert not names & {"pyside6-essentials", "pyqtgraph", "tensorflow"}, names
    site = Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    (site / "kwsapp-test-deps.pth").write_text(f"{deps}\n")
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr[-3000:]
    return env_dir / "bin"


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "KWSAPP_MODELS_DIR", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(bin_dir / "kwsapp"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_wheel_carries_the_bundled_models(installed, tmp_path):
    probe = subprocess.run(
        [str(installed / "python"), "-c",
         "import kwsapp, sys; from kwsapp.models.registry import models_dir, bundled_models;"
         "print(kwsapp.__file__); print(models_dir()); print(','.join(bundled_models()));"
         "print(sorted(m for m in ('PySide6', 'tensorflow', 'training') if m in sys.modules))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KWSAPP_MODELS_DIR")})
    assert probe.returncode == 0, probe.stderr[-3000:]
    kwsapp_file, models, names, heavy = probe.stdout.splitlines()
    venv_dir = installed.parent
    assert Path(kwsapp_file).is_relative_to(venv_dir), kwsapp_file  # not this clone
    assert Path(models).is_relative_to(venv_dir) and Path(models).parts[-3:] == (
        "kwsapp", "assets", "models")
    shipped = sorted(p.name for p in (REPO_ROOT / "assets" / "models").iterdir()
                     if (p / "card.json").is_file())
    assert names.split(",") == shipped
    for name in shipped:  # every file of every model folder (a glob, not a list)
        here = sorted(p.name for p in (REPO_ROOT / "assets" / "models" / name).iterdir())
        assert sorted(p.name for p in (Path(models) / name).iterdir()) == here
    assert heavy == "[]"


def test_installed_kwsapp_classifies_a_clip_from_any_folder(installed, tmp_path, data_dir):
    from conftest import real_clip, run_cli

    clip = real_clip(data_dir, "stop")
    local = tmp_path / "clip.wav"
    shutil.copy(clip, local)
    run = _run(installed, "classify", "clip.wav", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)["files"][0]
    assert got["file"] == "clip.wav" and got["label"] in got["probs"]
    # The same answer as this clone's own code gives.
    ref = run_cli("classify", str(local), "--json")
    assert ref.returncode == 0, ref.stderr[-3000:]
    want = json.loads(ref.stdout)["files"][0]
    assert got["label"] == want["label"]
    assert got["events"] == want["events"]


def test_installed_version_names_the_bundled_models(installed, tmp_path):
    run = _run(installed, "--version", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"kwsapp \d+\.\d+\.\d+\S*", lines[0])
    for name in ("embed", "cnn", "wavception"):
        if (REPO_ROOT / "assets" / "models" / name / "card.json").is_file():
            card = json.loads((REPO_ROOT / "assets" / "models" / name / "card.json").read_text())
            assert any(line.strip().startswith(f"model {name}:")
                       and card["created"][:10] in line for line in lines), run.stdout


def test_without_the_gui_extra_kwsapp_says_what_to_install(installed, tmp_path):
    run = _run(installed, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "pip install 'kwsapp[gui]'" in run.stderr


def test_training_commands_without_the_train_extra_say_what_to_install(installed, tmp_path):
    run = _run(installed, "train", "--data", str(tmp_path), "--out", str(tmp_path / "m"),
               cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "pip install 'kwsapp[train]'" in run.stderr
