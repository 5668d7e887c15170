"""``bench`` under chosen OpenBLAS kernels, each in a process of its own.

OpenBLAS picks its kernel once, when it is loaded: the one ``OPENBLAS_CORETYPE`` names,
or else the one it judges best for the processor (``OPENBLAS_L2_SIZE`` stands in for the
cache size where the processor does not report it, and some releases size their blocks
by it). So a kernel can only be chosen for a whole process. The engine never sets either
variable; ``bench --openblas-kernels`` sets them only in the environment of the child
processes it starts, each running the normal ``bench`` and writing its figures as JSON
(:func:`bench_record`) beside its table.

A child for ``own`` runs with both variables removed: OpenBLAS's own choice. A child for
a named core runs with ``OPENBLAS_CORETYPE`` set to it and ``OPENBLAS_L2_SIZE`` as this
environment has it (kept when set, absent when not), so that naming the core a machine
pins reproduces that machine's setting:

>>> child_environ("own", {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512", "A": "1"})
{'A': '1'}
>>> child_environ("Haswell", {"OPENBLAS_L2_SIZE": "512"})
{'OPENBLAS_L2_SIZE': '512', 'OPENBLAS_CORETYPE': 'Haswell'}
>>> child_environ("Haswell", {})
{'OPENBLAS_CORETYPE': 'Haswell'}
"""

from __future__ import annotations

import difflib
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # the module stays light: the command's parser reads CORE_NAMES
    from .epoch import BenchResult

__all__ = [
    "CORETYPE",
    "CORE_NAMES",
    "L2_SIZE",
    "OWN",
    "BenchChildError",
    "KernelRun",
    "bench_record",
    "canonical_kernel",
    "child_environ",
    "honoured",
    "openblas_in_use",
    "run_child",
]

OWN = "own"
CORETYPE = "OPENBLAS_CORETYPE"
L2_SIZE = "OPENBLAS_L2_SIZE"

#: The core names ``OPENBLAS_CORETYPE`` accepts (OpenBLAS compares them ignoring case),
#: by ``platform.machine()``: those of OpenBLAS's builds for every processor of a family
#: (``DYNAMIC_ARCH``, as NumPy's wheels are), from its ``driver/others/dynamic.c`` and
#: ``dynamic_arm64.c`` of late 2024 (a later release may add names). A build may lack
#: some, or map one onto another's kernels; :func:`honoured` tells from what OpenBLAS
#: reports.
CORE_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "x86_64": (
            "Katmai",
            "Coppermine",
            "Northwood",
            "Prescott",
            "Banias",
            "Atom",
            "Core2",
            "Penryn",
            "Dunnington",
            "Nehalem",
            "Athlon",
            "Opteron",
            "Opteron_SSE3",
            "Barcelona",
            "Nano",
            "Sandybridge",
            "Bobcat",
            "Bulldozer",
            "Piledriver",
            "Haswell",
            "Steamroller",
            "Excavator",
            "Zen",
            "SkylakeX",
            "Cooperlake",
            "SapphireRapids",
        ),
        "aarch64": (
            "armv8",
            "cortexa53",
            "cortexa57",
            "cortexa72",
            "cortexa73",
            "falkor",
            "thunderx",
            "thunderx2t99",
            "tsv110",
            "emag8180",
            "neoversen1",
            "neoversev1",
            "neoversev2",
            "neoversen2",
            "thunderx3t110",
            "cortexa55",
            "armv8sve",
            "a64fx",
        ),
    }
)
#: Other spellings of the machines above.
_MACHINES: Mapping[str, str] = MappingProxyType({"amd64": "x86_64", "arm64": "aarch64"})


def canonical_kernel(word: str, machine: str | None = None) -> str:
    """``own``, or the OpenBLAS core ``word`` names, spelt as OpenBLAS spells it.

    On a machine whose core names are not listed here any word of letters, digits and
    underscores passes, and :func:`honoured` tells afterwards. Raises ``ValueError``
    saying what is wrong and how to fix it.

    >>> canonical_kernel("haswell", "x86_64"), canonical_kernel("OWN", "x86_64")
    ('Haswell', 'own')
    >>> canonical_kernel("Haswel", "x86_64")
    Traceback (most recent call last):
    ...
    ValueError: OpenBLAS has no core named 'Haswel'; did you mean Haswell? (or own)
    """
    name = word.strip()
    if name.lower() == OWN:
        return OWN
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(
            f"{word!r} is not an OpenBLAS core name; name cores such as Haswell, or own"
        )
    machine = (machine or platform.machine()).lower()
    known = CORE_NAMES.get(_MACHINES.get(machine, machine))
    if known is None:
        return name
    by_case = {core.lower(): core for core in known}
    if name.lower() in by_case:
        return by_case[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_case), n=1)
    hint = f"did you mean {by_case[close[0]]}?" if close else f"name one of {', '.join(known)}"
    raise ValueError(f"OpenBLAS has no core named {word!r}; {hint} (or {OWN})")


def child_environ(kernel: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A new environment for a child timing ``kernel`` (``own`` or a core name), made
    from ``environ`` (default: this process's), which is left as it is."""
    env = dict(os.environ if environ is None else environ)
    if kernel == OWN:
        env.pop(CORETYPE, None)
        env.pop(L2_SIZE, None)
    else:
        env[CORETYPE] = kernel
    return env


class OpenBLAS(NamedTuple):
    """One OpenBLAS library loaded in a process, as threadpoolctl reports it."""

    version: str
    kernel: str


def openblas_in_use() -> tuple[OpenBLAS, ...]:
    """The OpenBLAS libraries loaded in this process and the kernel each runs."""
    from threadpoolctl import threadpool_info

    return tuple(
        OpenBLAS(str(i.get("version")), str(i.get("architecture")))
        for i in threadpool_info()
        if i.get("internal_api") == "openblas"
    )


def honoured(asked: str, libraries: Sequence[OpenBLAS]) -> bool:
    """Whether every OpenBLAS library runs the kernel asked for (``own`` always is).

    OpenBLAS ignores a name it does not know, runs another kernel where the processor
    lacks the instructions of the one named, and some builds map a name onto another
    core's kernels (and report that core): all of these show here.

    >>> honoured("Haswell", [OpenBLAS("0.3.31", "Haswell")])
    True
    >>> honoured("Zen", [OpenBLAS("0.3.31", "Haswell")])
    False
    """
    return asked == OWN or (
        bool(libraries) and all(lib.kernel.lower() == asked.lower() for lib in libraries)
    )


def bench_record(result: BenchResult, peak_memory_mb: float | None) -> dict[str, Any]:
    """What a child's ``bench`` measured, as JSON-ready values, with the OpenBLAS kernels
    loaded in it and the two variables as it saw them (None where unset)."""
    return {
        "openblas": [lib._asdict() for lib in openblas_in_use()],
        "environ": {name: os.environ.get(name) for name in (CORETYPE, L2_SIZE)},
        "kernels": result.kernels,
        "floor": result.floor,
        "epoch": result.epoch,
        "ratio": result.ratio,
        "rest": result.rest,
        "peer_ratios": result.peer_ratios,
        "peer_accuracy": result.peer_accuracy,
        "peak_memory_mb": peak_memory_mb,
    }


class KernelRun(NamedTuple):
    """One child's ``bench`` under one kernel: what was asked, what ran, what it measured."""

    asked: str
    openblas: tuple[OpenBLAS, ...]
    environ: Mapping[str, str | None]
    kernels: str
    floor: float
    epoch: float
    ratio: float
    rest: float
    peer_ratios: Mapping[str, float]
    peer_accuracy: Mapping[str, float]
    peak_memory_mb: float | None

    @classmethod
    def from_record(cls, asked: str, record: Mapping[str, Any]) -> KernelRun:
        """The run of ``asked`` from its :func:`bench_record`."""
        return cls(
            asked=asked,
            openblas=tuple(OpenBLAS(**lib) for lib in record["openblas"]),
            **{k: v for k, v in record.items() if k != "openblas"},
        )

    @property
    def kernel(self) -> str:
        """The kernel OpenBLAS ran, as it names it (each distinct one, if several ran)."""
        names = dict.fromkeys(lib.kernel for lib in self.openblas)
        return " / ".join(names) or "no OpenBLAS"

    @property
    def honoured(self) -> bool:
        """Whether OpenBLAS ran the kernel asked for."""
        return honoured(self.asked, self.openblas)


class BenchChildError(RuntimeError):
    """A child ``bench`` failed; its own message, if any, went to stderr already."""

    def __init__(self, kernel: str, returncode: int) -> None:
        super().__init__(f"the bench for OpenBLAS kernel {kernel} exited with {returncode}")
        self.kernel = kernel
        self.returncode = returncode


def run_child(
    kernel: str, argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[str, KernelRun]:
    """Run ``python -m mlp_functional ARGV`` for ``kernel`` in ``environ``, asking it for
    its figures as JSON; returns the table it printed and its :class:`KernelRun`.

    Its stderr goes where this process's goes. Raises :class:`BenchChildError` when it
    fails.
    """
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "mlp_functional", *argv, "--result-json", str(record)]
        done = subprocess.run(command, env=dict(environ), stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise BenchChildError(kernel, done.returncode)
        return done.stdout, KernelRun.from_record(kernel, json.loads(record.read_text()))
