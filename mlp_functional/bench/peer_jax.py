"""The reference job in JAX with optax, for ``bench --compare``: jit-compiled, the epoch
in one ``lax.scan`` over its full batches (plus one step for the short last batch).

JAX and optax are the optional extra ``jax`` and are imported only here. The first
epoch compiles; the benchmark times the epochs after it and reports the compile apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["jax_epoch"]

Array = np.ndarray


def jax_epoch(
    images: Array, labels: Array, hidden: Sequence[int], batch_size: int
) -> Callable[[], Callable[[Array], Array]]:
    """One epoch of an MLP in JAX with ``optax.adam(1e-3)``; each call returns a
    predictor of the labels of uint8 images, for the accuracy check.

    Raises ImportError (``name="jax"``) when the extra is missing.
    """
    import jax
    import jax.numpy as jnp
    import optax

    x = jnp.asarray(images.reshape(len(images), -1), jnp.float32) / 255.0
    y = jnp.asarray(np.asarray(labels, np.int32))
    sizes = [x.shape[1], *hidden, 10]
    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes))
    params = [
        (
            jax.random.normal(k, (i, o), jnp.float32) * jnp.sqrt(2.0 / i),
            jnp.zeros(o, jnp.float32),
        )
        for k, (i, o) in zip(keys, itertools.pairwise(sizes), strict=False)
    ]
    optimizer = optax.adam(1e-3)

    def logits_of(params: list, xb: jnp.ndarray) -> jnp.ndarray:
        for w, b in params[:-1]:
            xb = jax.nn.relu(xb @ w + b)
        w, b = params[-1]
        return xb @ w + b

    def loss(params: list, xb: jnp.ndarray, yb: jnp.ndarray) -> jnp.ndarray:
        return optax.softmax_cross_entropy_with_integer_labels(logits_of(params, xb), yb).mean()

    def step(carry: tuple, batch: tuple) -> tuple:
        params, opt_state = carry
        grads = jax.grad(loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    full = len(x) // batch_size * batch_size

    @jax.jit
    def epoch(params: list, opt_state: tuple, key: jnp.ndarray) -> tuple:
        order = jax.random.permutation(key, len(x))
        xs = x[order[:full]].reshape(-1, batch_size, x.shape[1])
        ys = y[order[:full]].reshape(-1, batch_size)
        carry, _ = jax.lax.scan(step, (params, opt_state), (xs, ys))
        if full < len(x):
            carry, _ = step(carry, (x[order[full:]], y[order[full:]]))
        return carry

    predict = jax.jit(lambda params, xb: jnp.argmax(logits_of(params, xb), axis=1))
    carry: list[Any] = [(params, optimizer.init(params)), jax.random.PRNGKey(1)]

    def run() -> Callable[[Array], Array]:
        key, carry[1] = jax.random.split(carry[1])
        carry[0] = epoch(*carry[0], key)
        jax.block_until_ready(carry[0])
        trained = carry[0][0]
        return lambda images: np.asarray(
            predict(trained, jnp.asarray(images.reshape(len(images), -1), jnp.float32) / 255.0)
        )

    return run
