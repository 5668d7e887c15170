"""The mathematics of a multilayer perceptron, in the papers' notation, and nothing else.

Read it in this order: :mod:`.random` (explicit keys), :mod:`.params` (the model as an
immutable tree), :mod:`.activations`, :mod:`.forward`, :mod:`.loss`, :mod:`.backward`
(the chain rule by hand), :mod:`.optimizers` (optax-style ``(init, update)`` pairs),
:mod:`.schedules` and :mod:`.train` (a step, an epoch as a reduce, ``fit`` as an iterate).

These functions trust their inputs: float features, integer labels, valid settings. The
public functions of :mod:`mlp_functional` are these same functions behind one wrapper that
checks what a user passes and hands every array out read-only
(:mod:`mlp_functional.engine.boundary`); the fast engine (:mod:`mlp_functional.fast`)
computes the same things in place, held equal to these by property-based laws.

>>> import numpy as np
>>> from mlp_functional.textbook import activations, backward, params, random
>>> p = params.init(random.key(0), [4, 5, 3], activation=activations.tanh, dtype=np.float64)
>>> x, y = np.random.default_rng(0).random((8, 4)), np.arange(8) % 3
>>> backward.check_grad(p, x, y) < 1e-8
True
"""
