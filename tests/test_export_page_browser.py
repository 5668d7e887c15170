"""The exported page in a real browser (Debian's Chromium through Playwright), opened as a
file: digits drawn with the mouse are read as `serve` reads them, with no network.

For each drawing the page's own reading (the PNG it was handed, the 28x28 image it made,
the probabilities, the hidden units) is compared with serve's answer to the same PNG
(:func:`mlp_functional.serve.api.predict`) and with ``predict_proba`` of that image.
Locally the test skips when Chromium or Playwright is missing; in CI it fails instead.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_serve_browser import trace, wait_for_answer

import mlp_functional as mf
from mlp_functional.cli.main import main
from mlp_functional.data import load
from mlp_functional.runs import load_run
from mlp_functional.serve.api import handle, make_app, predict

ARTIFACTS_NAME = "export.png"
#: The page computes in float64 from the float32 weights; predict_proba in float32.
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def exported(mnist_dir, tmp_path_factory):
    """The session's shared run (1 epoch, 32 hidden units) exported as a page."""
    from _cli_util import trained_run

    pytest.importorskip("PIL")
    run_dir = trained_run(tmp_path_factory.getbasetemp(), mnist_dir)
    out = tmp_path_factory.mktemp("page") / "model.html"
    assert main(["export", str(run_dir), "--format", "html", "--out", str(out)]) == 0
    return out


@pytest.fixture
def page(browser, exported):
    context = browser.new_context(viewport={"width": 1180, "height": 860})
    page = context.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(exported.as_uri())
    page.wait_for_selector("#card dd")
    yield page
    context.close()
    assert problems == []  # no script errors and no Content Security Policy violations
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests), requests


def test_drawn_digits_are_read_as_serve_reads_them(page, run_dir, mnist_dir):
    run = load_run(run_dir)
    app = make_app(run.params, run.config, run.metrics)
    test = load("mnist", data_dir=mnist_dir.parent).test
    probs = mf.predict_proba(run.params, test.images[:200])
    sure = np.flatnonzero((probs.argmax(axis=1) == test.labels[:200]) & (probs.max(axis=1) > 0.9))
    chosen = {int(test.labels[i]): int(i) for i in sure[::-1]}  # one per class
    assert len(chosen) >= 3
    for n, i in enumerate(list(chosen.values())[:3]):
        if n:
            page.click("#clear")
        strokes = trace(page, test.images[i])
        wait_for_answer(page, strokes)
        last = page.evaluate("() => window.mlpOffline.last")
        reply, served = last["reply"], predict(app, {"image": last["png"]})
        image = np.array(reply["image"], np.uint8)
        assert (image == np.array(served["image"], np.uint8)).all()  # the same preprocessing
        expected = mf.predict_proba(run.params, image[None])[0]
        assert np.abs(np.array(reply["probabilities"]) - expected).max() <= TOLERANCE
        assert reply["label"] == served["label"] == page.inner_text("#label")
        page_units, served_units = reply["hidden"]["top"], served["hidden"]["top"]
        assert [u["unit"] for u in page_units] == [u["unit"] for u in served_units]
        assert [u["weights"] for u in page_units] == [u["weights"] for u in served_units]
        activations = np.array(reply["hidden"]["activations"])
        assert np.abs(activations - np.array(served["hidden"]["activations"])).max() <= 1e-4
        preview = np.array(
            page.evaluate(
                """() => Array.from(document.querySelector('#preview').getContext('2d')
                        .getImageData(0, 0, 28, 28).data.filter((_, j) => j % 4 === 0))"""
            ),
            dtype=np.uint8,
        )
        assert (preview == image).all()  # what the page shows is what the network read

    card = page.inner_text("#card")
    assert "784 → 32 → 10" in card and "relu" in card
    assert "mlp-functional export" in page.inner_text("footer")
    from test_serve_browser import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / ARTIFACTS_NAME), full_page=True)


def test_a_blank_drawing_is_refused_as_serve_refuses_it(page, run_dir):
    run = load_run(run_dir)
    app = make_app(run.params, run.config, run.metrics)
    status, body, png = page.evaluate(
        """async () => {
            const c = document.createElement('canvas');
            c.width = c.height = 280;
            const g = c.getContext('2d');
            g.fillStyle = '#fff';
            g.fillRect(0, 0, 280, 280);
            const png = c.toDataURL('image/png');
            const reply = await fetch('api/predict',
                {method: 'POST', body: JSON.stringify({image: png})});
            return [reply.status, await reply.json(), png];
        }"""
    )
    served = handle(app, "POST", "/api/predict", json.dumps({"image": png}).encode())
    assert status == served.status == 400
    assert body == json.loads(served.body)
    assert "the image has no ink" in body["error"]
