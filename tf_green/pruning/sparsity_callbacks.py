"""Callbacks to train a wrapped model: TFMOT's step counter, summaries, and a sparsity log.

Example:
    >>> [type(cb).__name__ for cb in callbacks()]
    ['UpdatePruningStep', 'SparsityLogger']
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from tf_green._keras import keras
from tf_green.pruning._tfmot import pruning_callbacks
from tf_green.pruning.selection import iter_layers
from tf_green.pruning.wrapper import is_pruning_wrapper

__all__ = ["SparsityLogger", "callbacks"]


@keras.utils.register_keras_serializable(package="tf_green")
class SparsityLogger(keras.callbacks.Callback):
    """Add the masks' sparsity and the pruning step to the logs at the end of each epoch.

    The sparsity is the fraction of zeros over all the masks of the model's pruning
    wrappers (weighted by size), so it appears in ``History.history``, the progress bar
    and ``CSVLogger``/``TensorBoard`` like a metric. Without wrappers it adds nothing.

    Args:
        key: Log key of the sparsity.
        step_key: Log key of the pruning step (training steps seen by the wrappers), or
            None to leave it out.

    Example:
        >>> logger = SparsityLogger()
        >>> logger.get_config()
        {'key': 'sparsity', 'step_key': 'pruning_step'}
    """

    def __init__(self, key: str = "sparsity", step_key: str | None = "pruning_step") -> None:
        super().__init__()
        if not isinstance(key, str) or not key:
            raise ValueError(f"`key` must be a non-empty string, got {key!r}.")
        self.key = key
        self.step_key = step_key
        self._wrappers: list = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Find the model's pruning wrappers (state is reset for every ``fit``)."""
        self._wrappers = [layer for layer in iter_layers(self.model) if is_pruning_wrapper(layer)]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Write the sparsity (and pruning step) into ``logs``."""
        if logs is None or not self._wrappers:
            return
        masks = [mask for layer in self._wrappers for _, mask, _ in layer.pruning_vars]
        values = keras.backend.batch_get_value(masks)
        size = sum(v.size for v in values)
        zeros = sum(v.size - np.count_nonzero(v) for v in values)
        logs[self.key] = float(zeros / size) if size else 0.0
        if self.step_key:
            logs[self.step_key] = int(keras.backend.get_value(self._wrappers[0].pruning_step))

    def get_config(self) -> dict[str, Any]:
        """Return the callback's arguments."""
        return {"key": self.key, "step_key": self.step_key}


def callbacks(log_dir: str | os.PathLike | None = None) -> list[keras.callbacks.Callback]:
    """The callbacks ``fit`` needs to train a model from :func:`tf_green.pruning.wrap`.

    Args:
        log_dir: If given, also write TensorBoard summaries there (TFMOT's
            ``PruningSummaries``: per-layer mask sparsity and thresholds, plus the metrics).

    Returns:
        ``[UpdatePruningStep(), SparsityLogger()]``, plus ``PruningSummaries(log_dir)`` last
        (so the logged sparsity reaches TensorBoard too).

    Raises:
        ValueError: If ``log_dir`` is an empty string.
        ImportError: If ``log_dir`` is given but the ``tensorboard`` package (which
            implements ``tf.summary.scalar``) is not installed.

    Example:
        >>> from tf_green import models
        >>> from tf_green.pruning import wrap
        >>> wrapped = wrap(models.mlp(hidden=(8,)))
        >>> wrapped.compile("adam", "mse")
        >>> history = wrapped.fit(np.zeros((8, 64)), np.zeros((8, 10)), epochs=1,
        ...                       callbacks=callbacks(), verbose=0)
        >>> "sparsity" in history.history
        True
    """
    result: list[keras.callbacks.Callback] = [
        pruning_callbacks.UpdatePruningStep(),
        SparsityLogger(),
    ]
    if log_dir is not None:
        if not str(log_dir):
            raise ValueError("`log_dir` must be a non-empty path, or None.")
        if importlib.util.find_spec("tensorboard") is None:
            raise ImportError(
                "`log_dir` asks for TensorBoard pruning summaries, which need the tensorboard "
                "package: `pip install tensorboard`, or pass log_dir=None (the sparsity is "
                "still logged to the History and any CSVLogger)."
            )
        result.append(pruning_callbacks.PruningSummaries(log_dir=os.fspath(log_dir)))
    return result
