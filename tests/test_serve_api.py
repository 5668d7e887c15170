"""Tests for `mlp-functional serve`: the pure API, and a real server on a free loopback port."""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from _imaging_util import load_mnist, on_paper, small_model
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.bench.loadtest import Case, load_test, standard_cases
from mlp_functional.cli import serve as command
from mlp_functional.imaging import to_mnist
from mlp_functional.serve import api
from mlp_functional.serve.api import MAX_BODY, PNG_PREFIX, handle, make_app
from mlp_functional.serve.server import running

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = {
    "model": {"sizes": [784, 64, 10], "activation": "relu"},
    "data": {"name": "mnist", "classes": [str(i) for i in range(10)]},
    "settings": {"optimizer": "adam", "lr": 0.001, "batch_size": 64},
}
METRICS = {"train_accuracy": 0.95, "test_accuracy": 0.94, "epochs": 1, "train_seconds": 1.5}


def png_url(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return PNG_PREFIX + base64.b64encode(buf.getvalue()).decode()


def request(url: str, method: str, path: str, body: bytes | None = None, headers=None):
    """One request on a fresh connection: ``(status, headers, body bytes)``."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def raw(url: str, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes or answers one response."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


JSON = {"Content-Type": "application/json"}


def post(url: str, payload) -> tuple[int, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, _, data = request(url, "POST", "/api/predict", body, JSON)
    return status, json.loads(data)


# --- a server with an untrained model: every rule that needs no real digits ----------


@pytest.fixture(scope="module")
def app() -> api.App:
    return make_app(mf.init(mf.key(0), [784, 64, 10]), CONFIG, METRICS)


@pytest.fixture(scope="module")
def url(app):
    with running(app) as base:
        yield base


def test_page_and_its_files_are_served_with_protective_headers(url):
    status, headers, body = request(url, "GET", "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<canvas id="pad"' in body and b'src="app.js"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    for path, kind, marker in [
        ("/app.js", "text/javascript", b"api/predict"),
        ("/style.css", "text/css", b"#pad"),
        ("/index.html?v=2", "text/html", b"<!doctype html>"),
    ]:
        status, headers, body = request(url, "GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind) and marker in body
    status, headers, body = request(url, "HEAD", "/app.js")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000


def test_the_page_needs_nothing_from_outside():
    static = api.load_static()
    for _, content in static.values():
        text = content.decode()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_model_card_reports_architecture_and_metrics(url):
    status, _, body = request(url, "GET", "/api/model")
    card = json.loads(body)
    assert status == 200
    assert card["sizes"] == [784, 64, 10] and card["parameters"] == 784 * 64 + 64 + 64 * 10 + 10
    assert card["train_accuracy"] == 0.95 and card["test_accuracy"] == 0.94
    assert card["activation"] == "relu" and card["dataset"] == "mnist" and card["png"] is True
    assert card["classes"] == [str(i) for i in range(10)]


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/static/../api.py",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2Fapi.py",
        "/%252e%252e/%252e%252e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/..\\..\\api.py",
        "/%5c..%5capi.py",
        "/static/app.js",
        "/serve/static/app.js",
        "//etc/passwd",
        "/./app.js",
        "/app.js/",
        "/app.js%00.html",
        "/api.py",
        "/__init__.py",
        "/index.html/../api.py",
        "/api/../api.py",
        "/favicon.ico",
    ],
)
def test_only_the_shipped_files_are_served(url, path):
    status, headers, body = request(url, "GET", path)
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert "no such page" in json.loads(body)["error"]
    assert b"import" not in body and b"root:" not in body


def test_traversal_through_a_raw_socket_is_refused_too(url):
    for target in (b"/../api.py", b"/..\\api.py", b"http://127.0.0.1/../api.py", b"api.py"):
        answer = raw(url, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 404"), answer[:80]


def _bad_requests() -> list[tuple[bytes, str]]:
    ok = [0.5] * 784
    return [
        (b'{"pixels": [0.5, ', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b"[0.5]", "JSON object"),
        (b'"pixels"', "JSON object"),
        (b"{}", "exactly one of"),
        (json.dumps({"pixels": ok, "image": "x"}).encode(), "exactly one of"),
        (json.dumps({"pixel": ok}).encode(), "unknown field 'pixel'"),
        (json.dumps({"pixels": [0.0] * 783}).encode(), "784 numbers, got 783"),
        (json.dumps({"pixels": [0.0] * 785}).encode(), "784 numbers, got 785"),
        (json.dumps({"pixels": [[0.0] * 28] * 28}).encode(), "784 numbers, got 28"),
        (json.dumps({"pixels": "0" * 784}).encode(), "flat list"),
        (json.dumps({"pixels": ["0.5"] * 784}).encode(), "numbers only"),
        (json.dumps({"pixels": [True] * 784}).encode(), "numbers only"),
        (json.dumps({"pixels": [None] * 784}).encode(), "numbers only"),
        (b'{"pixels": [' + b"NaN, " * 783 + b"0]}", "finite numbers"),
        (b'{"pixels": [' + b"Infinity, " * 783 + b"0]}", "finite numbers"),
        (b'{"pixels": [' + b"1e400, " * 783 + b"0]}", "non-finite"),
        (json.dumps({"pixels": [255] * 784}).encode(), r"\[0, 1\].*divide 0-255"),
        (json.dumps({"pixels": [-0.1] * 784}).encode(), r"\[0, 1\]"),
        (b'{"pixels": [' + b"9" * 5000 + b"]}", "not valid JSON"),
        (json.dumps({"image": 5}).encode(), "PNG data URL"),
        (json.dumps({"image": "data:image/jpeg;base64,/9j/4AAQ"}).encode(), "PNG data URL"),
        (json.dumps({"image": PNG_PREFIX + "###"}).encode(), "not valid base64"),
        (json.dumps({"image": PNG_PREFIX + "R0lGODlhAQABAAAAACw="}).encode(), "not a PNG"),
        (json.dumps({"image": PNG_PREFIX + "iVBORw0KGgoAAAAN"}).encode(), "is not a PNG image"),
    ]


@pytest.mark.parametrize(("body", "match"), _bad_requests())
def test_bad_predictions_get_400_with_a_message(url, body, match):
    status, answer = post(url, body)
    assert status == 400
    assert re.search(match, answer["error"]), answer["error"]


def test_drawings_with_no_ink_or_too_many_pixels_get_400(url):
    pytest.importorskip("PIL")
    status, answer = post(url, {"image": png_url(np.full((200, 200), 255, np.uint8))})
    assert status == 400 and "no ink" in answer["error"]
    big = png_url(np.full((2100, 2100), 255, np.uint8))  # compresses to a few kB
    assert len(big) < MAX_BODY
    status, answer = post(url, {"image": big})
    assert status == 400 and "more than the limit" in answer["error"]


def test_bodies_over_the_limit_get_413_and_the_server_goes_on(url):
    status, _, body = request(url, "POST", "/api/predict", b" " * (MAX_BODY + 1), JSON)
    assert status == 413 and "over the limit" in json.loads(body)["error"]
    # a huge announced body is not even read: the answer comes at once
    huge = (
        f"POST /api/predict HTTP/1.1\r\nContent-Length: {10**12}\r\n"
        "Content-Type: application/json\r\n\r\n{"
    ).encode()
    assert raw(url, huge).startswith(b"HTTP/1.1 413")
    assert request(url, "GET", "/api/model")[0] == 200


def test_broken_http_gets_a_json_error(url):
    CT = b"Content-Type: application/json\r\n"
    cases = [
        (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\n" + CT + b"\r\n", b"411"),
        (b"POST /api/predict HTTP/1.1\r\nContent-Length: abc\r\n" + CT + b"\r\n", b"400"),
        (b"POST /api/predict HTTP/1.1\r\nContent-Length: -5\r\n" + CT + b"\r\n", b"400"),
        (b"POST /api/predict HTTP/1.1\r\nContent-Length: 5_0\r\n" + CT + b"\r\n", b"400"),
        (
            b"POST /api/predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + CT + b"\r\n0\r\n\r\n",
            b"411",
        ),
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET / HTTP/9.9\r\n\r\n", b"505"),
        (b"BREW /pot HTTP/1.1\r\n\r\n", b"501"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"POST /api/predict HTTP/1.1\r\nContent-Length: 100\r\n" + CT + b'\r\n{"pix', b""),
    ]
    for data, code in cases:
        answer = raw(url, data)
        if code:
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == code, head
            assert "error" in json.loads(body)
        else:
            assert answer == b""
    assert request(url, "GET", "/api/model")[0] == 200


def test_wrong_methods_and_unknown_api_paths(url):
    status, headers, _ = request(url, "GET", "/api/predict")
    assert status == 405 and headers["Allow"] == "POST"
    assert request(url, "POST", "/api/model", b"{}", JSON)[0] == 405
    assert request(url, "PUT", "/", b"x")[0] == 405
    assert request(url, "DELETE", "/api/predict")[0] == 405
    assert request(url, "GET", "/api/nope")[0] == 404


def test_keep_alive_connections_serve_several_requests(url):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        for _ in range(3):
            conn.request("POST", "/api/predict", json.dumps({"pixels": [0.5] * 784}), JSON)
            r = conn.getresponse()
            assert r.status == 200 and len(json.loads(r.read())["probabilities"]) == 10
    finally:
        conn.close()


def test_a_stalled_client_does_not_block_others(url):
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as stalled:
        stalled.sendall(b"POST /api/predict HTTP/1.1\r\nContent-Length: 500\r\n\r\n{")
        assert request(url, "GET", "/api/model")[0] == 200


def test_prediction_answer_is_consistent_with_the_engine(app, url):
    x = np.random.default_rng(0).random(784).round(3)
    status, answer = post(url, {"pixels": x.tolist()})
    assert status == 200
    expected = mf.predict_proba(app.params, x[None].astype(np.float32))[0]
    np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-6)
    assert answer["label"] == str(int(np.argmax(expected)))
    assert answer["image"] == np.rint(x * 255).astype(int).tolist()
    hidden = answer["hidden"]
    assert len(hidden["activations"]) == 64 and len(hidden["top"]) == api.TOP_UNITS
    acts = [u["activation"] for u in hidden["top"]]
    assert acts == sorted(acts, reverse=True) and acts[0] == max(hidden["activations"])
    assert all(
        len(u["weights"]) == 784 and max(map(abs, u["weights"])) <= 127 for u in hidden["top"]
    )


def test_png_without_pillow_gets_501_naming_the_extra_and_floats_still_work(url, monkeypatch):
    pytest.importorskip("PIL")
    drawing = png_url(255 - np.kron(np.eye(20, dtype=np.uint8) * 255, np.ones((5, 5), np.uint8)))
    monkeypatch.setitem(sys.modules, "PIL", None)
    status, answer = post(url, {"image": drawing})
    assert status == 501 and "pip install 'mlp-functional[images]'" in answer["error"]
    assert post(url, {"pixels": [0.5] * 784})[0] == 200
    assert make_app(mf.init(mf.key(0), [784, 10]), static={}).card["png"] is False


# --- the pure handler ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2000))
def test_handler_never_raises_on_arbitrary_bytes(app, body):
    r = handle(app, "POST", "/api/predict", body)
    assert r.status in (400, 413) and "error" in json.loads(r.body)


@settings(max_examples=100, deadline=None)
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=20,
    )
)
def test_handler_never_raises_on_arbitrary_json(app, payload):
    body = json.dumps({"pixels": payload} if isinstance(payload, list) else payload).encode()
    r = handle(app, "POST", "/api/predict", body)
    assert r.status == 400 and "error" in json.loads(r.body)


@settings(max_examples=200, deadline=None)
@given(path=st.text(max_size=60).map(lambda s: "/" + s))
def test_handler_serves_nothing_but_its_routes(app, path):
    r = handle(app, "GET", path)
    route = path.split("?", 1)[0].split("#", 1)[0]
    if route in api.STATIC_FILES or route == "/api/model":
        assert r.status == 200
    else:
        assert r.status in (404, 405)


def test_make_app_refuses_a_model_that_does_not_read_28x28():
    with pytest.raises(ValueError, match="reads 100 inputs, not 784"):
        make_app(mf.init(mf.key(0), [100, 10]))


def test_model_card_without_a_run_has_empty_figures():
    card = api.model_card(mf.init(mf.key(0), [784, 10]), {}, None)
    assert card["train_accuracy"] is None and card["dataset"] is None and card["sizes"] == [784, 10]
    assert (
        api.model_card(mf.init(mf.key(0), [784, 10]), {}, {"epochs": float("nan")})["epochs"]
        is None
    )


# --- real MNIST digits ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_mnist(mnist_dir)


@pytest.fixture(scope="module")
def trained(mnist_dir):
    params = small_model(mnist_dir)
    app = make_app(params, CONFIG, METRICS)
    with running(app) as base:
        yield app, base


def confident(app, mnist, k: int) -> list[int]:
    """Indices of test digits the model gets right with probability > 0.95."""
    probs = mf.predict_proba(app.params, mnist.test.images[:200])
    right = (probs.argmax(axis=1) == mnist.test.labels[:200]) & (probs.max(axis=1) > 0.95)
    return [int(i) for i in np.flatnonzero(right)[:k]]


def test_real_digits_as_floats_and_as_pngs_get_their_true_labels(trained, mnist):
    pytest.importorskip("PIL")
    app, url = trained
    rng = np.random.default_rng(1)
    for i in confident(app, mnist, 6):
        digit, label = mnist.test.images[i], str(mnist.test.labels[i])
        status, answer = post(url, {"pixels": (digit.reshape(-1) / 255).tolist()})
        assert status == 200 and answer["label"] == label
        assert answer["image"] == digit.reshape(-1).tolist()  # floats are used as they are
        page = on_paper(digit, rng)  # dark ink, scaled up on noisy paper
        status, answer = post(url, {"image": png_url(page)})
        assert status == 200 and answer["label"] == label
        assert answer["image"] == to_mnist(page).reshape(-1).tolist()  # predict's preprocessing
        status, answer = post(url, {"image": png_url(digit)})  # MNIST's own form, as a PNG
        assert status == 200 and answer["label"] == label


def test_load_test_mixed_good_and_bad(trained, mnist):
    pytest.importorskip("PIL")
    app, url = trained
    cases = standard_cases(app, mnist.test.images[:12])
    assert {c.status for c in cases} == {200, 400, 404, 405, 413}
    report = load_test(url, cases, threads=8, requests=50)
    print(
        f"\nload test: {report.requests} requests, {report.requests_per_second:.0f} req/s, "
        f"p50 {report.p50_ms:.1f} ms, p95 {report.p95_ms:.1f} ms"
    )
    assert report.requests == 400
    assert report.failures == []
    assert report.answers_after


def test_load_test_reports_wrong_answers(trained):
    _, url = trained
    cases = [Case("GET", "/api/model", None, 404), Case("GET", "/nope", None, 404)]
    report = load_test(url, cases, threads=2, requests=3)
    assert len(report.failures) == 3 and "status 200, expected 404" in report.failures[0]
    with pytest.raises(ValueError, match="threads >= 1"):
        load_test(url, cases, threads=0)


# --- the subcommand ------------------------------------------------------------------


def make_run(folder: Path, params: mf.Params) -> Path:
    from mlp_functional.runs.checkpoint import encode_params
    from mlp_functional.runs.commit import commit
    from mlp_functional.runs.folder import json_bytes

    folder.mkdir(parents=True, exist_ok=True)
    config = {**CONFIG, "model": {"sizes": list(params.sizes), "activation": "relu"}}
    files = {
        "config.json": json_bytes(config),
        "metrics.json": json_bytes(METRICS),
        "model.safetensors": encode_params(params),
    }
    commit(folder, files, epoch=1)
    return folder


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_serve_prints_the_url_serves_the_run_and_stops_on_ctrl_c(tmp_path):
    run = make_run(tmp_path / "run", mf.init(mf.key(0), [784, 32, 10]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlp_functional", "serve", str(run), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"Serving {run} at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        status, _, body = request(url, "GET", "/api/model")
        assert status == 200 and json.loads(body)["sizes"] == [784, 32, 10]
        assert json.loads(body)["test_accuracy"] == 0.94
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "stopped" in out
    assert "Traceback" not in err and "warning" not in err


def test_serve_warns_when_listening_beyond_this_machine(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path / "run", mf.init(mf.key(0), [784, 10]))

    class NoServer:  # binds nothing: the test must not open a port to the network
        url = "http://0.0.0.0:8000/"

        def __init__(self, app, host, port, allow_hosts):
            self.app = app

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def serve_forever(self):
            raise KeyboardInterrupt

    monkeypatch.setattr("mlp_functional.serve.server.Server", NoServer)
    assert command.run(parse([str(run), "--host", "0.0.0.0"])) == 0
    out, err = capsys.readouterr()
    assert "warning: listening on 0.0.0.0" in err and "--host 127.0.0.1" in err
    assert "http://0.0.0.0:8000/" in out and "stopped" in out


def test_serve_reports_a_busy_port_in_one_line(tmp_path):
    run = make_run(tmp_path / "run", mf.init(mf.key(0), [784, 10]))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mlp_functional", "serve", str(run), "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert re.match(
        f"mlp-functional: error: cannot listen on 127.0.0.1 port {port} .*--port", done.stderr
    )


def test_serve_options_are_checked():
    assert parse(["r", "--port", "0"]).port == 0
    for bad in ("-1", "65536", "http"):
        with pytest.raises(SystemExit):
            parse(["r", "--port", bad])


def test_serve_refuses_a_missing_run_folder(tmp_path):
    from mlp_functional.runs import RunError

    with pytest.raises(RunError, match="no such run folder"):
        command.run(parse([str(tmp_path / "nope")]))
