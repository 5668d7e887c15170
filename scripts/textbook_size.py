"""Count the lines of code of the textbook engine's algorithms, docstrings and comments aside.

    python scripts/textbook_size.py

Prints one row per module with the functions that make up forward propagation, the
loss, back propagation, the optimizers and the training step and epoch.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable

ALGORITHMS = {
    "forward": ("dense", "propagate", "forward"),
    "loss": (
        "logsumexp",
        "log_softmax",
        "softmax",
        "targets",
        "cross_entropy",
        "cross_entropy_grad",
        "loss",
    ),
    "backprop": ("backward", "trace_loss_and_grad", "loss_and_grad", "grad"),
    "optimizers": (
        "apply_updates",
        "identity",
        "chain",
        "scale_by_learning_rate",
        "trace_momentum",
        "scale_by_adam",
        "add_l2",
        "add_decayed_weights",
        "clip_by_global_norm",
        "sgd",
        "momentum",
        "adam",
        "adamw",
    ),
    "train": (
        "init_state",
        "train_step",
        "epoch_keys",
        "epoch_order",
        "minibatches",
        "run_epoch",
        "train_epoch",
        "fit",
    ),
}


def code_lines(function: Callable[..., object]) -> int:
    """Non-blank lines of a function that are neither comments nor docstrings."""
    source = inspect.getsource(getattr(function, "func", function)).splitlines()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse("\n".join(source))):
        if isinstance(node, ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return sum(
        1
        for number, line in enumerate(source, 1)
        if line.strip() and not line.strip().startswith("#") and number not in docstrings
    )


def main() -> None:
    total = 0
    for module_name, names in ALGORITHMS.items():
        module = importlib.import_module(f"mlp_functional.{module_name}")
        sizes = {name: code_lines(getattr(module, name)) for name in names}
        total += sum(sizes.values())
        listed = ", ".join(f"{name} {n}" for name, n in sizes.items())
        print(f"{module_name:11} {sum(sizes.values()):4}  ({listed})")
    print(f"{'total':11} {total:4}")


if __name__ == "__main__":
    main()
