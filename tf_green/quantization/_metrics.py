"""Metrics :meth:`TFLiteModel.evaluate` knows by name: numpy, Keras-style semantics.

Example:
    >>> import numpy as np
    >>> METRICS["accuracy"](np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]]))
    0.5
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["METRICS"]


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Keras-style accuracy: argmax for several classes, 0.5 threshold for one output unit."""
    y_true = np.asarray(y_true)
    if y_pred.ndim >= 1 and y_pred.shape[-1] > 1:
        labels = y_pred.argmax(-1)
        if y_true.shape == y_pred.shape:  # one-hot targets
            y_true = y_true.argmax(-1)
    else:
        labels = (y_pred > 0.5).astype(np.int64)
    y_true = y_true.reshape(labels.shape)
    return float(np.mean(labels == y_true))


def _mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean((np.asarray(y_true, np.float64).reshape(y_pred.shape) - y_pred) ** 2))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, np.float64).reshape(y_pred.shape) - y_pred)))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "mse": _mse,
    "mae": _mae,
}
