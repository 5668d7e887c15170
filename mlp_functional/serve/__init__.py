"""``mlp-functional serve``: a local web page to draw digits on, and the JSON API behind it.

- :mod:`.api`: pure request handling (routing, validation, prediction, the model card);
- :mod:`.server`: the standard-library HTTP server around it, with a bounded worker pool;
- the subcommand is :mod:`mlp_functional.cli.serve`, the load test
  :mod:`mlp_functional.bench.loadtest`;
- ``static/``: the page itself (HTML, CSS, JavaScript; no build step, works offline).

Importing this package imports none of them, so the command line starts fast.

>>> from mlp_functional import key
>>> from mlp_functional import init
>>> from mlp_functional.serve.api import handle, make_app
>>> app = make_app(init(key(0), [784, 16, 10]))
>>> handle(app, "GET", "/app.js").status, handle(app, "GET", "/../setup.py").status
(200, 404)
"""

__all__: list[str] = []
