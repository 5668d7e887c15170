"""Which kernels the fast engine runs: compiled ones (numba) or NumPy's.

With the optional extra ``fast`` (``pip install 'mlp-functional[fast]'``) the fast engine
fuses its elementwise work into compiled loops (:mod:`mlp_functional.fast.compiled`);
without it, the same computation runs as NumPy passes. The environment variable
``MLP_FUNCTIONAL_KERNELS`` chooses, read once, when the kernels are first needed:

- unset or ``auto``: numba when it is installed, NumPy otherwise;
- ``numpy``: NumPy even when numba is installed (the laws run both ways);
- ``numba``: numba, and a missing extra is an error naming the ``pip install``.

>>> choice("numpy")
'numpy'
>>> choice("fortran")
Traceback (most recent call last):
...
ValueError: MLP_FUNCTIONAL_KERNELS must be auto, numpy or numba, got 'fortran'
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time
from types import ModuleType

__all__ = ["KERNELS_VARIABLE", "choice", "compiled", "name", "warm_up"]

#: The environment variable that chooses the kernels.
KERNELS_VARIABLE = "MLP_FUNCTIONAL_KERNELS"
_CHOICES = ("auto", "numpy", "numba")


def choice(requested: str) -> str:
    """``"numpy"`` or ``"numba"``: what a value of :data:`KERNELS_VARIABLE` means here."""
    requested = requested.strip().lower() or "auto"
    if requested not in _CHOICES:
        raise ValueError(f"{KERNELS_VARIABLE} must be auto, numpy or numba, got {requested!r}")
    if requested == "auto":
        return "numba" if importlib.util.find_spec("numba") is not None else "numpy"
    if requested == "numba" and importlib.util.find_spec("numba") is None:
        raise ModuleNotFoundError(
            f"numba is not installed ({KERNELS_VARIABLE}=numba): "
            "pip install 'mlp-functional[fast]'",
            name="numba",
        )
    return requested


@functools.cache
def name() -> str:
    """The kernels in use in this process, ``"numpy"`` or ``"numba"`` (decided once)."""
    return choice(os.environ.get(KERNELS_VARIABLE, "auto"))


@functools.cache
def compiled() -> ModuleType | None:
    """The compiled kernels' module, or None when the NumPy kernels run."""
    if name() != "numba":
        return None
    from . import compiled as kernels

    return kernels


def warm_up() -> float:
    """Seconds to make the compiled kernels ready for float32 training (compile, or
    load from the disk cache); 0 with the NumPy kernels."""
    kernels = compiled()
    if kernels is None:
        return 0.0
    start = time.perf_counter()
    kernels.warm_up()
    return time.perf_counter() - start
