"""``mlp-functional serve``: a local web page to draw digits on, and the JSON API behind it.

- :mod:`.api`: pure request handling (routing, validation, prediction, the model card);
- :mod:`.server`: the standard-library threading HTTP server around it;
- :mod:`.command`: the subcommand; :mod:`.loadtest`: a load test of a running server;
- ``static/``: the page itself (HTML, CSS, JavaScript; no build step, works offline).

>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> app = make_app(init(key(0), [784, 16, 10]))
>>> handle(app, "GET", "/app.js").status, handle(app, "GET", "/../setup.py").status
(200, 404)
"""

from .api import MAX_BODY, App, Response, handle, make_app, model_card
from .server import Server, running

__all__ = ["MAX_BODY", "App", "Response", "Server", "handle", "make_app", "model_card", "running"]
