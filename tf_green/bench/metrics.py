"""Quality metrics the bench computes from a variant's outputs: a table, not an if-chain.

Outputs may be logits or probabilities: :func:`accuracy` and :func:`macro_f1` take the argmax
(or a threshold for one-output binary models), :func:`perplexity` applies a log-softmax unless the
outputs already are probabilities (non-negative, summing to 1 on the last axis).

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

__all__ = ["METRICS", "Metric", "accuracy", "macro_f1", "perplexity", "resolve_metric"]


def _in_unit_interval(outputs: np.ndarray) -> bool:
    return outputs.size > 0 and outputs.min() >= 0.0 and outputs.max() <= 1.0


def _is_probabilities(outputs: np.ndarray) -> bool:
    """True if the last axis holds distributions (non-negative, summing to 1)."""
    if not _in_unit_interval(outputs):
        return False
    return bool(np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3))


def _labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class ids of the targets and of the predictions, flattened."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.ndim >= 1 and y_pred.shape[-1] > 1 and y_pred.shape[:-1] == y_true.shape:
        return y_true.reshape(-1).astype(np.int64), y_pred.argmax(axis=-1).reshape(-1)
    if y_pred.ndim >= 2 and y_pred.shape[-1] > 1 and y_pred.shape == y_true.shape:  # one-hot
        return y_true.argmax(axis=-1).reshape(-1), y_pred.argmax(axis=-1).reshape(-1)
    if y_pred.shape == y_true.shape or y_pred.shape == (*y_true.shape, 1):  # binary scores
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
    true, predicted = _labels(y_true, y_pred)
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

    true, predicted = _labels(y_true, y_pred)
    return float(f1_score(true, predicted, average="macro", zero_division=0))


def perplexity(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Perplexity: ``exp`` of the mean negative log-likelihood of the targets (lower is better).

    Args:
        y_true: Token ids ``(n, ...)``.
        y_pred: Logits or probabilities ``(n, ..., vocab)``.

    Returns:
        The perplexity, >= 1.

    Raises:
        ValueError: If the shapes do not match.

    Example:
        >>> round(perplexity(np.array([0, 1]), np.zeros((2, 4))), 6)
        4.0
    """
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.shape[:-1] != y_true.shape:
        raise ValueError(
            f"perplexity needs token ids of shape {y_pred.shape[:-1]} for outputs of shape "
            f"{y_pred.shape}, got targets of shape {y_true.shape}."
        )
    if _is_probabilities(y_pred):
        log_probs = np.log(np.clip(y_pred, 1e-12, 1.0))
    else:
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y_true[..., np.newaxis], axis=-1)
    return float(np.exp(-picked.mean()))


@dataclass(frozen=True)
class Metric:
    """A named quality metric and its direction.

    Attributes:
        name: Column name in results.
        fn: ``fn(y_true, y_pred) -> float``.
        higher_is_better: False for losses such as perplexity; ``metric_drop`` is then
            ``variant - baseline``.

    Example:
        >>> Metric("accuracy", accuracy).higher_is_better
        True
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
}


def resolve_metric(metric: str | Callable | Metric) -> Metric:
    """Turn a metric name or callable into a :class:`Metric`.

    Args:
        metric: One of ``METRICS`` ("accuracy", "macro_f1", "perplexity"), a :class:`Metric`, or
            a callable ``fn(y_true, y_pred) -> float``; a callable is taken as higher-is-better
            unless it has an attribute ``higher_is_better = False``.

    Returns:
        The metric.

    Raises:
        ValueError: If the name is unknown (the message lists the valid ones).
        TypeError: If ``metric`` is neither a string nor a callable.

    Example:
        >>> resolve_metric("perplexity").higher_is_better
        False
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        key = metric.lower().replace("-", "_")
        if key in METRICS:
            return METRICS[key]
        raise ValueError(
            f"`metric` {metric!r} is unknown; use one of {sorted(METRICS)} or a callable "
            "fn(y_true, y_pred) -> float."
        )
    if callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        return Metric(name, metric, bool(getattr(metric, "higher_is_better", True)))
    raise TypeError(
        f"`metric` must be a name in {sorted(METRICS)} or a callable, got {type(metric).__name__}."
    )
