"""Argument types for the command line: each turns a string into a checked value.

A bad value raises :class:`argparse.ArgumentTypeError`, which the parser reports on one
line with exit status 2.

>>> hidden_sizes("256,128")
(256, 128)
"""

from __future__ import annotations

import argparse

__all__ = ["hidden_sizes", "openblas_kernels", "positive_int"]


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1.

    >>> positive_int("3")
    3
    """
    value = _int(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def hidden_sizes(text: str) -> tuple[int, ...]:
    """Hidden layer widths, comma-separated: ``"256,128"``; ``""`` or ``"none"`` for none.

    >>> hidden_sizes("none"), hidden_sizes("64")
    ((), (64,))
    """
    from ..runs.settings import SPECS

    try:
        return tuple(SPECS["hidden"].parse(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def openblas_kernels(text: str) -> tuple[str, ...]:
    """OpenBLAS kernels to time, comma-separated: ``own`` (OpenBLAS's own choice) and
    core names, spelt as OpenBLAS spells them.

    >>> openblas_kernels(" own ")
    ('own',)
    """
    from ..bench.openblas import canonical_kernel

    words = [word.strip() for word in text.split(",")]
    if not any(words):
        raise argparse.ArgumentTypeError(
            "no kernel named; list them comma-separated, e.g. own,Haswell"
        )
    if not all(words):
        raise argparse.ArgumentTypeError(
            f"empty name in {text!r}; separate the kernels by single commas, e.g. own,Haswell"
        )
    try:
        return tuple(canonical_kernel(word) for word in words)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
