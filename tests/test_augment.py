"""Laws of the augmentations, checked against independent computations.

The oracles here are written the long way: a per-pixel bilinear sampler that maps
each output pixel through the inverse of the forward matrix (``np.linalg.inv``), a
direct 2-D convolution loop, ``np.roll`` and ``np.rot90``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlp_functional import key, split
from mlp_functional.augment import (
    AffineParams,
    affine,
    augment,
    elastic,
    gaussian_matrix,
    random_affine,
    random_displacement,
    smooth,
    warp,
)

IDENTITY = {"max_shift": 0.0, "max_rotation": 0.0, "scale_range": (1.0, 1.0), "max_shear": 0.0}


def frozen(a: np.ndarray) -> np.ndarray:
    b = np.array(a, copy=True)
    b.flags.writeable = False
    return b


def params(n: int = 1, *, dx=0.0, dy=0.0, rotation=0.0, scale=1.0, shear=0.0) -> AffineParams:
    """The same affine map for ``n`` images."""
    return AffineParams(*(np.full(n, v, np.float64) for v in (dx, dy, rotation, scale, shear)))


def shifted(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``x`` (B, H, W) moved ``dy`` down and ``dx`` right: ``np.roll`` with zero fill."""
    H, W = x.shape[1:]
    out = np.roll(x, (dy, dx), axis=(1, 2))
    keep = np.zeros((H, W), bool)
    keep[max(dy, 0) : max(H + min(dy, 0), 0), max(dx, 0) : max(W + min(dx, 0), 0)] = True
    return np.where(keep, out, 0).astype(x.dtype)


def reference_warp(x: np.ndarray, p: AffineParams, d: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel bilinear sampling under the forward map ``p``, in float64, zero outside.

    Forward map of the content about the centre c, in (x, y) with y down:
    ``p_out = c + R S_h S (p_in - c) + t``; each output pixel samples the input at the
    inverse image of its position, plus the displacement ``d`` (dy, dx) there.
    """
    B, H, W = x.shape
    c = np.array([(W - 1) / 2, (H - 1) / 2])
    out = np.zeros((B, H, W))
    for b in range(B):
        th = math.radians(p.rotation[b])
        rotate = np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])
        shear = np.array([[1.0, p.shear[b]], [0.0, 1.0]])
        forward = rotate @ shear @ (p.scale[b] * np.eye(2))
        inverse = np.linalg.inv(forward)
        t = np.array([p.shift_x[b], p.shift_y[b]])
        for i in range(H):
            for j in range(W):
                sx, sy = c + inverse @ (np.array([j, i]) - c - t)
                if d is not None:
                    sy, sx = sy + d[b, 0, i, j], sx + d[b, 1, i, j]
                x0, y0 = math.floor(sx), math.floor(sy)
                total = 0.0
                for yy, wy in ((y0, 1 - (sy - y0)), (y0 + 1, sy - y0)):
                    for xx, wx in ((x0, 1 - (sx - x0)), (x0 + 1, sx - x0)):
                        if 0 <= yy < H and 0 <= xx < W:
                            total += wy * wx * float(x[b, yy, xx])
                out[b, i, j] = total
    return out


def images(dtype=np.float32, max_side: int = 10):
    """Batches (B, H, W) of pixels in [0, 1] (or 0-255 for uint8)."""
    shapes = st.tuples(st.integers(1, 4), st.integers(1, max_side), st.integers(1, max_side))
    if dtype == np.uint8:
        return arrays(np.uint8, shapes)
    return arrays(dtype, shapes, elements=st.floats(0, 1, width=np.dtype(dtype).itemsize * 8))


def digits(n: int = 4, side: int = 28, seed: int = 0) -> np.ndarray:
    """Blurry random blobs in [0, 1] standing in for digits, zero near the border."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, side, side), np.float32)
    x[:, 6:-6, 8:-8] = rng.random((n, side - 12, side - 16), dtype=np.float32)
    return np.asarray(smooth(x, 1.0))


# ---------------------------------------------------------------------- identities


@given(images(np.float32) | images(np.float64) | images(np.uint8))
def test_identity_parameters_give_back_the_input_exactly(x):
    x = frozen(x)
    assert np.array_equal(warp(x, params(len(x))), x)
    assert np.array_equal(affine(key(0), x, **IDENTITY), x)
    assert np.array_equal(elastic(key(0), x, alpha=0.0), x)
    assert np.array_equal(augment(key(0), x, **IDENTITY, alpha=0.0), x)


def test_flat_rows_are_treated_as_square_images_and_keep_their_shape():
    x = digits(3)
    flat = frozen(x.reshape(3, -1))
    out = augment(key(1), flat)
    assert out.shape == (3, 784)
    assert np.array_equal(out, augment(key(1), x).reshape(3, -1))


def test_an_empty_batch_gives_an_empty_batch():
    assert augment(key(0), np.zeros((0, 784), np.float32)).shape == (0, 784)
    assert augment(key(0), np.zeros((0, 5, 7), np.uint8)).dtype == np.uint8


# --------------------------------------------------------------------- output laws


@settings(max_examples=40, deadline=None)
@given(
    images(np.float32) | images(np.float64) | images(np.uint8),
    st.integers(0, 2**31),
    st.floats(0, 5),
    st.floats(0, 180),
    st.floats(0.5, 1.0),
    st.floats(1.0, 2.0),
    st.floats(0, 1),
    st.floats(0, 50),
    st.floats(0.5, 6),
)
def test_output_keeps_shape_dtype_and_range_and_is_read_only(
    x, seed, shift, rotation, low, high, shear, alpha, sigma
):
    x = frozen(x)
    before = x.copy()
    out = augment(
        key(seed),
        x,
        max_shift=shift,
        max_rotation=rotation,
        scale_range=(low, high),
        max_shear=shear,
        alpha=alpha,
        sigma=sigma,
    )
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not out.flags.writeable
    top = 255 if x.dtype == np.uint8 else 1.0
    assert out.min() >= 0 and out.max() <= top
    assert out.max() <= x.max()  # bilinear weights are convex and the fill is zero
    assert np.array_equal(x, before)


def test_range_follows_the_input_not_a_fixed_unit_interval():
    x = frozen(digits(4) * 2.0 - 0.5)  # values in [-0.5, 1.5]
    out = augment(key(2), x)
    assert out.min() >= x.min() and out.max() <= x.max()


@pytest.mark.parametrize("fn", [affine, elastic, augment])
def test_same_key_same_result_other_key_other_result(fn):
    x = frozen(digits(4))
    first = fn(key(7), x)
    assert np.array_equal(fn(key(7), x), first)
    assert not np.array_equal(fn(key(8), x), first)
    assert not np.array_equal(first, x)


def test_each_image_stays_in_its_row_so_labels_stay_aligned():
    # The functions never see labels; what keeps them valid is that row i of the
    # output depends on row i of the input only.
    x = np.zeros((5, 28, 28), np.float32)
    x[3] = digits(1)[0]
    out = augment(key(0), frozen(x))
    assert np.abs(out[[0, 1, 2, 4]]).max() == 0
    assert out[3].sum() > 0


def test_uint8_images_are_resampled_like_floats_then_rounded():
    x = (digits(3) * 255).round().astype(np.uint8)
    as_uint8 = augment(key(4), frozen(x)).astype(np.float64)
    as_float = augment(key(4), frozen(x.astype(np.float32))).astype(np.float64)
    assert np.abs(as_uint8 - as_float).max() <= 0.5 + 1e-3


# ---------------------------------------------------- the resampler against oracles


@given(images(np.float32), st.integers(-12, 12), st.integers(-12, 12))
def test_integer_shift_is_roll_with_zero_fill(x, dy, dx):
    out = warp(frozen(x), params(len(x), dx=dx, dy=dy))
    assert np.array_equal(out, shifted(x, dy, dx))


@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.integers(1, 9)).map(lambda s: (s[0], s[1], s[1])),
        elements=st.floats(0, 1, width=32),
    )
)
def test_rotation_by_90_degrees_about_the_centre_is_rot90(x):
    for k in (1, 2, 3, -1):
        out = warp(frozen(x), params(len(x), rotation=90.0 * k))
        np.testing.assert_allclose(out, np.rot90(x, k, axes=(1, 2)), atol=1e-5)


def test_half_turn_of_an_oblong_image_is_rot90_twice():
    x = np.random.default_rng(0).random((2, 6, 9), dtype=np.float32)
    out = warp(frozen(x), params(2, rotation=180.0))
    np.testing.assert_allclose(out, np.rot90(x, 2, axes=(1, 2)), atol=1e-5)


@pytest.mark.parametrize(
    ("change", "source", "target"),
    [
        ({"dx": 1.0}, (2, 2), (2, 3)),  # +dx moves content right
        ({"dy": 1.0}, (2, 2), (3, 2)),  # +dy moves content down
        ({"rotation": 90.0}, (0, 4), (0, 0)),  # anticlockwise: top right to top left
        ({"scale": 2.0}, (3, 2), (4, 2)),  # about the centre (2, 2)
        ({"shear": 1.0}, (4, 2), (4, 4)),  # rows below the centre move right
        ({"shear": 1.0}, (0, 2), (0, 0)),  # rows above move left
    ],
)
def test_parameters_move_the_content_the_documented_way(change, source, target):
    x = np.zeros((1, 5, 5), np.float32)
    x[(0, *source)] = 1.0
    out = warp(frozen(x), params(**change))
    assert out[(0, *target)] == pytest.approx(1.0, abs=1e-5)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 2**31),
    st.integers(1, 9),
    st.integers(1, 9),
    st.booleans(),
)
def test_any_affine_map_and_displacement_matches_the_per_pixel_reference(seed, H, W, displace):
    rng = np.random.default_rng(seed)
    x = rng.random((3, H, W)).astype(np.float32)
    p = AffineParams(
        rng.uniform(-3, 3, 3),
        rng.uniform(-3, 3, 3),
        rng.uniform(-180, 180, 3),
        rng.uniform(0.5, 2.0, 3),
        rng.uniform(-1, 1, 3),
    )
    d = rng.uniform(-2, 2, (3, 2, H, W)).astype(np.float32) if displace else None
    out = warp(frozen(x), p, None if d is None else frozen(d))
    np.testing.assert_allclose(out, reference_warp(x, p, d), atol=2e-5)


def test_float64_images_are_resampled_in_float64():
    x = np.random.default_rng(1).random((2, 7, 8))
    p = params(2, dx=0.3, dy=-0.7, rotation=20.0, scale=1.1, shear=0.2)
    out = warp(frozen(x), p)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, reference_warp(x, p), atol=1e-6)


def test_batches_larger_than_one_resampling_block_are_handled_whole():
    # 100 digits span several blocks, and the last block is a partial one.
    x = digits(100, seed=3)
    p = random_affine(key(0), 100)
    d = random_displacement(key(1), 100, (28, 28))
    out = warp(frozen(x), p, d)
    pick = [0, 31, 32, 63, 64, 99]
    np.testing.assert_allclose(
        out[pick], reference_warp(x[pick], p_pick(p, pick), d[pick]), atol=2e-5
    )


def p_pick(p: AffineParams, rows: list[int]) -> AffineParams:
    return AffineParams(*(np.asarray(f)[rows] for f in p))


# ------------------------------------------------------------------ elastic fields


def direct_gaussian_filter(field: np.ndarray, sigma: float) -> np.ndarray:
    """2-D convolution with the truncated normalised Gaussian, zero outside, as loops."""
    radius = int(4.0 * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    k1 = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel = np.outer(k1, k1) / k1.sum() ** 2
    H, W = field.shape
    out = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            for a in range(-radius, radius + 1):
                for b in range(-radius, radius + 1):
                    if 0 <= i + a < H and 0 <= j + b < W:
                        out[i, j] += kernel[a + radius, b + radius] * field[i + a, j + b]
    return out


@pytest.mark.parametrize(
    ("H", "W", "sigma"), [(7, 9, 1.0), (12, 5, 2.5), (6, 6, 0.9), (9, 11, 1.4)]
)
def test_smoothing_matches_a_direct_convolution(H, W, sigma):
    field = np.random.default_rng(0).uniform(-1, 1, (H, W))
    got = smooth(frozen(field[None]), sigma)[0]
    np.testing.assert_allclose(got, direct_gaussian_filter(field, sigma), atol=1e-6)


def test_gaussian_matrix_rows_are_the_scipy_kernel():
    G = gaussian_matrix(40, 4.0)
    radius = 16  # int(4 * 4 + 0.5), as scipy.ndimage truncates
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / 4.0) ** 2)
    kernel /= kernel.sum()
    np.testing.assert_allclose(G[20, 4:37], kernel, rtol=1e-6)
    assert G[20, 3] == 0 and G[20, 37] == 0
    assert not G.flags.writeable


def test_displacement_has_the_spread_of_smoothed_uniform_noise():
    # Interior pixels: var(alpha * G u G^T) = alpha^2 * var(u) * sum(kernel^2)^2, var(u) = 1/3.
    alpha, sigma = 34.0, 4.0
    d = random_displacement(key(0), 400, (28, 28), alpha=alpha, sigma=sigma)
    g = gaussian_matrix(28, sigma)[14]
    expected = alpha * math.sqrt((g**2).sum() ** 2 / 3.0)
    centre = d[:, :, 12:16, 12:16]
    assert float(centre.std()) == pytest.approx(expected, rel=0.05)
    assert abs(float(centre.mean())) < 0.05 * expected
    # dy and dx are independent fields.
    assert abs(np.corrcoef(d[:, 0, 14, 14], d[:, 1, 14, 14])[0, 1]) < 0.15


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.floats(1.0, 40.0), st.floats(4.0, 8.0))
def test_elastic_distortion_keeps_the_ink_on_average(seed, alpha, sigma):
    # A field squeezes some strokes and stretches others, so one image's ink changes; but
    # to first order the change is -sum(x div d), and the divergence of a smoothed noise
    # field has mean zero: over a batch of independent fields the mean ink ratio stays
    # within a few standard errors of 1 (five here, from the batch's own spread).
    x = frozen(digits(128, seed=2))
    out = elastic(key(seed), x, alpha=alpha, sigma=sigma)
    ratio = out.sum(axis=(1, 2), dtype=np.float64) / x.sum(axis=(1, 2), dtype=np.float64)
    assert ratio.std() > 0  # the images did change
    assert abs(ratio.mean() - 1) <= 5 * ratio.std(ddof=1) / math.sqrt(len(ratio))


def test_elastic_samples_along_the_displacement_it_draws():
    x = digits(5)
    d = random_displacement(split(key(3))[1], 5, (28, 28))
    np.testing.assert_allclose(elastic(key(3), frozen(x)), warp(x, None, d), atol=1e-6)


def test_augment_composes_affine_and_elastic_in_one_pass():
    x = frozen(digits(6))
    k = key(5)
    assert np.array_equal(augment(k, x, alpha=0.0), affine(k, x))
    assert np.array_equal(augment(k, x, **IDENTITY), elastic(k, x))
    ka, ke = split(k)
    both = warp(x, random_affine(ka, 6), random_displacement(ke, 6, (28, 28)))
    np.testing.assert_allclose(augment(k, x), both, atol=1e-6)


# -------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((2, 5, 4, 4), np.float32), r"batch \(B, H, W\) or flat rows"),
        (np.zeros((2, 10), np.float32), r"square images, got shape \(2, 10\)"),
        (np.zeros(784, np.float32), r"image\[None\]"),
        (np.zeros((2, 28, 28), np.int32), "floats in \\[0, 1\\] or uint8"),
    ],
)
def test_bad_images_are_refused_with_the_fix(bad, message):
    with pytest.raises(ValueError, match=message):
        augment(key(0), bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_shift": -1.0}, "max_shift must be a finite number >= 0, got max_shift=-1.0"),
        ({"max_rotation": math.nan}, "max_rotation must be a finite number"),
        ({"scale_range": (1.2, 0.8)}, r"0 < low <= high, got scale_range=\(1.2, 0.8\)"),
        ({"scale_range": (0.0, 1.0)}, "scale_range"),
        ({"max_shear": -0.1}, "max_shear"),
        ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
        ({"sigma": 0.0}, "sigma must be a finite number > 0, got sigma=0.0"),
    ],
)
def test_bad_settings_are_refused_with_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment(key(0), np.zeros((1, 28, 28), np.float32), **kwargs)


def test_bad_explicit_params_and_fields_are_refused():
    x = np.zeros((2, 6, 6), np.float32)
    with pytest.raises(ValueError, match=r"expected one per image \(2\)"):
        warp(x, params(3))
    with pytest.raises(ValueError, match="scale > 0"):
        warp(x, params(2, scale=0.0))
    with pytest.raises(ValueError, match=r"shape \(B, 2, H, W\) = \(2, 2, 6, 6\)"):
        warp(x, None, np.zeros((2, 6, 6, 2)))


# ------------------------------------------------------------------- on real digits


def test_default_augmentation_keeps_mnist_digits_in_frame_and_ink(mnist_dir):
    from mlp_functional.data import read_idx

    raw = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:256]
    x = frozen(raw.astype(np.float32) / 255)

    def ink(a: np.ndarray) -> np.ndarray:
        return a.sum(axis=(1, 2)) / x.sum(axis=(1, 2))

    # Rotation and shear keep areas, so the affine part scales ink by scale**2 alone.
    moved = ink(affine(key(0), x))
    assert moved.min() > 0.9**2 - 0.02 and moved.max() < 1.1**2 + 0.02
    # Elastic fields squeeze some strokes and stretch others, evenly on the whole.
    bent = ink(elastic(key(0), x))
    assert 0.95 < np.median(bent) < 1.05
    assert bent.min() > 0.4 and bent.max() < 2.5

    out = augment(key(0), x)
    # Digits stay in frame: little ink reaches the outermost ring, where strokes
    # would start to be cut off.
    ring = np.ones((28, 28), bool)
    ring[1:-1, 1:-1] = False
    at_edge = out[:, ring].sum(axis=1) / out.sum(axis=(1, 2))
    assert at_edge.mean() < 0.01 and at_edge.max() < 0.1
    # The centre of mass moves, by the shift (up to 2 * sqrt(2) pixels) and a little more.
    grid = np.arange(28, dtype=np.float32)

    def centre(a: np.ndarray) -> np.ndarray:
        mass = a.sum(axis=(1, 2))
        return np.stack([a.sum(axis=2) @ grid, a.sum(axis=1) @ grid]) / mass

    shift = np.hypot(*(centre(out) - centre(x)))
    assert shift.max() < 5.0
    assert np.median(shift) > 0.2
