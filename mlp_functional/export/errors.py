"""What an export can refuse, and how to get the optional libraries it needs.

>>> str(ExportError("the page reads 28x28 drawings; export --format onnx instead"))
'the page reads 28x28 drawings; export --format onnx instead'
"""

from __future__ import annotations

__all__ = ["ONNX_HINT", "SKL2ONNX_HINT", "ExportError", "require"]

#: How to get the libraries that build and check ONNX models.
ONNX_HINT = "pip install 'mlp-functional[onnx]'"
#: How to get skl2onnx with them.
SKL2ONNX_HINT = "pip install 'mlp-functional[skl2onnx]'"


class ExportError(ValueError):
    """A model or run that cannot be exported in the form asked for; the message is
    ``<problem>; <fix>`` on one line."""


def require(module: str, hint: str = ONNX_HINT) -> None:
    """Import ``module`` or fail with one line naming the extra that installs it.

    >>> require("json")
    >>> require("no_such_module_here", "pip install it")
    Traceback (most recent call last):
    ...
    ImportError: no_such_module_here is not installed; install the optional extra: pip install it
    """
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{module} is not installed; install the optional extra: {hint}"
        ) from None
