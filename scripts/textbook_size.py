"""Count the code lines of the textbook, every ``.py`` file of ``mlp_functional/textbook/``.

    python scripts/textbook_size.py

A code line is a line that is not blank, not a comment and not part of a docstring (the
module's, a class's or a function's); imports and ``__all__`` lists count. Prints one row
per file and the total.
"""

from __future__ import annotations

import ast
from pathlib import Path

TEXTBOOK = Path(__file__).resolve().parent.parent / "mlp_functional" / "textbook"


def code_lines(path: Path) -> int:
    """Lines of ``path`` that are neither blank, comments nor docstrings."""
    source = path.read_text()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        if isinstance(node, documented) and node.body:
            first = node.body[0]
            value = getattr(first, "value", None)
            if isinstance(first, ast.Expr) and isinstance(getattr(value, "value", None), str):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return sum(
        1
        for number, line in enumerate(source.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#") and number not in docstrings
    )


def main() -> None:
    total = 0
    for path in sorted(TEXTBOOK.glob("*.py")):
        lines = code_lines(path)
        total += lines
        print(f"{path.name:16} {lines:4}")
    print(f"{'total':16} {total:4}")


if __name__ == "__main__":
    main()
