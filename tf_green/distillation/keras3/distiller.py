"""The Keras 3 Distiller: ``keras.distillation.Distiller`` with tf_green's semantics.

Keras's Distiller (Keras 3.12+) gives the structure: teacher frozen, feature extractors,
``LogitsDistillation``/``FeatureDistillation`` losses, ``student_loss_weight``. This
subclass keeps it and adds what it lacks, with the semantics of the tf_keras engine's
:class:`tf_green.distillation.distiller.Distiller`: per-sample losses (so sample weights,
padding masks and partial labels ``-1`` work: Keras's ``compute_loss`` ignores
``sample_weight``), the teacher-output cache (the teacher never runs in ``fit``), feature
pairs with a learned projection when widths differ, metrics on labelled samples only, a
NaN-loss stop and a ``.keras`` round trip without ``custom_objects``.

Example:
    >>> import keras, numpy as np
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16),
    ...                             keras.layers.Dense(3)])
    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> d = Distiller(teacher, student, alpha=0.1, temperature=4.0)
    >>> d.compile(optimizer="adam", metrics=["accuracy"])
    >>> h = d.fit(np.zeros((8, 4)), np.array([0, 1, 2, -1] * 2), epochs=1, verbose=0)
    >>> sorted(h.history)
    ['accuracy', 'distillation_loss', 'loss', 'student_loss']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import ops
from keras.src.backend.common.masking import get_keras_mask, set_keras_mask

from tf_green._engine.data import is_dataset
from tf_green.distillation._common import (
    check_cache,
    check_fraction,
    check_non_negative,
    check_same_shape,
    check_temperature,
    warn_if_swapped,
)
from tf_green.distillation._inputs import INDICES, LOGITS, VALUES, is_packed, unpack
from tf_green.distillation._labels import check_label_array
from tf_green.distillation.keras3 import losses as kd
from tf_green.distillation.keras3.features import check_feature_pairs, make_projection
from tf_green.distillation.keras3.fit_support import (
    KeepJaxState,
    check_dataset_labels,
    output_shape,
    require_keras3,
)
from tf_green.distillation.teacher_cache import TeacherCache
from tf_green.pruning.keras3.fit_callbacks import StopOnNonFiniteLoss

__all__ = ["Distiller"]


@keras.saving.register_keras_serializable(package="tf_green")
class Distiller(keras.distillation.Distiller):
    """Train a student on hard labels and a frozen teacher's softened logits (Keras 3).

    The loss is ``alpha * student_loss + (1 - alpha) * distillation_loss`` (plus
    ``feature_weight * feature_loss`` with ``feature_pairs``), where ``distillation_loss``
    is ``KL(softmax(teacher / T) || softmax(student / T)) * T**2``, each term averaged
    per sample (over time steps for sequences) and then over the batch, with the sample
    weights applied per sample (or per token for ``(batch, time)`` weights: a padding
    mask). ``alpha`` is Keras's ``student_loss_weight``. Labels ``-1`` mark samples (or
    tokens) without a label: they weigh 0 in the student loss and the metrics. ``fit(x)``
    without ``y`` is pure distillation (``alpha`` unused). Logs ``loss``,
    ``student_loss``, ``distillation_loss`` (and ``feature_loss``) and the metrics.
    TensorFlow and JAX backends.

    Saving: the Distiller round-trips through ``.keras`` without ``custom_objects``
    (registered as ``tf_green>Distiller``); the cache is data, not saved. For deployment
    save the student alone: ``distiller.student.save("student.keras")``.

    Args:
        teacher: The trained teacher (outputs logits); frozen (``trainable = False``).
        student: The model to train; ``distiller.student`` is this object.
        alpha: Weight in [0, 1] of the hard-label loss; ``1 - alpha`` weighs distillation.
        temperature: Softmax temperature ``T`` > 0.
        feature_pairs: ``[(teacher_layer_name, student_layer_name), ...]`` to match with a
            mean squared error; a learned ``Dense`` (no bias) maps the student's width to
            the teacher's when they differ. Functional/Sequential models, live teacher.
        feature_weight: Weight (>= 0) of the feature loss.
        teacher_outputs: A :class:`~tf_green.distillation.TeacherCache` of the teacher's
            logits on the training inputs; ``fit`` then never runs the teacher.
        name: Model name.
        **kwargs: Other ``keras.Model`` arguments.

    Raises:
        TypeError: If a model is not a Keras 3 model, or ``teacher_outputs`` is not a cache.
        ValueError: On output shapes that differ, ``alpha`` outside [0, 1], ``temperature``
            <= 0, a bad feature pair, or a cache that does not match the student.

    Example:
        >>> import keras
        >>> t = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="h"),
        ...                       keras.layers.Dense(3)])
        >>> s = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="h"),
        ...                       keras.layers.Dense(3)])
        >>> d = Distiller(t, s, feature_pairs=[("h", "h")])
        >>> tuple(d.feature_projections[0].kernel.shape)
        (2, 8)
    """

    def __init__(
        self,
        teacher: Any,
        student: Any,
        *,
        alpha: float = 0.1,
        temperature: float = 4.0,
        feature_pairs: Sequence[Sequence[str]] | None = None,
        feature_weight: float = 1.0,
        teacher_outputs: TeacherCache | None = None,
        name: str = "distiller",
        **kwargs: Any,
    ) -> None:
        teacher = require_keras3(teacher, "teacher")
        student = require_keras3(student, "student")
        if student is teacher:
            raise ValueError("`student` and `teacher` are the same model; pass two models.")
        alpha = check_fraction(alpha, "alpha")
        temperature = check_temperature(temperature)
        feature_weight = check_non_negative(feature_weight, "feature_weight")
        student_shape = output_shape(student, "student")
        teacher_shape = output_shape(teacher, "teacher")
        if student_shape is not None and teacher_shape is not None:
            check_same_shape(teacher_shape, student_shape, "teacher and student output shapes")
        pairs = check_feature_pairs(teacher, student, feature_pairs)
        check_cache(teacher_outputs, student_shape, pairs)
        warn_if_swapped(teacher, student, "tg.Distiller")
        losses = [kd.LogitsDistillation(temperature)]
        losses += [kd.FeatureDistillation(p.teacher_layer, p.student_layer) for p in pairs]
        super().__init__(
            teacher=teacher,
            student=student,
            distillation_losses=losses,
            distillation_loss_weights=[1.0] + [feature_weight] * len(pairs),
            student_loss_weight=alpha,
            name=name,
            **kwargs,
        )
        self.temperature = temperature
        self.feature_weight = feature_weight
        self._pairs = tuple(pairs)
        self._output_sample_shape = student_shape
        self._teacher_outputs = teacher_outputs
        self._student_loss_fn = kd.default_loss
        self.feature_projections = [make_projection(p, i) for i, p in enumerate(pairs)]
        self.feature_loss_tracker = keras.metrics.Mean(name="feature_loss")
        if student.built and teacher.built:
            self.built = True  # every weight exists: student, teacher, projections

    @property
    def alpha(self) -> float:
        """The weight of the hard-label loss (Keras's ``student_loss_weight``)."""
        return self.student_loss_weight

    @property
    def teacher_outputs(self) -> TeacherCache | None:
        """The teacher-output cache used by ``fit``, or None for the live teacher."""
        return self._teacher_outputs

    @teacher_outputs.setter
    def teacher_outputs(self, cache: TeacherCache | None) -> None:
        check_cache(cache, self._output_sample_shape, self._pairs)
        self._teacher_outputs = cache

    @property
    def feature_pairs(self) -> list[tuple[str, str]]:
        """The ``(teacher_layer_name, student_layer_name)`` pairs."""
        return [(p.teacher_layer, p.student_layer) for p in self._pairs]

    @property
    def metrics(self) -> list:
        """The loss trackers and compiled metrics (Keras's ``total_loss`` is ``loss``)."""
        dropped = {id(self.total_loss_tracker)}
        if not self._pairs:
            dropped.add(id(self.feature_loss_tracker))
        return [m for m in super().metrics if id(m) not in dropped]

    def compile(
        self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None, **kwargs: Any
    ) -> None:
        """Configure training; ``loss`` is the student's hard-label loss.

        Args:
            optimizer: Optimizer (instance or name).
            loss: A Keras loss, its name or ``fn(y_true, y_pred)`` returning per-sample
                values; None (default) is cross-entropy on logits, sparse or one-hot from
                the labels' shape.
            metrics: Metrics of the student's outputs (computed on labelled samples).
            **kwargs: Other ``keras.Model.compile`` arguments; ``loss_weights`` is refused.

        Raises:
            TypeError: If ``loss`` is a list/dict or not a loss.
            ValueError: If ``loss_weights`` is given.

        Example:
            >>> import keras
            >>> t = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            >>> s = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            >>> Distiller(t, s).compile(optimizer="adam", metrics=["accuracy"])
        """
        if kwargs.get("loss_weights") is not None:
            raise ValueError("`loss_weights` is not supported: use `alpha` and `feature_weight`.")
        loss_fn = kd.resolve_loss(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        super().compile(optimizer=optimizer, loss=loss if loss is not None else kd.default_loss,
                        metrics=metrics, **kwargs)  # fmt: skip
        self._student_loss_fn = loss_fn
        self._compile_config.config["loss"] = loss  # Keras's compile stores None

    def get_compile_config(self) -> dict:
        """The compile arguments (``loss`` as given), for saving."""
        return super().get_compile_config()

    def compile_from_config(self, config: dict) -> None:
        """Compile from :meth:`get_compile_config`'s output (used when loading ``.keras``)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def call(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        """Return the student's outputs (``predict`` gives the student's logits)."""
        inputs, _ = unpack(inputs)
        return self.student(inputs, training=training, **kwargs)

    def _teacher_terms(self, inputs: Any, cached: dict | None, logits: Any) -> tuple[Any, dict]:
        """The per-position distillation loss, and the teacher's features by layer name."""
        features: dict = {}
        if cached:
            if VALUES in cached:
                return kd.top_k_kl_divergence(
                    cached[VALUES], cached[INDICES], logits, self.temperature
                ), features
            teacher_logits = cached[LOGITS]
        else:
            features = self._extract_all_teacher_features(inputs)
            teacher_logits = features["final_output"]
        if self._output_sample_shape is None:  # subclassed models: check at trace time
            check_same_shape(
                tuple(teacher_logits.shape[1:]), tuple(logits.shape[1:]),
                "teacher and student output shapes",
            )  # fmt: skip
        return kd.kl_divergence(teacher_logits, logits, self.temperature), features

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        """The Distiller's loss for one batch (see the class docstring); updates the trackers."""
        inputs, cached = unpack(x)
        logits = self(x, training=training) if y_pred is None else y_pred
        kl, teacher_features = self._teacher_terms(inputs, cached, logits)
        weights = 1.0 if sample_weight is None else kd.expand_to(sample_weight, len(kl.shape))
        terms = {"distillation_loss": kd.per_sample(kl * weights)}
        if y is not None:
            y_clean, mask = kd.split_labels(y, logits)
            loss_weights = mask * weights
            hard = ops.cast(self._student_loss_fn(y_clean, logits), "float32")
            if len(hard.shape) < len(loss_weights.shape):
                axes = tuple(range(len(hard.shape), len(loss_weights.shape)))
                hard = hard * ops.mean(loss_weights, axis=axes)
            else:
                hard = hard * loss_weights
            terms["student_loss"] = kd.per_sample(hard)
            total = (
                self.alpha * terms["student_loss"] + (1.0 - self.alpha) * terms["distillation_loss"]
            )
        else:
            total = terms["distillation_loss"]
        if self._pairs:
            student_features = self._student_feature_extractor(inputs, training=training)
            per_pair = [
                loss.per_sample(
                    teacher_features[loss.teacher_layer_name],
                    projection(student_features[loss.student_layer_name]),
                )
                for loss, projection in zip(
                    self.distillation_losses[1:], self.feature_projections, strict=True
                )
            ]
            sample = (
                1.0 if sample_weight is None else kd.per_sample(ops.cast(sample_weight, "float32"))
            )
            terms["feature_loss"] = ops.sum(ops.stack(per_pair), axis=0) / len(per_pair) * sample
            total = total + self.feature_weight * terms["feature_loss"]
        means = {name: ops.mean(value) for name, value in terms.items()}
        loss = ops.mean(total)
        if self.student.losses:
            loss = loss + ops.sum(ops.stack([ops.cast(v, "float32") for v in self.student.losses]))
        for tracker in (
            self.student_loss_tracker, self.distillation_loss_tracker, self.feature_loss_tracker
        ):  # fmt: skip
            if tracker.name in means:
                tracker.update_state(means[tracker.name])
        if keras.backend.backend() == "tensorflow":
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            if replicas > 1:  # Keras un-scales the logged loss; the optimizer sums replicas
                loss = loss / replicas
        return loss

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
        """Update the compiled metrics on labelled samples only; return every metric."""
        if y is None:
            return self.get_metrics_result()
        y_clean, mask = kd.split_labels(y, y_pred)
        masked = y_pred + ops.zeros_like(y_pred)  # a new tensor: the student's keeps its mask
        labelled = ops.cast(mask, "bool")
        existing = get_keras_mask(y_pred)
        if existing is not None:
            labelled = ops.logical_and(labelled, ops.cast(existing, "bool"))
        set_keras_mask(masked, labelled)
        return super().compute_metrics(x, y_clean, masked, sample_weight)

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        """Train like ``keras.Model.fit``; with a cache, pairs ``x`` with the cached logits.

        Array labels are range-checked before training (``-1`` allowed); a dataset's labels
        as they are read (``InvalidArgumentError``). Training stops with
        :class:`tf_green._engine.checks.NonFiniteLossError` when the loss becomes NaN or
        inf (a ``StopOnNonFiniteLoss`` callback is added unless ``callbacks`` has one).

        Args:
            x: Inputs: arrays or a ``tf.data.Dataset`` of ``(x, y[, sample_weight])``.
            y: Labels (``-1`` = no label) for array inputs, or None.
            **kwargs: ``keras.Model.fit`` arguments (``batch_size``, ``epochs``,
                ``sample_weight``, ``validation_data`` (live teacher) ...);
                ``validation_split`` is refused with a cache.

        Returns:
            The Keras ``History``.

        Raises:
            ValueError: On labels outside the classes, a cache that does not match ``x``,
                or ``validation_split`` with a cache; before any training.

        Example:
            >>> import keras, numpy as np
            >>> t = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            >>> s = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            >>> d = Distiller(t, s)
            >>> d.compile(optimizer="adam")
            >>> h = d.fit(np.zeros((4, 4)), np.array([0, 1, -1, 2]), epochs=1, verbose=0)
        """
        shape = self._output_sample_shape
        classes = shape[-1] if shape else None
        check_label_array(y, classes)
        cache = self._teacher_outputs
        if cache is not None and not is_packed(x):
            if kwargs.get("validation_split"):
                raise ValueError(
                    "`validation_split` cannot be used with `teacher_outputs`; pass "
                    "`validation_data` (it runs with the live teacher)."
                )
            x = cache.zip(
                x, y, kwargs.pop("sample_weight", None),
                batch_size=kwargs.pop("batch_size", None), shuffle=kwargs.pop("shuffle", True),
            )  # fmt: skip
            y = None
            kwargs["shuffle"] = False  # the zipped dataset shuffles itself each epoch
        if is_dataset(x) and classes is not None:
            x = check_dataset_labels(x, classes, len(shape))
        callbacks = list(kwargs.pop("callbacks", None) or [])
        if not any(isinstance(c, StopOnNonFiniteLoss) for c in callbacks):
            callbacks.insert(0, StopOnNonFiniteLoss())
        if keras.backend.backend() != "jax":
            return super().fit(x, y, callbacks=callbacks, **kwargs)
        guard = KeepJaxState()
        try:
            return super().fit(x, y, callbacks=[guard, *callbacks], **kwargs)
        except BaseException:
            guard.restore(self)
            raise

    def get_config(self) -> dict:
        """The full config: both models, ``alpha``, ``temperature``, feature pairs (named)."""
        return {
            "name": self.name,
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "student": keras.saving.serialize_keras_object(self.student),
            "alpha": self.alpha,
            "temperature": self.temperature,
            "feature_pairs": [list(p) for p in self.feature_pairs] or None,
            "feature_weight": self.feature_weight,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> Distiller:
        """Rebuild a Distiller (without a cache) from :meth:`get_config`."""
        config = dict(config)
        teacher = keras.saving.deserialize_keras_object(config.pop("teacher"), custom_objects)
        student = keras.saving.deserialize_keras_object(config.pop("student"), custom_objects)
        return cls(teacher=teacher, student=student, **config)
