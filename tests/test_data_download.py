"""Tests of the download path against a local HTTP server on 127.0.0.1.

The server serves tiny synthetic IDX files (MNIST names, their own hashes); each test
says per URL path what the server does: serve bytes, answer a status, die mid-transfer,
or stall.
"""

from __future__ import annotations

import gzip
import socket
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from mlp_functional.data import (
    DatasetNotFoundError,
    DownloadOptions,
    download_file,
    fetch,
    load,
)

FAST = DownloadOptions(timeout=2.0, retries=2, backoff=0.0)


class Server:
    """What to answer per path, and how often each path was asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple] = {}
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()
        self.url = ""

    def serve(self, prefix: str, folder: Path) -> str:
        """Serve every file of ``folder`` under ``/<prefix>/``; return that base URL."""
        for path in folder.iterdir():
            self.routes[f"/{prefix}/{path.name}"] = ("bytes", path.read_bytes())
        return f"{self.url}/{prefix}/"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        state: Server = self.server.state  # type: ignore[attr-defined]
        state.hits[self.path] += 1
        kind, *args = state.routes.get(self.path, ("status", 404))
        if kind == "status":
            self.send_error(args[0])
            return
        if kind == "stall":
            state.release.wait(10)
            return
        body = args[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "die":  # send part of the body, then drop the connection
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def tiny(tmp_path, make_tiny):
    """The tiny dataset's spec, arrays and the folder its files were written to."""
    spec, arrays = make_tiny(tmp_path / "source")
    return spec, arrays, tmp_path / "source"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def assert_same(ds, arrays) -> None:
    got = [ds.train.images, ds.train.labels, ds.test.images, ds.test.labels]
    for a, b in zip(got, arrays, strict=True):
        np.testing.assert_array_equal(a, b)


def listing(folder: Path) -> list[str]:
    """Every entry under ``folder``, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


NAMES = sorted(
    [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
)


def test_good_files_are_downloaded_verified_and_cached(server, tiny, data_env):
    spec, arrays, source = tiny
    spec = spec._replace(mirrors=(server.serve("m", source),))
    ds = load(spec, download_options=FAST)
    assert_same(ds, arrays)
    assert not ds.train.images.flags.writeable
    assert listing(data_env / "tiny") == NAMES
    hits = sum(server.hits.values())
    assert hits == 4
    assert_same(load(spec, download_options=FAST), arrays)  # from the cache now
    assert sum(server.hits.values()) == hits


def test_corrupted_file_is_refused_retried_and_not_cached(server, tiny, data_env):
    spec, _, source = tiny
    base = server.serve("m", source)
    images = bytearray(gzip.decompress((source / "t10k-images-idx3-ubyte.gz").read_bytes()))
    images[100] ^= 0xFF  # a well-formed file with the wrong content
    server.routes["/m/t10k-images-idx3-ubyte.gz"] = ("bytes", gzip.compress(bytes(images)))
    spec = spec._replace(mirrors=(base,))
    with pytest.raises(DatasetNotFoundError, match=r"t10k-images-idx3-ubyte\.gz: wrong content"):
        load(spec, download_options=FAST)
    assert server.hits["/m/t10k-images-idx3-ubyte.gz"] == FAST.retries
    assert "t10k-images-idx3-ubyte.gz" not in listing(data_env / "tiny")
    assert not [n for n in listing(data_env / "tiny") if n.startswith(".")]


def test_truncated_file_is_refused_and_not_cached(server, tiny, data_env):
    spec, _, source = tiny
    base = server.serve("m", source)
    whole = (source / "train-images-idx3-ubyte.gz").read_bytes()
    server.routes["/m/train-images-idx3-ubyte.gz"] = ("bytes", whole[: len(whole) // 2])
    with pytest.raises(DatasetNotFoundError, match=r"damaged file: .*truncated"):
        load(spec._replace(mirrors=(base,)), download_options=FAST)
    assert server.hits["/m/train-images-idx3-ubyte.gz"] == FAST.retries
    assert listing(data_env / "tiny") == []


@pytest.mark.parametrize("status", [404, 403])
def test_missing_on_first_mirror_uses_second_without_retrying(server, tiny, data_env, status):
    spec, arrays, source = tiny
    for name in NAMES:
        server.routes[f"/first/{name}"] = ("status", status)
    spec = spec._replace(mirrors=(f"{server.url}/first/", server.serve("second", source)))
    assert_same(load(spec, download_options=FAST), arrays)
    assert all(server.hits[f"/first/{n}"] == 1 for n in NAMES)  # never retried
    assert listing(data_env / "tiny") == NAMES


def test_server_errors_are_retried_then_the_next_mirror_is_used(server, tiny, data_env):
    spec, arrays, source = tiny
    for name in NAMES:
        server.routes[f"/flaky/{name}"] = ("status", 503)
    spec = spec._replace(mirrors=(f"{server.url}/flaky/", server.serve("ok", source)))
    assert_same(load(spec, download_options=FAST), arrays)
    assert all(server.hits[f"/flaky/{n}"] == FAST.retries for n in NAMES)


def test_every_mirror_failing_lists_each_mirror_and_why(server, tiny, tmp_path):
    spec, _, _ = tiny
    server.routes["/a/train-labels-idx1-ubyte.gz"] = ("status", 500)
    mirrors = (f"{server.url}/a/", f"{server.url}/b/")
    with pytest.raises(DatasetNotFoundError) as e:
        download_file(spec.files.train_labels, mirrors, tmp_path, FAST)
    message = str(e.value)
    assert f"{server.url}/a/train-labels-idx1-ubyte.gz: HTTP 500 (2 attempts)" in message
    assert f"{server.url}/b/train-labels-idx1-ubyte.gz: HTTP 404 (not retried)" in message
    assert "\n" not in message


def test_server_dying_mid_transfer_leaves_nothing_half_written(server, tiny, data_env):
    spec, arrays, source = tiny
    base = server.serve("m", source)
    body = (source / "train-images-idx3-ubyte.gz").read_bytes()
    server.routes["/m/train-images-idx3-ubyte.gz"] = ("die", body)
    spec = spec._replace(mirrors=(base,))
    with pytest.raises(DatasetNotFoundError, match=r"connection broken during the transfer"):
        load(spec, download_options=FAST)
    assert listing(data_env / "tiny") == []  # no partial file, no temporary file
    server.routes["/m/train-images-idx3-ubyte.gz"] = ("bytes", body)
    assert_same(load(spec, download_options=FAST), arrays)


def test_a_stalled_server_times_out_and_is_retried(server, tiny, tmp_path):
    spec, _, _ = tiny
    server.routes["/slow/train-labels-idx1-ubyte.gz"] = ("stall",)
    options = FAST._replace(timeout=0.2)
    (tmp_path / "out").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"no answer within 0\.2 s \(2 attempts\)"):
        download_file(spec.files.train_labels, (f"{server.url}/slow/",), tmp_path / "out", options)
    assert server.hits["/slow/train-labels-idx1-ubyte.gz"] == 2
    assert listing(tmp_path / "out") == []


def test_corrupted_file_in_cache_is_reported_by_path_and_fetched_again(server, tiny, data_env):
    spec, arrays, source = tiny
    spec = spec._replace(mirrors=(server.serve("m", source),))
    load(spec, download_options=FAST)
    cached = data_env / "tiny" / "train-labels-idx1-ubyte.gz"
    cached.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05" + bytes(5)))
    with pytest.warns(UserWarning, match=rf"cached file {cached} no longer verifies"):
        ds = load(spec, download_options=FAST)
    assert_same(ds, arrays)
    assert server.hits["/m/train-labels-idx1-ubyte.gz"] == 2
    cached.write_bytes(b"\x1f\x8b junk")  # not even gzip: reported the same way by fetch
    with pytest.warns(UserWarning, match=rf"{cached} no longer verifies \(corrupt gzip"):
        assert fetch(spec, download_options=FAST) == data_env / "tiny"
    assert server.hits["/m/train-labels-idx1-ubyte.gz"] == 3
    assert listing(data_env / "tiny") == NAMES


def test_no_server_at_all_raises_one_clear_error(tiny, data_env, tmp_path, monkeypatch):
    spec, _, _ = tiny
    url = closed_port_url()
    monkeypatch.setenv("MLP_FUNCTIONAL_DATA", str(tmp_path / "root"))
    with pytest.raises(DatasetNotFoundError) as e:
        load(spec._replace(mirrors=(url,)), data_dir=tmp_path / "mine", download_options=FAST)
    message = str(e.value)
    for expected in [
        f"data_dir {tmp_path / 'mine'} (no such folder)",
        f"$MLP_FUNCTIONAL_DATA/tiny {tmp_path / 'root' / 'tiny'} (no such folder)",
        f"the cache {data_env / 'tiny'}",
        f"{url}train-images-idx3-ubyte.gz: connection failed: [Errno",
        "`mlp-functional fetch --dataset tiny`",
        "--data-dir DIR",
        "MLP_FUNCTIONAL_DATA=ROOT",
    ]:
        assert expected in message
    assert "\n" not in message
    assert listing(data_env / "tiny") == []


def test_fetch_downloads_into_the_cache(server, tiny, data_env):
    spec, arrays, source = tiny
    spec = spec._replace(mirrors=(server.serve("m", source),))
    folder = fetch(spec, download_options=FAST)
    assert folder == data_env / "tiny"
    assert listing(folder) == NAMES
    assert fetch(spec, download_options=FAST) == folder  # all cached: nothing downloaded
    assert sum(server.hits.values()) == 4
    assert_same(load(spec._replace(mirrors=()), download_options=FAST), arrays)


def test_the_library_prints_nothing_and_the_command_lines_bar_draws_the_download(
    server, tiny, tmp_path, capsys
):
    from mlp_functional.cli.progress import download_bar

    spec, _, source = tiny
    base = server.serve("m", source)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    download_file(spec.files.train_labels, (base,), tmp_path / "a", FAST)
    assert capsys.readouterr() == ("", "")
    bars = []

    def drawn(name):
        bars.append(download_bar(name, terminal=True))
        return bars[-1]

    download_file(spec.files.train_labels, (base,), tmp_path / "b", FAST._replace(progress=drawn))
    out, err = capsys.readouterr()
    assert out == "" and "train-labels-idx1-ubyte.gz" in err
    assert len(bars) == 1 and (tmp_path / "b" / "train-labels-idx1-ubyte.gz").is_file()
    # Off a terminal (as under pytest) the command line draws nothing.
    assert download_bar("x") is None


def test_retries_must_be_positive(tmp_path, tiny):
    with pytest.raises(ValueError, match=r"retries must be >= 1, got retries=0"):
        download_file(tiny[0].files.train_labels, (), tmp_path, FAST._replace(retries=0))


def test_importing_the_package_does_not_import_pooch_or_tqdm():
    import subprocess

    code = (
        "import sys, mlp_functional.data; "
        "print(sorted(m for m in ('pooch', 'tqdm', 'requests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
