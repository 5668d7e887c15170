"""The shapes of a run folder's JSON files, checked before anything reads a field.

A shape is a small function ``(value, where) -> None`` that raises :class:`SchemaError`
naming the field (``data.classes[3]``) and what it must be. :func:`parse_json` refuses
nesting deeper than :data:`MAX_DEPTH` before the parser sees it, so a file of 100,000
``[`` is an error, not a recursion.

>>> check_history([{"epoch": 1, "train_loss": 0.3, "val_loss": None}])
>>> check_history([1, 2, 3])
Traceback (most recent call last):
...
mlp_functional.runs.schema.SchemaError: [0] must be an object, got 1
>>> parse_json(b"[" * 100_000)
Traceback (most recent call last):
...
mlp_functional.runs.schema.SchemaError: nested deeper than 32 levels
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "SchemaError",
    "check_config",
    "check_history",
    "check_metrics",
    "check_progress",
    "parse_json",
]

MAX_DEPTH = 32
_MAX_ITEMS = 10_000_000

Shape = Callable[[Any, str], None]


class SchemaError(ValueError):
    """A JSON value does not have the shape its file promises; the message names the field."""


def _fail(where: str, what: str, value: Any) -> None:
    got = type(value).__name__ if isinstance(value, (dict, list)) else repr(value)[:40]
    raise SchemaError(f"{where or 'its contents'} must be {what}, got {got}")


def _depth_ok(text: str) -> bool:
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json(data: bytes) -> Any:
    """Strict JSON from UTF-8 bytes, nesting at most :data:`MAX_DEPTH` deep."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SchemaError("not UTF-8 text") from None
    if not _depth_ok(text):
        raise SchemaError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=lambda c: _fail("", "strict JSON", c))
    except json.JSONDecodeError as e:
        raise SchemaError(f"not valid JSON ({e.msg} at line {e.lineno})") from None


def integer(low: int = 0, high: int = 2**62) -> Shape:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            _fail(where, f"an integer in [{low}, {high}]", value)

    return check


def number(nullable: bool = True) -> Shape:
    """A finite number (``null`` stands for NaN in a run's files)."""

    def check(value: Any, where: str) -> None:
        if value is None and nullable:
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (ok and math.isfinite(value)):
            _fail(where, "a finite number" + (" or null" if nullable else ""), value)

    return check


def text(value: Any, where: str) -> None:
    if not isinstance(value, str) or len(value) > 10_000:
        _fail(where, "a string", value)


def boolean(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        _fail(where, "true or false", value)


def optional(shape: Shape) -> Shape:
    def check(value: Any, where: str) -> None:
        if value is not None:
            shape(value, where)

    return check


def list_of(shape: Shape, low: int = 0, high: int = _MAX_ITEMS) -> Shape:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list) or not low <= len(value) <= high:
            _fail(where, f"a list of {low} to {high} items", value)
        for i, item in enumerate(value):
            shape(item, f"{where}[{i}]")

    return check


def record(
    required: Mapping[str, Shape], optional: Mapping[str, Shape] = MappingProxyType({})
) -> Shape:
    """An object with these fields (others are allowed, and ignored)."""

    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            _fail(where, "an object", value)
        prefix = f"{where}." if where else ""
        for name, shape in required.items():
            if name not in value:
                raise SchemaError(f"{prefix}{name} is missing")
            shape(value[name], prefix + name)
        for name, shape in optional.items():
            if name in value:
                shape(value[name], prefix + name)

    return check


_EPOCH = record(
    {"epoch": integer(1)},
    {
        name: number()
        for name in (
            "train_loss",
            "train_accuracy",
            "val_loss",
            "val_accuracy",
            "learning_rate",
            "seconds",
        )
    },
)
_HISTORY = list_of(_EPOCH)
_METRICS = record(
    {},
    {
        **{
            name: number()
            for name in (
                "train_accuracy",
                "test_accuracy",
                "train_loss",
                "test_loss",
                "best_val_loss",
                "train_seconds",
            )
        },
        "epochs": integer(0),
        "best_epoch": optional(integer(0)),
        "stopped_early": boolean,
    },
)
_PROGRESS = record(
    {"epoch": integer(0)},
    {
        "best_val_loss": number(),
        "best_epoch": optional(integer(0)),
        "bad_epochs": integer(0),
        "stopped_early": boolean,
    },
)
_CONFIG = record(
    {"model": record({"sizes": list_of(integer(1), 2, 102)}, {"activation": text, "dtype": text})},
    {
        "format_version": integer(),
        "created": text,
        "data": record(
            {},
            {
                "name": text,
                "classes": list_of(text, 1, 100_000),
                "train_examples": integer(),
                "val_examples": integer(),
                "test_examples": integer(),
                "sha256": record({}),
                "source": record(
                    {"path": text, "sha256": text, "shape": list_of(integer(0), 1, 5)},
                    {"format": text, "options": record({}), "skipped": list_of(text)},
                ),
                "dtype": text,
            },
        ),
        "versions": record({}),
        "settings": record({}),
    },
)
SHAPES: Mapping[str, Shape] = MappingProxyType(
    {"config": _CONFIG, "history": _HISTORY, "metrics": _METRICS, "progress": _PROGRESS}
)


def check_config(value: Any) -> None:
    """config.json's shape: the model's sizes, the data's classes (settings: see
    :func:`mlp_functional.runs.settings.from_record`)."""
    _CONFIG(value, "")


def check_history(value: Any) -> None:
    """history.json's shape: a list of epoch records."""
    _HISTORY(value, "")


def check_metrics(value: Any) -> None:
    """metrics.json's shape: the final figures."""
    _METRICS(value, "")


def check_progress(value: Any) -> None:
    """The progress record saved with a training state."""
    _PROGRESS(value, "")
