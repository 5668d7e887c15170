"""Choose an engine: ``engine="auto" | "fast" | "textbook"``, looked up once in one table.

The textbook engine (:mod:`mlp_functional.textbook`) is the specification, plain
functions in the papers' notation; the fast engine (:mod:`mlp_functional.fast`) computes
the same thing in place. Each is an :class:`Engine` record of the same four functions.
``auto`` runs the fast engine when every piece has a fast kernel (the activation and each
transformation of the optimizer chain) and the textbook engine otherwise, so a user's
own activation or optimizer still trains, only slower. Every public function here checks
its inputs once and takes the engine's functions from the table.

>>> import numpy as np
>>> import mlp_functional as mf
>>> x = np.random.default_rng(0).random((64, 2))
>>> y = (x[:, 0] > x[:, 1]).astype(np.int64)
>>> start = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 8, 2], dtype="float64"), mf.adam(0.05))
>>> a, _ = train_epoch(start, x, y, batch_size=16, engine="fast")
>>> b, _ = train_epoch(start, x, y, batch_size=16, engine="textbook")
>>> bool(np.allclose(a.params.layers[0].w, b.params.layers[0].w, rtol=0, atol=1e-12))
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

import numpy as np

from .. import fast
from ..readonly import freeze
from ..textbook.params import Params
from ..textbook.train import TrainState
from . import inference
from .boundary import read_only
from .checks import check_batch, check_inputs
from .epochs import (
    EpochLog,
    Regimen,
    epoch_stream,
    fit_inputs,
    run_epoch,
    settle,
    textbook_epoch,
)
from .inference import Hardest, hardest_of

__all__ = [
    "ENGINES",
    "Engine",
    "EngineName",
    "accuracy",
    "committee_proba",
    "evaluate",
    "fit",
    "hardest",
    "predict",
    "predict_proba",
    "resolve_engine",
    "train_epoch",
]

EngineName = Literal["auto", "fast", "textbook"]
EVAL_BATCH = fast.EVAL_BATCH


class Engine(NamedTuple):
    """One engine's functions; inputs arrive checked, ``x`` as uint8 images or floats.

    Attributes:
      run_epoch: ``(state, x, labels, regimen, limit) -> (state, (loss_sum, correct, seen,
        weight))``,
        the epoch's first ``limit`` steps (all with ``None``).
      evaluate: ``(params, x, labels, batch_size) -> (mean loss, accuracy)``.
      log_probs: ``(params, x, batch_size) -> log_softmax(forward(params, x))``.
      supports: ``(state or None, params) -> bool``, whether it has kernels for them.
    """

    run_epoch: Callable[..., tuple[TrainState, Any]]
    evaluate: Callable[..., tuple[float, float]]
    log_probs: Callable[..., np.ndarray]
    supports: Callable[[TrainState | None, Params], bool]


def _fast_supports(state: TrainState | None, params: Params) -> bool:
    if state is not None:
        return fast.supports(state)
    return fast.state.has_activation_kernel(params.activation)


ENGINE_TABLE: Mapping[str, Engine] = MappingProxyType(
    {
        "fast": Engine(fast.run_epoch, fast.evaluate, fast.log_probs, _fast_supports),
        "textbook": Engine(
            textbook_epoch, inference.evaluate, inference.log_probs, lambda state, params: True
        ),
    }
)
ENGINES: tuple[str, ...] = ("auto", *ENGINE_TABLE)


def resolve_engine(
    engine: str, state: TrainState | None = None, params: Params | None = None
) -> str:
    """``"fast"`` or ``"textbook"``: what ``engine`` means for this state or model.

    >>> import mlp_functional as mf
    >>> odd = mf.Activation("cube", lambda z: z**3, lambda z, a: 3 * z**2)
    >>> resolve_engine("auto", params=mf.init(mf.key(0), [2, 2], activation=odd))
    'textbook'
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got engine={engine!r}")
    params = state.params if state is not None else params
    assert params is not None
    able = ENGINE_TABLE["fast"].supports(state, params)
    if engine == "fast" and not able:
        what = "the optimizer chain or the activation" if state is not None else "the activation"
        raise ValueError(f"engine='fast' has no kernel for {what}; use engine='auto' or 'textbook'")
    if engine == "auto":
        return "fast" if able else "textbook"
    return engine


def engine_for(
    engine: str, state: TrainState | None = None, params: Params | None = None
) -> Engine:
    """The :class:`Engine` record that ``engine`` names for this state or model."""
    return ENGINE_TABLE[resolve_engine(engine, state, params)]


def train_epoch(
    state: TrainState,
    x: Any,
    y: Any,
    settings: Regimen | None = None,
    *,
    engine: EngineName = "auto",
    **fields: Any,
) -> tuple[TrainState, EpochLog]:
    """One pass over ``(x, y)`` in minibatches shuffled with the state's key.

    Args:
      state: from :func:`init_state` or a previous epoch.
      x: ``(N, D)`` floats, or uint8 images ``(N, 28, 28)`` converted to [0, 1] one
        batch at a time (no full float copy is made).
      y: ``(N,)`` integer labels.
      settings: how to train, one :class:`~mlp_functional.engine.epochs.Regimen` record;
        or its fields as keywords (on top of ``settings``, if given): ``batch_size``
        (128; the last batch may be smaller), ``dropout`` (inverted dropout on every
        hidden layer), ``augment`` (``(key, features) -> features`` on each float batch,
        see :mod:`mlp_functional.augment`), ``rows`` (train on these row indices of
        ``x`` only, without copying them), ``label_smoothing`` (train towards
        ``(1 - s) onehot(y) + s / classes``), ``progress`` (called with each batch's
        size as its step runs, for progress bars; the result does not depend on it),
        ``sample_weight`` (one weight >= 0 per example of ``x``: each batch's loss is
        ``sum w_i loss_i / sum w_i``; the log's loss is weighted the same way) and
        ``input_dropout`` (inverted dropout on the input features, after ``augment``).
      engine: ``"auto"``, ``"fast"`` or ``"textbook"``.

    Returns:
      ``(new_state, log)``; every example is visited exactly once.

    Raises:
      DivergenceError: the loss became non-finite.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> s, log = train_epoch(s, np.ones((10, 3)), np.zeros(10, int), batch_size=4)
    >>> s.step, log.steps
    (3, 3)
    """
    one = engine_for(engine, state)
    x, labels = check_batch(state.params, x, y)
    plan = settle(len(x), settings, fields)
    return read_only(run_epoch(one.run_epoch, state, x, labels, plan))


def fit(
    state: TrainState,
    x: Any,
    y: Any,
    settings: Regimen | None = None,
    *,
    epochs: int | None = None,
    validation: tuple[Any, ...] | None = None,
    engine: EngineName = "auto",
    **fields: Any,
) -> Iterator[tuple[TrainState, EpochLog]]:
    """Train epoch after epoch, lazily: yields ``(state, log)`` after each one.

    Stop whenever you like (``break``, ``itertools.islice``, ``toolz.take``), look at
    any state, or resume from it with another ``fit`` call: nothing runs until the
    next epoch is asked for.

    Args:
      state: where to start.
      x, y: training data, as for :func:`train_epoch`.
      settings, fields: how to train, as for :func:`train_epoch`.
      epochs: how many epochs to run from ``state`` on; ``None`` goes on until you stop.
      validation: optional ``(x_val, y_val)``, evaluated after each epoch; or
        ``(x, y, rows)``, the ``rows`` of ``x`` and ``y`` (a held-out part of the training
        arrays, scored without being copied out of them).
      engine: as for :func:`train_epoch`.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> [log.epoch for _, log in fit(s, np.ones((8, 3)), np.zeros(8, int), epochs=2)]
    [1, 2]
    """
    one = engine_for(engine, state)
    x, labels, plan, val = fit_inputs(state, x, y, epochs, validation, settings, fields)
    stream = epoch_stream(one.run_epoch, one.evaluate, state, x, labels, plan, epochs, val)
    return (read_only(pair) for pair in stream)


def predict_proba(
    params: Params, x: Any, *, batch_size: int = EVAL_BATCH, engine: EngineName = "auto"
) -> np.ndarray:
    """Class probabilities ``softmax(forward(params, x))``, shape ``(N, classes)``.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> predict_proba(mf.init(mf.key(0), [4, 2]), np.zeros((1, 4))).tolist()
    [[0.5, 0.5]]
    """
    one = engine_for(engine, params=params)
    return freeze(np.exp(one.log_probs(params, check_inputs(params, x), batch_size)))


def committee_proba(
    members: Sequence[Params],
    x: Any,
    *,
    batch_size: int = EVAL_BATCH,
    engine: EngineName = "auto",
) -> np.ndarray:
    """A committee's class probabilities: the mean of its members' :func:`predict_proba`,
    shape ``(N, classes)``, as Cireşan et al. (2012) average their networks' outputs.

    The members must take the same inputs and give the same classes.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> members = [mf.init(mf.key(k), [4, 3]) for k in range(3)]
    >>> p = committee_proba(members, np.ones((2, 4)))
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
    ((2, 3), True)
    """
    if not members:
        raise ValueError("a committee needs at least one member")
    shapes = sorted({(m.sizes[0], m.sizes[-1]) for m in members})
    if len(shapes) > 1:
        raise ValueError(
            "the members of a committee must take the same inputs and give the same classes, "
            f"got (inputs, classes) of {shapes}"
        )
    each = [predict_proba(m, x, batch_size=batch_size, engine=engine) for m in members]
    return freeze(np.mean(each, axis=0))


def predict(
    params: Params, x: Any, *, batch_size: int = EVAL_BATCH, engine: EngineName = "auto"
) -> np.ndarray:
    """Most probable class of each example, shape ``(N,)``.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> predict(mf.init(mf.key(0), [4, 3]), np.eye(4)).shape
    (4,)
    """
    one = engine_for(engine, params=params)
    return freeze(one.log_probs(params, check_inputs(params, x), batch_size).argmax(axis=1))


def evaluate(
    params: Params, x: Any, y: Any, *, batch_size: int = EVAL_BATCH, engine: EngineName = "auto"
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole dataset.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> loss, acc = evaluate(mf.init(mf.key(0), [4, 2]), np.zeros((3, 4)), np.array([0, 1, 0]))
    >>> round(loss, 4), acc  # log 2; every tie goes to class 0
    (0.6931, 0.6666666666666666)
    """
    one = engine_for(engine, params=params)
    x, labels = check_batch(params, x, y)
    return one.evaluate(params, x, labels, batch_size)


def accuracy(
    params: Params, x: Any, y: Any, *, batch_size: int = EVAL_BATCH, engine: EngineName = "auto"
) -> float:
    """Fraction of examples whose predicted class is the label.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> accuracy(mf.init(mf.key(0), [4, 2]), np.zeros((2, 4)), np.array([0, 0]))
    1.0
    """
    return evaluate(params, x, y, batch_size=batch_size, engine=engine)[1]


def hardest(
    params: Params,
    x: Any,
    y: Any,
    k: int = 10,
    *,
    batch_size: int = EVAL_BATCH,
    engine: EngineName = "auto",
) -> Hardest:
    """The ``k`` examples with the highest loss, with their probabilities.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> hardest(mf.init(mf.key(0), [4, 3]), np.eye(4), np.array([0, 1, 2, 0]), k=2).indices.shape
    (2,)
    """
    one = engine_for(engine, params=params)
    x, labels = check_batch(params, x, y)
    return hardest_of(one.log_probs(params, x, batch_size), labels, k)
