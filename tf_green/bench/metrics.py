"""The bench's quality metrics: a re-export of the one table in :mod:`tf_green._engine.metrics`.

The table lives in the engine-neutral core so that :class:`TFLiteModel.evaluate
<tf_green.quantization.TFLiteModel>` and the bench share it without importing each other; this
module keeps the public path ``tf_green.bench.metrics`` working.

Example:
    >>> import numpy as np
    >>> resolve_metric("accuracy").fn(np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]]))
    0.5
"""

from tf_green._engine.metrics import (
    METRICS,
    Metric,
    accuracy,
    check_class_ids,
    macro_f1,
    mae,
    mse,
    perplexity,
    resolve_metric,
    rmse,
)

__all__ = [
    "METRICS",
    "Metric",
    "accuracy",
    "check_class_ids",
    "macro_f1",
    "mae",
    "mse",
    "perplexity",
    "resolve_metric",
    "rmse",
]
