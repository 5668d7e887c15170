"""Shared test helpers for the engine: a reference MLP written plainly, and frozen inputs."""

from __future__ import annotations

import numpy as np

import mlp_functional as mf


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy, so that any write by the code under test raises."""
    b = np.array(a, copy=True)
    b.flags.writeable = False
    return b


def reference_loss_and_grad(params: mf.Params, x: np.ndarray, y: np.ndarray):
    """Cross-entropy and its gradient written the long way, example by example.

    Independent of the library's batched code: per-example forward, per-example
    outer products, activations recomputed from their textbook definitions.
    """
    name = params.activation.name
    f = {
        "relu": lambda z: np.maximum(z, 0.0),
        "tanh": np.tanh,
        "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
        "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    }[name]
    df = {
        "relu": lambda z: (z > 0).astype(float),
        "tanh": lambda z: 1.0 - np.tanh(z) ** 2,
        "sigmoid": lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2,
        "leaky_relu": lambda z: np.where(z > 0, 1.0, 0.01),
    }[name]
    ws = [np.asarray(layer.w, np.float64) for layer in params.layers]
    bs = [np.asarray(layer.b, np.float64) for layer in params.layers]
    gws = [np.zeros_like(w) for w in ws]
    gbs = [np.zeros_like(b) for b in bs]
    total = 0.0
    n = len(x)
    for xi, yi in zip(np.asarray(x, np.float64), y, strict=True):
        acts, zs = [xi], []
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            zs.append(acts[-1] @ w + b)
            acts.append(f(zs[-1]))
        logits = acts[-1] @ ws[-1] + bs[-1]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        total += -np.log(p[yi])
        delta = p.copy()
        delta[yi] -= 1.0
        for layer in range(len(ws) - 1, -1, -1):
            gws[layer] += np.outer(acts[layer], delta) / n
            gbs[layer] += delta / n
            if layer:
                delta = (ws[layer] @ delta) * df(zs[layer - 1])
    return total / n, gws, gbs
