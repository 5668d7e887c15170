"""Module-level tables are immutable: every UPPER_CASE name of every module of the
package holds no dict, list, set or writeable array, at any depth (a ``MappingProxyType``
or a tuple instead), so no import can change what another module reads."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType, ModuleType
from typing import Any

import numpy as np
import pytest

import mlp_functional

CONSTANT = re.compile(r"_?[A-Z][A-Z0-9_]*")
MUTABLE = (dict, list, set, bytearray)


def _modules() -> list[ModuleType]:
    found = pkgutil.walk_packages(mlp_functional.__path__, "mlp_functional.")
    return [mlp_functional] + [importlib.import_module(m.name) for m in found]


def _mutable(value: Any, path: str) -> Iterator[str]:
    """Where a mutable container or writeable array sits inside ``value``."""
    if isinstance(value, MUTABLE) or (isinstance(value, np.ndarray) and value.flags.writeable):
        yield f"{path} is a {type(value).__name__}"
        return
    if isinstance(value, MappingProxyType | Mapping):
        for k, v in value.items():
            yield from _mutable(v, f"{path}[{k!r}]")
    elif isinstance(value, tuple | frozenset):
        for i, v in enumerate(value):
            yield from _mutable(v, f"{path}[{i}]")


MODULES = _modules()


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_module_level_tables_are_immutable(module):
    offenders = [
        problem
        for name, value in vars(module).items()
        if CONSTANT.fullmatch(name) and not isinstance(value, type | ModuleType)
        for problem in _mutable(value, f"{module.__name__}.{name}")
    ]
    assert not offenders, "use MappingProxyType / tuple / frozenset: " + "; ".join(offenders)


def test_the_walk_sees_every_module_and_finds_nested_lists():
    names = {m.__name__ for m in MODULES}
    assert {
        "mlp_functional.data.idx",
        "mlp_functional.cli.errors",
        "mlp_functional.serve.api",
    } <= names
    table = MappingProxyType({"a": (1, [2])})
    assert list(_mutable(table, "T")) == ["T['a'][1] is a list"]
