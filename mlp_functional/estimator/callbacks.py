"""scikit-learn's callbacks (``set_callbacks``, ``ProgressBar``, ``ScoringMonitor``), where
the installed scikit-learn has them.

scikit-learn 1.9 added ``sklearn.callback`` with ``CallbackSupportMixin``; on older
releases :data:`HAS_CALLBACKS` is false, :class:`CallbackSupport` adds nothing (no
``set_callbacks``) and :func:`with_callbacks` leaves ``fit`` as it is.

With callbacks set, ``fit`` is one task with an ``epoch`` subtask per epoch (at most
``max_iter``); each epoch's end hook may ask to stop (training then stops after that
epoch), and sees the model as it stands after the epoch (``fitted_estimator``).

>>> HAS_CALLBACKS in (True, False)
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["HAS_CALLBACKS", "CallbackSupport", "EpochHooks", "fit_context", "with_callbacks"]

try:
    from sklearn.callback import CallbackSupportMixin as CallbackSupport
    from sklearn.callback import with_callbacks

    HAS_CALLBACKS = True
except ImportError:  # scikit-learn before 1.9: no callback API

    class CallbackSupport:  # type: ignore[no-redef]
        """Nothing: this scikit-learn has no callbacks."""

    def with_callbacks(method: Callable[..., Any]) -> Callable[..., Any]:
        return method

    HAS_CALLBACKS = False


def fit_context(model: Any, max_epochs: int) -> Any:
    """The root callback context of a fit of ``model`` (``None`` without the callback
    API): its ``epoch`` subtasks number at most ``max_epochs``."""
    if not HAS_CALLBACKS:
        return None
    return model._init_callback_context(max_subtasks=max_epochs)


class EpochHooks(NamedTuple):
    """The callbacks' hooks around each epoch of a fit: ``begin`` opens the next epoch's
    task, ``end`` closes it and says whether a callback asks to stop."""

    context: Any
    model: Any
    x: Any
    y: Any
    metadata: dict[str, Any]
    task: list[Any]

    @classmethod
    def of(cls, context: Any, model: Any, x: Any, y: Any, weights: Any) -> EpochHooks | None:
        """The hooks of a fit (``None`` without a callback context); the fit's own task
        begins here."""
        if context is None:
            return None
        metadata = {"sample_weight": weights}
        context.call_on_fit_task_begin(estimator=model, X=x, y=y, metadata=metadata)
        return cls(context, model, x, y, metadata, [None])

    def begin(self) -> None:
        task = self.context.subcontext(task_name="epoch")
        self.task[0] = task.call_on_fit_task_begin(
            estimator=self.model, X=self.x, y=self.y, metadata=self.metadata
        )

    def end(self, params: Any, epoch: int) -> bool:
        """Close the epoch's task; the callbacks see the model after ``epoch`` epochs."""

        def fitted() -> dict[str, Any]:
            return {"params_": params, "n_iter_": epoch}

        return bool(
            self.task[0].call_on_fit_task_end(
                estimator=self.model,
                X=self.x,
                y=self.y,
                metadata=self.metadata,
                reconstruction_attributes=fitted,
            )
        )

    def finish(self) -> None:
        """Close the fit's own task (the model is fitted by then)."""
        self.context.call_on_fit_task_end(
            estimator=self.model, X=self.x, y=self.y, metadata=self.metadata
        )
