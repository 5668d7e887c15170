"""The same training job in the tools people would otherwise pick, for ``bench --compare``.

Each builder returns a function that runs one epoch of the reference job (same layers,
ReLU, Adam with lr 1e-3, batch 128, shuffled) in that library, or raises
:class:`PeerMissingError` naming the ``pip install`` that brings it. Neither library is a
dependency of mlp_functional; they are imported only here, only when asked for.

>>> sorted(PEERS)
['pytorch', 'scikit-learn']
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["PEERS", "PeerMissingError", "pytorch_epoch", "sklearn_epoch"]

Array = np.ndarray


class PeerMissingError(ImportError):
    """The library to compare with is not installed."""


def sklearn_epoch(
    images: Array, labels: Array, hidden: Sequence[int], batch_size: int
) -> Callable[[], None]:
    """One epoch of ``MLPClassifier(solver="adam")`` on float32 input (its own init included)."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        raise PeerMissingError(
            "scikit-learn is not installed: pip install 'mlp-functional[compare]'"
        ) from None
    x = (images.reshape(len(images), -1) / np.float32(255)).astype(np.float32)
    y = np.asarray(labels)

    def epoch() -> None:
        model = MLPClassifier(
            hidden_layer_sizes=tuple(hidden),
            solver="adam",
            alpha=0.0,
            batch_size=batch_size,
            learning_rate_init=1e-3,
            max_iter=1,
            shuffle=True,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)

    return epoch


def pytorch_epoch(
    images: Array, labels: Array, hidden: Sequence[int], batch_size: int
) -> Callable[[], None]:
    """One epoch of an ``nn.Sequential`` MLP with ``torch.optim.Adam`` on the CPU."""
    try:
        import torch
    except ImportError:
        raise PeerMissingError("PyTorch is not installed: pip install torch") from None
    x = torch.from_numpy((images.reshape(len(images), -1) / np.float32(255)).astype(np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    sizes = [x.shape[1], *hidden, 10]
    layers: list[torch.nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    torch.manual_seed(0)
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch() -> None:
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            optimizer.step()

    return epoch


PEERS = {"scikit-learn": sklearn_epoch, "pytorch": pytorch_epoch}
