"""Choose an engine: ``engine="auto" | "fast" | "textbook"``.

The textbook engine (:mod:`mlp_functional.train`, :mod:`mlp_functional.predict`) is
the specification, plain functions in the papers' notation; the fast engine
(:mod:`mlp_functional.fast`) computes the same thing in place. ``auto`` runs the fast
engine when every piece has a fast kernel (the activation and each transformation of
the optimizer chain) and the textbook engine otherwise, so a user's own activation
or optimizer still trains, only slower. These are the functions the flat namespace
exports.

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

from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np

from . import fast
from . import predict as textbook_predict
from . import train as textbook
from .params import Params
from .predict import Hardest
from .train import Augment, EpochLog, TrainState, epoch_stream, fit_inputs, regimen
from .validate import check_batch

__all__ = [
    "ENGINES",
    "Engine",
    "accuracy",
    "evaluate",
    "fit",
    "hardest",
    "predict",
    "predict_proba",
    "resolve_engine",
    "train_epoch",
]

Engine = Literal["auto", "fast", "textbook"]
ENGINES: tuple[str, ...] = ("auto", "fast", "textbook")


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
    if state is not None:
        able = fast.supports(state)
        what = "the optimizer chain or the activation"
    else:
        assert params is not None
        able = fast.state.has_activation_kernel(params.activation)
        what = "the activation"
    if engine == "fast" and not able:
        raise ValueError(f"engine='fast' has no kernel for {what}; use engine='auto' or 'textbook'")
    if engine == "auto":
        return "fast" if able else "textbook"
    return engine


def _epoch_function(engine: str, state: TrainState) -> Callable[..., tuple[TrainState, EpochLog]]:
    return fast.run_epoch if resolve_engine(engine, state) == "fast" else textbook.run_epoch


def train_epoch(
    state: TrainState,
    x: Any,
    y: Any,
    *,
    batch_size: int = 128,
    dropout: float = 0.0,
    augment: Augment | None = None,
    rows: Any = None,
    label_smoothing: float = 0.0,
    progress: Callable[[int], None] | None = None,
    engine: Engine = "auto",
) -> tuple[TrainState, EpochLog]:
    """:func:`mlp_functional.train.train_epoch` on the chosen engine.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> train_epoch(s, np.ones((8, 3)), np.zeros(8, int), batch_size=3)[1].steps
    3
    """
    one_epoch = _epoch_function(engine, state)
    x, labels = check_batch(state.params, x, y)
    plan = regimen(len(x), batch_size, dropout, augment, rows, label_smoothing, progress)
    return one_epoch(state, x, labels, plan)


def fit(
    state: TrainState,
    x: Any,
    y: Any,
    *,
    batch_size: int = 128,
    epochs: int | None = None,
    validation: tuple[Any, Any] | None = None,
    dropout: float = 0.0,
    augment: Augment | None = None,
    rows: Any = None,
    label_smoothing: float = 0.0,
    progress: Callable[[int], None] | None = None,
    engine: Engine = "auto",
) -> Iterator[tuple[TrainState, EpochLog]]:
    """:func:`mlp_functional.train.fit` on the chosen engine: a lazy iterator of epochs.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> [log.epoch for _, log in fit(s, np.ones((8, 3)), np.zeros(8, int), epochs=2)]
    [1, 2]
    """
    one_epoch = _epoch_function(engine, state)
    fast_engine = one_epoch is fast.run_epoch
    score = fast.evaluate if fast_engine else textbook_predict.evaluate
    settings = (batch_size, dropout, augment, rows, label_smoothing, progress)
    x, labels, plan, val = fit_inputs(state, x, y, epochs, validation, *settings)
    return epoch_stream(one_epoch, score, state, x, labels, plan, epochs, val)


def _inference(engine: str, params: Params) -> bool:
    return resolve_engine(engine, params=params) == "fast"


def predict_proba(
    params: Params, x: Any, *, batch_size: int = fast.EVAL_BATCH, engine: Engine = "auto"
) -> np.ndarray:
    """Class probabilities ``softmax(forward(params, x))``, shape ``(N, classes)``.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> predict_proba(mf.init(mf.key(0), [4, 2]), np.zeros((1, 4))).tolist()
    [[0.5, 0.5]]
    """
    if _inference(engine, params):
        return fast.predict_proba(params, x, batch_size=batch_size)
    return textbook_predict.predict_proba(params, x)


def predict(
    params: Params, x: Any, *, batch_size: int = fast.EVAL_BATCH, engine: Engine = "auto"
) -> np.ndarray:
    """Most probable class of each example, shape ``(N,)``.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> predict(mf.init(mf.key(0), [4, 3]), np.eye(4)).shape
    (4,)
    """
    if _inference(engine, params):
        return fast.predict(params, x, batch_size=batch_size)
    return textbook_predict.predict(params, x)


def evaluate(
    params: Params, x: Any, y: Any, *, batch_size: int = fast.EVAL_BATCH, engine: Engine = "auto"
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole dataset.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> loss, acc = evaluate(mf.init(mf.key(0), [4, 2]), np.zeros((3, 4)), np.array([0, 1, 0]))
    >>> round(loss, 4), acc  # log 2; every tie goes to class 0
    (0.6931, 0.6666666666666666)
    """
    if _inference(engine, params):
        return fast.evaluate(params, x, y, batch_size=batch_size)
    return textbook_predict.evaluate(params, x, y)


def accuracy(
    params: Params, x: Any, y: Any, *, batch_size: int = fast.EVAL_BATCH, engine: Engine = "auto"
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
    batch_size: int = fast.EVAL_BATCH,
    engine: Engine = "auto",
) -> Hardest:
    """The ``k`` examples with the highest loss, with their probabilities.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> hardest(mf.init(mf.key(0), [4, 3]), np.eye(4), np.array([0, 1, 2, 0]), k=2).indices.shape
    (2,)
    """
    if _inference(engine, params):
        return fast.hardest(params, x, y, k, batch_size=batch_size)
    return textbook_predict.hardest(params, x, y, k)
