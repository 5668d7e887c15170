"""Training: a step, an epoch as a reduce of the step over minibatches, ``fit`` as an iterate.

::

    train_step(state, batch)  = state with params <- params + update(grad(params, batch))
    train_epoch(state, x, y)  = reduce(train_step, minibatches(key, x, y), state)
    fit(state, x, y)          = iterate(train_epoch, state)      (lazy: state_0, state_1, ...)

Shuffling, dropout (of hidden units and of inputs) and augmentation draw from the state's
key, split anew each epoch.

>>> import numpy as np, toolz
>>> from mlp_functional.textbook import activations, optimizers, params, random
>>> x = np.random.default_rng(0).random((64, 2))
>>> y = (x[:, 0] > x[:, 1]).astype(np.int64)
>>> p = params.init(random.key(1), [2, 16, 2], activations.relu)
>>> state = toolz.nth(20, fit(init_state(random.key(0), p, optimizers.adam(0.05)), x, y, 16))
>>> state.step, float((state.params.layers[-1].b != 0).mean())
(80, 1.0)
"""

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import toolz

from .backward import trace_loss_and_grad
from .optimizers import Optimizer, apply_updates, chain, count_updates, step_count
from .params import Params
from .random import Key, generator, split


class TrainState(NamedTuple):
    params: Params
    opt_state: Any
    key: Key  # what the next epoch shuffles with
    optimizer: Optimizer

    @property
    def step(self) -> int:
        """Optimizer steps so far: the optimizer state's own count, the one counter."""
        return step_count(self.opt_state) or 0


class Batch(NamedTuple):
    x: np.ndarray  # (B, D) float features
    y: np.ndarray  # (B,) labels
    dropout_key: Any = None  # the key of its dropout masks (None: trained without dropout)
    weights: Any = None  # (B,) per-example loss weights (None: all 1)


def init_state(key: Key, params: Params, optimizer: Optimizer) -> TrainState:
    """Step 0: the optimizer initialised on ``params``; an optimizer whose state keeps no
    step count is chained with :func:`~.optimizers.count_updates`, so the state knows its step.

    >>> import numpy as np
    >>> from mlp_functional.textbook import activations, optimizers, params, random
    >>> p = params.init(random.key(1), [2, 2], activations.relu)
    >>> start = init_state(random.key(0), p, optimizers.sgd(0.1))
    >>> start.step, type(start.opt_state).__name__
    (0, 'LearningRateState')
    """
    if step_count(optimizer.init(params)) is None:
        optimizer = chain(optimizer, count_updates())
    return TrainState(params, optimizer.init(params), key, optimizer)


def dropout_masks(key: Key, rows: int, widths: Sequence[int], rate: float, dtype: Any) -> tuple:
    """Inverted dropout (Srivastava et al., 2014): per hidden layer, ``0`` with probability
    ``rate`` else ``1 / (1 - rate)``, so every unit keeps its expected value; drawn in layer
    order from ``key``.

    >>> from mlp_functional.textbook.random import key
    >>> [m.shape for m in dropout_masks(key(0), 2, [3, 5], 0.5, np.float32)]
    [(2, 3), (2, 5)]
    """
    rng, scale = generator(key), np.asarray(1.0 / (1.0 - rate), dtype)
    keep = (rng.random((rows, w), dtype=np.float32) >= rate for w in widths)
    return tuple(np.multiply(k, scale, dtype=dtype) for k in keep)


def input_mask(key: Key, shape: tuple[int, ...], rate: float, dtype: Any) -> np.ndarray:
    """Input dropout (Srivastava et al., 2014, who kept each pixel of MNIST with probability
    0.8): a batch of features ``x``, shape ``(B, D)``, trains on ``a_0 = x * r_0``, each entry
    of ``r_0`` ``0`` with probability ``rate`` else ``1 / (1 - rate)`` (inverted dropout, as
    :func:`dropout_masks`). ``r_0`` is drawn from the first key split from the batch's
    dropout ``key``: the hidden layers' masks, drawn from ``key`` itself, are the same
    whatever the input's rate.

    >>> from mlp_functional.textbook.random import key
    >>> m = input_mask(key(0), (1000, 100), 0.2, np.float64)
    >>> m.shape, sorted(set(m.ravel().tolist())), round(float((m == 0).mean()), 2)
    ((1000, 100), [0.0, 1.25], 0.2)
    """
    return dropout_masks(split(key, 1)[0], shape[0], shape[1:], rate, dtype)[0]


@toolz.curry
def train_step(state: TrainState, batch: Batch, *, dropout=0.0, label_smoothing=0.0, report=None):
    """One step of gradient descent on one batch: back propagation, then the optimizer's
    update. ``report(loss, logits, batch)`` sees the step's figures before the update.
    Curried: ``train_step(dropout=0.2)`` is the step function an epoch reduces with.

    >>> import numpy as np
    >>> from mlp_functional.textbook import activations, optimizers, params, random
    >>> p = params.init(random.key(1), [2, 2], activations.relu)
    >>> start = init_state(random.key(0), p, optimizers.sgd(0.1))
    >>> train_step(start, Batch(np.ones((4, 2)), np.array([0, 1, 0, 1]))).step
    1
    """
    p, (x, y, dropout_key, weights) = state.params, batch
    masks = dropout_masks(dropout_key, len(y), p.sizes[1:-1], dropout, p.dtype) if dropout else None
    loss, trace, grads = trace_loss_and_grad(p, x, y, masks, label_smoothing, weights)
    if report is not None:
        report(loss, trace.logits, batch)
    updates, opt_state = state.optimizer.update(grads, state.opt_state, p)
    return state._replace(params=apply_updates(p, updates), opt_state=opt_state)


def epoch_order(key: Key, n: int, rows: np.ndarray | None = None) -> np.ndarray:
    """The order an epoch visits the examples in: a permutation of ``range(n)``, or of
    ``rows`` when training on a subset.

    >>> from mlp_functional.textbook.random import key
    >>> sorted(epoch_order(key(0), 5).tolist())
    [0, 1, 2, 3, 4]
    >>> sorted(epoch_order(key(0), 9, np.array([2, 7])).tolist())
    [2, 7]
    """
    order = generator(key).permutation(n if rows is None else len(rows))
    return order if rows is None else rows[order]


def minibatches(
    keys, x, y, batch_size, dropout=0.0, prepare=None, rows=None, weights=None, input_dropout=0.0
):
    """The epoch's batches: ``toolz.partition_all`` over its order (``keys[1]``); each is
    ``prepare``-d (made float features, augmented) with a key of its own (split from
    ``keys[3]``), given a key for its dropout masks (from ``keys[2]``), its features
    multiplied by their :func:`input_mask` (with ``input_dropout``) and its rows' loss
    ``weights`` (when given).

    >>> from mlp_functional.textbook.random import key, split
    >>> [len(b.y) for b in minibatches(split(key(0), 4), np.eye(5), np.arange(5), 2)]
    [2, 2, 1]
    >>> dropped = minibatches(split(key(0), 4), np.ones((6, 3)), np.arange(6), 4, input_dropout=0.5)
    >>> sorted(set(np.concatenate([b.x.ravel() for b in dropped]).tolist()))  # 0 or 1 / (1 - 0.5)
    [0.0, 2.0]
    """
    idx = list(map(np.array, toolz.partition_all(batch_size, epoch_order(keys[1], len(x), rows))))
    dropout_keys = split(keys[2], len(idx)) if dropout or input_dropout else (None,) * len(idx)

    def batch(i: np.ndarray, dropout_key: Any, prepare_key: Key) -> Batch:
        a = x[i] if prepare is None else prepare(prepare_key, x[i])
        a = a * input_mask(dropout_key, a.shape, input_dropout, a.dtype) if input_dropout else a
        return Batch(a, y[i], dropout_key, None if weights is None else weights[i])

    return map(batch, idx, dropout_keys, split(keys[3], len(idx)))


def train_epoch(state, x, y, batch_size=128, *, dropout=0.0, label_smoothing=0.0, **batching):
    """``reduce(train_step, minibatches(...), state)``: every example once, shuffled with the
    state's key, split into the next state's key and this epoch's order, dropout and
    ``prepare`` keys. ``batching``: ``input_dropout``, ``prepare``, ``rows``, ``weights`` (see
    :func:`minibatches`) and ``report`` (see :func:`train_step`).

    >>> import numpy as np
    >>> from mlp_functional.textbook import activations, optimizers, params, random
    >>> p = params.init(random.key(1), [2, 2], activations.relu)
    >>> start = init_state(random.key(0), p, optimizers.sgd(0.1))
    >>> train_epoch(start, np.ones((10, 2)), np.zeros(10, int), batch_size=4).step
    3
    """
    keys, report = split(state.key, 4), batching.pop("report", None)
    step = train_step(dropout=dropout, label_smoothing=label_smoothing, report=report)
    batches = minibatches(keys, x, y, batch_size, dropout, **batching)
    return toolz.reduce(step, batches, state._replace(key=keys[0]))


def fit(state: TrainState, x, y, batch_size=128, **settings: Any) -> Iterator[TrainState]:
    """``state, train_epoch(state), train_epoch(train_epoch(state)), ...``: every epoch from
    ``state`` on, lazily (``toolz.iterate``); take as many as you like.

    >>> import numpy as np
    >>> from mlp_functional.textbook import activations, optimizers, params, random
    >>> p = params.init(random.key(1), [2, 2], activations.relu)
    >>> start = init_state(random.key(0), p, optimizers.sgd(0.1))
    >>> import toolz
    >>> [s.step for s in toolz.take(3, fit(start, np.ones((10, 2)), np.zeros(10, int), 5))]
    [0, 2, 4]
    """
    return toolz.iterate(lambda s: train_epoch(s, x, y, batch_size, **settings), state)
