"""Tests for imaging: reading users' images and bringing them to MNIST's form."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from _core_util import frozen
from _imaging_util import (
    centres,
    ink_box_side,
    load_mnist,
    on_paper,
    small_model,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.imaging import (
    CENTRE,
    PILLOW_HINT,
    ImageError,
    centre_of_mass,
    decode_image,
    load_image,
    resize_area,
    to_mnist,
)


def page_with_seven(height: int = 300, width: int = 240) -> np.ndarray:
    """A black "7" drawn on a white uint8 page."""
    page = np.full((height, width), 255, np.uint8)
    page[60:80, 60:190] = 0  # the bar
    for r in range(80, 260):  # the diagonal
        c = 190 - (r - 80) // 2
        page[r, c - 12 : c + 12] = 0
    return page


# --- the output contract -------------------------------------------------------------


def test_output_is_fresh_read_only_uint8_28x28_with_full_contrast():
    page = frozen(page_with_seven())
    out = to_mnist(page)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert not out.flags.writeable
    assert out.max() == 255 and out[0].max() == 0 and out[:, 0].max() == 0
    assert ink_box_side(out[None], threshold=50)[0] == 20


def test_light_background_is_inverted_and_dark_background_is_not():
    page = page_with_seven()
    out = to_mnist(page)
    assert np.array_equal(out, to_mnist(255 - page))
    assert (out > 0).mean() < 0.5  # white ink on a black field, not the other way round


def test_accepts_floats_ints_bool_uint16_rgb_rgba_alike():
    page = page_with_seven()
    expected = to_mnist(page)
    assert np.array_equal(to_mnist(page / 255.0), expected)
    assert np.array_equal(to_mnist(page.astype(np.int64)), expected)
    assert np.array_equal(to_mnist(page.astype(np.uint16) * 257), expected)
    assert np.array_equal(to_mnist(page > 127), expected)
    rgb = np.repeat(page[:, :, None], 3, axis=2)
    assert np.array_equal(to_mnist(rgb), expected)
    # black ink on a transparent background reads as black ink on white paper
    rgba = np.zeros((*page.shape, 4), np.uint8)
    rgba[..., 3] = np.where(page == 0, 255, 0)
    assert np.array_equal(to_mnist(rgba), expected)


def test_background_level_and_ink_colour_do_not_matter():
    page = page_with_seven()
    grey = np.where(page == 0, 90, 200).astype(np.uint8)  # grey ink on grey paper
    assert np.array_equal(to_mnist(grey), to_mnist(page))


def test_faint_specks_away_from_the_digit_are_ignored():
    page = page_with_seven()
    specked = page.copy()
    specked[5, 5] = 255 - 40  # 16% of the ink's contrast, far from the digit
    specked[290, 230] = 255 - 12
    assert np.array_equal(to_mnist(specked), to_mnist(page))


@settings(max_examples=40, deadline=None)
@given(
    top=st.integers(0, 60),
    bottom=st.integers(0, 60),
    left=st.integers(0, 60),
    right=st.integers(0, 60),
    white=st.booleans(),
)
def test_padding_with_background_changes_nothing(top, bottom, left, right, white):
    page = page_with_seven()[50:270, 40:215]  # the digit touches the edges
    if not white:
        page = 255 - page
    pad = ((top, bottom), (left, right))
    padded = np.pad(page, pad, constant_values=255 if white else 0)
    assert np.array_equal(to_mnist(padded), to_mnist(page))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), factor=st.integers(2, 6))
def test_blowing_up_by_whole_pixels_changes_nothing(seed, factor):
    rng = np.random.default_rng(seed)
    small = np.zeros((28, 28), np.uint8)
    h, w = rng.integers(3, 20, 2)
    r, c = rng.integers(0, 28 - h), rng.integers(0, 28 - w)
    small[r : r + h, c : c + w] = rng.integers(60, 256, (h, w))
    big = np.kron(small, np.ones((factor, factor), np.uint8))
    diff = np.abs(to_mnist(big).astype(int) - to_mnist(small))
    assert diff.max() <= 1


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(8, 80), width=st.integers(8, 80))
def test_random_blobs_are_boxed_to_20_and_centred(seed, height, width):
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width))
    for _ in range(rng.integers(1, 4)):  # a few random filled rectangles of ink
        r0, c0 = rng.integers(0, height - 1), rng.integers(0, width - 1)
        image[r0 : rng.integers(r0 + 1, height + 1), c0 : rng.integers(c0 + 1, width + 1)] = 1
    image[0] = image[-1] = image[:, 0] = image[:, -1] = 0  # a clear border
    if not image.any():
        image[height // 2, width // 2] = 1
    out = to_mnist(image)
    assert out.max() == 255
    assert ink_box_side(out[None], threshold=0)[0] <= 22
    rows, cols = np.nonzero(out)
    touches = rows.min() == 0 or cols.min() == 0 or rows.max() == 27 or cols.max() == 27
    if not touches:  # only a lopsided digit pushed against the edge may miss the centre
        assert np.abs(np.subtract(centre_of_mass(out), CENTRE)).max() <= 0.5 + 1e-9


def test_a_thin_stroke_is_scaled_up_to_full_brightness():
    page = np.zeros((400, 400))
    page[50:350, 200] = 1.0  # one pixel wide, 300 long: becomes a faint 1/15 px line
    out = to_mnist(page)
    assert out.max() == 255 and ink_box_side(out[None])[0] == 20


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.full((40, 40), 0.7), "no ink"),
        (np.zeros((28, 28), np.uint8), "no ink"),
        (np.where(np.eye(30) > 0, 250, 255).astype(np.uint8), "no ink"),  # 2% contrast
        (np.zeros((2, 3, 28, 28)), "shape"),
        (np.zeros((28, 28, 5)), "shape"),
        (np.zeros((0, 28)), "no pixels"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.full((28, 28), 255.0), r"\[0, 1\].*divide"),
        (np.full((28, 28), -3, np.int64), "0..255"),
        (np.full((28, 28), "a"), "dtype"),
    ],
)
def test_bad_images_raise_one_clear_image_error(image, match):
    with pytest.raises(ImageError, match=match):
        to_mnist(image)


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# --- resizing and centre of mass -----------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape_in=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    shape_out=st.tuples(st.integers(1, 40), st.integers(1, 40)),
)
def test_resize_area_keeps_the_mean_and_the_range(seed, shape_in, shape_out):
    a = frozen(np.random.default_rng(seed).random(shape_in))
    b = resize_area(a, shape_out)
    assert b.shape == shape_out
    assert b.mean() == pytest.approx(a.mean(), rel=1e-9, abs=1e-12)
    assert a.min() - 1e-12 <= b.min() and b.max() <= a.max() + 1e-12
    assert np.array_equal(resize_area(a, shape_in), a)


def test_resize_area_rejects_an_empty_shape():
    with pytest.raises(ValueError, match="positive shape"):
        resize_area(np.ones((3, 3)), (0, 2))


def test_centre_of_mass_matches_a_direct_computation():
    image = np.random.default_rng(0).random((9, 13))
    assert centre_of_mass(image) == pytest.approx(tuple(centres(image[None])[0]))
    with pytest.raises(ValueError, match="some ink"):
        centre_of_mass(np.zeros((3, 3)))


# --- files ---------------------------------------------------------------------------


def _png(image, path: Path, **save) -> Path:
    image.save(path, **save)
    return path


@pytest.fixture
def seven() -> np.ndarray:
    return page_with_seven()


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "LA", "I;16", "CMYK"])
def test_every_image_mode_reads_as_the_same_digit(tmp_path, seven, mode):
    Image = pytest.importorskip("PIL.Image")
    gray = Image.fromarray(seven)
    if mode == "I;16":
        image = Image.fromarray(seven.astype(np.uint16) * 257)
    elif mode == "1":
        image = gray.convert("1", dither=Image.Dither.NONE)
    else:
        image = gray.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    path = _png(image, tmp_path / f"seven.{fmt.lower()}", format=fmt)
    loaded = load_image(path)
    assert loaded.shape == seven.shape and not loaded.flags.writeable
    # 8-bit images stay uint8 (they become floats once, in to_mnist); 16-bit ones floats
    if mode == "I;16":
        assert loaded.dtype == np.float32 and loaded.min() >= 0.0 and loaded.max() <= 1.0
    else:
        assert loaded.dtype == np.uint8
    diff = np.abs(to_mnist(loaded).astype(int) - to_mnist(seven))
    assert diff.max() <= (40 if fmt == "JPEG" else 1)


def test_transparency_is_composited_on_white(tmp_path, seven):
    Image = pytest.importorskip("PIL.Image")
    rgba = np.zeros((*seven.shape, 4), np.uint8)  # transparent everywhere but the ink
    rgba[..., 3] = np.where(seven == 0, 255, 0)
    path = _png(Image.fromarray(rgba, "RGBA"), tmp_path / "ink.png")
    loaded = load_image(path)
    assert loaded.max() == 255 and loaded.min() == 0
    assert np.array_equal(to_mnist(loaded), to_mnist(seven))
    palette = Image.fromarray(seven).convert("P")
    palette.info["transparency"] = int(palette.getpixel((0, 0)))  # paper is transparent
    loaded = load_image(_png(palette, tmp_path / "palette.png", transparency=255))
    assert np.array_equal(to_mnist(loaded), to_mnist(seven))


def test_sixteen_bit_precision_is_kept(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    ramp = (np.arange(64 * 64, dtype=np.uint16) * 16).reshape(64, 64)
    loaded = load_image(_png(Image.fromarray(ramp), tmp_path / "ramp.png"))
    assert len(np.unique(loaded)) > 256
    assert loaded.max() == pytest.approx(ramp.max() / 65535, abs=1e-6)


def test_exif_orientation_is_applied(tmp_path, seven):
    Image = pytest.importorskip("PIL.Image")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = tmp_path / "phone.jpg"
    Image.fromarray(seven).save(path, exif=exif, quality=95)
    assert load_image(path).shape == (seven.shape[1], seven.shape[0])


def test_files_that_are_not_images_name_the_file(tmp_path, seven):
    Image = pytest.importorskip("PIL.Image")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageError, match=r"notes\.png.* is not a PNG/JPEG image"):
        load_image(text)
    with pytest.raises(ImageError, match=r"missing\.png. cannot be read"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a folder, not a regular file"):
        load_image(tmp_path)
    good = _png(Image.fromarray(seven), tmp_path / "good.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ImageError, match=r"cut\.png"):
        load_image(cut)
    with pytest.raises(ImageError, match=r"good\.png.*more than the limit"):
        load_image(good, max_pixels=1000)
    with pytest.raises(ImageError, match="is not a GIF image"):
        load_image(good, formats=("GIF",))


def test_decode_image_reads_bytes_and_refuses_others():
    Image = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    Image.fromarray(page_with_seven()).save(buf, format="PNG")
    assert np.array_equal(
        to_mnist(decode_image(buf.getvalue(), formats=("PNG",))), to_mnist(page_with_seven())
    )
    jpeg = io.BytesIO()
    Image.fromarray(page_with_seven()).save(jpeg, format="JPEG")
    with pytest.raises(ImageError, match="upload is not a PNG image"):
        decode_image(jpeg.getvalue(), name="upload", formats=("PNG",))
    with pytest.raises(ImageError, match="not a PNG/JPEG image"):
        decode_image(b"")


def test_missing_pillow_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG")
    with pytest.raises(ImportError, match=r"needs Pillow: pip install 'mlp-functional\[images\]'"):
        load_image(path)
    with pytest.raises(ImportError, match=r"mlp-functional\[images\]"):
        decode_image(b"\x89PNG")
    assert "mlp-functional[images]" in PILLOW_HINT
    assert to_mnist(page_with_seven()).max() == 255  # arrays need no Pillow


# --- against the real MNIST ----------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_round_trip(mnist_dir):
    """300 test digits, the same digits as photo-like pages brought back, and a model."""
    data = load_mnist(mnist_dir)
    digits, labels = data.test.images[:300], data.test.labels[:300]
    rng = np.random.default_rng(0)
    back = np.stack([to_mnist(on_paper(d, rng)) for d in digits])
    params = small_model(mnist_dir)
    return data, digits, labels, back, params


def test_mnist_centre_of_mass_is_where_centre_says(mnist_dir):
    train = load_mnist(mnist_dir).train.images
    mean = centres(train).mean(axis=0)
    assert np.abs(mean - CENTRE).max() < 0.02  # measured: (13.996, 14.007)


def test_round_trip_lands_on_mnist_centre_of_mass(mnist_round_trip):
    _, digits, _, back, _ = mnist_round_trip
    assert np.abs(centres(back).mean(axis=0) - centres(digits).mean(axis=0)).max() < 0.1
    assert np.abs(centres(back) - CENTRE).max() <= 0.5 + 1e-9


def test_round_trip_boxes_the_digit_to_20_pixels(mnist_round_trip):
    _, digits, _, back, _ = mnist_round_trip
    # the box of the digit's body (a fifth of full ink and up), as MNIST's own
    assert (ink_box_side(digits, threshold=50) == 20).mean() > 0.99
    assert (ink_box_side(back, threshold=50) == 20).mean() > 0.99
    assert ink_box_side(back).max() <= 22  # plus at most a faint rim


def test_round_trip_keeps_mnist_intensity_statistics(mnist_round_trip):
    _, digits, _, back, _ = mnist_round_trip
    assert back.mean() == pytest.approx(digits.mean(), rel=0.08)
    assert (back > 127).mean() == pytest.approx((digits > 127).mean(), rel=0.08)
    assert (back.max(axis=(1, 2)) == 255).all()


def test_model_reads_round_tripped_digits_as_well_as_the_originals(mnist_round_trip):
    _, digits, labels, back, params = mnist_round_trip
    original = mf.accuracy(params, digits, labels)
    assert original > 0.85
    assert mf.accuracy(params, back, labels) >= original - 0.03


def test_mnist_digits_pass_through_nearly_unchanged(mnist_round_trip):
    _, digits, _, _, params = mnist_round_trip
    through = np.stack([to_mnist(d) for d in digits])
    assert (mf.predict(params, through) == mf.predict(params, digits)).mean() >= 0.99
    diff = np.abs(through.astype(int) - digits)
    assert (diff.max(axis=(1, 2)) <= 13).mean() >= 0.98  # only faint rims (< 5%) are cut
    assert diff.mean() < 0.5
