"""Metrics :meth:`TFLiteModel.evaluate` knows by name: the bench's table, one home for both.

The functions and their semantics live in :mod:`tf_green.bench.metrics` (accuracy with
argmax/threshold and checked class ids, macro-F1, perplexity, and the regression errors mse, mae,
rmse); this module only exposes them as ``name -> fn(y_true, y_pred)``.

Example:
    >>> import numpy as np
    >>> METRICS["accuracy"](np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]]))
    0.5
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tf_green._engine.metrics import METRICS as _BENCH_METRICS

__all__ = ["METRICS"]

METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    name: metric.fn for name, metric in _BENCH_METRICS.items()
}
