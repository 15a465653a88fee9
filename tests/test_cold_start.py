"""Cold start: a command imports only what it needs. A one-clip
``classify`` of a 16 kHz clip loads no scipy (resampling, filter design and
enrolment fits import it when they run), no TensorFlow, Keras or Qt;
building the CLI's parser loads no numpy. (Speed itself: benchmarks/.)"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import real_clip

_MODULES_AFTER = (
    "import json, runpy, sys\n"
    "sys.argv = ['kwsapp', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('kwsapp', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n")

#: (``training.models``, the architecture registry, is light and the train
#: command's parser lists it.)
HEAVY = {"scipy", "tensorflow", "keras", "onnx", "onnxruntime", "torch", "PySide6", "librosa"}


def _top_modules(repo_root, *args: str) -> set[str]:
    run = subprocess.run([sys.executable, "-c", _MODULES_AFTER, *args], cwd=repo_root,
                         capture_output=True, text=True, timeout=120)
    return set(json.loads(run.stderr.strip().splitlines()[-1]))


def test_one_clip_classify_imports_nothing_heavy(repo_root, data_dir, bundled_model_dir):
    loaded = _top_modules(repo_root, "classify", str(real_clip(data_dir, "yes")))
    assert "ai_edge_litert" in loaded  # it did classify
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_the_cli_parser_loads_no_numpy(repo_root):
    loaded = _top_modules(repo_root, "--help")
    assert "kwsapp" in loaded
    assert "numpy" not in loaded and not loaded & HEAVY
