"""Faults a client can cause in `serve`: each must end in a JSON 4xx (or 503), never a 500,
a hang, unbounded threads or unbounded memory. Servers here run in-process on loopback."""

from __future__ import annotations

import http.client
import io
import json
import select
import socket
import threading
import time
import urllib.parse

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.imaging import decode_image
from mlp_functional.serve import api
from mlp_functional.serve.api import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, PNG_PREFIX, make_app
from mlp_functional.serve.server import running

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def app() -> api.App:
    return make_app(mf.init(mf.key(0), [784, 32, 10]))


@pytest.fixture(scope="module")
def url(app):
    with running(app, silence=2.0, deadline=4.0) as base:
        yield base


def address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def request(url, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*address(url), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def exchange(url: str, data: bytes, timeout: float = 20.0) -> bytes:
    """Send raw bytes, then read until the server closes the connection."""
    with socket.create_connection(address(url), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before reading everything
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def png_data_url(image: np.ndarray) -> str:
    import base64

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return PNG_PREFIX + base64.b64encode(buf.getvalue()).decode()


def page(side: int) -> np.ndarray:
    """A white page with one dark stroke: compresses to a few kB whatever its size."""
    p = np.full((side, side), 255, np.uint8)
    p[side // 5 : -side // 5, side // 2 - side // 40 : side // 2 + side // 40] = 0
    return p


def test_integers_too_large_for_a_float_get_400(url):
    body = b'{"pixels": [' + b"0, " * 783 + b"1" + b"0" * 400 + b"]}"
    status, answer = request(url, "POST", "/api/predict", body, JSON)
    assert status == 400 and "too large for a float" in json.loads(answer)["error"]


@pytest.mark.parametrize(
    "lengths", [("5", "5"), ("5", "6"), ("5_0",)], ids=["duplicate", "conflicting", "underscore"]
)
def test_several_or_malformed_content_lengths_are_refused(url, lengths):
    head = b"".join(b"Content-Length: " + v.encode() + b"\r\n" for v in lengths)
    data = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head
    answer = exchange(url, data + b"Content-Type: application/json\r\n\r\n{}   ")
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split(b" ")[1] == b"400", answer[:200]
    assert "Content-Length" in json.loads(rest.partition(b"\r\n\r\n")[2])["error"]


@pytest.mark.parametrize("kind", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_post_must_be_json(url, kind):
    headers = {"Content-Type": kind} if kind else {}
    body = json.dumps({"pixels": [0.5] * 784}).encode()
    status, answer = request(url, "POST", "/api/predict", body, headers)
    assert status == 415 and "application/json" in json.loads(answer)["error"]
    status, _ = request(
        url, "POST", "/api/predict", body, {"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example"])
def test_foreign_host_names_are_refused_against_dns_rebinding(url, host):
    for method, path in (("GET", "/api/model"), ("GET", "/")):
        status, answer = request(url, method, path, None, {"Host": host})
        assert status == 403 and "--allow-host" in json.loads(answer)["error"]
    status, _ = request(url, "POST", "/api/predict", b"{}", {**JSON, "Host": host})
    assert status == 403
    for ok in ("localhost", "127.0.0.1", f"127.0.0.1:{address(url)[1]}", "LOCALHOST:1"):
        assert request(url, "GET", "/api/model", None, {"Host": ok})[0] == 200


def test_allowed_host_names_can_be_added(app):
    with running(app, allow_hosts=["digits.lan"]) as base:
        assert request(base, "GET", "/api/model", None, {"Host": "digits.lan:8000"})[0] == 200
        assert request(base, "GET", "/api/model", None, {"Host": "other.lan"})[0] == 403


def test_drawings_over_the_pixel_cap_are_refused_before_decoding(url):
    pytest.importorskip("PIL")
    side = 4 * api.CANVAS_SIDE  # four canvases wide: far more than a drawing needs
    assert side * side > MAX_IMAGE_PIXELS
    status, answer = request(
        url, "POST", "/api/predict", json.dumps({"image": png_data_url(page(side))}), JSON
    )
    assert status == 400 and "more than the limit" in json.loads(answer)["error"]


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_drawings_with_compressed_text_are_refused_before_decoding(url, kind):
    import base64

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if kind == "zTXt":
        info.add_text("note", "x" * 1_000_000, zip=True)  # 1 MB of text in about 1 kB
    else:
        info.add_itxt("note", "x" * 1_000_000, zip=True)
    buf = io.BytesIO()
    Image.fromarray(page(280)).save(buf, format="PNG", pnginfo=info)
    assert len(buf.getvalue()) < 20_000
    body = json.dumps({"image": PNG_PREFIX + base64.b64encode(buf.getvalue()).decode()})
    status, answer = request(url, "POST", "/api/predict", body, JSON)
    assert status == 400 and f"a {kind} chunk" in json.loads(answer)["error"]


def test_large_drawings_are_shrunk_while_decoded():
    pytest.importorskip("PIL")
    import base64

    data = base64.b64decode(png_data_url(page(1000))[len(PNG_PREFIX) :])
    gray = decode_image(data, formats=("PNG",), max_side=MAX_IMAGE_SIDE)
    assert gray.shape == (500, 500) and gray.dtype == np.uint8


def test_a_client_trickling_a_header_is_cut_off_at_the_deadline(app):
    with (
        running(app, silence=2.0, deadline=3.0) as base,
        socket.create_connection(address(base), timeout=10) as s,
    ):
        began = time.monotonic()
        closed = False
        for byte in b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\n":
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            readable, _, _ = select.select([s], [], [], 1.0)  # one byte a second
            if readable and s.recv(1024) == b"":
                closed = True
                break
        assert closed, "the server kept a trickling client past its deadline"
        assert time.monotonic() - began < 10


def test_idle_connections_use_a_bounded_pool_and_the_excess_get_503(app):
    before = threading.active_count()
    with running(app, workers=4, queue_size=8, silence=3.0, deadline=5.0) as base:
        idle = [socket.create_connection(address(base), timeout=10) for _ in range(100)]
        try:
            time.sleep(0.5)
            assert threading.active_count() <= before + 4 + 1  # the workers and the acceptor
            status, body = request(base, "GET", "/api/model")
            assert status in (200, 503)
            if status == 503:
                assert "busy" in json.loads(body)["error"]
        finally:
            for s in idle:
                s.close()
        # once the idle clients are gone, the server answers again
        deadline = time.monotonic() + 30
        while request(base, "GET", "/api/model")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)


# --- a fuzz of whole requests: method, path, headers and body -------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**500)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
_pixel_lists = st.lists(
    st.one_of(
        st.floats(min_value=0, max_value=1),
        st.floats(),
        st.integers(min_value=-(10**500), max_value=10**500),
    ),
    min_size=784,
    max_size=784,
)
_bodies = st.one_of(
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["pixels", "image"]), _json_values, max_size=2).map(
        lambda v: json.dumps(v).encode()
    ),
    _pixel_lists.map(lambda p: json.dumps({"pixels": p}).encode()),
    st.binary(max_size=300),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE"]),
    path=st.sampled_from(["/", "/api/predict", "/api/model", "/app.js"])
    | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30).map(
        lambda s: "/" + s
    ),
    host=st.sampled_from(["self", "localhost", "evil.example", None, "twice"]),
    kind=st.sampled_from(["application/json", "text/plain", None, "application/json; x=1"]),
    length=st.sampled_from(["right", "twice", "conflicting", "missing", "garbage"]),
    extra=st.lists(
        st.tuples(
            st.sampled_from(["X-A", "Accept", "Origin", "Cookie", "Expect", "Connection"]),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
        ),
        max_size=3,
    ),
    body=_bodies,
)
def test_fuzzed_requests_get_json_answers_never_500(
    url, method, path, host, kind, length, extra, body
):
    port = address(url)[1]
    headers = [("Connection", "close")]
    if host == "self":
        headers.append(("Host", f"127.0.0.1:{port}"))
    elif host == "twice":
        headers += [("Host", "localhost"), ("Host", "localhost")]
    elif host is not None:
        headers.append(("Host", host))
    if kind is not None:
        headers.append(("Content-Type", kind))
    n = str(len(body))
    lengths = {
        "right": [n],
        "twice": [n, n],
        "conflicting": [n, str(len(body) + 1)],
        "missing": [],
        "garbage": ["1e3"],
    }[length]
    headers += [("Content-Length", v) for v in lengths]
    headers += [(k, v) for k, v in extra if k != "Expect"]
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    answer = exchange(url, head.encode() + b"\r\n" + body)

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 "), answer[:200]
    status = int(status_line.split(b" ")[1])
    assert status != 500 and b"Traceback" not in answer
    if host == "twice":
        assert status == 400
    elif host == "evil.example":
        assert status == 403
    elif length in ("twice", "conflicting"):
        assert status == 400
    elif method == "POST" and (kind or "").split(";")[0] != "application/json":
        assert status == 415
    else:
        assert status in (200, 400, 404, 405, 411, 413), answer[:300]
    payload = rest.partition(b"\r\n\r\n")[2]
    if status >= 400 and method != "HEAD":
        assert payload.count(b"\n") == 0 and "error" in json.loads(payload)
    if status == 200 and path == "/api/predict":
        assert set(json.loads(payload)) >= {"label", "probabilities"}


def test_a_damaged_config_still_gives_a_model_card():
    params = mf.init(mf.key(0), [784, 10])
    for config in ({"data": [1], "settings": "abc"}, {"data": {"classes": "abc"}}, [1, 2]):
        app = make_app(params, config, {"epochs": "abc"}, static={})
        assert app.card["dataset"] is None and app.classes == tuple("0123456789")
