"""Distillation losses for Keras 3 (``keras.ops``: TensorFlow and JAX backends).

The same values as the tf_keras engine's :mod:`tf_green.distillation.losses`, unreduced
(one value per position, shape ``logits.shape[:-1]``) and computed in float32, so the
Distiller can mask, weight and reduce them itself. :class:`LogitsDistillation` and
:class:`FeatureDistillation` are ``keras.distillation`` losses (subclasses of Keras's own)
with a per-position/per-sample method beside Keras's scalar ``compute_loss``.

Labels: :func:`split_labels` handles the ``-1`` sentinel of partial labels (see
:mod:`tf_green.distillation._labels`).

Example:
    >>> import numpy as np
    >>> t = np.array([[2.0, 0.0, -1.0]], "float32")
    >>> float(kl_divergence(t, t, temperature=4.0)[0])
    0.0
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from tf_green.distillation._common import check_temperature
from tf_green.distillation._labels import UNLABELED

__all__ = [
    "FeatureDistillation",
    "LogitsDistillation",
    "default_loss",
    "expand_to",
    "feature_loss",
    "kl_divergence",
    "per_sample",
    "resolve_loss",
    "split_labels",
    "top_k_kl_divergence",
]


def kl_divergence(teacher_logits: Any, student_logits: Any, temperature: float) -> Any:
    """``KL(softmax(teacher / T) || softmax(student / T)) * T**2`` per position, float32.

    No gradient flows to the teacher's logits.

    Example:
        >>> import numpy as np
        >>> s, t = np.array([[0.0, 0.0]], "float32"), np.array([[1.0, 0.0]], "float32")
        >>> round(float(kl_divergence(t, s, temperature=1.0)[0]), 4)
        0.1109
    """
    teacher = ops.stop_gradient(ops.cast(teacher_logits, "float32"))
    log_p = ops.log_softmax(teacher / temperature, axis=-1)
    log_q = ops.log_softmax(ops.cast(student_logits, "float32") / temperature, axis=-1)
    return ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1) * (temperature**2)


def top_k_kl_divergence(
    teacher_values: Any, teacher_indices: Any, student_logits: Any, temperature: float
) -> Any:
    """KL against a teacher known by its top-k logits (renormalized over them), times ``T**2``.

    With ``k`` equal to the number of classes this is :func:`kl_divergence`.

    Example:
        >>> import numpy as np
        >>> t = np.array([[3.0, 1.0, 0.0]], "float32")
        >>> s = np.array([[0.5, 0.2, 0.1]], "float32")
        >>> full = float(kl_divergence(t, s, 2.0)[0])
        >>> top = float(top_k_kl_divergence(t, np.array([[0, 1, 2]]), s, 2.0)[0])
        >>> abs(full - top) < 1e-6
        True
    """
    values = ops.stop_gradient(ops.cast(teacher_values, "float32"))
    log_p = ops.log_softmax(values / temperature, axis=-1)
    log_q_all = ops.log_softmax(ops.cast(student_logits, "float32") / temperature, axis=-1)
    log_q = ops.take_along_axis(log_q_all, ops.cast(teacher_indices, "int32"), axis=-1)
    return ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1) * (temperature**2)


def feature_loss(teacher_features: Any, student_features: Any) -> Any:
    """Mean squared error over all non-batch axes, one value per sample (FitNets).

    Example:
        >>> import numpy as np
        >>> [float(v) for v in feature_loss(np.ones((2, 3)), np.zeros((2, 3)))]
        [1.0, 1.0]
    """
    teacher = ops.stop_gradient(ops.cast(teacher_features, "float32"))
    squared = ops.square(ops.cast(student_features, "float32") - teacher)
    rank = len(squared.shape)
    return ops.mean(squared, axis=tuple(range(1, rank))) if rank > 1 else squared


def per_sample(values: Any) -> Any:
    """Mean over every axis but the first: one value per sample."""
    rank = len(values.shape)
    return ops.mean(values, axis=tuple(range(1, rank))) if rank > 1 else values


def expand_to(weights: Any, rank: int) -> Any:
    """Cast weights to float32 and add trailing axes up to ``rank``."""
    weights = ops.cast(weights, "float32")
    while len(weights.shape) < rank:
        weights = ops.expand_dims(weights, -1)
    return weights


def split_labels(y: Any, logits: Any) -> tuple[Any, Any]:
    """Replace ``-1`` labels by a valid class; return ``(y_clean, mask)`` (mask float32).

    Integer labels ``(batch[, time])`` (or with a trailing axis of 1) or one-hot rows the
    shape of ``logits`` (a row of ``-1`` = no label). The mask has shape
    ``logits.shape[:-1]``, 1.0 where there is a label. The label range is checked outside
    the step (arrays before training, datasets as they are read).

    Example:
        >>> import numpy as np
        >>> y, mask = split_labels(np.array([1, -1]), np.zeros((2, 3), "float32"))
        >>> [int(v) for v in y], [float(v) for v in mask]
        ([1, 0], [1.0, 0.0])
    """
    y = ops.convert_to_tensor(y)
    classes = logits.shape[-1]
    logits_rank, y_rank = len(logits.shape), len(y.shape)
    sentinel = ops.cast(UNLABELED, y.dtype)
    if y_rank == logits_rank and y.shape[-1] == classes and classes != 1:
        labelled = ops.any(ops.not_equal(y, sentinel), axis=-1)
        y_clean = ops.where(ops.expand_dims(labelled, -1), y, ops.zeros_like(y))
        return y_clean, ops.cast(labelled, "float32")
    if y_rank == logits_rank and y.shape[-1] == 1:
        ids = ops.squeeze(y, axis=-1)
    elif y_rank == logits_rank - 1:
        ids = y
    else:
        raise ValueError(
            f"labels of shape {tuple(y.shape)} fit neither integer labels "
            f"{tuple(logits.shape[:-1])} nor one-hot labels {tuple(logits.shape)} for logits "
            f"of shape {tuple(logits.shape)}."
        )
    labelled = ops.not_equal(ids, sentinel)
    y_clean = ops.where(ops.reshape(labelled, ops.shape(y)), y, ops.zeros_like(y))
    return y_clean, ops.cast(labelled, "float32")


def default_loss(y: Any, logits: Any) -> Any:
    """Cross-entropy on logits, sparse or one-hot from the labels' shape (per position)."""
    if len(y.shape) == len(logits.shape) and y.shape[-1] == logits.shape[-1] != 1:
        return keras.losses.categorical_crossentropy(y, logits, from_logits=True)
    return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)


def resolve_loss(loss: Any) -> Any:
    """Turn ``compile(loss=...)`` into ``fn(y_true, logits)`` returning unreduced values.

    Raises:
        TypeError: For several losses (a list or dict) or something that is not a loss.

    Example:
        >>> resolve_loss(None) is default_loss
        True
    """
    if loss is None:
        return default_loss
    if isinstance(loss, (list, tuple, dict)):
        raise TypeError(
            f"`loss` must be one loss for the student's single logits output, got {loss!r}."
        )
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return loss.call  # unreduced: the Distiller masks, weights and reduces itself
    if callable(loss):
        return loss
    raise TypeError(f"`loss` must be a Keras loss, a loss name or a callable, got {loss!r}.")


@keras.saving.register_keras_serializable(package="tf_green")
class LogitsDistillation(keras.distillation.LogitsDistillation):
    """Keras's ``LogitsDistillation`` (KL at temperature T, times T**2), per position too.

    ``compute_loss`` is Keras's scalar (the mean over positions); :meth:`per_position`
    gives the unreduced values the tf_green Distiller masks and weights.

    Args:
        temperature: Softmax temperature ``T`` > 0.

    Example:
        >>> import numpy as np
        >>> t = np.array([[1.0, 0.0]], "float32")
        >>> float(LogitsDistillation(2.0).compute_loss(t, t))
        0.0
    """

    def __init__(self, temperature: float = 4.0) -> None:
        super().__init__(temperature=check_temperature(temperature), loss="kl_divergence")

    def per_position(self, teacher_logits: Any, student_logits: Any) -> Any:
        """The loss at each position (shape ``logits.shape[:-1]``), float32."""
        return kl_divergence(teacher_logits, student_logits, self.temperature)

    def compute_loss(self, teacher_outputs: Any, student_outputs: Any, **kwargs: Any) -> Any:
        """The mean of :meth:`per_position` (Keras's scalar)."""
        return ops.mean(self.per_position(teacher_outputs, student_outputs))

    def get_config(self) -> dict:
        """``{"temperature": T}``."""
        return {"temperature": self.temperature}

    @classmethod
    def from_config(cls, config: dict) -> LogitsDistillation:
        """Rebuild from :meth:`get_config`."""
        return cls(temperature=config["temperature"])


@keras.saving.register_keras_serializable(package="tf_green")
class FeatureDistillation(keras.distillation.FeatureDistillation):
    """Keras's ``FeatureDistillation`` (MSE between two named layers), per sample too.

    The student's activation is projected to the teacher's width by the Distiller (a
    learned ``Dense`` without bias when the widths differ) before :meth:`per_sample`.

    Args:
        teacher_layer_name: The teacher layer.
        student_layer_name: The student layer.

    Example:
        >>> FeatureDistillation("conv2", "conv2").teacher_layer_name
        'conv2'
    """

    def __init__(self, teacher_layer_name: str, student_layer_name: str) -> None:
        super().__init__(
            loss="mse", teacher_layer_name=teacher_layer_name, student_layer_name=student_layer_name
        )

    def per_sample(self, teacher_features: Any, student_features: Any) -> Any:
        """Mean squared error per sample, float32; no gradient to the teacher."""
        return feature_loss(teacher_features, student_features)

    def compute_loss(self, teacher_outputs: Any, student_outputs: Any, **kwargs: Any) -> Any:
        """The mean of :meth:`per_sample` (Keras's scalar)."""
        return ops.mean(self.per_sample(teacher_outputs, student_outputs))

    def get_config(self) -> dict:
        """The two layer names."""
        return {
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
        }

    @classmethod
    def from_config(cls, config: dict) -> FeatureDistillation:
        """Rebuild from :meth:`get_config`."""
        return cls(config["teacher_layer_name"], config["student_layer_name"])
