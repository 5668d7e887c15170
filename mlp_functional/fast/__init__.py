"""The fast engine: the textbook mathematics run with every trick it needs.

The textbook (:mod:`mlp_functional.textbook`) is the specification; this package runs
the same computation on private flat buffers, in place: one workspace of activations
reused from batch to batch, the loss and its gradient fused, every optimizer chain
reduced to one pass over one flat buffer (:mod:`.rules`, registered against the
textbook's own optimizer factories).
Property-based laws (``tests/test_engines.py``) hold it equal to the textbook engine.

Nothing here is in the flat namespace: choose it with ``engine="fast"`` (or let
``engine="auto"`` pick it whenever every piece has a fast kernel).

>>> import numpy as np
>>> import mlp_functional as mf
>>> state = mf.init_state(mf.key(0), mf.init(mf.key(1), [4, 8, 2]), mf.adam(0.01))
>>> supports(state)
True
"""

from __future__ import annotations

from . import state
from .inference import EVAL_BATCH, evaluate, log_probs
from .loop import Diverged, run_epoch
from .state import FastState, from_fast, supports, to_fast

__all__ = [
    "EVAL_BATCH",
    "Diverged",
    "FastState",
    "evaluate",
    "from_fast",
    "log_probs",
    "run_epoch",
    "state",
    "supports",
    "to_fast",
]
