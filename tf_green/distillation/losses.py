"""Distillation losses (tf_keras engine): temperature-scaled KL, feature MSE, blended targets.

The soft-target loss of Hinton et al. (2015) is

    KL(softmax(teacher / T) || softmax(student / T)) x T**2

The ``T**2`` factor keeps the soft-target gradients (which scale as ``1 / T**2``) on the
same scale as the hard-label gradients when ``T`` changes. All functions return
*unreduced* values (one per position: shape ``logits.shape[:-1]``), so callers choose the
reduction; they compute in float32 whatever the input dtype (float16 caches, mixed
precision students).

Example:
    >>> t = tf.constant([[2.0, 0.0, -1.0]])
    >>> float(kl_divergence(t, t, temperature=4.0)[0])
    0.0
"""

from __future__ import annotations

from tf_green._keras import keras, tf
from tf_green.distillation._common import check_temperature
from tf_green.distillation._regression import blend_targets

__all__ = [
    "DistillationLoss",
    "blend_targets",
    "check_temperature",
    "feature_loss",
    "kl_divergence",
    "top_k_kl_divergence",
]


def kl_divergence(
    teacher_logits: tf.Tensor, student_logits: tf.Tensor, temperature: float
) -> tf.Tensor:
    """Temperature-scaled KL divergence between teacher and student, times ``T**2``.

    Args:
        teacher_logits: Teacher logits ``(..., classes)``.
        student_logits: Student logits, same shape.
        temperature: Softmax temperature ``T`` > 0.

    Returns:
        float32 tensor of shape ``logits.shape[:-1]``:
        ``sum_c p_c (log p_c - log q_c) * T**2`` with ``p = softmax(teacher / T)`` and
        ``q = softmax(student / T)``.

    Raises:
        ValueError: If ``temperature`` <= 0.

    Example:
        >>> s = tf.constant([[0.0, 0.0]])
        >>> t = tf.constant([[1.0, 0.0]])
        >>> round(float(kl_divergence(t, s, temperature=1.0)[0]), 4)
        0.1109
    """
    temperature = check_temperature(temperature)
    log_p = tf.nn.log_softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    log_q = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)
    return kl * (temperature**2)


def top_k_kl_divergence(
    teacher_values: tf.Tensor,
    teacher_indices: tf.Tensor,
    student_logits: tf.Tensor,
    temperature: float,
) -> tf.Tensor:
    """KL divergence against a teacher known only by its top-k logits, times ``T**2``.

    The teacher distribution is the softmax of its ``k`` largest logits at temperature
    ``T`` (renormalized over those ``k`` classes); the student's log-probabilities are its
    full softmax at ``T``, read at the teacher's ``k`` classes. With ``k`` equal to the
    number of classes this is exactly :func:`kl_divergence`.

    Args:
        teacher_values: The teacher's top-k logits ``(..., k)``.
        teacher_indices: Their class ids ``(..., k)``, any integer dtype.
        student_logits: Student logits ``(..., classes)``.
        temperature: Softmax temperature ``T`` > 0.

    Returns:
        float32 tensor of shape ``student_logits.shape[:-1]``.

    Raises:
        ValueError: If ``temperature`` <= 0.

    Example:
        >>> t = tf.constant([[3.0, 1.0, 0.0]])
        >>> values, indices = tf.math.top_k(t, k=3)
        >>> s = tf.constant([[0.5, 0.2, 0.1]])
        >>> full = kl_divergence(t, s, 2.0)
        >>> bool(abs(top_k_kl_divergence(values, indices, s, 2.0) - full)[0] < 1e-6)
        True
    """
    temperature = check_temperature(temperature)
    log_p = tf.nn.log_softmax(tf.cast(teacher_values, tf.float32) / temperature, axis=-1)
    log_q_all = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    indices = tf.cast(teacher_indices, tf.int32)
    log_q = tf.gather(log_q_all, indices, batch_dims=indices.shape.rank - 1)
    kl = tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)
    return kl * (temperature**2)


def feature_loss(teacher_features: tf.Tensor, student_features: tf.Tensor) -> tf.Tensor:
    """Mean squared error between intermediate features, one value per sample (FitNets).

    Args:
        teacher_features: Teacher activations ``(batch, ...)``; no gradient flows to them.
        student_features: Student activations (already projected to the teacher's width),
            same shape.

    Returns:
        float32 tensor ``(batch,)``: the mean over all non-batch axes of the squared error.

    Example:
        >>> feature_loss(tf.ones((2, 3)), tf.zeros((2, 3))).numpy().tolist()
        [1.0, 1.0]
    """
    teacher = tf.stop_gradient(tf.cast(teacher_features, tf.float32))
    squared = tf.math.squared_difference(tf.cast(student_features, tf.float32), teacher)
    rank = squared.shape.rank
    return tf.reduce_mean(squared, axis=list(range(1, rank))) if rank > 1 else squared


@keras.utils.register_keras_serializable(package="tf_green")
class DistillationLoss(keras.losses.Loss):
    """The soft-target loss as a Keras loss: ``y_true`` are teacher logits.

    Use it to train a plain model on stored teacher logits with ``model.fit(x,
    teacher_logits)``; :class:`~tf_green.distillation.Distiller` computes the same value
    and also mixes in the hard-label loss.

    Args:
        temperature: Softmax temperature ``T`` > 0.
        reduction: Keras loss reduction.
        name: Loss name.

    Raises:
        ValueError: If ``temperature`` <= 0.

    Example:
        >>> loss = DistillationLoss(temperature=2.0)
        >>> t = tf.constant([[1.0, 0.0]])
        >>> float(loss(t, t))
        0.0
    """

    def __init__(
        self,
        temperature: float = 4.0,
        reduction: str = keras.losses.Reduction.AUTO,
        name: str = "distillation_loss",
    ) -> None:
        self.temperature = check_temperature(temperature)
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        """Return ``KL(softmax(y_true / T) || softmax(y_pred / T)) * T**2`` per position."""
        return kl_divergence(y_true, y_pred, self.temperature)

    def get_config(self) -> dict:
        """Return the loss config, complete for ``from_config``."""
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
