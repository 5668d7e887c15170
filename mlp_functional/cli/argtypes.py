"""Argument types for the command line: each turns a string into a checked value.

A bad value raises :class:`argparse.ArgumentTypeError`, which the parser reports on one
line with exit status 2.

>>> hidden_sizes("256,128")
(256, 128)
>>> positive_float("1e-3")
0.001
"""

from __future__ import annotations

import argparse
import math

__all__ = [
    "fraction",
    "hidden_sizes",
    "non_negative_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
]


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


def non_negative_int(text: str) -> int:
    """An integer >= 0.

    >>> non_negative_int("0")
    0
    """
    value = _int(text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0.

    >>> non_negative_float("0")
    0.0
    """
    value = _float(text, "a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1), such as a dropout rate.

    >>> fraction("0.2")
    0.2
    """
    value = _float(text, "a number in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
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
