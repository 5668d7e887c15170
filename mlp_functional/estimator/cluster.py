"""Hand scikit-learn's parallel work (searches, cross-validation) to a Dask cluster.

scikit-learn runs the fits of a search through joblib, and joblib can send them to a
Dask cluster; nothing here schedules work itself. :func:`dask_backend` connects to the
cluster's scheduler and makes joblib use it for the ``with`` block::

    with dask_backend("tcp://HOST:8786"):
        search.fit(x, y)   # each fit runs on a worker of the cluster

It needs the ``dask`` extra; without it, the error is one line naming the install.

>>> import importlib.util
>>> importlib.util.find_spec("distributed") is not None
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["DASK_HINT", "dask_backend"]

#: How to get the optional dependencies the Dask backend needs.
DASK_HINT = "pip install 'mlp-functional[dask]'"


@contextlib.contextmanager
def dask_backend(address: str | None = None, **options: Any) -> Iterator[Any]:
    """Within the block, joblib (and so every scikit-learn search) runs on a Dask cluster.

    Args:
      address: the scheduler's address, e.g. ``"tcp://10.0.0.5:8786"`` or a
        ``LocalCluster``'s ``scheduler_address``; a client is opened on it and closed
        after the block. ``None`` uses the Dask client this process already has.
      options: passed on to ``joblib.parallel_config`` (e.g. ``n_jobs``).

    Yields:
      The ``distributed.Client`` the work goes to.

    Raises:
      ImportError: dask.distributed is not installed (the message names the extra).
    """
    try:
        from distributed import Client, get_client
    except ImportError:
        raise ImportError(
            f"the Dask backend needs dask.distributed, which is not installed: {DASK_HINT}"
        ) from None
    import joblib

    if address is None:
        try:
            client = get_client()
        except ValueError:
            raise ValueError(
                "no Dask client in this process: pass the scheduler's address, "
                'e.g. dask_backend("tcp://HOST:8786")'
            ) from None
        owned = False
    else:
        client, owned = Client(address), True
    try:
        with joblib.parallel_config(backend="dask", client=client, **options):
            yield client
    finally:
        if owned:
            client.close()
