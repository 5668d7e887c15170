"""MLPClassifier: scikit-learn's own acceptance suite, then what it adds to the engine."""

from __future__ import annotations

import logging
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

import mlp_functional as mf
from mlp_functional.estimator import MLPClassifier
from mlp_functional.estimator.settings import check_settings
from mlp_functional.runs.checkpoint import CheckpointError, load_params, save_params
from mlp_functional.runs.recipes import build

#: Checks expected to fail, with the reason; the goal, and the state today, is none.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}
#: ...except where the mathematics rules it out: dropout (of hidden units or of inputs)
#: draws a mask for every row of a batch, so a row written twice gets two masks and a row
#: of weight 2 one; scikit-learn itself runs this check on its MLPClassifier with the
#: deterministic lbfgs solver only.
WITH_DROPOUT: dict[str, str] = {
    "check_sample_weight_equivalence_on_dense_data": (
        "dropout masks are drawn per row: a duplicated row is not a row of weight 2"
    )
}


def expected_failed_checks(estimator: MLPClassifier) -> dict[str, str]:
    dropping = estimator.dropout or estimator.input_dropout
    return {**EXPECTED_FAILED_CHECKS, **(WITH_DROPOUT if dropping else {})}


# Small, quick instances: the checks fit dozens of times on data of a few hundred rows.
CHECKED = [
    MLPClassifier((32,), learning_rate_init=0.01, max_iter=50),
    MLPClassifier(
        (16, 8),
        activation="tanh",
        solver="momentum",
        learning_rate="cosine",
        learning_rate_init=0.05,
        dropout=0.1,
        input_dropout=0.1,
        alpha=1e-4,
        max_iter=50,
    ),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_scikit_learn_checks(estimator, check) -> None:
    check(estimator)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    x, y = make_blobs(300, n_features=5, centers=3, random_state=0)
    return (x - x.mean(axis=0)) / x.std(axis=0), y


def quiet_fit(model: MLPClassifier, x, y) -> MLPClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, y)


def test_labels_of_any_kind_come_back_as_given(blobs) -> None:
    x, y = blobs
    for names in (np.array([-3, 7, 100]), np.array(["cat", "dog", "emu"])):
        labels = names[y]
        model = MLPClassifier((16,), learning_rate_init=0.01, max_iter=30, random_state=0)
        model = quiet_fit(model, x, labels)
        assert model.classes_.tolist() == names.tolist()
        assert model.classes_.dtype == names.dtype
        predicted = model.predict(x)
        assert set(predicted.tolist()) <= set(names.tolist())
        assert np.mean(predicted == labels) > 0.95


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trains_in_the_float_type_it_is_given(blobs, dtype) -> None:
    x, y = blobs
    model = quiet_fit(MLPClassifier((8,), max_iter=5, random_state=0), x.astype(dtype), y)
    assert model.params_.dtype == dtype
    assert model.predict_proba(x.astype(dtype)).dtype == dtype
    integers = quiet_fit(MLPClassifier((8,), max_iter=5, random_state=0), x.astype(np.int64), y)
    assert integers.params_.dtype == np.float64  # integers are numbers, not uint8 pixels


def test_dataframes_keep_their_column_names(blobs) -> None:
    pd = pytest.importorskip("pandas")
    x, y = blobs
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    model = quiet_fit(MLPClassifier((8,), max_iter=10, random_state=0), frame, pd.Series(y))
    assert model.feature_names_in_.tolist() == list(frame.columns)
    assert model.n_features_in_ == 5
    plain = quiet_fit(MLPClassifier((8,), max_iter=10, random_state=0), x, y)
    assert not hasattr(plain, "feature_names_in_")
    np.testing.assert_array_equal(model.predict(frame), plain.predict(x))


def test_probabilities_agree_with_labels_and_log_probabilities(blobs) -> None:
    x, y = blobs
    model = quiet_fit(MLPClassifier((16,), max_iter=20, random_state=0), x, y)
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(model.predict_log_proba(x), np.log(proba), rtol=1e-10)
    np.testing.assert_array_equal(model.predict(x), model.classes_[proba.argmax(axis=1)])
    for array in (proba, model.predict(x), model.params_.layers[0].w):
        assert not array.flags.writeable


def test_same_seed_same_model_other_seed_other_model(blobs) -> None:
    x, y = blobs

    def weights(seed) -> np.ndarray:
        model = MLPClassifier((8,), max_iter=3, dropout=0.2, random_state=seed)
        return mf.ravel(quiet_fit(model, x, y).params_)

    np.testing.assert_array_equal(weights(1), weights(1))
    assert not np.array_equal(weights(1), weights(2))
    drawn = [weights(np.random.RandomState(7)) for _ in range(2)]  # one seed drawn from each
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert not np.array_equal(weights(None), weights(None))


def test_partial_fit_epoch_by_epoch_equals_fit(blobs) -> None:
    x, y = blobs
    settings = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=3)
    whole = quiet_fit(MLPClassifier(max_iter=4, n_iter_no_change=100, **settings), x, y)
    pieces = MLPClassifier(**settings)
    for _ in range(4):
        pieces.partial_fit(x, y, classes=np.unique(y))
    np.testing.assert_array_equal(mf.ravel(pieces.params_), mf.ravel(whole.params_))
    assert pieces.loss_curve_ == whole.loss_curve_
    assert pieces.n_iter_ == 4


def test_warm_start_continues_where_fit_stopped(blobs) -> None:
    x, y = blobs
    settings = dict(hidden_layer_sizes=(8,), n_iter_no_change=100, random_state=5)
    whole = quiet_fit(MLPClassifier(max_iter=5, **settings), x, y)
    warm = quiet_fit(MLPClassifier(max_iter=3, warm_start=True, **settings), x, y)
    quiet_fit(warm.set_params(max_iter=2), x, y)
    np.testing.assert_array_equal(mf.ravel(warm.params_), mf.ravel(whole.params_))
    stopping = quiet_fit(warm.set_params(early_stopping=True, max_iter=3), x, y)
    assert stopping.n_iter_ == 8 and len(stopping.validation_scores_) == 3
    streamed = MLPClassifier((8,), early_stopping=True, max_iter=2, random_state=0)
    quiet_fit(streamed, x, y).partial_fit(x, y)  # early stopping does not apply to partial_fit
    assert len(streamed.validation_scores_) == 2 and streamed.best_loss_ == streamed.loss_curve_[2]
    with pytest.raises(ValueError, match=r"warm_start=False"):
        warm.set_params(hidden_layer_sizes=(4,)).fit(x, y)


def test_partial_fit_needs_the_classes_first(blobs) -> None:
    x, y = blobs
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(x, y)
    model = MLPClassifier((4,), random_state=0).partial_fit(x[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in classes_"):
        model.partial_fit(x, y)


def test_early_stopping_keeps_the_best_epoch(blobs) -> None:
    x, y = blobs
    noisy = np.where(np.random.default_rng(0).random(len(y)) < 0.3, (y + 1) % 3, y)
    settings = dict(
        hidden_layer_sizes=(64,),
        learning_rate_init=0.05,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
    )
    model = quiet_fit(MLPClassifier(max_iter=200, **settings), x, noisy)
    scores = model.validation_scores_
    assert model.n_iter_ == len(scores) < 200
    assert model.best_validation_score_ == max(scores)
    assert model.best_loss_ is None
    best_epoch = scores.index(max(scores)) + 1
    assert best_epoch < model.n_iter_  # it went on past the best epoch, then went back
    again = quiet_fit(MLPClassifier(max_iter=best_epoch, **settings), x, noisy)
    np.testing.assert_array_equal(mf.ravel(model.params_), mf.ravel(again.params_))


def test_stops_when_the_training_loss_stalls(blobs) -> None:
    x, y = blobs
    model = MLPClassifier((8,), learning_rate_init=0.05, max_iter=500, random_state=0).fit(x, y)
    assert model.n_iter_ < 500
    assert model.best_loss_ == min(model.loss_curve_)
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        MLPClassifier((8,), max_iter=2, random_state=0).fit(x, y)


def test_unscaled_features_train_without_the_pixel_warning(blobs) -> None:
    x, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", mf.NotNormalisedWarning)
        quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), x * 1000, y)


def test_divergence_is_a_value_error_with_the_fix(blobs) -> None:
    x, y = blobs
    model = MLPClassifier((8,), solver="sgd", learning_rate_init=1e6, max_iter=5, random_state=0)
    with pytest.raises(ValueError, match=r"diverged in epoch 1 .*StandardScaler"):
        model.fit((x * 1e18).astype(np.float32), y)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (dict(solver="lbfgs"), "solver must be one of sgd, momentum, adam, adamw, got solver="),
        (dict(activation="softsign"), r"activation must be one of .*got activation='softsign'"),
        (dict(hidden_layer_sizes=(0,)), r"hidden_layer_sizes must be a positive integer"),
        (dict(learning_rate="adaptive"), r"learning_rate must be one of constant, cosine"),
        (dict(learning_rate_init=0.0), r"learning_rate_init must be a number in \(0, inf\)"),
        (dict(batch_size=0), r"batch_size must be an integer >= 1, got batch_size=0"),
        (dict(dropout=1.0), r"dropout must be a number in \[0, 1\), got dropout=1.0"),
        (
            dict(input_dropout=-0.1),
            r"input_dropout must be a number in \[0, 1\), got input_dropout=-0.1",
        ),
        (dict(max_norm=0.0), r"max_norm must be a number in \(0, inf\), got max_norm=0.0"),
        (dict(validation_fraction=0.0), r"validation_fraction must be a number in \(0, 1\)"),
        (dict(random_state=-1), r"random_state must be >= 0"),
        (dict(random_state="a"), r"random_state must be a non-negative integer or None"),
    ],
)
def test_bad_hyperparameters_are_named_in_the_error(blobs, setting, message) -> None:
    x, y = blobs
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**setting).fit(x, y)


def test_logistic_is_scikit_learns_name_for_sigmoid(blobs) -> None:
    x, y = blobs
    model = quiet_fit(MLPClassifier((4,), activation="logistic", max_iter=1), x, y)
    assert model.params_.activation is mf.sigmoid


def test_verbose_logs_one_line_per_epoch(blobs, caplog) -> None:
    x, y = blobs
    with caplog.at_level(logging.INFO, logger="mlp_functional.estimator"):
        quiet_fit(MLPClassifier((4,), max_iter=3, early_stopping=True, verbose=True), x, y)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1: loss ") and "validation accuracy" in lines[0]


def test_l2_and_schedules_reach_the_engine_optimizer() -> None:
    params = mf.init(mf.key(0), [3, 2], dtype="float64")
    ones = mf.tree_map(np.ones_like, params)

    def steps(n: int, total_steps: int, **hyper) -> list[np.ndarray]:
        """The first ``n`` updates for a gradient of ones at ``params``, flattened."""
        estimator = MLPClassifier(solver="sgd", batch_size=1, max_iter=total_steps, **hyper)
        settings = check_settings(estimator.get_params(), 1)  # one step per epoch
        optimizer = build(settings.training, steps_per_epoch=1).optimizer
        state, updates = optimizer.init(params), []
        for _ in range(n):
            update, state = optimizer.update(ones, state, params)
            updates.append(mf.ravel(update))
        return updates

    p = mf.ravel(params)
    (l2,) = steps(1, 10, learning_rate_init=0.1, alpha=0.5)
    np.testing.assert_allclose(l2, -0.1 * (1 + 0.5 * p))  # -lr (g + alpha p)
    cosine = steps(11, 10, learning_rate="cosine", learning_rate_init=0.1)
    np.testing.assert_allclose(cosine[0], -0.1)
    np.testing.assert_allclose(cosine[5], -0.05)  # half way down the cosine
    np.testing.assert_allclose(cosine[10], 0.0, atol=1e-18)
    warm = steps(5, 100, learning_rate="warmup_cosine", learning_rate_init=0.1)
    np.testing.assert_allclose([u[0] for u in warm], [-0.02, -0.04, -0.06, -0.08, -0.1])


@pytest.mark.parametrize(
    "hyper",
    [
        dict(),
        dict(alpha=1e-4),
        dict(solver="sgd", activation="tanh"),
        dict(solver="momentum", learning_rate="cosine", nesterovs_momentum=True),
        dict(solver="adamw", learning_rate="one_cycle", activation="logistic"),
    ],
)
def test_every_solver_trains_on_the_fast_engine(hyper) -> None:
    from mlp_functional.engine.table import resolve_engine

    settings = check_settings(MLPClassifier(**hyper).get_params(), 100).training
    params = mf.init(mf.key(0), [4, 8, 3], activation=settings.activation)
    state = mf.init_state(mf.key(1), params, build(settings, steps_per_epoch=1).optimizer)
    assert resolve_engine("auto", state) == "fast"


def test_pickled_models_predict_the_same_and_stay_read_only(blobs, tmp_path: Path) -> None:
    x, y = blobs
    model = quiet_fit(MLPClassifier((8,), max_iter=5, random_state=0), x, np.array(list("abc"))[y])
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    assert not again.params_.layers[0].w.flags.writeable
    again.save(tmp_path / "model.safetensors")  # its activation is the built-in one again
    again.set_params(max_iter=1).partial_fit(x, np.array(list("abc"))[y])
    assert again.n_iter_ == 6


def test_input_dropout_trains_as_the_engine_does_and_old_pickles_have_it_off(blobs) -> None:
    x, y = blobs
    settings = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=32, random_state=0)
    dropped = quiet_fit(MLPClassifier(input_dropout=0.3, **settings), x, y)
    plain = quiet_fit(MLPClassifier(**settings), x, y)
    assert not np.allclose(mf.ravel(dropped.params_), mf.ravel(plain.params_))
    again = quiet_fit(MLPClassifier(input_dropout=0.3, **settings), x, y)
    np.testing.assert_array_equal(mf.ravel(again.params_), mf.ravel(dropped.params_))
    del plain.input_dropout, plain.max_norm  # as a model pickled before they existed
    old = pickle.loads(pickle.dumps(plain))
    assert old.get_params()["input_dropout"] == 0.0
    assert old.get_params()["max_norm"] is None
    old.set_params(max_iter=1).partial_fit(x, y)
    assert old.n_iter_ == 4


def test_safetensors_files_round_trip(blobs, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    x, y = blobs
    frame = pd.DataFrame(x, columns=list("vwxyz"))
    labels = np.array(["cat", "dog", "emu"])[y]
    model = quiet_fit(MLPClassifier((8, 4), max_iter=5, random_state=0), frame, labels)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = MLPClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    assert loaded.get_params() == model.get_params()
    assert loaded.classes_.dtype == model.classes_.dtype
    assert loaded.feature_names_in_.tolist() == list("vwxyz")
    assert loaded.loss_curve_ == model.loss_curve_ and loaded.n_iter_ == 5
    assert load_params(path).sizes == (5, 8, 4, 3)  # still a plain model file
    loaded.set_params(warm_start=True, max_iter=1)
    quiet_fit(loaded, frame, labels)
    assert loaded.n_iter_ == 6


def test_files_that_are_not_classifiers_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    save_params(plain, mf.init(mf.key(0), [4, 3]))
    with pytest.raises(CheckpointError, match=r"without the classifier's description"):
        MLPClassifier.load(plain)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(CheckpointError, match=r"damaged\.safetensors: not a readable"):
        MLPClassifier.load(damaged)


def test_digits_cross_validated_in_a_pipeline() -> None:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    model = make_pipeline(
        StandardScaler(), MLPClassifier(learning_rate_init=0.01, max_iter=20, random_state=0)
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, x, y, cv=folds)
    assert scores.mean() >= 0.97


def test_class_weight_balanced_is_scikit_learns_and_equals_the_same_sample_weight(blobs) -> None:
    from sklearn.utils.class_weight import compute_class_weight

    x, y = blobs
    keep = (y != 2) | (np.arange(len(y)) % 4 == 0)  # class 2 a quarter as frequent
    x, y = x[keep], np.array(["a", "b", "c"])[y[keep]]
    settings = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    balanced = quiet_fit(MLPClassifier(class_weight="balanced", **settings), x, y)
    per_class = compute_class_weight("balanced", classes=np.unique(y), y=y)
    assert per_class[2] > 1 > per_class[0]
    weighted = MLPClassifier(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted.fit(x, y, sample_weight=per_class[np.searchsorted(np.unique(y), y)])
    np.testing.assert_array_equal(mf.ravel(balanced.params_), mf.ravel(weighted.params_))
    as_dict = dict(zip(["a", "b", "c"], per_class.tolist(), strict=True))
    by_dict = quiet_fit(MLPClassifier(class_weight=as_dict, **settings), x, y)
    np.testing.assert_array_equal(mf.ravel(by_dict.params_), mf.ravel(balanced.params_))
    plain = quiet_fit(MLPClassifier(**settings), x, y)
    assert not np.array_equal(mf.ravel(plain.params_), mf.ravel(balanced.params_))


def test_weights_of_one_and_no_weights_train_the_same_model(blobs) -> None:
    x, y = blobs
    settings = dict(hidden_layer_sizes=(8,), batch_size=32, max_iter=3, random_state=0)
    plain = quiet_fit(MLPClassifier(**settings), x, y)
    ones = MLPClassifier(class_weight={0: 1.0}, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ones.fit(x, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(mf.ravel(ones.params_), mf.ravel(plain.params_))
    assert ones.loss_curve_ == plain.loss_curve_


def test_partial_fit_with_weights_equals_fit_epoch_by_epoch(blobs) -> None:
    x, y = blobs
    weights = np.random.default_rng(0).exponential(size=len(y))
    settings = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=3, class_weight={1: 3.0})
    whole = MLPClassifier(max_iter=3, n_iter_no_change=100, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole.fit(x, y, sample_weight=weights)
    pieces = MLPClassifier(**settings)
    for _ in range(3):
        pieces.partial_fit(x, y, classes=np.unique(y), sample_weight=weights)
    np.testing.assert_array_equal(mf.ravel(pieces.params_), mf.ravel(whole.params_))
    with pytest.raises(ValueError, match="class_weight='balanced' needs the whole training set"):
        MLPClassifier(class_weight="balanced").partial_fit(x, y, classes=np.unique(y))
    with pytest.raises(ValueError, match="class_weight must be None, 'balanced' or a dict"):
        MLPClassifier(class_weight="even").fit(x, y)


def test_history_has_the_training_loss_and_the_validation_figures(blobs) -> None:
    x, y = blobs
    model = quiet_fit(MLPClassifier((8,), max_iter=4, early_stopping=True, random_state=0), x, y)
    assert [entry["epoch"] for entry in model.history_] == [1, 2, 3, 4]
    assert [entry["loss"] for entry in model.history_] == model.loss_curve_
    assert [e["val_accuracy"] for e in model.history_] == model.validation_scores_
    state_free = MLPClassifier((8,), max_iter=4, early_stopping=True, random_state=0)
    # the validation loss is the engine's evaluation of the held-out rows after each epoch
    for entry in model.history_:
        assert entry["val_loss"] > 0 and 0 <= entry["val_accuracy"] <= 1
    assert state_free.get_params()["early_stopping"]
    plain = quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), x, y)
    assert plain.history_ == [
        {"epoch": 1, "loss": plain.loss_curve_[0]},
        {"epoch": 2, "loss": plain.loss_curve_[1]},
    ]
    plain.partial_fit(x, y)
    assert plain.history_[-1] == {"epoch": 3, "loss": plain.loss_curve_[2]}


def test_history_validation_loss_is_the_held_out_rows_cross_entropy(blobs) -> None:
    from sklearn.metrics import log_loss

    x, y = blobs
    model = quiet_fit(MLPClassifier((8,), max_iter=1, early_stopping=True, random_state=0), x, y)
    # the held-out rows are the ones the stratified split leaves out: rebuild them
    seed = int(mf.textbook.random.generator(mf.split(mf.key(0), 3)[2]).integers(2**31))
    from sklearn.model_selection import train_test_split

    _, held_out = train_test_split(np.arange(len(x)), test_size=0.1, random_state=seed, stratify=y)
    expected = log_loss(y[held_out], model.predict_proba(x[held_out]), labels=model.classes_)
    assert model.history_[0]["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert model.history_[0]["val_accuracy"] == model.score(x[held_out], y[held_out])


def test_warm_start_resumes_exactly_with_weights(blobs) -> None:
    x, y = blobs
    weights = np.random.default_rng(1).integers(0, 3, len(y))
    settings = dict(hidden_layer_sizes=(8,), batch_size=64, n_iter_no_change=100, random_state=5)
    whole = MLPClassifier(max_iter=5, class_weight="balanced", **settings)
    warm = MLPClassifier(max_iter=2, class_weight="balanced", warm_start=True, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole.fit(x, y, sample_weight=weights)
        warm.fit(x, y, sample_weight=weights)
        warm.set_params(max_iter=3).fit(x, y, sample_weight=weights)
    np.testing.assert_array_equal(mf.ravel(warm.params_), mf.ravel(whole.params_))
    assert warm.loss_curve_ == whole.loss_curve_ and warm.n_iter_ == 5
    assert [e["epoch"] for e in warm.history_] == [1, 2, 3, 4, 5]


def test_warm_start_with_a_decaying_schedule_reads_the_new_schedule_at_the_old_step(blobs):
    x, y = blobs
    settings = dict(hidden_layer_sizes=(8,), learning_rate="cosine", n_iter_no_change=100)
    model = quiet_fit(MLPClassifier(max_iter=3, warm_start=True, random_state=0, **settings), x, y)
    before = mf.ravel(model.params_)
    quiet_fit(model, x, y)  # a second cosine over 3 epochs, read from step 3 on: at its end
    np.testing.assert_array_equal(mf.ravel(model.params_), before)  # learning rate 0
    assert model.n_iter_ == 6


def test_callbacks_where_scikit_learn_has_them(blobs) -> None:
    from mlp_functional.estimator import callbacks

    x, y = blobs
    model = MLPClassifier((8,), max_iter=10, n_iter_no_change=100, random_state=0)
    if not callbacks.HAS_CALLBACKS:
        assert not hasattr(model, "set_callbacks")
        return

    class StopAfterThree:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, object]] = []

        def setup(self, estimator, context) -> None:
            self.calls.append(("setup", context.task_name, None))

        def teardown(self, estimator, context) -> None:
            self.calls.append(("teardown", context.task_name, None))

        def on_fit_task_begin(self, estimator, context, *, X=None, y=None) -> None:
            self.calls.append(("begin", context.task_name, None))

        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None) -> bool:
            score = None if fitted_estimator is None else fitted_estimator.score(x, y)
            self.calls.append(("end", context.task_name, score))
            return context.task_name == "epoch" and fitted_estimator.n_iter_ == 3

    recorder = StopAfterThree()
    model.set_callbacks(recorder).fit(x, y)
    assert model.n_iter_ == 3
    kinds = [(kind, task) for kind, task, _ in recorder.calls]
    epoch = [("begin", "epoch"), ("end", "epoch")]
    assert kinds == [
        ("setup", "fit"),
        ("begin", "fit"),
        *epoch * 3,
        ("end", "fit"),
        ("teardown", "fit"),
    ]
    after_three = [
        score for kind, task, score in recorder.calls if task == "epoch" and kind == "end"
    ]
    assert after_three[-1] == model.score(x, y)  # the callback saw the model as it stood


def test_without_scikit_learns_callbacks_the_estimator_still_works() -> None:
    """scikit-learn before 1.9 has no callback mixin: simulated in a fresh interpreter by
    removing it before the estimator is imported (scikit-learn itself still needs it)."""
    import subprocess
    import sys

    script = (
        "import sklearn.callback, sklearn.model_selection, sklearn.pipeline\n"
        "del sklearn.callback.CallbackSupportMixin\n"
        "import numpy as np\n"
        "from mlp_functional.estimator import MLPClassifier, callbacks\n"
        "x = np.random.default_rng(0).normal(size=(40, 3)); y = (x[:, 0] > 0).astype(int)\n"
        "m = MLPClassifier((4,), max_iter=3, random_state=0).fit(x, y)\n"
        "print(callbacks.HAS_CALLBACKS, hasattr(m, 'set_callbacks'), m.n_iter_)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "3"]
