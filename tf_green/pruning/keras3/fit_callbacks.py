"""Callbacks to train a Keras 3 model from :func:`tf_green.pruning.keras3.wrap`.

``fit`` users pass :func:`callbacks` to ``fit``. A ``GradientTape`` loop (TensorFlow
backend) makes the same calls ``fit`` makes::

    cbs = tg.pruning.callbacks()
    for cb in cbs:
        cb.set_model(wrapped)
        cb.on_train_begin()
    for step, (xb, yb) in enumerate(dataset):
        for cb in cbs:
            cb.on_train_batch_begin(step)        # updates the masks when due
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, wrapped(xb, training=True))
        grads = tape.gradient(loss, wrapped.trainable_variables)
        optimizer.apply_gradients(zip(grads, wrapped.trainable_variables))  # masks kept
    for cb in cbs:
        cb.on_train_end()

Any Keras 3 optimizer keeps the pruned weights at zero (it applies each variable's
``constraint`` after its update); ``on_train_batch_begin`` is the one call per step.

Example:
    >>> [type(cb).__name__ for cb in callbacks()]
    ['UpdatePruningStep', 'SparsityLogger']
"""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

import keras

from tf_green._engine.checks import NonFiniteLossError
from tf_green.pruning.keras3.engine import get_state, track_masks, update_masks

__all__ = ["SparsityLogger", "StopOnNonFiniteLoss", "UpdatePruningStep", "callbacks"]


class UpdatePruningStep(keras.callbacks.Callback):
    """Count training steps and update the masks when the schedule says so.

    The pruning step is kept on the model (like TFMOT's ``pruning_step``), so a second
    ``fit`` continues the schedule where the first stopped.

    Example:
        >>> UpdatePruningStep().model is None
        True
    """

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Check the model has masks; on JAX, make sure its optimizer carries them."""
        state = get_state(self.model)
        if state is None:
            raise ValueError(
                f"model {self.model.name!r} has no pruning masks: prepare it with "
                "tf_green.pruning.wrap(model, ...) (or use tf_green.prune(...))."
            )
        if int(getattr(self.model, "steps_per_execution", 1) or 1) != 1:
            raise ValueError(
                f"model {self.model.name!r} is compiled with steps_per_execution="
                f"{self.model.steps_per_execution}; pruning updates its masks between steps, "
                "so compile it with steps_per_execution=1."
            )
        if track_masks(self.model, state) and hasattr(self.model, "make_train_function"):
            self.model.make_train_function(force=True)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Advance the pruning step; update the masks due at it."""
        state = get_state(self.model)
        state.step += 1
        update_masks(self.model, state, state.step)


class SparsityLogger(keras.callbacks.Callback):
    """Add the masks' sparsity and the pruning step to the logs at the end of each epoch.

    Args:
        key: Log key of the sparsity (zeros over all masks, weighted by size).
        step_key: Log key of the pruning step, or None to leave it out.

    Example:
        >>> SparsityLogger().key
        'sparsity'
    """

    def __init__(self, key: str = "sparsity", step_key: str | None = "pruning_step") -> None:
        super().__init__()
        if not isinstance(key, str) or not key:
            raise ValueError(f"`key` must be a non-empty string, got {key!r}.")
        self.key = key
        self.step_key = step_key

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Write the sparsity (and pruning step) into ``logs``."""
        state = get_state(self.model)
        if logs is None or state is None:
            return
        logs[self.key] = state.sparsity()
        if self.step_key:
            logs[self.step_key] = state.step


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise :class:`NonFiniteLossError` at the end of an epoch whose loss is NaN or inf.

    The Keras 3 engine's counterpart of the tf_keras one; checked per epoch (a NaN batch
    loss makes the epoch's mean loss NaN), so ``fit`` keeps dispatching batches
    asynchronously instead of waiting on every loss.

    Example:
        >>> StopOnNonFiniteLoss().on_epoch_end(0, {"loss": 0.5})
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Raise if the epoch's loss is not finite."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"loss became {float(loss)} in epoch {epoch + 1}; check x/y for NaN/inf "
                "values, or lower the learning rate (pass a smaller optimizer=...). No model "
                "is returned."
            )


def callbacks(log_dir: str | os.PathLike | None = None) -> list[keras.callbacks.Callback]:
    """The callbacks ``fit`` needs to train a model from :func:`tf_green.pruning.keras3.wrap`.

    Args:
        log_dir: If given, also write TensorBoard logs there (the sparsity among them).

    Returns:
        ``[UpdatePruningStep(), SparsityLogger()]``, plus ``keras.callbacks.TensorBoard``
        last with ``log_dir``.

    Raises:
        ValueError: If ``log_dir`` is an empty string.
        ImportError: If ``log_dir`` is given but ``tensorboard`` is not installed.

    Example:
        >>> len(callbacks())
        2
    """
    result: list[keras.callbacks.Callback] = [UpdatePruningStep(), SparsityLogger()]
    if log_dir is not None:
        if not str(log_dir):
            raise ValueError("`log_dir` must be a non-empty path, or None.")
        if importlib.util.find_spec("tensorboard") is None:
            raise ImportError(
                "`log_dir` asks for TensorBoard logs, which need the tensorboard package: "
                "`pip install tensorboard`, or pass log_dir=None."
            )
        result.append(keras.callbacks.TensorBoard(log_dir=os.fspath(log_dir)))
    return result
