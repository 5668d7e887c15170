"""The HTTP side: a standard-library threading server handing each request to :func:`handle`.

This module only moves bytes: it reads a bounded body, asks :func:`.api.handle` for the
answer and writes it with protective headers. A client that sends too much, too little,
too slowly or nonsense gets a JSON error and costs one thread for at most ``TIMEOUT``
seconds; nothing a client does stops the server.

>>> import json, urllib.request
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> from mlp_functional.serve.api import make_app
>>> with running(make_app(init(key(0), [784, 16, 10]))) as url:
...     card = json.load(urllib.request.urlopen(url + "api/model"))
>>> card["sizes"]
[784, 16, 10]
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import api

__all__ = ["DRAIN_LIMIT", "HEADERS", "TIMEOUT", "Server", "is_loopback", "running", "url_for"]

_log = logging.getLogger(__name__)

#: Seconds a connection may stay silent (mid-request or idle between requests).
TIMEOUT = 15.0
#: An over-long body up to this size is read and dropped so the client sees the 413.
DRAIN_LIMIT = 16_000_000
#: Sent with every response.
HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
)


class _Handler(BaseHTTPRequestHandler):
    """One connection: parse each request, answer it through ``api.handle``."""

    server: Server
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # even an unparsable request gets a status line
    server_version = "mlp-functional"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    timeout = TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        self._answer(b"")

    def do_HEAD(self) -> None:
        self._answer(b"", head=True)

    def do_POST(self) -> None:
        body = self._read_body()
        if body is not None:
            self._answer(body)

    def _refuse_with_body(self) -> None:
        """Other methods: answer (405 or 404) and close, since the body was not read."""
        self._answer(b"", close=True)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_with_body  # noqa: N815

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering why it cannot be read."""
        if self.headers.get("Transfer-Encoding"):
            self._send(
                api.error(411, "send the body with a Content-Length (no chunks)"), close=True
            )
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            self._send(api.error(411, "a POST needs a Content-Length header"), close=True)
            return None
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self._send(api.error(400, f"bad Content-Length {raw[:40]!r}"), close=True)
            return None
        if length > api.MAX_BODY:
            if length <= DRAIN_LIMIT:  # read what was announced so the client sees the answer
                left = length
                with contextlib.suppress(OSError):
                    while left > 0 and (chunk := self.rfile.read(min(1 << 16, left))):
                        left -= len(chunk)
            message = f"the request body is {length:,} bytes, over the limit of {api.MAX_BODY:,}"
            self._send(api.error(413, message), close=True)
            return None
        body = self.rfile.read(length)
        if len(body) < length:  # the client hung up mid-body
            self.close_connection = True
            return None
        return body

    def _answer(self, body: bytes, *, head: bool = False, close: bool = False) -> None:
        try:
            response = api.handle(self.server.app, self.command, self.path, body)
        except Exception:
            _log.exception("error answering %s %s", self.command, self.path[:200])
            response = api.error(500, "internal error; the server is still running")
        self._send(response, head=head, close=close)

    def _send(self, response: api.Response, *, head: bool = False, close: bool = False) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in (*HEADERS, *response.headers):
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors found by the base class (bad request line, headers too long...)."""
        text = message or HTTPStatus(code).phrase
        self._send(api.error(code, text), head=self.command == "HEAD", close=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the command prints the address, not one line per request."""


class Server(ThreadingHTTPServer):
    """A threading HTTP server holding the :class:`~.api.App` it answers from."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, app: api.App, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.app = app
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer`` does (it can stall)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished is routine; anything else is logged, and serving goes on."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        _log.exception("error on a connection from %s", client_address)

    @property
    def url(self) -> str:
        """The address to open in a browser, e.g. ``http://127.0.0.1:8000/``."""
        return url_for(str(self.server_address[0]), int(self.server_address[1]))


def url_for(host: str, port: int) -> str:
    """``http://host:port/``, with IPv6 addresses in brackets.

    >>> url_for("127.0.0.1", 8000), url_for("::1", 8080)
    ('http://127.0.0.1:8000/', 'http://[::1]:8080/')
    """
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def running(app: api.App, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread for the ``with`` block; yields the base URL.

    Port 0 picks a free port.
    """
    server = Server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, name="mlp-functional-serve")
    thread.daemon = True
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
