"""The house rules that import-linter cannot see: what the textbook engine imports,
and that only the command line prints."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mlp_functional"
TEXTBOOK = (
    "activations",
    "backprop",
    "features",
    "forward",
    "loss",
    "optimizers",
    "params",
    "predict",
    "random",
    "regularize",
    "schedules",
    "train",
    "validate",
)
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
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    for level, root in imported_roots(tree):
        if level == 0:
            assert root in ALLOWED_THIRD_PARTY or root in sys.stdlib_module_names, (name, root)
        else:
            assert level == 1 and root in TEXTBOOK, f"{name} imports .{root}"


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


ENGINE = (*TEXTBOOK, "engines")


@pytest.mark.parametrize("name", ENGINE)
def test_every_public_engine_function_carries_a_runnable_example(name):
    import importlib
    import inspect

    module = importlib.import_module(f"mlp_functional.{name}")
    missing = [
        n
        for n in module.__all__
        if inspect.isfunction(f := getattr(getattr(module, n), "func", getattr(module, n)))
        and ">>>" not in (f.__doc__ or "")
    ]
    assert missing == []
