"""Early stopping, one rule over the fit stream: checked against the two rules it replaces,
the run's patience on the validation loss and scikit-learn's ``MLPClassifier`` rule."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mlp_functional.engine.epochs import EpochLog
from mlp_functional.engine.stopping import (
    Criterion,
    Standing,
    judge,
    negated_validation_accuracy,
    training_loss,
    validation_loss,
    watch,
)

# Few distinct values, so that ties (the edge of every rule) are common.
VALUES = st.lists(st.sampled_from([0.1, 0.2, 0.2, 0.3, 0.5, 0.9, math.nan]), max_size=30)
TOLS = st.sampled_from([0.0, 1e-4, 0.1, 0.25])


def log(loss: float = 0.0, val_loss: float = math.nan, val_accuracy: float = math.nan):
    return EpochLog(0, loss, 0.0, val_loss, val_accuracy, 0.0, 0.0, 1)


def patience_rule(values, patience):
    """The run's patience as it was written before the shared rule: per epoch,
    ``(best, best_epoch, bad_epochs, stopped)``, until it stops."""
    best, best_epoch, bad, stopped, out = None, None, 0, False, []
    for epoch, v in enumerate(values, 1):
        if math.isnan(v):
            pass
        elif best is None or v < best:
            best, best_epoch, bad, stopped = v, epoch, 0, False
        else:
            bad += 1
            stopped = patience is not None and bad >= patience
        out.append((best, best_epoch, bad, stopped))
        if stopped:
            break
    return out


def sklearn_rule(scores, tol, n_iter_no_change, early_stopping):
    """scikit-learn's ``_update_no_improvement_count`` and its stop test, transcribed:
    per epoch ``(best, improved, no_improvement_count)``, until it stops."""
    best = -math.inf if early_stopping else math.inf
    count, out = 0, []
    for s in scores:
        if early_stopping:
            count = count + 1 if s < best + tol else 0
            improved = s > best
            best = s if improved else best
        else:
            count = count + 1 if s > best - tol else 0
            improved = s < best
            best = s if improved else best
        out.append((best, improved, count))
        if count > n_iter_no_change:
            break
    return out


@settings(max_examples=300, deadline=None)
@given(VALUES, st.one_of(st.none(), st.integers(1, 4)))
def test_the_run_patience_is_the_rule_it_was(values, patience):
    stream = ((None, log(val_loss=v)) for v in values)
    got = [
        (s.best, s.best_epoch, s.bad_epochs, s.stop)
        for _, _, s in watch(stream, Criterion(validation_loss, patience))
    ]
    assert got == patience_rule(values, patience)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0.5, 0.6, 0.6, 0.7, 0.75, 1.0]), max_size=30),
    TOLS,
    st.integers(1, 4),
    st.booleans(),
)
def test_the_estimator_stops_as_scikit_learn_does(scores, tol, n_iter_no_change, early_stopping):
    if early_stopping:
        stream = ((None, log(val_accuracy=s)) for s in scores)
        measure, start = negated_validation_accuracy, Standing(best=math.inf)
    else:
        stream = ((None, log(loss=s)) for s in scores)
        measure, start = training_loss, Standing(best=math.inf)
    criterion = Criterion(measure, n_iter_no_change + 1, tol, tol_included=True)
    sign = -1.0 if early_stopping else 1.0
    got = [
        (sign * s.best, s.best_epoch == s.epoch, s.bad_epochs)
        for _, _, s in watch(stream, criterion, start)
    ]
    assert got == sklearn_rule(scores, tol, n_iter_no_change, early_stopping)


def test_a_stop_asks_the_stream_for_no_further_epoch():
    pulled = []

    def stream():
        for v in (0.5, 0.6, 0.7, 0.8):
            pulled.append(v)
            yield "state", log(val_loss=v)

    out = list(watch(stream(), Criterion(validation_loss, patience=1)))
    assert pulled == [0.5, 0.6] and [s.stop for _, _, s in out] == [False, True]


def test_epochs_without_a_measure_count_but_are_not_judged():
    before = Standing(3, 0.4, 2, 1, False)
    after = judge(Criterion(validation_loss, patience=2), before, math.nan)
    assert after == before._replace(epoch=4)
