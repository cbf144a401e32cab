"""The tf_keras side of the shared input checks: the ``StopOnNonFiniteLoss`` callback.

The checks themselves are engine-neutral and live in :mod:`tf_green._engine.checks`
(:func:`check_finite`, :func:`check_labels`, :func:`loss_kind`, :func:`data_errors`,
:class:`NonFiniteLossError`) and :mod:`tf_green._engine.data` (:func:`batch_if_unbatched`,
:func:`has_targets`); they are re-exported here so existing imports keep working. Only the
callback is tf_keras-specific (a callback is a Keras class; Keras 3 has its own, raising
the same :class:`NonFiniteLossError`).

Example:
    >>> import numpy as np
    >>> x = np.zeros((4, 3), np.float32)
    >>> x[2, 1] = np.nan
    >>> check_finite(x, "x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `x` has a non-finite value (nan) at index (2, 1); ...
"""

from __future__ import annotations

import math

import numpy as np

from tf_green._engine.checks import (
    NonFiniteLossError,
    check_finite,
    check_labels,
    data_errors,
    loss_kind,
)
from tf_green._engine.data import batch_if_unbatched, has_targets
from tf_green._keras import keras

__all__ = [
    "NonFiniteLossError",
    "StopOnNonFiniteLoss",
    "batch_if_unbatched",
    "check_finite",
    "check_labels",
    "data_errors",
    "has_targets",
    "loss_kind",
]


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise :class:`NonFiniteLossError` as soon as the training loss is NaN or inf.

    Keras's ``TerminateOnNaN`` stops quietly and ``fit`` returns a model of NaN weights; a
    transform that returns a model must not, so this callback raises, naming the epoch
    and step (both from 1) and the usual causes.

    Example:
        >>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
        >>> model.compile("sgd", "mse")
        >>> x = np.array([[1.0, np.inf]] * 4)
        >>> model.fit(x, np.zeros(4), callbacks=[StopOnNonFiniteLoss()], verbose=0)
        ...     # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tf_green._engine.checks.NonFiniteLossError: loss became nan at epoch 1 step 1; ...
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Reset the epoch counter."""
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Remember the epoch (from 0) for the message."""
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Raise if the running loss is not finite."""
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(np.asarray(loss))
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"loss became {value} at epoch {self._epoch + 1} step {batch + 1}; check x/y "
                "for NaN/inf values, or lower the learning rate (pass a smaller "
                "optimizer=...). No model is returned."
            )
