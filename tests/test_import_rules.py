"""Imports run down the house (docs/design.md, "Imports"):

- ``kwsapp`` never imports ``training``, TensorFlow or Keras at module level
  (a command may import ``training`` inside its ``run``: that is the
  ``train`` extra, loaded only when asked for);
- ``kwsapp.gui`` and ``kwsapp.inference`` never import ``kwsapp.commands``;
- ``kwsapp.inference``, ``kwsapp.audio`` and ``kwsapp.models`` never import Qt;
- no import cycles among ``kwsapp`` and ``training`` modules.

Read from the source with ``ast`` (every import, at any depth, except those
under ``if TYPE_CHECKING:``), and checked once for real: importing every
``kwsapp`` module in a fresh interpreter loads no TensorFlow, Keras or
``training``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kwsapp", "training")
QT = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "shiboken6")
HEAVY = ("tensorflow", "keras", "tf_keras", "training")


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module doing the import
    target: str  # dotted module imported (a submodule where `from pkg import mod`)
    line: int
    top_level: bool  # at module level (not inside a def)

    def __str__(self) -> str:
        where = "module level" if self.top_level else "inside a function"
        return f"{self.importer}:{self.line} imports {self.target} ({where})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO_ROOT / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Every import in one module, resolved to module names."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    out: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, top_level)
                continue
            if isinstance(child, ast.Import):
                out.extend(Import(name, a.name, child.lineno, top_level) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative import
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[:len(package) - child.level + 1]
                    base = ".".join(package + ([base] if base else []))
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    out.append(Import(name, sub if sub in known else base, child.lineno,
                                      top_level))
            inner = top_level and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inner)

    visit(tree, True)
    return out


ALL_IMPORTS = [imp for name, path in source_modules().items()
               for imp in imports_of(name, path, set(source_modules()))]


def _under(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def test_the_sources_were_read():
    # A guard against this test passing because it read nothing.
    names = source_modules()
    assert {"kwsapp.inference.engine", "kwsapp.gui.files", "training.train"} <= set(names)
    assert any(i.importer == "kwsapp.gui.files" and i.target.startswith("PySide6")
               for i in ALL_IMPORTS)


def test_runtime_never_imports_training_or_tensorflow_at_module_level():
    bad = [str(i) for i in ALL_IMPORTS
           if _under(i.importer, ("kwsapp",)) and i.top_level and _under(i.target, HEAVY)]
    assert not bad, "\n".join(bad)


def test_only_commands_reach_training_at_all():
    # Lazy imports of `training` are the CLI's business (train, export,
    # explore, evaluate --keras); the services below it never do that.
    bad = [str(i) for i in ALL_IMPORTS
           if _under(i.importer, ("kwsapp",)) and not _under(i.importer, ("kwsapp.commands",))
           and _under(i.target, HEAVY)]
    assert not bad, "\n".join(bad)


def test_gui_and_inference_never_import_commands():
    bad = [str(i) for i in ALL_IMPORTS
           if _under(i.importer, ("kwsapp.gui", "kwsapp.inference"))
           and _under(i.target, ("kwsapp.commands", "kwsapp.cli"))]
    assert not bad, "\n".join(bad)


def test_engine_audio_and_models_never_import_qt():
    bad = [str(i) for i in ALL_IMPORTS
           if _under(i.importer, ("kwsapp.inference", "kwsapp.audio", "kwsapp.models",
                                  "kwsapp.streaming", "kwsapp.features", "kwsapp.config"))
           and _under(i.target, QT)]
    assert not bad, "\n".join(bad)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, ..., a]``) in a module graph, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    known = set(source_modules())
    edges: dict[str, set[str]] = {}
    for i in ALL_IMPORTS:
        target = i.target
        while target and target not in known:  # `from pkg.mod import name` -> pkg.mod
            target = target.rpartition(".")[0]
        # A package's own __init__ importing its submodules (and they it) is
        # how Python packages work, not a loop between two concerns.
        if target and target != i.importer and not i.importer.startswith(target + "."):
            edges.setdefault(i.importer, set()).add(target)
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("package", ["kwsapp"])
def test_importing_every_runtime_module_loads_no_tensorflow(package):
    pytest.importorskip("PySide6")  # kwsapp.gui is part of "every module"
    names = sorted(n for n in source_modules() if _under(n, (package,))
                   and n not in ("kwsapp.__main__",))
    code = ("import importlib, sys\n"
            f"for n in {names!r}:\n    importlib.import_module(n)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env={**__import__("os").environ,
                                                       "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]", proc.stdout
