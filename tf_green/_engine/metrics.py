"""The one metrics table (engine-neutral, numpy only): quality metrics computed from outputs.

The bench (:mod:`tf_green.bench`, which re-exports this module as ``tf_green.bench.metrics``)
and :meth:`TFLiteModel.evaluate <tf_green.quantization.TFLiteModel>` score with this one table;
it lives in :mod:`tf_green._engine` so that neither imports the other. It imports no Keras.

Outputs may be logits or probabilities: :func:`accuracy` and :func:`macro_f1` take the argmax
(or a threshold for one-output binary models), :func:`perplexity` applies a log-softmax unless the
outputs already are probabilities (non-negative, summing to 1 on the last axis). The regression
metrics :func:`mse`, :func:`mae` and :func:`rmse` are lower-is-better.

The classification metrics refuse targets they cannot score rather than return a wrong number:
continuous targets (a regression problem: use "mse", "mae" or "rmse") and class ids outside the
output's classes both raise a ``ValueError`` naming ``y``.

Example:
    >>> import numpy as np
    >>> metric = resolve_metric("accuracy")
    >>> metric.fn(np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]]))
    0.5
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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


def _in_unit_interval(outputs: np.ndarray) -> bool:
    return outputs.size > 0 and outputs.min() >= 0.0 and outputs.max() <= 1.0


def _is_probabilities(outputs: np.ndarray) -> bool:
    """True if the last axis holds distributions (non-negative, summing to 1)."""
    if not _in_unit_interval(outputs):
        return False
    return bool(np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3))


def check_class_ids(y_true: np.ndarray, classes: int, metric: str = "accuracy") -> None:
    """Check that targets are whole class ids in ``[0, classes)``, else raise.

    Args:
        y_true: Class ids (any shape).
        classes: The number of classes the output scores (2 for one sigmoid/logit unit).
        metric: The metric's name, for the message.

    Raises:
        ValueError: If a target is not a whole number (continuous targets: a regression
            problem) or lies outside ``[0, classes)``; the message names ``y``, the bad value
            and the number of classes.

    Example:
        >>> check_class_ids(np.array([0, 12]), 10)
        Traceback (most recent call last):
        ...
        ValueError: `y` has class id 12 but the output has 10 classes (ids 0..9); give labels \
of this output's classes (or pick the output they belong to).
    """
    y_true = np.asarray(y_true)
    if y_true.size == 0:
        return
    if y_true.dtype.kind == "b":
        y_true = y_true.astype(np.int64)
    if y_true.dtype.kind not in "iuf":
        raise ValueError(f"`y` must hold numeric class ids for {metric!r}, got {y_true.dtype}.")
    if y_true.dtype.kind == "f":
        fractional = y_true[~np.isclose(y_true, np.round(y_true))]
        if fractional.size or not np.all(np.isfinite(y_true)):
            shown = fractional.flat[0] if fractional.size else y_true[~np.isfinite(y_true)][0]
            raise ValueError(
                f"`y` holds continuous values (e.g. {float(shown):.4g}) but {metric!r} needs "
                "class ids; for a regression model use metric='mse', 'mae' or 'rmse'."
            )
    low, high = y_true.min(), y_true.max()
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"`y` has class id {int(bad)} but the output has {classes} classes "
            f"(ids 0..{classes - 1}); give labels of this output's classes (or pick the output "
            "they belong to)."
        )


def _labels(y_true: np.ndarray, y_pred: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Class ids of the targets and of the predictions, flattened (targets checked)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.ndim >= 1 and y_pred.shape[-1] > 1 and y_pred.shape[:-1] == y_true.shape:
        check_class_ids(y_true, y_pred.shape[-1], metric)
        return y_true.reshape(-1).astype(np.int64), y_pred.argmax(axis=-1).reshape(-1)
    if y_pred.ndim >= 2 and y_pred.shape[-1] > 1 and y_pred.shape == y_true.shape:  # one-hot
        return y_true.argmax(axis=-1).reshape(-1), y_pred.argmax(axis=-1).reshape(-1)
    if y_pred.shape == y_true.shape or y_pred.shape == (*y_true.shape, 1):  # binary scores
        check_class_ids(y_true, 2, metric)
        scores = y_pred.reshape(-1)
        threshold = 0.5 if _in_unit_interval(scores) else 0.0
        return y_true.reshape(-1).astype(np.int64), (scores > threshold).astype(np.int64)
    raise ValueError(
        f"targets of shape {y_true.shape} do not match outputs of shape {y_pred.shape}; "
        "give class ids (n, ...) or one-hot targets for outputs (n, ..., classes)."
    )


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of samples (tokens, for sequence outputs) whose predicted class is right.

    Args:
        y_true: Class ids ``(n, ...)`` or one-hot targets.
        y_pred: Logits or probabilities ``(n, ..., classes)``, or one score per sample for
            binary models.

    Returns:
        The accuracy in [0, 1].

    Example:
        >>> accuracy(np.array([0, 1]), np.array([[2.0, 1.0], [0.0, 3.0]]))
        1.0
    """
    true, predicted = _labels(y_true, y_pred, "accuracy")
    return float(np.mean(true == predicted))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 score averaged over the classes present in targets or predictions (macro average).

    Args:
        y_true: Class ids ``(n, ...)`` or one-hot targets.
        y_pred: Logits or probabilities.

    Returns:
        The macro-F1 in [0, 1].

    Example:
        >>> macro_f1(np.array([0, 1, 1]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
        0.6666666666666666
    """
    from sklearn.metrics import f1_score

    true, predicted = _labels(y_true, y_pred, "macro_f1")
    return float(f1_score(true, predicted, average="macro", zero_division=0))


def perplexity(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Perplexity: ``exp`` of the mean negative log-likelihood of the targets (lower is better).

    Args:
        y_true: Token ids ``(n, ...)``.
        y_pred: Logits or probabilities ``(n, ..., vocab)``.

    Returns:
        The perplexity, >= 1.

    Raises:
        ValueError: If the shapes do not match, or a target is not a token id of the output.

    Example:
        >>> round(perplexity(np.array([0, 1]), np.zeros((2, 4))), 6)
        4.0
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.shape[:-1] != y_true.shape:
        raise ValueError(
            f"perplexity needs token ids of shape {y_pred.shape[:-1]} for outputs of shape "
            f"{y_pred.shape}, got targets of shape {y_true.shape}."
        )
    check_class_ids(y_true, y_pred.shape[-1], "perplexity")
    y_true = y_true.astype(np.int64)
    if _is_probabilities(y_pred):
        log_probs = np.log(np.clip(y_pred, 1e-12, 1.0))
    else:
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y_true[..., np.newaxis], axis=-1)
    return float(np.exp(-picked.mean()))


def _regression_pair(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> tuple:
    """Targets and outputs as float64 arrays of the same shape ((n,) targets fit (n, 1))."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        if y_true.size != y_pred.size or len(y_true) != len(y_pred):
            raise ValueError(
                f"{name} needs targets shaped like the outputs {y_pred.shape}, got targets of "
                f"shape {y_true.shape}."
            )
        y_true = y_true.reshape(y_pred.shape)
    return y_true, y_pred


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error over all values (lower is better).

    Args:
        y_true: Targets, shaped like the outputs (``(n,)`` fits outputs ``(n, 1)``).
        y_pred: Outputs.

    Returns:
        The mean of ``(y_true - y_pred) ** 2``.

    Raises:
        ValueError: If the shapes do not match.

    Example:
        >>> mse(np.array([1.0, 2.0]), np.array([[1.0], [4.0]]))
        2.0
    """
    y_true, y_pred = _regression_pair(y_true, y_pred, "mse")
    return float(np.mean((y_true - y_pred) ** 2))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over all values (lower is better).

    Args:
        y_true: Targets, shaped like the outputs (``(n,)`` fits outputs ``(n, 1)``).
        y_pred: Outputs.

    Returns:
        The mean of ``|y_true - y_pred|``.

    Raises:
        ValueError: If the shapes do not match.

    Example:
        >>> mae(np.array([1.0, 2.0]), np.array([[1.0], [4.0]]))
        1.0
    """
    y_true, y_pred = _regression_pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error (lower is better).

    Args:
        y_true: Targets, shaped like the outputs (``(n,)`` fits outputs ``(n, 1)``).
        y_pred: Outputs.

    Returns:
        ``sqrt(mse)``.

    Raises:
        ValueError: If the shapes do not match.

    Example:
        >>> rmse(np.array([0.0, 0.0]), np.array([3.0, 3.0]))
        3.0
    """
    y_true, y_pred = _regression_pair(y_true, y_pred, "rmse")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


@dataclass(frozen=True)
class Metric:
    """A named quality metric and its direction: how to bench a metric of your own.

    Attributes:
        name: Column name in results.
        fn: ``fn(y_true, y_pred) -> float``.
        higher_is_better: False for losses and errors (perplexity, mse); ``metric_drop`` is
            then ``variant - baseline``, so a variant with a smaller error has a negative drop.

    Example:
        >>> def error_rate(y_true, y_pred):
        ...     return 1.0 - accuracy(y_true, y_pred)
        >>> Metric("error_rate", error_rate, higher_is_better=False).drop(0.10, 0.08)
        -0.02...
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool = True

    def drop(self, baseline: float, value: float) -> float:
        """How much worse ``value`` is than ``baseline``, in the metric's units (> 0: worse).

        Args:
            baseline: The baseline's value.
            value: The variant's value.

        Returns:
            ``baseline - value`` if higher is better, else ``value - baseline``.

        Example:
            >>> round(Metric("perplexity", perplexity, False).drop(10.0, 12.5), 6)
            2.5
        """
        return baseline - value if self.higher_is_better else value - baseline


METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", accuracy, True),
    "macro_f1": Metric("macro_f1", macro_f1, True),
    "perplexity": Metric("perplexity", perplexity, False),
    "mse": Metric("mse", mse, False),
    "mae": Metric("mae", mae, False),
    "rmse": Metric("rmse", rmse, False),
}


def resolve_metric(metric: str | Callable | Metric, higher_is_better: bool | None = None) -> Metric:
    """Turn a metric name or callable into a :class:`Metric`.

    A bare callable has no direction, and guessing one turns a better regression error into a
    "drop" that fails the targets, so its direction must be given: ``higher_is_better=...``
    here (and in ``Bench``/``profile``), a :class:`Metric`, or an attribute
    ``fn.higher_is_better``.

    Args:
        metric: One of ``METRICS`` ("accuracy", "macro_f1" higher-is-better; "perplexity",
            "mse", "mae", "rmse" lower-is-better), a :class:`Metric`, or a callable
            ``fn(y_true, y_pred) -> float``.
        higher_is_better: The direction of a callable (overrides its attribute); must be
            None (or agree) for a name or a :class:`Metric`, whose direction is known.

    Returns:
        The metric.

    Raises:
        ValueError: If the name is unknown (the message lists the valid ones), a callable has
            no direction, or ``higher_is_better`` contradicts a known direction.
        TypeError: If ``metric`` is neither a string nor a callable.

    Example:
        >>> resolve_metric("mse").higher_is_better
        False
        >>> resolve_metric(lambda t, p: 0.0, higher_is_better=False).higher_is_better
        False
    """
    if higher_is_better is not None and not isinstance(higher_is_better, bool):
        raise TypeError(
            f"`higher_is_better` must be True, False or None, got {higher_is_better!r}."
        )
    if isinstance(metric, str):
        key = metric.lower().replace("-", "_")
        if key not in METRICS:
            raise ValueError(
                f"`metric` {metric!r} is unknown; use one of {sorted(METRICS)} or a callable "
                "fn(y_true, y_pred) -> float with higher_is_better=True/False."
            )
        metric = METRICS[key]
    if isinstance(metric, Metric):
        if higher_is_better is not None and higher_is_better != metric.higher_is_better:
            raise ValueError(
                f"`higher_is_better={higher_is_better}` contradicts metric {metric.name!r}, "
                f"which is {'higher' if metric.higher_is_better else 'lower'}-is-better; "
                "leave higher_is_better=None."
            )
        return metric
    if callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        direction = higher_is_better
        if direction is None:
            direction = getattr(metric, "higher_is_better", None)
        if direction is None:
            raise ValueError(
                f"`metric` {name!r} is a callable without a direction: pass "
                "higher_is_better=True (accuracy-like) or False (an error or loss, like mse), "
                "or a tf_green.bench.Metric(name, fn, higher_is_better)."
            )
        return Metric(name, metric, bool(direction))
    raise TypeError(
        f"`metric` must be a name in {sorted(METRICS)} or a callable, got {type(metric).__name__}."
    )
