"""The fast engine's compiled kernels, written in C (``_native.c``, built with the package).

Each kernel fuses elementwise passes into one loop over arrays of one float dtype
(float32 or float64) and releases the GIL; each does what its NumPy form in
:mod:`.kernels` and :mod:`.rules` does, with the same arithmetic in the same order:

- ``bias_activation(z, b, kind, out)``: ``z += b`` in place and ``out = f(z)``;
- ``activation_backward(delta, z, a, kind, bias_grad)``: ``delta *= f'(z)`` in place
  (subnormal entries 0), and ``bias_grad`` the column sums of the result;
- ``softmax_cross_entropy(logits, labels, smoothing, predicted, bias_grad, weights)``: the
  sum of the rows' losses, each times its weight (``weights`` empty: all 1); ``logits``
  becomes ``dL/dz`` (subnormal entries 0), ``predicted`` each row's argmax, ``bias_grad``
  the column sums;
- ``gather_features(rows, idx, scale, out)``: ``out[i] = rows[idx[i]] / scale`` from uint8
  rows, the gather and the conversion in one pass;
- ``update_norm(g, p, a, c)``: ``|| a g + c p ||`` accumulated in float64;
- ``fused_update(p, g, m1, m2, kind, a, c, beta, epsc, s, d)``: one step of a fused
  optimizer chain (see :func:`mlp_functional.fast.rules.fused_update`), with subnormal
  numbers read and written as zero on x86 (the NumPy form clears them from the moments
  every :data:`~mlp_functional.fast.rules.FLUSH_EVERY` steps instead);
- ``flush_subnormals(x)``: subnormal entries of ``x`` set to zero, in place;
- ``max_norm_columns(w, radius)``: each column of ``w`` longer than ``radius`` scaled back
  onto it, in place, the norms in float64 (see :func:`.rules.max_norm_columns`).

Arrays must be C-contiguous; a wrong dtype or shape raises TypeError or ValueError, an
out-of-range label or index IndexError, before anything is written.

>>> import numpy as np
>>> z, a = np.array([[-1.0, 2.0]]), np.empty((1, 2))
>>> bias_activation(z, np.array([0.5, 0.5]), RELU, a)
>>> z.tolist(), a.tolist()
([[-0.5, 2.5]], [[0.0, 2.5]])
"""

from __future__ import annotations

import importlib

# Loaded by name: the extension is a compiled file, which the import-layer checker cannot
# place in the package's module graph.
_kernels = importlib.import_module(f"{__package__}._native")

__all__ = [
    "ACTIVATION_CODES",
    "LEAKY",
    "RELU",
    "SIGMOID",
    "TANH",
    "activation_backward",
    "bias_activation",
    "flush_subnormals",
    "fused_update",
    "gather_features",
    "max_norm_columns",
    "softmax_cross_entropy",
    "update_norm",
]

bias_activation = _kernels.bias_activation
activation_backward = _kernels.activation_backward
softmax_cross_entropy = _kernels.softmax_cross_entropy
gather_features = _kernels.gather_features
update_norm = _kernels.update_norm
fused_update = _kernels.fused_update
flush_subnormals = _kernels.flush_subnormals
max_norm_columns = _kernels.max_norm_columns

RELU, LEAKY, TANH, SIGMOID = 0, 1, 2, 3
#: Activation name -> the code the kernels take.
ACTIVATION_CODES = (("relu", RELU), ("leaky_relu", LEAKY), ("tanh", TANH), ("sigmoid", SIGMOID))
