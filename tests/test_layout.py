"""The house rules that import-linter cannot see: what the textbook imports, how long it
is, that every public function of the engine carries an example, and that only the
command line prints."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mlp_functional"
TEXTBOOK = tuple(sorted(path.stem for path in (PACKAGE / "textbook").glob("*.py")))
#: The most code lines the textbook may hold (issue: about 300, never more than 350).
TEXTBOOK_LIMIT = 350
ALLOWED_THIRD_PARTY = {"numpy", "toolz"}


def imported_roots(tree: ast.AST) -> set[tuple[int, str]]:
    """``(level, first name)`` of every import: level 0 is absolute."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(0, alias.name.split(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.level, (node.module or "").split(".")[0]))
    return found


@pytest.mark.parametrize("name", TEXTBOOK)
def test_textbook_modules_import_only_numpy_toolz_the_standard_library_and_each_other(name):
    tree = ast.parse((PACKAGE / "textbook" / f"{name}.py").read_text())
    for level, root in imported_roots(tree):
        if level == 0:
            assert root in ALLOWED_THIRD_PARTY or root in sys.stdlib_module_names, (name, root)
        else:
            assert level == 1 and (root in TEXTBOOK or root == ""), f"{name} imports .{root}"


def test_the_textbook_stays_within_its_size():
    sys.path.insert(0, str(PACKAGE.parent / "scripts"))
    try:
        from textbook_size import code_lines
    finally:
        sys.path.pop(0)
    sizes = {path.name: code_lines(path) for path in (PACKAGE / "textbook").glob("*.py")}
    assert 0 < sum(sizes.values()) <= TEXTBOOK_LIMIT, sizes


def printing(tree: ast.AST) -> list[str]:
    """Calls of print(), writes to sys.stdout / sys.stderr, and tqdm imports."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
            found.append(f"print() at line {node.lineno}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("stdout", "stderr")
            and getattr(node.value, "id", None) == "sys"
        ):
            found.append(f"sys.{node.attr} at line {node.lineno}")
    found += [f"imports {root}" for _, root in imported_roots(tree) if root == "tqdm"]
    return found


def test_nothing_but_the_command_line_prints():
    offenders = {
        str(path.relative_to(PACKAGE)): printing(ast.parse(path.read_text()))
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py"
    }
    assert {path: found for path, found in offenders.items() if found} == {}


ENGINE = tuple(sorted(path.stem for path in (PACKAGE / "engine").glob("[!_]*.py")))


def _functions_of(module: object) -> dict[str, object]:
    """The public functions of a module: those a textbook module defines, or those an
    engine module lists in ``__all__``."""
    import inspect

    listed = getattr(module, "__all__", None)
    names = listed or [n for n in vars(module) if not n.startswith("_")]
    found = {}
    for name in names:
        f = getattr(getattr(module, name), "func", getattr(module, name))
        if inspect.isfunction(f) and (listed or f.__module__ == module.__name__):
            found[name] = f
    return found


@pytest.mark.parametrize(
    "name", [f"textbook.{n}" for n in TEXTBOOK] + [f"engine.{n}" for n in ENGINE]
)
def test_every_public_engine_function_carries_a_runnable_example(name):
    import importlib

    module = importlib.import_module(f"mlp_functional.{name}")
    missing = [n for n, f in _functions_of(module).items() if ">>>" not in (f.__doc__ or "")]
    assert missing == []
