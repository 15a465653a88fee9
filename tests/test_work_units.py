"""tests/conftest.py's work units for pytest-xdist name tests that exist, and
every test of the shared tiny embed artifact is in its unit: a test left out
ran on the other worker, which trained the artifact a second time (~55 s of
a CI run, until 2026-12-01)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import HEAVY_UNITS, REPO_ROOT, work_unit

TESTS = REPO_ROOT / "tests"


def _test_functions() -> dict[str, ast.FunctionDef]:
    """``module::name`` -> the test function, for every tests/test_*.py."""
    found = {}
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found[f"tests/{path.name}::{node.name}"] = node
    return found


def test_every_heavy_unit_names_a_test_or_module_that_exists():
    tests = _test_functions()
    for key in HEAVY_UNITS:
        module, _, name = key.partition("::")
        assert (REPO_ROOT / module).is_file(), f"{key}: no such module"
        if name:
            assert f"{module}::{name.split('[')[0]}" in tests, f"{key}: no such test"


def test_every_test_of_the_tiny_embed_artifact_is_in_its_unit():
    takers = [nodeid for nodeid, fn in _test_functions().items()
              if "tiny_embed_run" in {a.arg for a in fn.args.args}]
    assert len(takers) >= 4, takers  # the train and export tests that share it
    for nodeid in takers:
        assert work_unit(nodeid) == ("tiny_embed", True), \
            f"{nodeid} takes tiny_embed_run but is not in HEAVY_UNITS' tiny_embed unit"
    by_hand = [p.name for p in TESTS.glob("test_*.py")
               if p.name != Path(__file__).name and "killed_and_resumed(" in p.read_text()]
    assert not by_hand, f"{by_hand}: take the tiny embed artifact by the tiny_embed_run fixture"
