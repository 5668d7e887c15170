"""The same training job in the tools people would otherwise pick, for ``bench --compare``.

Each builder returns a function that runs one epoch of the reference job (same layers,
ReLU, Adam with lr 1e-3, batch 128, shuffled) in that library, or raises
:class:`PeerMissingError` naming the ``pip install`` that brings it. Neither library is a
dependency of mlp_functional; they are imported only here, only when asked for.

:func:`time_peer` times one epoch (after a warm-up epoch) in a process of its own
(``python -m mlp_functional.cli.peer NAME``, which prints the seconds): the benchmark
runs peers that way, so that their thread pools (PyTorch's OpenMP threads spin after
each operation) never share a process with the epochs they are compared with.

>>> sorted(PEERS)
['jax', 'pytorch', 'scikit-learn']
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

__all__ = [
    "PEERS",
    "PeerMissingError",
    "PeerRun",
    "jax_epoch",
    "pytorch_epoch",
    "sklearn_epoch",
    "time_one_epoch",
    "time_peer",
]

Array = np.ndarray
#: One epoch of a peer; it returns a predictor of labels for uint8 images.
Epoch = Callable[[], Callable[[Array], Array]]


class PeerMissingError(ImportError):
    """The library to compare with is not installed."""


def sklearn_epoch(images: Array, labels: Array, hidden: Sequence[int], batch_size: int) -> Epoch:
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

    def epoch() -> Callable[[Array], Array]:
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
        return lambda images: model.predict(images.reshape(len(images), -1) / np.float32(255))

    return epoch


def pytorch_epoch(images: Array, labels: Array, hidden: Sequence[int], batch_size: int) -> Epoch:
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

    def predict(images: Array) -> Array:
        with torch.no_grad():
            rows = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
            return model(torch.from_numpy(rows)).argmax(dim=1).numpy()

    def epoch() -> Callable[[Array], Array]:
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            optimizer.step()
        return predict

    return epoch


def jax_epoch(images: Array, labels: Array, hidden: Sequence[int], batch_size: int) -> Epoch:
    """One epoch in JAX with optax, the epoch a ``lax.scan`` (see :mod:`.peer_jax`)."""
    try:
        from .peer_jax import jax_epoch as epoch
    except ImportError:
        raise PeerMissingError("JAX is not installed: pip install 'mlp-functional[jax]'") from None
    return epoch(images, labels, hidden, batch_size)


PEERS: Mapping[str, Callable[..., Epoch]] = MappingProxyType(
    {"scikit-learn": sklearn_epoch, "pytorch": pytorch_epoch, "jax": jax_epoch}
)
#: The module whose import tells whether a peer is installed, and how to install it.
_PROBES: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "scikit-learn": (
            "sklearn.neural_network",
            "scikit-learn",
            "pip install 'mlp-functional[compare]'",
        ),
        "pytorch": ("torch", "PyTorch", "pip install torch"),
        "jax": ("optax", "JAX", "pip install 'mlp-functional[jax]'"),
    }
)


class PeerRun(NamedTuple):
    """One timed epoch of a peer, in a process of its own."""

    seconds: float
    accuracy: float  # on the test set, after the warm-up epoch and the timed one
    first_epoch: float  # the warm-up epoch's seconds: includes any compile


#: Exit status of ``python -m mlp_functional.cli.peer`` when the library is not installed.
EXIT_MISSING = 3


def time_one_epoch(
    name: str,
    images: Array,
    labels: Array,
    hidden: Sequence[int],
    batch_size: int,
    test_images: Array,
    test_labels: Array,
) -> PeerRun:
    """One epoch of peer ``name`` timed after a warm-up epoch (in this process), with its
    test accuracy and the warm-up's seconds (which include any compile).

    Raises :class:`PeerMissingError` when the library is not installed.
    """
    import time

    start = time.perf_counter()
    epoch = PEERS[name](images, labels, hidden, batch_size)
    epoch()
    first = time.perf_counter() - start
    start = time.perf_counter()
    predict = epoch()
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(predict(test_images) == np.asarray(test_labels)))
    return PeerRun(seconds, accuracy, first)


def time_peer(
    name: str, hidden: Sequence[int], batch_size: int, data_dir: str | None = None
) -> Callable[[], PeerRun]:
    """A function timing one epoch of peer ``name`` in a fresh process.

    The process runs ``python -m mlp_functional.cli.peer`` (:func:`time_one_epoch`).

    Raises :class:`PeerMissingError` at once when the library is not installed.
    """
    import subprocess
    import sys

    module, label, hint = _PROBES[name]
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    if probe.returncode != 0:
        raise PeerMissingError(f"{label} is not installed: {hint}")
    command = [sys.executable, "-m", "mlp_functional.cli.peer", name]
    command += ["--hidden", ",".join(map(str, hidden)), "--batch-size", str(batch_size)]
    if data_dir:
        command += ["--data-dir", data_dir]

    def run() -> PeerRun:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == EXIT_MISSING:
            raise PeerMissingError(done.stderr.strip())
        if done.returncode != 0:
            raise RuntimeError(f"{name} benchmark failed: {done.stderr.strip()[-500:]}")
        seconds, accuracy, first = done.stdout.strip().splitlines()[-1].split()
        return PeerRun(float(seconds), float(accuracy), float(first))

    return run
