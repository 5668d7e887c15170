"""How large each file of a run folder may be, checked before a byte of it is read.

The limits are far above what any run writes (the config.json of a run on an image folder
that skipped 100,000 files is about 10 MB; a history of 10,000 epochs about 2.5 MB) and
far below what would strain a machine, so a damaged or hostile file is refused by its size
alone, naming the file and the fix.

>>> limit_for("config.json") // 2**20, limit_for("model.safetensors") // 2**30
(16, 4)
>>> print(too_large(pathlib.Path("run/config.json"), 300_000_000, limit_for("config.json")))
run/config.json: 300.0 MB is larger than the 16.8 MB a run's config.json may hold ...
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["MAX_FILE_BYTES", "MAX_JSON_BYTES", "limit_for", "too_large"]

#: Files larger than this are never read whole (far beyond any model this package builds).
MAX_FILE_BYTES = 1 << 32
#: The largest JSON file of each kind a run folder may hold, in bytes.
MAX_JSON_BYTES: Mapping[str, int] = MappingProxyType(
    {
        "config.json": 16 * 2**20,
        "history.json": 16 * 2**20,
        "metrics.json": 2**20,
        "manifest.json": 2**20,
    }
)


def limit_for(name: str) -> int:
    """The most bytes the run file ``name`` may hold."""
    return MAX_JSON_BYTES.get(name, MAX_FILE_BYTES)


def too_large(path: pathlib.Path, size: int, limit: int) -> str:
    """The one-line refusal of ``path``, ``size`` bytes where at most ``limit`` may be."""
    from ..data.memory import format_bytes

    return (
        f"{path}: {format_bytes(size)} is larger than the {format_bytes(limit)} a run's "
        f"{path.name} may hold (damaged, or not written by mlp_functional); restore it or "
        "train again"
    )
