"""The ``mlp-functional`` command: train, evaluate, predict, fetch, report, serve, bench,
migrate, export.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``; heavy imports happen inside ``run``, so ``--help`` is instant.

>>> build_parser().parse_args(["train", "--epochs", "2"]).epochs
2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import TextIO

from . import bench, evaluate, export, fetch, migrate, predict, report, serve, train
from .argtypes import positive_int
from .errors import EXIT_INTERRUPTED, PROG, Parser, UsageError, fail

__all__ = ["build_parser", "main"]

COMMANDS = (train, evaluate, predict, fetch, report, serve, bench, migrate, export)
#: 128 + SIGPIPE: what a Unix tool killed by a closed pipe reports.
EXIT_BROKEN_PIPE = 141


def _version() -> str:
    import platform

    import numpy as np

    from ..version import __version__

    return f"{PROG} {__version__} (numpy {np.__version__}, Python {platform.python_version()})"


@contextlib.contextmanager
def _blas_threads(threads: int | None) -> Iterator[None]:
    """Limit the BLAS library's threads for the duration of a command."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the whole command, subcommands included."""
    parser = Parser(
        prog=PROG,
        description="A multilayer perceptron in NumPy that reads handwritten digits.",
        epilog="Run `mlp-functional COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="threads for the matrix products (default: the BLAS library's choice); "
        "1 is often far faster on a machine busy with other work",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings as one line, ``mlp-functional: warning: <message>`` (no source line)."""
    text = " ".join(str(message).split())
    print(f"{PROG}: warning: {text}", file=file or sys.stderr)


def _quiet_broken_pipe() -> int:
    """A reader closed our stdout (``| head -1``): stop quietly, as Unix tools do."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the final flush cannot fail again
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage, 130 Ctrl-C,
    141 when the reader of stdout went away)."""
    args = build_parser().parse_args(argv)
    try:
        with _blas_threads(args.threads), warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            return int(args.run(args))
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        prog = f"{PROG} {args.command}" if isinstance(exc, UsageError) else PROG
        return fail(exc, prog)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
