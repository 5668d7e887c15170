"""Read-only arrays: no array the library hands out can be changed under it, or by it.

An array a function has just made is frozen in place (:func:`freeze`); an array that
belongs to the caller is never frozen in place, the caller gets a read-only view of it
instead (:func:`read_only`), and their own array stays writeable.

>>> import numpy as np
>>> mine = np.zeros(3)
>>> view = read_only(mine)
>>> view.flags.writeable, mine.flags.writeable, np.shares_memory(view, mine)
(False, True, True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["freeze", "read_only"]


def freeze(a: np.ndarray) -> np.ndarray:
    """Mark a freshly made array read-only and return it.

    >>> freeze(np.zeros(2)).flags.writeable
    False
    """
    a.setflags(write=False)
    return a


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (no copy); ``a`` itself keeps its flags.

    >>> read_only(np.arange(2)).flags.writeable
    False
    """
    view = a.view()
    view.setflags(write=False)
    return view
