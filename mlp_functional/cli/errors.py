"""How the command fails: one line on stderr, exit 2 for usage errors and 1 for the rest.

Known failures (bad data, damaged run files, divergence, invalid settings, a missing
optional extra) become ``mlp-functional: error: <problem>; <fix>``. Anything else is a
bug and keeps its traceback.

>>> message_for(ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib"))
"matplotlib is not installed; install the optional extra: pip install 'mlp-functional[plot]'"
>>> message_for(KeyError("x")) is None
True
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import NoReturn

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "EXTRAS",
    "PROG",
    "CliError",
    "Parser",
    "UsageError",
    "fail",
    "message_for",
]

PROG = "mlp-functional"
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Optional dependency (top-level module) -> the extra that installs it.
EXTRAS: Mapping[str, str] = MappingProxyType(
    {
        "matplotlib": "plot",
        "PIL": "images",
        "sklearn": "compare",
        "playwright": "browser",
        "jax": "jax",
        "optax": "jax",
        "onnx": "onnx",
        "onnxruntime": "onnx",
        "skl2onnx": "skl2onnx",
    }
)


class CliError(Exception):
    """A failure the user can fix; the message is ``<problem>; <fix>`` on one line."""


class UsageError(CliError):
    """The command line itself is wrong (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        first = message.strip().splitlines()[0] if message.strip() else "invalid arguments"
        self.exit(EXIT_USAGE, f"{self.prog}: error: {first} (see {self.prog} --help)\n")


def _known() -> tuple[type[BaseException], ...]:
    from ..data.errors import DataError
    from ..engine.epochs import DivergenceError
    from ..runs import RunError
    from ..runs.checkpoint import CheckpointError
    from ..runs.commit import CommitError

    known = (CliError, DataError, CheckpointError, CommitError, RunError, DivergenceError)
    return (*known, ValueError)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def message_for(exc: BaseException) -> str | None:
    """The one-line message for a known failure, or ``None`` for a bug."""
    if isinstance(exc, ImportError):
        if "pip install 'mlp-functional[" in str(exc):
            return _one_line(str(exc))
        root = (exc.name or "").split(".")[0]
        if root not in EXTRAS:
            return None
        return (
            f"{root} is not installed; install the optional extra: "
            f"pip install 'mlp-functional[{EXTRAS[root]}]'"
        )
    if isinstance(exc, _known()):
        return _one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}; check the path and its permissions"
    return None


def fail(exc: BaseException, prog: str = PROG) -> int:
    """Print the one-line message for ``exc`` and return the exit status; re-raise bugs."""
    message = message_for(exc)
    if message is None:
        raise exc
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILURE
