"""Data augmentation in NumPy alone: random affine maps and elastic distortions.

Every function here is a pure function of an explicit key, vectorised over the batch
(no Python loop over images), and ends in one bilinear resampling pass with zero fill
outside the image. :func:`augment` folds the affine map and the elastic field into a
single set of sampling coordinates, so the two together cost one gather, not two.

Conventions: an image is indexed ``[row, col]`` = ``[y, x]`` with ``y`` pointing down;
maps act about the image centre ``c = ((H - 1) / 2, (W - 1) / 2)``. Parameters
describe how the *content* moves: a shift ``+dx`` moves it right, a positive rotation
turns it anticlockwise as displayed (``rotation=90`` is :func:`numpy.rot90`), a
positive shear moves rows below the centre right and rows above it left (a backward
slant), a scale above 1 enlarges it. Output pixel ``p`` then samples the input at
``c + F^-1 (p - c - t) + d(p)``, with ``F = rotate @ shear @ scale``, ``t`` the shift
and ``d`` the elastic displacement (zero without one).

Images are ``(B, H, W)`` or flat ``(B, H*W)`` rows of square images, as floats
(float32 in [0, 1] is what training feeds; other float dtypes are kept) or uint8
pixels (rounded back to uint8). The output has the input's shape and dtype and stays
within ``[min(0, lo), max(0, hi)]`` of the input's range ``[lo, hi]``; it is a fresh
read-only array and the input is never written to.

>>> import numpy as np
>>> from mlp_functional import key
>>> x = np.zeros((4, 28, 28), np.float32)
>>> x[:, 10:18, 12:16] = 1.0
>>> y = augment(key(0), x)
>>> y.shape, y.dtype, bool(y.min() >= 0.0), bool(y.max() <= 1.0), y.flags.writeable
((4, 28, 28), dtype('float32'), True, True, False)
>>> bool(np.array_equal(augment(key(0), x), y))
True

References:
  P. Y. Simard, D. Steinkraus, J. C. Platt, "Best practices for convolutional neural
  networks applied to visual document analysis", ICDAR 2003 (elastic distortions).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from .readonly import freeze
from .textbook.random import Key, generator, split

__all__ = [
    "AffineParams",
    "affine",
    "augment",
    "elastic",
    "gaussian_matrix",
    "random_affine",
    "random_displacement",
    "smooth",
    "warp",
]

Array = np.ndarray

#: Gaussian kernels are cut off at this many standard deviations (scipy's default).
TRUNCATE = 4.0


class AffineParams(NamedTuple):
    """One affine map per image; every field is a float array of shape ``(B,)``.

    Attributes:
      shift_x: pixels the content moves right.
      shift_y: pixels the content moves down.
      rotation: degrees the content turns anticlockwise (as displayed), about the centre.
      scale: enlargement factor about the centre (1 = unchanged).
      shear: horizontal shear factor: ``x += shear * (y - cy)``, after scaling and
        before rotating.
    """

    shift_x: Array
    shift_y: Array
    rotation: Array
    scale: Array
    shear: Array


# --------------------------------------------------------------------------- checks


def _batch(images: Any) -> tuple[Array, tuple[int, ...]]:
    """``images`` as ``(B, H, W)`` (a view) and the shape to give back."""
    x = np.asarray(images)
    if x.dtype != np.uint8 and x.dtype.kind != "f":
        raise ValueError(
            f"images must be floats in [0, 1] or uint8 pixels, got dtype {x.dtype}; "
            "convert with mlp_functional.to_features or .astype(np.float32)"
        )
    if x.ndim == 3:
        return x, x.shape
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side == x.shape[1]:
            return x.reshape(x.shape[0], side, side), x.shape
    raise ValueError(
        f"images must be a batch (B, H, W) or flat rows (B, H*W) of square images, "
        f"got shape {x.shape}; for a single image pass image[None]"
    )


def _check(name: str, value: float, low: float = 0.0, *, strict: bool = False) -> None:
    bad = value <= low if strict else value < low
    if bad or not math.isfinite(value):
        sign = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {sign} {low:g}, got {name}={value!r}")


def _check_scale_range(scale_range: tuple[float, float]) -> None:
    low, high = scale_range
    if not (0.0 < low <= high < math.inf):
        raise ValueError(
            f"scale_range must be (low, high) with 0 < low <= high, got scale_range={scale_range!r}"
        )


# ------------------------------------------------------------------ random parameters


def random_affine(
    key: Key,
    n: int,
    *,
    max_shift: float = 2.0,
    max_rotation: float = 15.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
    max_shear: float = 0.3,
) -> AffineParams:
    """Draw ``n`` affine maps, each parameter uniform and independent.

    Shifts are uniform in ``[-max_shift, max_shift]`` pixels (each axis), rotations
    in ``[-max_rotation, max_rotation]`` degrees, scales in ``scale_range`` and shears
    in ``[-max_shear, max_shear]``.

    The defaults keep digits looking like MNIST digits: MNIST centres 20-pixel digit
    boxes in 28-pixel frames, so 2 pixels of shift keep strokes in frame; 15 degrees
    of rotation and a 0.3 shear (17 degrees of slant) are the range over which
    people tilt and slant their writing (the two can add up to about 30 degrees of
    lean, as steep as handwriting gets); 10% of scale stays within the spread of
    digit sizes MNIST's size normalisation leaves (it fits the longer side only).

    >>> from mlp_functional import key
    >>> p = random_affine(key(0), 3)
    >>> p.rotation.shape, bool(abs(p.rotation).max() <= 15.0)
    ((3,), True)
    """
    _check("max_shift", max_shift)
    _check("max_rotation", max_rotation)
    _check("max_shear", max_shear)
    _check_scale_range(scale_range)
    u = generator(key).uniform(-1.0, 1.0, size=(5, n))
    low, high = scale_range
    return AffineParams(
        shift_x=freeze(max_shift * u[0]),
        shift_y=freeze(max_shift * u[1]),
        rotation=freeze(max_rotation * u[2]),
        scale=freeze(low + (high - low) * (u[3] + 1.0) / 2.0),
        shear=freeze(max_shear * u[4]),
    )


# Safe to cache: the matrix is a pure function of (n, sigma), handed out read-only.
@lru_cache(maxsize=32)
def gaussian_matrix(n: int, sigma: float) -> Array:
    """The ``(n, n)`` matrix that Gaussian-smooths a length-``n`` signal, zero outside.

    ``G[i, j] = k(j - i)`` with ``k`` the normalised Gaussian of std ``sigma``, cut at
    ``TRUNCATE * sigma``: ``G @ v`` equals ``scipy.ndimage.gaussian_filter1d(v, sigma,
    mode="constant")``. Near the edges the rows sum to less than 1 (the missing
    weight falls on the zeros outside). Cached and read-only.

    >>> G = gaussian_matrix(5, 1.0)
    >>> G.shape, G.dtype, bool((G == G.T).all()), round(float(G[2].sum()), 4)
    ((5, 5), dtype('float32'), True, 0.9909)
    """
    _check("sigma", sigma, strict=True)
    radius = int(TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    lag = np.arange(n)[None, :] - np.arange(n)[:, None]
    inside = np.abs(lag) <= radius
    G = np.where(inside, kernel[np.clip(lag + radius, 0, 2 * radius)], 0.0)
    return freeze(G.astype(np.float32))


def _separable(f: Array, left: Array, right: Array, tmp: Array, out: Array) -> Array:
    """``out[i] = left @ f[i] @ right`` for every ``(H, W)`` slice, as two matrix products.

    Both are stacks of small products, each below BLAS's threading threshold: one
    tall ``(N*H, W) @ (W, W)`` product would be threaded, and on a busy machine its
    thread hand-offs cost a hundred times the arithmetic.
    """
    H, W = f.shape[-2:]
    np.matmul(f.reshape(-1, H, W), right, out=tmp.reshape(-1, H, W))
    np.matmul(left, tmp.reshape(-1, H, W), out=out.reshape(-1, H, W))
    return out


def smooth(fields: Any, sigma: float) -> Array:
    """Gaussian-smooth each ``(H, W)`` field of a stack: ``G_H @ field @ G_W.T``.

    The same as ``scipy.ndimage.gaussian_filter(field, sigma, mode="constant")``
    (zero outside, kernel cut at ``TRUNCATE * sigma``), done as two matrix products,
    one along each axis (see :func:`gaussian_matrix`).

    Args:
      fields: ``(..., H, W)`` floats.
      sigma: standard deviation of the Gaussian, in pixels.

    Returns:
      A fresh read-only ``(..., H, W)`` array of the fields' dtype.

    >>> import numpy as np
    >>> f = np.zeros((1, 9, 9), np.float32)
    >>> f[0, 4, 4] = 1.0
    >>> s = smooth(f, 1.0)
    >>> round(float(s.sum()), 4), bool(s[0, 4, 4] == s.max())
    (1.0, True)
    """
    f = np.asarray(fields)
    if f.dtype.kind != "f" or f.ndim < 2:
        raise ValueError(
            f"fields must be floats of shape (..., H, W), got {f.dtype} of shape {f.shape}"
        )
    H, W = f.shape[-2:]
    left = gaussian_matrix(H, float(sigma)).astype(f.dtype)
    right = gaussian_matrix(W, float(sigma)).astype(f.dtype)  # symmetric: G_W.T is G_W
    return freeze(_separable(f, left, right, np.empty_like(f), np.empty_like(f)))


#: Elastic noise is drawn as int16 ``k``; ``(k + 0.5) / 32768`` is uniform on 65,536
#: evenly spaced points of (-1, 1), symmetric about 0: after smoothing, as good as
#: continuous, and half the cost of drawing floats.
_NOISE_SCALE = 1.0 / 32768


def _view(buffer: Array, *shape: int) -> Array:
    """The first ``prod(shape)`` elements of a flat scratch buffer, as a C-contiguous array."""
    return buffer[: math.prod(shape)].reshape(shape)


class _Elastic(NamedTuple):
    """Elastic fields not yet smoothed: ``alpha * G_H (noise + 0.5) / 32768 G_W^T``."""

    noise: Array  # (2, B, H, W) int16: the dy fields, then the dx fields
    left: Array  # (H, H) float32: G_H * alpha / 32768
    right: Array  # (W, W) float32: G_W^T = G_W (symmetric)

    @classmethod
    def draw(cls, key: Key, n: int, H: int, W: int, alpha: float, sigma: float) -> _Elastic:
        _check("alpha", alpha)
        _check("sigma", sigma, strict=True)
        noise = generator(key).integers(-32768, 32768, size=(2, n, H, W), dtype=np.int16)
        left = gaussian_matrix(H, float(sigma)) * np.float32(alpha * _NOISE_SCALE)
        return cls(noise, left, gaussian_matrix(W, float(sigma)))

    def fill(self, rows: slice, tmp: Array, out: Array) -> Array:
        """The displacements ``(2, n, H, W)`` of images ``rows``, in ``out``; ``tmp`` is scratch.

        Both buffers are C-contiguous ``(2, n, H, W)`` float32.
        """
        np.add(self.noise[:, rows], np.float32(0.5), out=out)
        return _separable(out, self.left, self.right, tmp, out)


def random_displacement(
    key: Key, n: int, shape: tuple[int, int], *, alpha: float = 34.0, sigma: float = 4.0
) -> Array:
    """Draw ``n`` elastic displacement fields as in Simard et al. (2003).

    Each pixel gets a displacement ``(dy, dx)`` uniform in ``[-1, 1]^2`` (on a grid of
    65,536 levels); each component field is smoothed by a Gaussian of std ``sigma``
    (zero outside the image, see :func:`smooth`) and scaled by ``alpha``.
    ``alpha=34, sigma=4`` on 28x28 digits moves pixels by 1.6 pixels on average
    (each component has std 1.4 inside the image, less near its edges), coherently
    over several pixels: distortions that look like another hand, not like noise.
    These are the fields :func:`elastic` and :func:`augment` draw from the second
    half of ``split(key)``.

    Returns:
      float32 array ``(n, 2, H, W)``: ``[:, 0]`` is ``dy`` (down), ``[:, 1]`` is ``dx``.

    >>> from mlp_functional import key
    >>> d = random_displacement(key(0), 2, (28, 28))
    >>> d.shape, d.dtype, 0.5 < float(d.std()) < 3.0
    ((2, 2, 28, 28), dtype('float32'), True)
    """
    H, W = shape
    field = _Elastic.draw(key, n, H, W, alpha, sigma)
    d = field.fill(slice(None), *(np.empty((2, n, H, W), np.float32) for _ in range(2)))
    return freeze(np.ascontiguousarray(d.transpose(1, 0, 2, 3)))


# ------------------------------------------------------------------------ resampling

#: Images per resampling block, as pixels: 32 MNIST digits. Scratch buffers of this
#: size are reused block after block and stay in cache; whole-batch temporaries cost
#: more in fresh memory pages than in the arithmetic they hold.
CHUNK_PIXELS = 32 * 28 * 28


# Safe to cache: the grid is a pure function of (H, W), kept read-only.
@lru_cache(maxsize=8)
def _basis(H: int, W: int) -> Array:
    """Rows ``gx, gy, 1`` over the ``H*W`` pixels, offsets from the centre: ``(3, H*W)``."""
    gy, gx = np.mgrid[:H, :W].astype(np.float32)
    gy -= np.float32((H - 1) / 2)
    gx -= np.float32((W - 1) / 2)
    return freeze(np.stack([gx.ravel(), gy.ravel(), np.ones(H * W, np.float32)]))


def _coefficients(params: AffineParams | None, B: int, H: int, W: int) -> Array:
    """The map from output pixel to input pixel per image, ``(2, B, 3)`` float32.

    ``[sx, sy] = c + M (p - c - t)`` with ``M = F^-1 = scale^-1 shear^-1 rotate^-1``,
    over the centred grid: ``sy = m_yx gx + m_yy gy + e_y`` (row 0) and
    ``sx = m_xx gx + m_xy gy + e_x`` (row 1), so ``coef @ _basis`` gives ``(sy, sx)``.
    Worked out in float64 on these ``(B,)`` arrays, then rounded.
    """
    cy, cx = (H - 1) / 2, (W - 1) / 2
    if params is None:
        identity = np.array([[0.0, 1.0, cy], [1.0, 0.0, cx]], np.float32)
        return np.repeat(identity[:, None, :], B, axis=1)
    fields = [np.asarray(f, dtype=np.float64).reshape(-1) for f in params]
    if any(len(f) != B for f in fields):
        raise ValueError(
            f"affine params hold {[len(f) for f in fields]} values per field, expected one "
            f"per image ({B}); draw them with random_affine(key, {B})"
        )
    tx, ty, degrees, s, k = fields
    if not all(np.isfinite(f).all() for f in fields) or (s <= 0).any():
        raise ValueError("affine params must be finite with scale > 0; check shift, scale, shear")
    theta = np.deg2rad(degrees)
    cos, sin = np.cos(theta), np.sin(theta)
    # M = (1/s) [[1, -k], [0, 1]] @ [[cos, -sin], [sin, cos]], acting on (x, y).
    m_xx, m_xy = (cos - k * sin) / s, (-sin - k * cos) / s
    m_yx, m_yy = sin / s, cos / s
    e_x = cx - m_xx * tx - m_xy * ty
    e_y = cy - m_yx * tx - m_yy * ty
    rows = [[m_yx, m_yy, e_y], [m_xx, m_xy, e_x]]
    return np.array(rows, np.float64).transpose(0, 2, 1).astype(np.float32)


def _chunk(B: int, H: int, W: int) -> int:
    c = max(1, min(B, CHUNK_PIXELS // (H * W)))
    # Flat indices are formed in float32, exact below 2**24.
    if c * (H + 2) * (W + 2) > 2**24:
        raise ValueError(f"images of {H}x{W} pixels are too large; at most 4094x4094 is supported")
    return c


def _warp(x: Array, coef: Array, displacement: Array | _Elastic | None) -> Array:
    """Bilinear resampling of ``x`` (B, H, W) at mapped coordinates, zero outside.

    Works through blocks of :data:`CHUNK_PIXELS` pixels with scratch buffers allocated
    once per call (and shared between steps). In each block: coordinates ``(sy, sx)``
    as one small matrix product ``coef @ basis``, plus the displacement; clipped to
    ``[-1, H] x [-1, W]`` (beyond, every neighbour is padding); the block is copied
    into a buffer with a ring of zeros, whose four neighbours of each sample are
    gathered with ``take`` through one index array and offset views of the flat
    buffer; two horizontal lerps, then one vertical.

    Args:
      x: ``(B, H, W)`` images, floats or uint8.
      coef: ``(2, B, 3)`` float32 from :func:`_coefficients`.
      displacement: ``(B, 2, H, W)`` fields, elastic fields to smooth block by block,
        or None.
    """
    B, H, W = x.shape
    out = np.empty((B, H, W), x.dtype)
    if B == 0:
        return out
    work = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    if x.dtype.kind == "f":
        # Convex weights keep values in range; the clip only removes rounding.
        lo, hi = work.type(min(0, x.min())), work.type(max(0, x.max()))
    c = _chunk(B, H, W)
    Wp = W + 2
    basis = _basis(H, W)
    low = np.float32(-1.0)
    high = np.array([H, W], np.float32).reshape(2, 1, 1, 1)
    last = high - 1
    offsets = (np.arange(c, dtype=np.float32) * ((H + 2) * Wp) + (Wp + 1))[:, None, None]
    padded = np.zeros((c, H + 2, Wp), work)  # the ring stays zero; the inside is refilled
    # Pages are only touched when used: buffers a call does not need cost nothing.
    coords, floors, spare, scratch = (np.empty(2 * c * H * W, np.float32) for _ in range(4))
    index = np.empty(c * H * W, np.intp)
    wide = None if work == np.float32 else np.empty(4 * c * H * W, work)

    for start in range(0, B, c):
        n = min(c, B - start)
        rows = slice(start, start + n)
        padded[:n, 1:-1, 1:-1] = x[rows]
        flat = padded[:n].reshape(-1)
        crd = _view(coords, 2, n, H, W)  # (sy, sx), then the weights (wy, wx)
        fl = _view(floors, 2, n, H, W)  # (y0, x0), then y0 * Wp + x0 + offset
        idx = _view(index, n, H, W)

        np.matmul(coef[:, rows], basis, out=crd.reshape(2, n, H * W))
        if isinstance(displacement, _Elastic):
            crd += displacement.fill(rows, _view(scratch, 2, n, H, W), _view(spare, 2, n, H, W))
        elif displacement is not None:
            crd += displacement[rows].transpose(1, 0, 2, 3)
        np.clip(crd, low, high, out=crd)
        np.floor(crd, out=fl)
        np.minimum(fl, last, out=fl)
        crd -= fl
        wy, wx = crd
        y0, x0 = fl
        y0 *= Wp
        y0 += x0
        y0 += offsets[:n]
        np.copyto(idx, y0, casting="unsafe")

        if wide is None:
            top, top_right = fl  # the float indices are spent
            bottom, bottom_right = _view(spare, 2, n, H, W)
        else:
            top, top_right, bottom, bottom_right = _view(wide, 4, n, H, W)
        # mode="clip" skips numpy's buffered bounds check; every index is in range.
        np.take(flat, idx, out=top, mode="clip")
        np.take(flat[1:], idx, out=top_right, mode="clip")
        np.take(flat[Wp:], idx, out=bottom, mode="clip")
        np.take(flat[Wp + 1 :], idx, out=bottom_right, mode="clip")
        top_right -= top
        top_right *= wx
        top += top_right
        bottom_right -= bottom
        bottom_right *= wx
        bottom += bottom_right
        bottom -= top
        bottom *= wy
        top += bottom
        if x.dtype == np.uint8:
            out[rows] = np.rint(top, out=top)
        else:
            np.clip(top, lo, hi, out=out[rows])
    return out


def warp(
    images: Any,
    params: AffineParams | None = None,
    displacement: Any | None = None,
) -> Array:
    """Resample a batch under given affine maps and/or displacement fields, in one pass.

    Output pixel ``p`` takes the bilinear value of the input at
    ``c + F^-1 (p - c - t) + d(p)`` (see the module docstring), zero outside.

    Args:
      images: ``(B, H, W)`` or ``(B, H*W)``, floats or uint8.
      params: one affine map per image, or None for none.
      displacement: ``(B, 2, H, W)`` fields ``(dy, dx)`` in pixels, or None.

    Returns:
      A fresh read-only array with the shape and dtype of ``images``.

    >>> import numpy as np
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    >>> p = AffineParams(*np.array([[1.0], [0.0], [0.0], [1.0], [0.0]]))
    >>> warp(x, p)[0].tolist()
    [[0.0, 0.0, 1.0], [0.0, 3.0, 4.0], [0.0, 6.0, 7.0]]
    >>> turn = p._replace(shift_x=np.zeros(1), rotation=np.array([90.0]))
    >>> np.allclose(warp(x, turn), np.rot90(x, axes=(1, 2)), atol=1e-5)
    True
    """
    x, shape = _batch(images)
    B, H, W = x.shape
    d = None
    if displacement is not None:
        d = np.asarray(displacement)
        if d.shape != (B, 2, H, W) or d.dtype.kind != "f":
            raise ValueError(
                f"displacement must be floats of shape (B, 2, H, W) = {(B, 2, H, W)}, "
                f"got {d.dtype} of shape {d.shape}"
            )
    return freeze(_warp(x, _coefficients(params, B, H, W), d).reshape(shape))


# ------------------------------------------------------------------- random augmenters


def affine(
    key: Key,
    images: Any,
    *,
    max_shift: float = 2.0,
    max_rotation: float = 15.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
    max_shear: float = 0.3,
) -> Array:
    """Random shift, rotation, scale and shear per image (see :func:`random_affine`).

    Equals ``augment(key, images, alpha=0)`` with the same settings.

    >>> import numpy as np
    >>> from mlp_functional import key
    >>> x = np.random.default_rng(0).random((2, 28, 28), dtype=np.float32)
    >>> same = affine(key(1), x, max_shift=0, max_rotation=0, scale_range=(1, 1), max_shear=0)
    >>> bool(np.array_equal(same, x))
    True
    """
    return augment(
        key,
        images,
        max_shift=max_shift,
        max_rotation=max_rotation,
        scale_range=scale_range,
        max_shear=max_shear,
        alpha=0.0,
    )


def elastic(key: Key, images: Any, *, alpha: float = 34.0, sigma: float = 4.0) -> Array:
    """Elastic distortion (Simard et al., 2003): a random smooth displacement per image.

    See :func:`random_displacement` for the fields; ``alpha=0`` is the identity.
    Equals :func:`augment` with the same key and identity affine settings.

    >>> import numpy as np
    >>> from mlp_functional import key
    >>> x = np.zeros((3, 784), np.float32)
    >>> x[:, 300:500] = 1.0
    >>> y = elastic(key(0), x)
    >>> y.shape, bool(np.array_equal(elastic(key(0), x, alpha=0.0), x))
    ((3, 784), True)
    """
    return augment(
        key,
        images,
        max_shift=0.0,
        max_rotation=0.0,
        scale_range=(1.0, 1.0),
        max_shear=0.0,
        alpha=alpha,
        sigma=sigma,
    )


def augment(
    key: Key,
    images: Any,
    *,
    max_shift: float = 2.0,
    max_rotation: float = 15.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
    max_shear: float = 0.3,
    alpha: float = 34.0,
    sigma: float = 4.0,
) -> Array:
    """Random affine map then elastic distortion, in one resampling pass.

    The elastic displacement is added to the affine sampling coordinates, so each
    output pixel is one bilinear lookup. ``alpha=0`` turns the elastic part off (and
    skips drawing it); identity affine settings turn the affine part off. The key is
    split in two, one half for each part, so either part draws the same numbers
    whether or not the other is on. For training, fix the settings with
    ``functools.partial(augment, alpha=..., ...)``: an ``augment_fn(key, images)``.

    Args:
      key: the random key; the same key gives the same result.
      images: ``(B, H, W)`` or ``(B, H*W)``, float32 in [0, 1] (or any float, or uint8).
      max_shift, max_rotation, scale_range, max_shear: see :func:`random_affine`.
      alpha, sigma: see :func:`random_displacement`.

    Returns:
      A fresh read-only array of the input's shape and dtype.

    >>> import numpy as np
    >>> from mlp_functional import key
    >>> x = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    >>> bool(np.array_equal(augment(key(3), x, alpha=0.0), affine(key(3), x)))
    True
    """
    x, shape = _batch(images)
    B, H, W = x.shape
    key_affine, key_elastic = split(key)
    params = random_affine(
        key_affine,
        B,
        max_shift=max_shift,
        max_rotation=max_rotation,
        scale_range=scale_range,
        max_shear=max_shear,
    )
    field = None if alpha == 0 else _Elastic.draw(key_elastic, B, H, W, alpha, sigma)
    return freeze(_warp(x, _coefficients(params, B, H, W), field).reshape(shape))
