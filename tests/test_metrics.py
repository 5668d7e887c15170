"""Confusion matrix, per-class scores and confident mistakes, against plain loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlp_functional.metrics import confident_mistakes, confusion_matrix, per_class


@st.composite
def labelled(draw, max_classes: int = 6):
    classes = draw(st.integers(1, max_classes))
    n = draw(st.integers(0, 40))
    labels = st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)
    return classes, np.array(draw(labels), np.int64), np.array(draw(labels), np.int64)


@settings(max_examples=60, deadline=None)
@given(labelled())
def test_confusion_matrix_counts_every_pair(case) -> None:
    classes, y, p = case
    cm = confusion_matrix(y, p, classes)
    expected = np.zeros((classes, classes), np.int64)
    for t, q in zip(y, p, strict=True):
        expected[t, q] += 1
    assert np.array_equal(cm, expected) and cm.sum() == len(y)
    assert not cm.flags.writeable


@settings(max_examples=60, deadline=None)
@given(labelled())
def test_per_class_scores_match_their_definitions(case) -> None:
    classes, y, p = case
    r = per_class(confusion_matrix(y, p, classes))
    for c in range(classes):
        tp = np.sum((y == c) & (p == c))
        predicted, actual = np.sum(p == c), np.sum(y == c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert r.precision[c] == pytest.approx(precision)
        assert r.recall[c] == pytest.approx(recall)
        assert r.f1[c] == pytest.approx(f1)
        assert r.support[c] == actual


def test_perfect_predictions_score_one() -> None:
    y = np.array([0, 1, 2, 2])
    r = per_class(confusion_matrix(y, y, 3))
    assert r.precision.tolist() == r.recall.tolist() == r.f1.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.array([0, 3]), np.array([0, 1]), 3), r"labels must lie in \[0, 3\)"),
        ((np.array([0, 1]), np.array([0]), 3), "one label per example"),
        ((np.array([0.5]), np.array([0]), 3), "integer class labels"),
        ((np.array([0]), np.array([0]), 0), "classes must be a positive integer"),
    ],
)
def test_confusion_matrix_rejects_bad_labels(args, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_matrix(*args)


def test_per_class_rejects_a_non_square_matrix() -> None:
    with pytest.raises(ValueError, match="square integer"):
        per_class(np.zeros((2, 3), np.int64))


def test_confident_mistakes_are_wrong_and_sorted() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=200)
    labels = rng.integers(0, 4, 200)
    idx = confident_mistakes(probs, labels, k=15)
    predicted = probs.argmax(axis=1)
    assert len(idx) == 15 and np.all(predicted[idx] != labels[idx])
    confidence = probs[idx, predicted[idx]]
    assert np.all(np.diff(confidence) <= 0)
    wrong = predicted != labels
    assert confidence[-1] >= np.sort(probs[wrong].max(axis=1))[-15]


def test_no_mistakes_gives_nothing() -> None:
    probs = np.eye(3)
    assert confident_mistakes(probs, np.arange(3)).tolist() == []
