"""Your own data: every form read by load_data, and every bad input refused in one line."""

from __future__ import annotations

import string
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlp_functional import key
from mlp_functional.cli.errors import message_for
from mlp_functional.data import (
    DataChangedError,
    DataError,
    DataFormatError,
    DataTooLargeError,
    load_data,
    load_recorded,
    source_record,
    stratified_split,
)
from mlp_functional.data.source import check_same_data

PIL = pytest.importorskip("PIL.Image")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def one_line(exc: BaseException) -> str:
    """The CLI's message for ``exc``: it must exist and be a single line."""
    message = message_for(exc)
    assert message is not None and "\n" not in message
    return message


def refused(path: Path, match: str, error: type[Exception] = DataFormatError, **kw) -> str:
    with pytest.raises(error, match=match) as info:
        load_data(path, **kw)
    return one_line(info.value)


def table_csv(tmp_path: Path, n: int = 20, header: str | None = "label,a,b") -> Path:
    rows = "".join(f"{i % 2},{i},{(3 * i) % 7}\n" for i in range(n))
    return write(tmp_path / "t.csv", (header + "\n" if header else "") + rows)


# ---- CSV -------------------------------------------------------------------------------


def test_csv_with_header_keeps_0_255_integers_as_uint8(tmp_path):
    data = load_data(table_csv(tmp_path))
    assert data.classes == ("0", "1") and data.kind == "table"
    assert data.train.images.dtype == np.uint8 and data.train.images.shape[1] == 2
    assert len(data.train.labels) + len(data.test.labels) == 20
    assert len(data.test.labels) == 4  # 20% of each class
    all_rows = np.concatenate([data.train.images, data.test.images])
    assert sorted(all_rows[:, 0].tolist()) == list(range(20))
    for part in (data.train, data.test):
        # the label of row a=i is i % 2, whichever split it landed in
        assert (part.labels == part.images[:, 0] % 2).all()
        assert not part.images.flags.writeable and not part.labels.flags.writeable


def test_csv_without_header_takes_the_first_column(tmp_path):
    data = load_data(table_csv(tmp_path, header=None))
    assert data.source is not None and data.source.shape == (20, 2)
    assert data.classes == ("0", "1")


def test_default_label_names_and_label_column_by_name_and_index(tmp_path):
    path = write(tmp_path / "t.csv", "a,Target,b\n" + "".join(f"{i},{i % 3},1\n" for i in range(9)))
    assert load_data(path).classes == ("0", "1", "2")
    assert load_data(path, label_column="Target").train.images.shape[1] == 2
    refused(path, "every example has the label '1'", label_column="b")
    assert load_data(path, label_column="1").classes == ("0", "1", "2")
    assert load_data(path, label_column=-2).classes == ("0", "1", "2")


def test_string_labels_are_sorted_into_class_names(tmp_path):
    rows = "".join(f"{n},{i}.5\n" for i, n in enumerate(["zebra", "ant", "moth"] * 4))
    data = load_data(write(tmp_path / "t.csv", "y,x\n" + rows), test_size=0.25)
    assert data.classes == ("ant", "moth", "zebra")
    assert data.train.images.dtype == np.float32
    train_x = data.train.images[:, 0].tolist()
    names = [data.classes[c] for c in data.train.labels]
    for x, name in zip(train_x, names, strict=True):
        assert ["zebra", "ant", "moth"][int(x) % 3] == name


def test_numeric_labels_sort_as_numbers_and_floats_become_float32(tmp_path):
    rows = "".join(f"{[10, 9, 100][i % 3]},{i / 3:.3f},300\n" for i in range(12))
    data = load_data(write(tmp_path / "t.csv", rows))
    assert data.classes == ("9", "10", "100")
    assert data.train.images.dtype == np.float32


def test_quoted_cells_semicolons_and_a_byte_order_mark(tmp_path):
    rows = "".join(f'"{"ab"[i % 2]}";{i}\n' for i in range(10))
    path = tmp_path / "t.csv"
    path.write_bytes(("\ufefflabel;x\n" + rows).encode("utf-8"))
    assert load_data(path).classes == ("a", "b")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("label,a,b\n0,1,2\n1,3\n", "line 3 has 2 cells, the table has 3 columns"),
        ("label,a,b\n0,1,2\n1,x,4\n", "non-numeric cell 'x' at line 3, column 'a' \\(index 1\\)"),
        ("label,a,b\n0,1,2\n1,2,\n", "empty cell at line 3, column 'b'"),
        ("label,a,b\n0,1,2\n,2,3\n1,1,1\n", "missing label at data row 2"),
        (
            "label,a,b\n0,1,nan\n1,2,3\n",
            "'nan' at line 2, column 'b' \\(index 2\\), is not a finite",
        ),
        ("label,a,b\n0,1,inf\n1,2,3\n", "'inf' at line 2, column 'b'"),
        ("label,a,b\n0,1,1e50\n1,2,3\n", "'1e50' at line 2"),
        ("label,a\n3,1\n3,2\n", "every example has the label '3'.*at least two classes"),
        ("label,a\n0.5,1\n1,2\n", "label 0.5 at data row 1 is not a whole number"),
        ("", "the file is empty"),
        ("label,a,b\n", "a header but no data rows"),
        ("a\n1\n2\n", "only one column"),
        ("label,a\n0,1\n1,2\n", "holds none; pass a larger --test-size"),
    ],
)
def test_bad_csv_is_refused_naming_line_and_column(tmp_path, text, match):
    message = refused(write(tmp_path / "bad.csv", text), match)
    assert "bad.csv" in message and ";" in message


def test_a_label_column_that_does_not_exist(tmp_path):
    path = table_csv(tmp_path)
    refused(path, "no column named 'lable'; the columns are label, a, b", label_column="lable")
    refused(path, "no column 5: the table has 3 columns", label_column=5)
    headerless = table_csv(tmp_path, header=None)
    refused(headerless, "no header row, so no column is named 'x'", label_column="x")


def test_bad_options_are_value_errors_in_one_line(tmp_path):
    path = table_csv(tmp_path)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="test_size must be a fraction in \\(0, 1\\)") as e:
            load_data(path, test_size=bad)
        one_line(e.value)
    with pytest.raises(ValueError, match="apply to image folders"):
        load_data(path, color=True)
    with pytest.raises(ValueError, match="HxW"):
        load_data(tmp_path, image_size="big")


def test_unknown_files_and_missing_paths(tmp_path):
    refused(write(tmp_path / "t.xlsx", "x"), "unknown kind of data file '.xlsx'")
    refused(tmp_path / "nothing.csv", "no such file or folder")


cells = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: f"{f:.4g}"),
)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.lists(cells, min_size=3, max_size=3), min_size=6, max_size=30),
    header=st.booleans(),
    spaces=st.booleans(),
)
def test_csv_reads_back_any_numeric_table(tmp_path_factory, values, header, spaces):
    """Any table of numbers comes back exactly (as float32, or uint8 for 0..255 integers)."""
    folder = tmp_path_factory.mktemp("csv")
    labels = [str(i % 2) for i in range(len(values))]
    sep = ", " if spaces else ","
    lines = [sep.join([lab, *row]) for lab, row in zip(labels, values, strict=True)]
    text = ("label,a,b,c\n" if header else "") + "\n".join(lines) + "\n"
    data = load_data(write(folder / "t.csv", text), test_size=0.3)
    got = np.concatenate([data.train.images, data.test.images]).astype(np.float64)
    expected = np.array([[float(c) for c in row] for row in values], np.float32)
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, expected.tolist()))
    integers = all(c.lstrip("-").isdigit() and 0 <= int(c) <= 255 for r in values for c in r)
    assert data.train.images.dtype == (np.uint8 if integers else np.float32)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(4, 20),
    bad_row=st.integers(0, 19),
    bad_col=st.integers(1, 3),
    bad=st.sampled_from(["x", "1.2.3", "", "nan", "-inf", "--"]),
)
def test_any_bad_cell_is_named_by_line_and_column(tmp_path_factory, rows, bad_row, bad_col, bad):
    bad_row %= rows
    table = [[str(i % 2), str(i), "7", "8"] for i in range(rows)]
    table[bad_row][bad_col] = bad
    text = "label,a,b,c\n" + "".join(",".join(r) + "\n" for r in table)
    path = write(tmp_path_factory.mktemp("csv") / "t.csv", text)
    with pytest.raises(DataFormatError) as info:
        load_data(path)
    message = one_line(info.value)
    assert f"at line {bad_row + 2}, column '{['label', 'a', 'b', 'c'][bad_col]}'" in message


@settings(max_examples=30, deadline=None)
@given(
    names=st.lists(
        st.text(string.ascii_letters + " _-", min_size=1, max_size=8).filter(str.strip),
        min_size=2,
        max_size=5,
        unique_by=str.strip,
    )
)
def test_any_string_labels_give_sorted_class_names(tmp_path_factory, names):
    if any(n.strip().lstrip("-").replace(".", "", 1).isdigit() for n in names):
        return
    rows = "".join(f"{names[i % len(names)]},{i}\n" for i in range(len(names) * 5))
    data = load_data(write(tmp_path_factory.mktemp("csv") / "t.csv", "class,x\n" + rows))
    assert data.classes == tuple(sorted(n.strip() for n in names))


# ---- NumPy archives --------------------------------------------------------------------


def test_keras_npz_keeps_its_test_set(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 4, 4), dtype=np.uint8)
    y = np.arange(12) % 3
    np.savez(tmp_path / "mnist.npz", x_train=x[:9], y_train=y[:9], x_test=x[9:], y_test=y[9:])
    data = load_data(tmp_path / "mnist.npz")
    assert data.kind == "images" and data.train.images.shape == (9, 4, 4)
    assert np.array_equal(data.test.images, x[9:]) and data.test.labels.tolist() == [0, 1, 2]
    assert data.source is not None and data.source.test_given and data.source.shape == (12, 4, 4)


def test_xy_npz_is_split_and_npy_table_uses_its_label_column(tmp_path):
    x = np.arange(40, dtype=np.float64).reshape(20, 2) / 7
    y = np.array(["b", "a"] * 10)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    data = load_data(tmp_path / "xy.npz")
    assert data.classes == ("a", "b") and data.train.images.dtype == np.float32
    np.save(tmp_path / "t.npy", np.column_stack([x, np.arange(20) % 2]))
    table = load_data(tmp_path / "t.npy", label_column=-1)
    assert table.train.images.shape[1] == 2 and table.classes == ("0", "1")


def test_bad_archives(tmp_path):
    np.savez(tmp_path / "keys.npz", images=np.zeros((2, 2)), labels=np.zeros(2))
    refused(tmp_path / "keys.npz", "has the arrays images, labels; expected x_train, y_train")
    np.savez(tmp_path / "obj.npz", x=np.array([[1], [None]], dtype=object), y=np.zeros(2))
    refused(tmp_path / "obj.npz", "'x' holds Python objects \\(a pickle\\), which are never loaded")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object))
    refused(tmp_path / "obj.npy", "holds Python objects")
    np.savez(tmp_path / "len.npz", x=np.zeros((3, 2)), y=np.zeros(2))
    refused(tmp_path / "len.npz", "'x' has 3 examples but 'y' has 2 labels")
    np.savez(tmp_path / "hot.npz", x=np.zeros((3, 2)), y=np.eye(3))
    refused(tmp_path / "hot.npz", "one-hot labels")
    np.savez(tmp_path / "nan.npz", x=np.array([[0.0], [np.nan]]), y=np.array([0, 1]))
    refused(tmp_path / "nan.npz", "'x' holds nan at index \\[1, 0\\]")
    write(tmp_path / "zip.npz", "not a zip")
    refused(tmp_path / "zip.npz", "not a valid .npz")


def test_a_declared_size_too_large_is_refused_before_allocating(tmp_path):
    """An .npy header claiming a petabyte: refused from the header, the data never read."""
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 785)}
        )
    message = refused(path, "would take 3.1 PB in memory", DataTooLargeError)
    assert "huge.npy" in message


# ---- image folders ---------------------------------------------------------------------


def image_folder(root: Path, layout: dict[str, int], size=(6, 5), mode="L") -> Path:
    """``{"class" or "train/class": count}`` -> PNGs whose pixels encode class and index."""
    for i, (folder, count) in enumerate(sorted(layout.items())):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for j in range(count):
            value = 40 * (i % 6) + j
            PIL.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(
                root / folder / f"{j}.png"
            )
    return root


def test_class_folders_alone_are_split_stratified(tmp_path):
    root = image_folder(tmp_path / "pets", {"cat": 10, "dog": 5})
    data = load_data(root)
    assert data.classes == ("cat", "dog") and data.kind == "images"
    assert data.train.images.shape == (12, 5, 6) and data.train.images.dtype == np.uint8
    assert np.bincount(data.test.labels).tolist() == [2, 1]
    for part in (data.train, data.test):
        assert ((part.images[:, 0, 0] // 40) == part.labels).all()


def test_train_and_test_folders_and_color(tmp_path):
    root = image_folder(tmp_path / "d", {"train/a": 3, "train/b": 3, "test/a": 1, "test/b": 2})
    data = load_data(root, color=True)
    assert data.train.images.shape == (6, 5, 6, 3) and data.test.labels.tolist() == [0, 1, 1]
    assert data.source is not None and data.source.test_given
    gray = load_data(root)
    assert gray.train.images.shape == (6, 5, 6)


def test_mixed_sizes_are_refused_unless_resized(tmp_path):
    root = image_folder(tmp_path / "d", {"a": 2})
    image_folder(root, {"b": 2}, size=(8, 8))
    refused(root, "images of different sizes, 6x5 \\(a/0.png\\) and 8x8 \\(b/0.png\\)")
    data = load_data(root, image_size="4x3", test_size=0.5)
    assert data.train.images.shape[1:] == (4, 3)


def test_bad_files_are_counted_and_skipped_on_request(tmp_path):
    root = image_folder(tmp_path / "d", {"a": 3, "b": 3})
    write(root / "a" / "notes.txt", "not an image")
    write(root / "b" / "broken.png", "\x89PNG broken")
    message = refused(root, "notes.txt is not an image Pillow can read and 1 other file")
    assert "(2 bad of 8 files)" in message and "--skip-bad" in message
    data = load_data(root, skip_bad=True, test_size=0.34)
    assert data.source is not None and data.source.skipped == ("a/notes.txt", "b/broken.png")
    assert len(data.train.labels) + len(data.test.labels) == 6


def test_folder_layout_errors(tmp_path):
    refused(image_folder(tmp_path / "one", {"a": 2}), "found 1 class folder")
    (tmp_path / "one" / "empty").mkdir()
    refused(tmp_path / "one", "the class folder 'empty' holds no files")
    root = image_folder(tmp_path / "t", {"train/a": 2, "train/b": 2, "test/c": 1})
    refused(root, "class 'c' is in test/ but not in train/")


# ---- split, source record, resume check ------------------------------------------------


def test_stratified_split_is_deterministic_and_proportional():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    a = stratified_split(key(3), labels, 0.2)
    b = stratified_split(key(3), labels, 0.2)
    c = stratified_split(key(4), labels, 0.2)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    assert np.bincount(labels[a.test]).tolist() == [10, 6, 3, 1]
    assert sorted([*a.train.tolist(), *a.test.tolist()]) == list(range(100))


def test_same_data_same_split_whatever_the_path(tmp_path):
    path = table_csv(tmp_path, n=40)
    first = load_data(path)
    assert first.source is not None
    record = source_record(first.source)
    again = load_recorded(record)
    assert np.array_equal(again.test.images, first.test.images)
    moved = path.rename(tmp_path / "moved.csv")
    load_recorded({**record, "path": str(moved)})  # the same bytes elsewhere are the same data


def test_changed_data_is_refused(tmp_path):
    path = table_csv(tmp_path, n=40)
    data = load_data(path)
    assert data.source is not None
    record = source_record(data.source)
    path.write_text(path.read_text().replace("\n1,3,2\n", "\n1,4,2\n"))
    with pytest.raises(DataChangedError, match=r"SHA-256 .* differs") as info:
        load_recorded(record)
    one_line(info.value)
    with pytest.raises(DataChangedError, match="shape \\(41, 2\\), the run was trained on"):
        check_same_data(record, data.source._replace(shape=(41, 2)))
    path.unlink()
    with pytest.raises(DataFormatError, match="the run was trained on it"):
        load_recorded(record)
    with pytest.raises(DataError, match="record of its data is damaged"):
        load_recorded({"path": "x"})


def test_image_folders_without_pillow_name_the_extra(tmp_path, monkeypatch):
    root = image_folder(tmp_path / "d", {"a": 2, "b": 2})
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    with pytest.raises(ImportError) as info:
        load_data(root)
    assert one_line(info.value) == (
        "reading image folders needs Pillow: pip install 'mlp-functional[images]'"
    )


def test_tables_and_folders_too_large_for_memory(tmp_path, monkeypatch):
    """With 1 kB available, a 2 kB table and a 3 kB folder are refused before reading."""
    from mlp_functional.data import memory

    csv_path = write(
        tmp_path / "big.csv", "".join(f"{i % 2}," + ",".join(["7"] * 10) + "\n" for i in range(200))
    )
    root = image_folder(tmp_path / "d", {"a": 50, "b": 50}, size=(6, 5))
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    refused(
        csv_path, r"big\.csv \(about 200 rows\) would take 2\.0 kB in memory", DataTooLargeError
    )
    refused(
        root,
        r"\(100 images\) would take 3\.0 kB in memory, more than the 1\.0 kB",
        DataTooLargeError,
    )


def test_rows_to_predict_on_are_read_without_labels(tmp_path):
    from mlp_functional.data import read_csv

    rows = read_csv(write(tmp_path / "rows.csv", "a,b,c\n1,2,3\n4,5,300\n"), labels=False)
    assert rows.labels is None and rows.features.dtype == np.float32
    assert rows.features.tolist() == [[1, 2, 3], [4, 5, 300]]
    one = read_csv(write(tmp_path / "one.csv", "7\n8\n"), labels=False)
    assert one.features.tolist() == [[7], [8]]
    with pytest.raises(DataFormatError, match="non-numeric cell 'x' at line 2, column 1"):
        read_csv(write(tmp_path / "bad.csv", "1,2\n3,x\n"), labels=False)


def test_windows_line_endings_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    rows = "".join(f"{i % 2},{i}\r\n" for i in range(10))
    path.write_bytes(("label,x\r\n" + rows + "\r\n\r\n").encode())
    data = load_data(path)
    assert data.source is not None and data.source.shape == (10, 1)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"label,x\r\n0,1\r\n\r\n1,y\r\n")
    refused(bad, "non-numeric cell 'y' at line 4, column 'x'")
