"""The serve page in a real browser: headless Chromium (Debian's), driven by Playwright.

A real MNIST test digit is drawn on the canvas with mouse strokes traced from its pixels,
and the page must show that digit, the ten bars and the 28x28 preview. Locally the test
skips when Chromium or Playwright is missing; in CI (CI=true) it fails instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _imaging_util import load_mnist, small_model

import mlp_functional as mf
from mlp_functional.serve.api import make_app
from mlp_functional.serve.server import running

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "artifacts"
METRICS = {"train_accuracy": 0.97, "test_accuracy": 0.96, "epochs": 1, "train_seconds": 2.0}


@pytest.fixture(scope="module")
def served(mnist_dir):
    data = load_mnist(mnist_dir)
    params = small_model(mnist_dir, 30_000, hidden=128)
    config = {"data": {"name": "mnist", "classes": [str(i) for i in range(10)]}}
    app = make_app(params, config, METRICS)
    with running(app) as url:
        yield app, url, data


@pytest.fixture
def page(browser, served):
    _, url, _ = served
    context = browser.new_context(viewport={"width": 1180, "height": 860})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#card dd")
    yield page
    context.close()
    assert problems == []  # no script errors, no blocked resources, no failed requests


def trace(page, digit: np.ndarray) -> int:
    """Draw ``digit`` on the pad: one mouse stroke per run of inked pixels in each row."""
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / digit.shape[1]
    strokes = 0
    for r, row in enumerate(digit):
        ink = np.flatnonzero(row > 127)
        if not len(ink):
            continue
        for run in np.split(ink, np.flatnonzero(np.diff(ink) > 1) + 1):
            y = box["y"] + (r + 0.5) * scale
            page.mouse.move(box["x"] + (run[0] + 0.5) * scale, y)
            page.mouse.down()
            page.mouse.move(box["x"] + (run[-1] + 0.5) * scale, y, steps=max(2, len(run) // 2))
            page.mouse.up()
            strokes += 1
    return strokes


def wait_for_answer(page, strokes: int) -> None:
    """Wait until the page shows the answer to the drawing with ``strokes`` strokes."""
    page.wait_for_function(
        """n => document.querySelector('#label').dataset.strokes === String(n)
                && document.querySelector('#status').dataset.state === 'idle'""",
        arg=strokes,
    )


def pick_digits(app, data, k: int) -> list[int]:
    """Test digits the model reads right and surely, one per class where possible."""
    probs = mf.predict_proba(app.params, data.test.images[:300])
    labels = data.test.labels[:300]
    sure = (probs.argmax(axis=1) == labels) & (probs.max(axis=1) > 0.99)
    chosen: dict[int, int] = {}
    for i in np.flatnonzero(sure):
        chosen.setdefault(int(labels[i]), int(i))
    return list(chosen.values())[:k]


def test_drawing_a_real_digit_shows_its_label_bars_and_preview(page, served):
    app, _, data = served
    for n, i in enumerate(pick_digits(app, data, 3)):
        if n:
            page.click("#clear")
            assert page.inner_text("#label") == "?"
        strokes = trace(page, data.test.images[i])
        wait_for_answer(page, strokes)
        assert page.inner_text("#label") == str(data.test.labels[i])

        bars = page.locator("#bars li")
        assert bars.count() == 10
        top = page.locator("#bars li.top")
        assert top.count() == 1 and top.locator(".name").inner_text() == str(data.test.labels[i])
        width = page.evaluate(
            "() => document.querySelector('#bars li.top .fill').getBoundingClientRect().width"
        )
        track = page.evaluate(
            "() => document.querySelector('#bars li.top .track').getBoundingClientRect().width"
        )
        shown = float(top.locator(".pct").inner_text().rstrip("%")) / 100
        assert shown > 0.5 and abs(width / track - shown) < 0.02  # bar length = probability

        preview = np.array(
            page.evaluate(
                """() => Array.from(document.querySelector('#preview').getContext('2d')
                        .getImageData(0, 0, 28, 28).data.filter((_, j) => j % 4 === 0))"""
            ),
            dtype=np.uint8,
        ).reshape(28, 28)
        assert preview.max() == 255 and (preview > 0).mean() < 0.5  # a white digit on black
        rows, cols = np.nonzero(preview > 50)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 == 20  # scaled to MNIST's 20 px box
        assert page.locator("#units figure").count() == 8

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "serve.png"), full_page=True)
    assert (ARTIFACTS / "serve.png").stat().st_size > 10_000


def test_clear_resets_the_page_and_the_model_card_is_shown(page, served):
    strokes = trace(page, np.eye(28, dtype=np.uint8)[::-1] * 255)  # a slash
    wait_for_answer(page, strokes)
    assert page.inner_text("#label") != "?"
    page.click("#clear")
    assert page.inner_text("#label") == "?"
    assert page.get_attribute("#status", "data-state") == "empty"
    card = page.inner_text("#card")
    assert "784 → 128 → 10" in card and "96.00%" in card and "97.00%" in card
