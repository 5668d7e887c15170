"""``MLPClassifier``: the engine's multilayer perceptron as a scikit-learn classifier.

Training is :func:`mlp_functional.fit` epoch after epoch, prediction is
:func:`mlp_functional.predict_proba` (both on the fast engine when it has kernels for
the model and optimizer, as ``engine="auto"`` chooses); this module only translates between
scikit-learn's conventions (any labels, DataFrames, ``random_state``, ``warm_start``,
``partial_fit``) and the engine's (integer labels, explicit keys, pure states).

Features are used as given, as in scikit-learn: put a scaler in front
(``make_pipeline(StandardScaler(), MLPClassifier())``). The engine's warning about
floats far outside [0, 1] is meant for raw pixels and is silenced here.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(120, 3))
>>> y = np.where(x[:, 0] > 0, "yes", "no")
>>> model = MLPClassifier((8,), learning_rate_init=0.01, max_iter=500, random_state=0).fit(x, y)
>>> model.classes_.tolist(), model.n_iter_, model.score(x, y)
(['no', 'yes'], 300, 1.0)
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..engine.api import forward, get_activation, init, key, log_softmax, split, tree_map
from ..engine.checks import NotNormalisedWarning
from ..engine.epochs import DivergenceError, EpochLog, Regimen
from ..engine.stopping import Criterion, Standing, negated_validation_accuracy, training_loss, watch
from ..engine.table import fit, predict_proba
from ..readonly import freeze
from ..runs.recipes import Training, build, steps_per_epoch
from ..textbook.optimizers import Optimizer
from ..textbook.params import Params
from ..textbook.random import Key, generator
from ..textbook.train import TrainState, init_state
from .callbacks import CallbackSupport, EpochHooks, fit_context, with_callbacks
from .settings import Hyperparameters, check_settings

__all__ = ["MLPClassifier"]

Array = np.ndarray

#: The float types training keeps; anything else becomes float64, as in scikit-learn.
FLOAT_DTYPES = (np.float64, np.float32)

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _engine_quiet() -> Iterator[None]:
    """The engine warns about floats beyond [0, 1] (raw pixels); scaled features are normal here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotNormalisedWarning)
        yield


def _key_from(random_state: Any) -> Key:
    """``random_state`` as an explicit key: an int seeds it, ``None`` draws fresh entropy."""
    if random_state is None:
        return key(int(np.random.SeedSequence().entropy))  # type: ignore[arg-type]
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        draw = random_state.integers if hasattr(random_state, "integers") else random_state.randint
        return key(int(draw(2**31)))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ValueError(
            "random_state must be a non-negative integer or None, "
            f"got random_state={random_state!r}"
        )
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got random_state={random_state!r}")
    return key(int(random_state))


def _relinked(tree: Any) -> Any:
    """``tree`` with every Params in one fresh read-only buffer and its built-in activation.

    Unpickling rebuilds every array as a separate writeable copy and each activation as
    a new tuple; this restores what the rest of the package relies on, in the model and
    in the optimizer's state (nested tuples of states holding Params).
    """
    if isinstance(tree, Params):
        activation = get_activation(tree.activation.name)
        return tree_map(np.asarray, tree._replace(activation=activation))
    if isinstance(tree, tuple):
        parts = [_relinked(part) for part in tree]
        return type(tree)(*parts) if hasattr(tree, "_fields") else tuple(parts)
    return tree


def _structure(tree: Any) -> Any:
    """The shape of an optimizer state: its tuple types, and each Params' sizes and dtype."""
    if isinstance(tree, Params):
        return (tree.sizes, str(tree.dtype))
    if isinstance(tree, tuple):
        return (type(tree).__name__, tuple(_structure(part) for part in tree))
    return type(tree).__name__


#: Parameters added after the first release, with the value that turns each off: a model
#: pickled before one existed is read with it off, as it was trained.
_ADDED_LATER: Mapping[str, Any] = MappingProxyType({"max_norm": None, "input_dropout": 0.0})


class MLPClassifier(CallbackSupport, ClassifierMixin, BaseEstimator):
    """A multilayer perceptron classifier trained by mlp_functional's engine.

    Parameters keep scikit-learn's names where ``sklearn.neural_network.MLPClassifier``
    has one.

    Args:
      hidden_layer_sizes: widths of the hidden layers, e.g. ``(256, 128)``; ``()`` for none.
      activation: ``relu``, ``leaky_relu``, ``tanh``, ``sigmoid`` (or ``logistic``).
      solver: ``sgd``, ``momentum``, ``adam`` or ``adamw``.
      learning_rate: the schedule over the fit's ``max_iter`` epochs: ``constant``,
        ``cosine``, ``warmup_cosine`` or ``one_cycle``. ``warmup_cosine`` warms up for 5%
        of the ``max_iter`` epochs, turned into steps by the runs' one warm-up rule
        (rounded to the nearest whole step, at least one, fewer than all); before, it was
        5% of the steps rounded down, which can differ by one step.
      learning_rate_init: the (peak) learning rate, 0.003 by default (scikit-learn's is
        0.001): on small tables, where ``batch_size="auto"`` makes one step per epoch,
        0.001 leaves iris 2 points short of scikit-learn's accuracy and 0.003 does not
        (BENCHMARKS.md, "Small tables").
      batch_size: examples per step; ``"auto"`` is ``min(200, n_samples)``.
      max_iter: epochs (passes over the data) at most.
      alpha: L2 penalty: every step adds ``alpha * p`` to the gradient of every
        parameter, biases included (not divided by the batch size, unlike scikit-learn's).
      momentum, nesterovs_momentum: the ``momentum`` solver's ``beta`` and Nesterov form.
      beta_1, beta_2, epsilon: Adam's and AdamW's constants.
      weight_decay: AdamW's decoupled decay (``adamw`` only).
      dropout: inverted-dropout rate on every hidden layer while training.
      input_dropout: inverted-dropout rate on the input features while training
        (Srivastava et al., 2014, used 0.2 on MNIST's pixels with 0.5 on hidden units).
      label_smoothing: train towards ``(1 - s) onehot(y) + s / n_classes``.
      max_norm: ``None`` (off) or a radius ``c > 0``: after every step, each unit's
        incoming weights (a column of a layer's ``w``, the output layer's too) longer
        than ``c`` are scaled back to norm ``c`` (Srivastava et al., 2014).
      class_weight: ``None``, ``"balanced"`` (``n_samples / (n_classes * count(class))``
        over the ``y`` given to ``fit``, as ``sklearn.utils.class_weight.compute_class_weight``
        computes it) or a dict ``{label: weight}`` (labels left out weigh 1). Each example's
        loss is multiplied by its class's weight (times its ``sample_weight``); every
        batch's loss is ``sum w_i loss_i / sum w_i``. ``"balanced"`` needs the whole
        training set, so ``partial_fit`` refuses it (pass a dict).
      early_stopping: hold out ``validation_fraction`` of the data (stratified), stop when
        its accuracy has not improved by ``tol`` for more than ``n_iter_no_change`` epochs,
        and keep the best epoch's model. Without it, training stops when the training
        loss has not improved by ``tol`` for more than ``n_iter_no_change`` epochs.
      random_state: seed of the explicit key behind initialisation, shuffling, dropout
        and the validation split; ``None`` draws a fresh seed at every fit, and a NumPy
        ``RandomState`` or ``Generator`` gives one seed drawn from it at every fit.
      warm_start: ``fit`` continues from the fitted model, its optimizer state (with its
        step count) and its random key: with the ``constant`` schedule, ``fit`` with
        ``max_iter=a`` then ``max_iter=b`` gives exactly the parameters of one fit of
        ``a + b`` epochs (when neither stops early). A decaying schedule is built anew
        by each ``fit`` over its own ``max_iter`` epochs but read at the continued step
        count, so the second fit starts part-way down (or past the end of) its own
        schedule: fit once with the whole ``max_iter`` to follow one schedule.
      verbose: log a line per epoch to the ``mlp_functional.estimator.classifier`` logger
        (``logging.basicConfig(level=logging.INFO)`` shows them).

    Attributes:
      classes_: the labels, sorted. ``n_features_in_``, ``feature_names_in_``: as seen by fit.
      params_: the trained :class:`~mlp_functional.Params` (read-only arrays).
      loss_curve_: mean training loss of each epoch (measured during the epoch).
      validation_scores_, best_validation_score_: validation accuracy per epoch and its
        best, with ``early_stopping`` (else ``None``). ``best_loss_``: lowest training
        loss without ``early_stopping`` (else ``None``).
      n_iter_: epochs run.
      history_: one dict per epoch run (over ``fit``, warm starts and ``partial_fit``):
        ``epoch``, ``loss`` (the training loss, as in ``loss_curve_``) and, with
        ``early_stopping``, ``val_loss`` and ``val_accuracy`` on the held-out examples
        (unweighted mean cross-entropy and accuracy, measured after the epoch).

    Callbacks: where scikit-learn has them (1.9 and later), ``set_callbacks`` takes
    scikit-learn's callbacks (``ProgressBar``, ``ScoringMonitor``...); each epoch of
    ``fit`` is a task whose end may stop training (see :mod:`.callbacks`).
    """

    # Set by fit (annotations only: an unfitted estimator has none of them).
    classes_: Array
    params_: Params
    n_iter_: int
    loss_curve_: list[float]
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    best_loss_: float | None
    history_: list[dict[str, float]]
    _no_improvement_count: int
    _opt_state: Any
    _key: Key | None

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        learning_rate: str = "constant",
        learning_rate_init: float = 3e-3,
        batch_size: int | str = "auto",
        max_iter: int = 200,
        alpha: float = 0.0,
        momentum: float = 0.9,
        nesterovs_momentum: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.01,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        label_smoothing: float = 0.0,
        max_norm: float | None = None,
        class_weight: Any = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.alpha = alpha
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.label_smoothing = label_smoothing
        self.max_norm = max_norm
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ---- training ----------------------------------------------------------------------

    @with_callbacks
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs; returns ``self``.

        With ``warm_start`` and a fitted model, training continues from it (same
        architecture and classes required). ``sample_weight``: one weight >= 0 per
        example, multiplying its loss (and its ``class_weight``).
        """
        warm = bool(self.warm_start) and hasattr(self, "params_")
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES)
        check_classification_targets(y)
        classes = unique_labels(y)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start needs the classes of the previous fit, {self.classes_.tolist()}; "
                f"y has {classes.tolist()}: set warm_start=False to start afresh"
            )
        self.classes_ = classes
        settings = check_settings(self.get_params(), len(X))
        labels = np.searchsorted(self.classes_, y)
        weights = self._example_weights(X, labels, sample_weight, incremental=False)
        rows, validation = None, None
        seed_key = _key_from(self.random_state)
        if settings.early_stopping:
            rows, validation = self._split(X, labels, settings, split(seed_key, 3)[2])
        n_train = len(X) if rows is None else len(rows)
        batch_size = min(settings.training.batch_size, n_train)
        settings = settings._replace(training=settings.training._replace(batch_size=batch_size))
        training = self._build(settings, n_train)
        state = self._start(X, settings, training.optimizer, seed_key, warm)
        if not warm:
            self._reset_history(settings)
        elif settings.early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -math.inf
        self._no_improvement_count = 0  # each fit has its own patience
        regimen = training.regimen._replace(rows=rows, sample_weight=weights)
        hooks = EpochHooks.of(fit_context(self, settings.training.epochs), self, X, y, weights)
        self._train(state, X, labels, settings, regimen, validation, incremental=False, hooks=hooks)
        if hooks is not None:
            hooks.finish()
        return self

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> MLPClassifier:
        """One epoch over ``(X, y)``, continuing from the model so far; returns ``self``.

        Args:
          X, y: a chunk of the training data.
          classes: every label the model will ever see; required on the first call.
          sample_weight: one weight >= 0 per example of the chunk (see :meth:`fit`).
        """
        first = not hasattr(self, "params_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if classes is not None:
            given = unique_labels(classes)
            if not first and not np.array_equal(given, self.classes_):
                raise ValueError(
                    f"classes={given.tolist()} differs from classes_ {self.classes_.tolist()} "
                    "of the earlier calls; pass the same labels, or fit afresh"
                )
            self.classes_ = given
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES, reset=first)
        check_classification_targets(y)
        unknown = np.setdiff1d(unique_labels(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}; pass every label in classes= on the first call"
            )
        settings = check_settings(self.get_params(), len(X))
        settings = settings._replace(early_stopping=False)
        training = self._build(settings, len(X))
        state = self._start(
            X, settings, training.optimizer, _key_from(self.random_state), not first
        )
        if first:
            self._reset_history(settings)
        labels = np.searchsorted(self.classes_, y)
        weights = self._example_weights(X, labels, sample_weight, incremental=True)
        regimen = training.regimen._replace(sample_weight=weights)
        self._train(state, X, labels, settings, regimen, None, incremental=True)
        return self

    def _example_weights(
        self, x: Array, labels: Array, sample_weight: Any, *, incremental: bool
    ) -> Array | None:
        """Each example's loss weight: its ``sample_weight`` times its class's weight;
        ``None`` when neither is given (every weight 1)."""
        class_weight = self.class_weight
        if sample_weight is None and class_weight is None:
            return None
        weights = np.ones(len(x))
        if sample_weight is not None:
            weights = _check_sample_weight(
                sample_weight, x, dtype=np.float64, ensure_non_negative=True
            )
        if class_weight is None:
            return weights
        if incremental and isinstance(class_weight, str) and class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' needs the whole training set, which partial_fit "
                "never sees; pass class_weight as a dict {label: weight}, or use fit"
            )
        if not (isinstance(class_weight, dict) or class_weight == "balanced"):
            raise ValueError(
                "class_weight must be None, 'balanced' or a dict {label: weight}, "
                f"got class_weight={class_weight!r}"
            )
        per_class = compute_class_weight(
            class_weight, classes=self.classes_, y=self.classes_[labels]
        )
        return weights * per_class[labels]

    def _split(
        self, x: Array, labels: Array, settings: Hyperparameters, split_key: Key
    ) -> tuple[Array, tuple[Array, Array, Array]]:
        """Training rows and the held-out ``(x, labels, rows)``, stratified by class (the
        held-out rows are scored where they lie, not copied)."""
        seed = int(generator(split_key).integers(2**31))
        try:
            train_rows, val_rows = train_test_split(
                np.arange(len(x)),
                test_size=settings.validation_fraction,
                random_state=seed,
                stratify=labels,
            )
        except ValueError as e:
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction="
                f"{settings.validation_fraction} of {len(x)} examples by class ({e}); "
                "pass more data, a larger validation_fraction or early_stopping=False"
            ) from None
        return np.sort(train_rows), (x, labels, val_rows)

    @staticmethod
    def _build(settings: Hyperparameters, n_train: int) -> Training:
        """The optimizer and regimen of the settings, as every run builds them."""
        s = settings.training
        return build(s, steps_per_epoch(n_train, s.batch_size))

    def _start(
        self, x: Array, settings: Hyperparameters, optimizer: Optimizer, seed_key: Key, warm: bool
    ) -> TrainState:
        """The training state to continue from (``warm``) or a fresh one from the seed."""
        s = settings.training
        sizes = (x.shape[1], *s.hidden, len(self.classes_))
        if not warm:
            init_key, state_key, _ = split(seed_key, 3)
            params = init(init_key, sizes, activation=s.activation, dtype=x.dtype)
            return init_state(state_key, params, optimizer)
        params = self.params_
        if params.sizes != sizes or params.activation.name != s.activation:
            fitted = "-".join(map(str, params.sizes))
            wanted = "-".join(map(str, sizes))
            raise ValueError(
                f"the fitted model is {fitted} {params.activation.name}, these settings and "
                f"data ask for {wanted} {s.activation}: set warm_start=False to start "
                "afresh"
            )
        state_key = self._key if self._key is not None else split(seed_key, 3)[1]
        state = init_state(state_key, params, optimizer)
        if _structure(self._opt_state) == _structure(state.opt_state):  # same solver: go on
            state = state._replace(opt_state=self._opt_state)
        return state

    def _reset_history(self, settings: Hyperparameters) -> None:
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.history_ = []
        self._no_improvement_count = 0
        if settings.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -math.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = math.inf

    def _train(
        self,
        state: TrainState,
        x: Array,
        labels: Array,
        settings: Hyperparameters,
        regimen: Regimen,
        validation: tuple[Array, Array, Array] | None,
        *,
        incremental: bool,
        hooks: EpochHooks | None = None,
    ) -> None:
        """Run the epochs, keep the history, stop as scikit-learn's MLPClassifier does
        (or when a callback asks to)."""
        best_params = None
        standing = before = self._standing(settings)
        if not hasattr(self, "history_"):  # a model pickled before history_ existed
            self.history_ = []
        with _engine_quiet():
            try:
                epochs = fit(
                    state,
                    x,
                    labels,
                    epochs=1 if incremental else settings.training.epochs,
                    validation=validation,
                    **regimen._asdict(),
                )
                criterion = self._criterion(settings, incremental)
                last_epoch = before.epoch + (1 if incremental else settings.training.epochs)
                if hooks is not None:
                    hooks.begin()
                for state, log, standing in watch(epochs, criterion, before):
                    self.n_iter_ = standing.epoch
                    self.loss_curve_.append(log.loss)
                    self.history_.append(self._history_entry(log, standing, settings))
                    if self.verbose:
                        self._log(log)
                    self._record(log, standing, settings)
                    if settings.early_stopping and standing.best_epoch == standing.epoch:
                        best_params = state.params
                    if hooks is not None:
                        if hooks.end(state.params, standing.epoch):
                            standing = standing._replace(stop=True)
                            break
                        if not standing.stop and standing.epoch < last_epoch:
                            hooks.begin()
            except DivergenceError as e:
                raise ValueError(
                    f"training diverged in epoch {self.n_iter_ + 1} (loss is {e.loss}); "
                    "scale the features (e.g. StandardScaler) or lower learning_rate_init"
                ) from None
        self.params_ = best_params if best_params is not None else state.params
        self._opt_state, self._key = state.opt_state, state.key
        if not (incremental or standing.stop):
            warnings.warn(
                f"stopped after max_iter={settings.training.epochs} epochs before the "
                f"{'validation accuracy' if settings.early_stopping else 'training loss'} "
                "stopped improving; raise max_iter to train longer",
                ConvergenceWarning,
                stacklevel=3,
            )

    @staticmethod
    def _history_entry(
        log: EpochLog, standing: Standing, settings: Hyperparameters
    ) -> dict[str, float]:
        entry = {"epoch": standing.epoch, "loss": log.loss}
        if settings.early_stopping:
            entry.update(val_loss=log.val_loss, val_accuracy=log.val_accuracy)
        return entry

    @staticmethod
    def _criterion(settings: Hyperparameters, incremental: bool) -> Criterion:
        """scikit-learn's rule: stop when the validation accuracy (``early_stopping``) or
        the training loss has not improved by ``tol`` for more than ``n_iter_no_change``
        epochs (never within ``partial_fit``)."""
        measure = negated_validation_accuracy if settings.early_stopping else training_loss
        patience = None if incremental else settings.n_iter_no_change + 1
        return Criterion(measure, patience, settings.tol, tol_included=True)

    def _standing(self, settings: Hyperparameters) -> Standing:
        """Where the stopping rule stands before this fit's epochs (the history so far)."""
        if settings.early_stopping:
            assert self.best_validation_score_ is not None
            best = -self.best_validation_score_  # the criterion watches the negated accuracy
        else:
            best = math.inf if self.best_loss_ is None else self.best_loss_
        return Standing(self.n_iter_, best, None, self._no_improvement_count)

    def _record(self, log: EpochLog, standing: Standing, settings: Hyperparameters) -> None:
        """Keep the stopping bookkeeping in scikit-learn's attributes."""
        assert standing.best is not None
        if settings.early_stopping:
            assert self.validation_scores_ is not None
            self.validation_scores_.append(log.val_accuracy)
            self.best_validation_score_ = -standing.best
        else:
            self.best_loss_ = standing.best
        self._no_improvement_count = standing.bad_epochs

    def _log(self, log: EpochLog) -> None:
        validation = (
            "" if math.isnan(log.val_accuracy) else f", validation accuracy {log.val_accuracy:.4f}"
        )
        logger.info(
            "epoch %d: loss %.6f%s (%.3f s)", self.n_iter_, log.loss, validation, log.seconds
        )

    # ---- prediction --------------------------------------------------------------------

    def _features(self, X: Any) -> Array:
        check_is_fitted(self)
        checked: Array = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return checked

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities, shape ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        x = self._features(X)
        with _engine_quiet():
            return predict_proba(self.params_, x)

    def predict_log_proba(self, X: Any) -> Array:
        """Log-probabilities, computed from the logits (finite where probabilities underflow)."""
        x = self._features(X)
        with _engine_quiet():
            return log_softmax(forward(self.params_, x))

    def predict(self, X: Any) -> Array:
        """The most probable label of each example, taken from ``classes_``."""
        chosen = self.predict_proba(X).argmax(axis=1)
        return freeze(self.classes_.take(chosen))

    # ---- persistence -------------------------------------------------------------------

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in ("params_", "_opt_state"):
            if name in state:
                state[name] = _relinked(state[name])
        for name, off in _ADDED_LATER.items():  # pickled before it was a parameter: off
            state.setdefault(name, off)
        super().__setstate__(state)

    def save(self, path: Any) -> None:
        """Write the fitted model to a safetensors file (see :mod:`.files`)."""
        from .files import save_classifier

        check_is_fitted(self)
        save_classifier(path, self)

    @classmethod
    def load(cls, path: Any) -> MLPClassifier:
        """A fitted classifier read from a file written by :meth:`save`."""
        from .files import load_classifier

        return load_classifier(path, cls)
