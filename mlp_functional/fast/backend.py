"""Which kernels the fast engine runs: its compiled C kernels or NumPy's.

The package is built with the fast engine's elementwise work fused into compiled loops
(:mod:`mlp_functional.fast.native`, a C extension); where it was installed without a C
compiler, the extension is missing and the same computation runs as NumPy passes. The
environment variable ``MLP_FUNCTIONAL_KERNELS`` chooses, read once, when the kernels are
first needed:

- unset or ``auto``: the C kernels when they were built, NumPy otherwise;
- ``numpy``: NumPy even when the C kernels exist (the laws run both ways);
- ``native``: the C kernels, and a build without them is an error naming the fix.

>>> choice("numpy")
'numpy'
>>> choice("fortran")
Traceback (most recent call last):
...
ValueError: MLP_FUNCTIONAL_KERNELS must be auto, numpy or native, got 'fortran'
"""

from __future__ import annotations

import functools
import importlib.util
import os
from types import ModuleType

__all__ = ["KERNELS_VARIABLE", "choice", "compiled", "name", "native_built"]

#: The environment variable that chooses the kernels.
KERNELS_VARIABLE = "MLP_FUNCTIONAL_KERNELS"
_CHOICES = ("auto", "numpy", "native")


def native_built() -> bool:
    """Whether the package was built with its C kernels (a C compiler was found)."""
    return importlib.util.find_spec("mlp_functional.fast._native") is not None


def choice(requested: str) -> str:
    """``"numpy"`` or ``"native"``: what a value of :data:`KERNELS_VARIABLE` means here."""
    requested = requested.strip().lower() or "auto"
    if requested not in _CHOICES:
        raise ValueError(f"{KERNELS_VARIABLE} must be auto, numpy or native, got {requested!r}")
    if requested == "auto":
        return "native" if native_built() else "numpy"
    if requested == "native" and not native_built():
        raise ValueError(
            f"the compiled kernels were not built ({KERNELS_VARIABLE}=native): install a C "
            "compiler and reinstall mlp-functional, or unset the variable to run NumPy's"
        )
    return requested


@functools.cache
def name() -> str:
    """The kernels in use in this process, ``"numpy"`` or ``"native"`` (decided once)."""
    return choice(os.environ.get(KERNELS_VARIABLE, "auto"))


@functools.cache
def compiled() -> ModuleType | None:
    """The compiled kernels' module, or None when the NumPy kernels run."""
    if name() != "native":
        return None
    from . import native

    return native
