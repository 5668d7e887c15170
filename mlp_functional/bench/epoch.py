"""Measure the training hot path against its floor: the matrix multiplications alone.

The reference job is one epoch of a 784-256-128-10 ReLU MLP on MNIST's 60,000
training images, batch 128, Adam, float32. Per batch its unavoidable work is
``x @ w`` for every layer, ``a.T @ delta`` for every weight gradient and
``delta @ w.T`` for every layer but the first. Timing exactly those products at
exactly those shapes, in the same process, gives the floor; everything is
reported as a ratio to it, measured alternately, because the absolute speed of a
shared machine moves from run to run.

>>> r = matmul_floor([784, 16, 10], batch_size=100, n_examples=300, repeats=1)
>>> r > 0
True
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..engine.api import init, key, n_params
from ..engine.table import evaluate, predict, train_epoch
from ..fast import backend
from ..fast.kernels import backprop, propagate, workspace
from ..fast.loop import optimizer_step
from ..fast.state import buffer_views
from ..features import to_features
from ..runs.recipes import steps_per_epoch
from ..textbook.optimizers import Optimizer
from ..textbook.params import Params, unravel
from ..textbook.train import TrainState, init_state

__all__ = [
    "BenchResult",
    "epoch_flops",
    "matmul_floor",
    "median_time",
    "run_bench",
    "step_breakdown",
]

Array = np.ndarray


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batch_sizes(n_examples: int, batch_size: int) -> list[int]:
    full, rest = divmod(n_examples, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def epoch_flops(sizes: Sequence[int], n_examples: int) -> float:
    """Floating-point operations of one epoch's matrix products (2 per multiply-add).

    >>> epoch_flops([784, 256, 128, 10], 60000) / 1e9  # doctest: +ELLIPSIS
    60.4...
    """
    layers = list(itertools.pairwise(sizes))
    per_example = sum(2 * i * o for i, o in layers)  # forward
    per_example += sum(2 * i * o for i, o in layers)  # weight gradients
    per_example += sum(2 * i * o for i, o in layers[1:])  # deltas, all but the first layer
    return float(per_example) * n_examples


def matmul_floor(
    sizes: Sequence[int],
    *,
    batch_size: int,
    n_examples: int,
    dtype: Any = np.float32,
    repeats: int = 3,
    forward_only: bool = False,
) -> float:
    """Median seconds for one epoch's matrix products alone, into preallocated outputs.

    With ``forward_only``, just the forward products: the floor of evaluation.
    """
    rng = np.random.default_rng(0)
    layers = list(itertools.pairwise(sizes))
    ws = [rng.standard_normal((i, o)).astype(dtype) for i, o in layers]
    acts = [rng.random((batch_size, i)).astype(dtype) for i, _ in layers]
    deltas = [rng.standard_normal((batch_size, o)).astype(dtype) for _, o in layers]
    outs = [np.empty((batch_size, o), dtype) for _, o in layers]
    grads = [np.empty_like(w) for w in ws]
    backs = [np.empty((batch_size, i), dtype) for i, _ in layers]
    batches = _batch_sizes(n_examples, batch_size)

    def epoch() -> None:
        for n in batches:
            for layer, w in enumerate(ws):
                np.matmul(acts[layer][:n], w, out=outs[layer][:n])
                if forward_only:
                    continue
                np.matmul(acts[layer][:n].T, deltas[layer][:n], out=grads[layer])
                if layer:
                    np.matmul(deltas[layer][:n], w.T, out=backs[layer][:n])

    epoch()
    return median_time(epoch, repeats)


class StepTimes(NamedTuple):
    """Seconds per training step, split by phase."""

    forward: float
    backward: float
    update: float


def step_breakdown(
    state: TrainState, images: Array, labels: Array, repeats: int = 200
) -> StepTimes:
    """Time the phases of one fast-engine step on a fixed batch, with the loop's buffers."""
    params = state.params
    step, flat, slots = optimizer_step(state)
    live = unravel(flat, params)
    g = np.empty_like(flat)
    grads = buffer_views(g, params)
    space = workspace(params, len(images))
    xb = to_features(images, params.dtype)
    scratch = np.empty_like(flat)
    forward = median_time(lambda: propagate(live, xb, space.z, activations=space.hidden), repeats)
    both = median_time(lambda: backprop(live, xb, labels, grads, space), repeats)
    backprop(live, xb, labels, grads, space)
    fresh = g.copy()  # an update may overwrite the gradient: give each call the same one

    def restore_and_update() -> None:
        np.copyto(g, fresh)
        step(flat, g, slots, scratch)

    restore = median_time(lambda: np.copyto(g, fresh), repeats)
    update = median_time(restore_and_update, repeats) - restore
    return StepTimes(forward, both - forward, update)


class BenchResult(NamedTuple):
    """What :func:`run_bench` measured; times in seconds, medians over the repeats."""

    sizes: tuple[int, ...]
    batch_size: int
    optimizer: str
    n_examples: int
    floor: float
    epoch: float
    ratio: float
    ratios: tuple[float, ...]
    textbook_epoch: float
    textbook_ratio: float
    gflops: float
    steps: int
    step: StepTimes
    eval_images_per_second: float
    eval_floor_fraction: float
    peers: dict[str, float]
    peer_ratios: dict[str, float]
    peer_accuracy: dict[str, float]
    peer_first_epoch: dict[str, float]
    kernels: str
    epochs: int = 0  # of ours: the warm-up and the timed ones
    accuracy: float = math.nan  # ours on the test set after them (nan: not measured)

    @property
    def rest(self) -> float:
        """Seconds per step outside forward, backward and update: gather, loss, Python."""
        step = self.step
        return self.epoch / self.steps - step.forward - step.backward - step.update


def run_bench(
    images: Array,
    labels: Array,
    test_images: Array,
    *,
    hidden: Sequence[int] = (256, 128),
    batch_size: int = 128,
    optimizer: Optimizer,
    optimizer_name: str = "adam",
    repeats: int = 5,
    peers: dict[str, Callable[[], Any]] | None = None,
    textbook: bool = True,
    test_labels: Array | None = None,
) -> BenchResult:
    """Time epochs of ours, the floor and any peers, alternating, ``repeats`` rounds.

    Args:
      images, labels: the training set (uint8 images as the library trains on them).
      test_images: for the evaluation throughput (and, with ``test_labels``, our test
        accuracy after the timed epochs, as each peer's is taken after its own).
      peers: name -> a function that runs and times one epoch of that peer on the same
        job (in a process of its own), returning a :class:`~mlp_functional.bench.peers.PeerRun`
        (its seconds, test accuracy and first epoch's seconds).
      textbook: also time the textbook engine's epoch (the price of reading the code).
    """
    n = len(images)
    sizes = (int(np.prod(images.shape[1:])), *hidden, 10)
    params = init(key(0), sizes)
    state = init_state(key(1), params, optimizer)
    floor_times: list[float] = []
    epoch_times: list[float] = []
    textbook_times: list[float] = []
    textbook_state = state
    peer_runs: dict[str, list[Any]] = {name: [] for name in peers or {}}
    for _ in range(repeats):
        floor_times.append(
            matmul_floor(sizes, batch_size=batch_size, n_examples=n, dtype=params.dtype, repeats=1)
        )
        start = time.perf_counter()
        state, _ = train_epoch(state, images, labels, batch_size=batch_size, engine="fast")
        epoch_times.append(time.perf_counter() - start)
        if textbook:
            start = time.perf_counter()
            textbook_state, _ = train_epoch(
                textbook_state, images, labels, batch_size=batch_size, engine="textbook"
            )
            textbook_times.append(time.perf_counter() - start)
        for name, run in (peers or {}).items():
            peer_runs[name].append(run())
    ratios = tuple(e / f for e, f in zip(epoch_times, floor_times, strict=True))
    epoch = statistics.median(epoch_times)
    floor = statistics.median(floor_times)
    batch = images[:batch_size]
    step = step_breakdown(state, batch, labels[:batch_size].astype(np.int64))
    eval_batch = 1000
    eval_time = median_time(
        lambda: predict(state.params, test_images, batch_size=eval_batch, engine="fast"), 5
    )
    eval_floor = matmul_floor(
        sizes,
        batch_size=eval_batch,
        n_examples=len(test_images),
        dtype=params.dtype,
        repeats=5,
        forward_only=True,
    )
    peer_medians = {
        name: statistics.median(r.seconds for r in runs) for name, runs in peer_runs.items()
    }
    peer_ratios = {
        name: statistics.median(e / r.seconds for e, r in zip(epoch_times, runs, strict=True))
        for name, runs in peer_runs.items()
    }
    return BenchResult(
        sizes=sizes,
        batch_size=batch_size,
        optimizer=optimizer_name,
        n_examples=n,
        floor=floor,
        epoch=epoch,
        ratio=statistics.median(ratios),
        ratios=ratios,
        textbook_epoch=statistics.median(textbook_times) if textbook_times else math.nan,
        textbook_ratio=(
            statistics.median(t / f for t, f in zip(textbook_times, floor_times, strict=False))
            if textbook_times
            else math.nan
        ),
        gflops=epoch_flops(sizes, n) / epoch / 1e9,
        steps=steps_per_epoch(n, batch_size),
        step=step,
        eval_images_per_second=len(test_images) / eval_time,
        eval_floor_fraction=eval_floor / eval_time,
        peers=peer_medians,
        peer_ratios=peer_ratios,
        peer_accuracy={name: min(r.accuracy for r in runs) for name, runs in peer_runs.items()},
        peer_first_epoch={
            name: statistics.median(r.first_epoch for r in runs) for name, runs in peer_runs.items()
        },
        kernels=backend.name(),
        epochs=1 + repeats,
        accuracy=(
            math.nan
            if test_labels is None
            else evaluate(state.params, test_images, test_labels, engine="fast")[1]
        ),
    )


def describe_parameters(params: Params) -> str:
    """``784-256-128-10 (235,146 parameters)``."""
    return f"{'-'.join(map(str, params.sizes))} ({n_params(params):,} parameters)"
