"""The Distiller: a ``keras.Model`` that trains a student to match a frozen teacher.

Example:
    >>> from tf_green import datasets, models
    >>> (x, y), _ = datasets.digits()
    >>> teacher = models.cnn(width=8)  # normally a trained model
    >>> distiller = Distiller(teacher, models.cnn(width=2), alpha=0.1, temperature=4.0)
    >>> distiller.compile(optimizer="adam", metrics=["accuracy"])
    >>> history = distiller.fit(x, y, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'distillation_loss', 'loss', 'student_loss']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from tf_green._input_checks import StopOnNonFiniteLoss
from tf_green._keras import keras, require_tf_keras_model, tf
from tf_green.distillation import losses as kd_losses
from tf_green.distillation._checks import (
    check_cache,
    check_fraction,
    check_non_negative,
    check_same_shape,
    default_loss,
    output_shape,
    resolve_loss,
    warn_if_swapped,
)
from tf_green.distillation._features import check_feature_pairs, make_projection, make_taps
from tf_green.distillation._inputs import INDICES, LOGITS, VALUES, is_packed, unpack
from tf_green.distillation._labels import check_label_array, expand_to, per_sample, split_labels
from tf_green.distillation.teacher_cache import TeacherCache

__all__ = ["Distiller"]


@keras.utils.register_keras_serializable(package="tf_green")
class Distiller(keras.Model):
    """Train a student on hard labels and a frozen teacher's softened logits.

    The loss is ``alpha * student_loss + (1 - alpha) * distillation_loss`` (plus
    ``feature_weight * feature_loss`` with ``feature_pairs``), where ``distillation_loss``
    is ``KL(softmax(teacher / T) || softmax(student / T)) * T**2`` averaged over samples
    (and time steps). The teacher is frozen: its ``trainable`` flag is set to False and it
    runs with ``training=False``; gradients reach only the student (and the feature
    projections). Works for logits ``(batch, classes)`` and ``(batch, time, vocab)`` with
    integer or one-hot labels, numpy or ``tf.data`` input, and under
    ``tf.distribute.MirroredStrategy`` (build the models, the Distiller and ``compile``
    inside ``strategy.scope()``).

    Partial labels (transfer sets): the label ``-1`` (a row of ``-1`` for one-hot labels)
    marks a sample, or a token, without a label; it contributes only to the distillation
    loss. ``fit(x)`` without ``y`` is pure distillation: the loss is the distillation loss
    (``alpha`` is not used). Logs ``loss``, ``student_loss``, ``distillation_loss`` (and
    ``feature_loss``) plus the compiled metrics, which see only labelled samples.

    Saving: the Distiller round-trips through ``.keras`` and SavedModel; HDF5 cannot hold
    a subclassed model, so ``.h5`` is refused with a clear error. The cache
    (``teacher_outputs``) is data, not configuration: it is not saved. For deployment save
    the student alone: ``distiller.student.save("student.keras")``.

    Argument order: ``Distiller(teacher, student, ...)``, as ``keras.distillation`` and
    :func:`~tf_green.distillation.distill` have it (earlier versions took
    ``(student, teacher)``); pass them by keyword to be explicit. A pair that looks swapped
    (a teacher with fewer parameters than the student, or an untrained teacher beside a
    trained student) gets a ``UserWarning``.

    Args:
        teacher: The trained teacher (outputs logits of the same shape).
        student: The model to train (outputs logits); ``distiller.student`` is this object.
        alpha: Weight in [0, 1] of the hard-label loss; ``1 - alpha`` weighs distillation.
        temperature: Softmax temperature ``T`` > 0 of the soft targets.
        feature_pairs: ``[(teacher_layer_name, student_layer_name), ...]`` intermediate
            layers to match with a mean squared error (FitNets); a learned projection
            maps the student's width to the teacher's when they differ. Needs functional
            models and the live teacher.
        feature_weight: Weight (>= 0) of the feature loss.
        teacher_outputs: A :class:`~tf_green.distillation.TeacherCache` of the teacher's
            logits on the training inputs; ``fit`` then never runs the teacher (validation
            data still uses the live teacher).
        name: Model name.
        **kwargs: Other ``keras.Model`` arguments.

    Raises:
        TypeError: If a model is not a tf_keras model (Keras 3 models get a message saying
            how to build a tf_keras one) or ``teacher_outputs`` is not a cache.
        ValueError: If the output shapes differ, ``alpha`` is outside [0, 1],
            ``temperature`` <= 0, a feature pair names a missing layer, or the cache does
            not match the student. Nothing is changed when it raises.

    Example:
        >>> from tf_green import models
        >>> teacher, student = models.cnn(width=8), models.cnn(width=2)
        >>> distiller = Distiller(teacher, student, feature_pairs=[("conv2", "conv2")])
        >>> distiller.student is student, teacher.trainable
        (True, False)
    """

    def __init__(
        self,
        teacher: keras.Model,
        student: keras.Model,
        *,
        alpha: float = 0.1,
        temperature: float = 4.0,
        feature_pairs: Sequence[Sequence[str]] | None = None,
        feature_weight: float = 1.0,
        teacher_outputs: TeacherCache | None = None,
        name: str = "distiller",
        **kwargs: Any,
    ) -> None:
        teacher = require_tf_keras_model(teacher, "teacher", call="tg.Distiller")
        student = require_tf_keras_model(student, "student", call="tg.Distiller")
        if student is teacher:
            raise ValueError("`student` and `teacher` are the same model; pass two models.")
        alpha = check_fraction(alpha, "alpha")
        temperature = kd_losses.check_temperature(temperature)
        feature_weight = check_non_negative(feature_weight, "feature_weight")
        student_shape = output_shape(student, "student")
        teacher_shape = output_shape(teacher, "teacher")
        if student_shape is not None and teacher_shape is not None:
            check_same_shape(teacher_shape, student_shape, "teacher and student output shapes")
        pairs = check_feature_pairs(student, teacher, feature_pairs)
        check_cache(teacher_outputs, student_shape, pairs)
        warn_if_swapped(teacher, student, "tg.Distiller")

        super().__init__(name=name, **kwargs)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.alpha = alpha
        self.temperature = temperature
        self.feature_weight = feature_weight
        self._pairs = tuple(pairs)
        self._output_sample_shape = student_shape
        self._teacher_outputs = teacher_outputs
        self._student_loss_fn = default_loss
        if pairs:
            self.feature_projections = [make_projection(p, i) for i, p in enumerate(pairs)]
            self._student_taps = make_taps(student, [p.student_layer for p in pairs])
            self._teacher_taps = make_taps(teacher, [p.teacher_layer for p in pairs])
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self.feature_loss_tracker = keras.metrics.Mean(name="feature_loss")
        if student.built and teacher.built:
            self.built = True  # every weight exists: student, teacher, projections

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

    def compile(
        self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None, **kwargs: Any
    ) -> None:
        """Configure training like ``keras.Model.compile``; ``loss`` is the student's loss.

        Args:
            optimizer: Optimizer (instance or name).
            loss: Hard-label loss of the student: a Keras loss, its name or a callable
                ``fn(y_true, y_pred)`` returning per-sample values. None (the default)
                means cross-entropy on logits, sparse or one-hot from the labels' shape.
            metrics: Metrics of the student's outputs (computed on labelled samples).
            **kwargs: Other ``keras.Model.compile`` arguments; ``loss_weights`` is refused.

        Raises:
            TypeError: If ``loss`` is a list/dict or not a loss.
            ValueError: If ``loss_weights`` is given (there is one output).

        Example:
            >>> from tf_green import models
            >>> d = Distiller(models.cnn(width=4), models.cnn(width=2))
            >>> d.compile(optimizer="adam", metrics=["accuracy"])
        """
        if kwargs.get("loss_weights") is not None:
            raise ValueError("`loss_weights` is not supported: use `alpha` and `feature_weight`.")
        loss_fn = resolve_loss(loss)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        self._student_loss_fn = loss_fn

    @property
    def metrics(self) -> list:
        """Loss trackers, then the compiled metrics."""
        trackers = self._trackers() if self._pairs else self._trackers()[:3]
        compiled = getattr(self, "compiled_metrics", None)
        return trackers + (list(compiled.metrics) if compiled is not None else [])

    def _trackers(self) -> list:
        return [
            self.loss_tracker,
            self.student_loss_tracker,
            self.distillation_loss_tracker,
            self.feature_loss_tracker,
        ]

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        """Return the student's outputs (``predict`` gives the student's logits)."""
        inputs, _ = unpack(inputs)
        return self.student(inputs, training=training)

    def _loss_terms(self, data: Any, training: bool) -> tuple[dict, tuple]:
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, cached = unpack(x)
        teacher_features: list = []
        if self._pairs:
            if self._saved_model_inputs_spec is None:
                self._set_save_spec(x)
            logits, *student_features = self._student_taps(x, training=training)
            teacher_logits, *teacher_features = self._teacher_taps(x, training=False)
        else:
            logits = self(x, training=training)
            teacher_logits = None if cached else self.teacher(x, training=False)
        if self._output_sample_shape is None:  # subclassed models: check at trace time
            reference = teacher_logits if cached is None else cached.get(LOGITS)
            if reference is not None:
                check_same_shape(
                    reference.shape[1:], logits.shape[1:], "teacher and student output shapes"
                )
        if cached and VALUES in cached:
            kd = kd_losses.top_k_kl_divergence(
                cached[VALUES], cached[INDICES], logits, self.temperature
            )
        else:
            teacher_logits = cached[LOGITS] if cached else tf.stop_gradient(teacher_logits)
            kd = kd_losses.kl_divergence(teacher_logits, logits, self.temperature)
        weights = 1.0 if sample_weight is None else expand_to(sample_weight, kd.shape.rank)
        terms = {"distillation_loss": per_sample(kd * weights)}
        y_clean, mask = None, None
        if y is not None:
            y_clean, mask = split_labels(y, logits)
            loss_weights = mask * weights
            hard = tf.cast(self._student_loss_fn(y_clean, logits), tf.float32)
            if hard.shape.rank < loss_weights.shape.rank:
                axes = list(range(hard.shape.rank, loss_weights.shape.rank))
                hard = hard * tf.reduce_mean(loss_weights, axis=axes)
            else:
                hard = hard * loss_weights
            terms["student_loss"] = per_sample(hard)
            total = (
                self.alpha * terms["student_loss"] + (1.0 - self.alpha) * terms["distillation_loss"]
            )
        else:
            total = terms["distillation_loss"]
        if self._pairs:
            per_pair = [
                kd_losses.feature_loss(t, projection(s))
                for t, s, projection in zip(
                    teacher_features, student_features, self.feature_projections, strict=True
                )
            ]
            per_sample_weight = (
                1.0 if sample_weight is None else per_sample(tf.cast(sample_weight, tf.float32))
            )
            terms["feature_loss"] = tf.add_n(per_pair) / len(per_pair) * per_sample_weight
            total = total + self.feature_weight * terms["feature_loss"]
        means = {name: tf.reduce_mean(value) for name, value in terms.items()}
        means["loss"] = tf.reduce_mean(total)
        if self.student.losses:
            means["loss"] += tf.add_n(self.student.losses)
        return means, (y_clean, logits, mask, sample_weight)

    def _update_metrics(self, means: dict, outputs: tuple) -> dict:
        for tracker in self._trackers():
            if tracker.name in means:
                tracker.update_state(means[tracker.name])
        y_clean, logits, mask, sample_weight = outputs
        if y_clean is not None and self.compiled_metrics is not None:
            # Keras's own masking: unweighted metrics use the mask, weighted ones mask * weight.
            logits = tf.identity(logits)
            logits._keras_mask = tf.cast(mask, tf.bool)
            self.compiled_metrics.update_state(y_clean, logits, sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data: Any) -> dict:
        """One optimizer step on the student; returns the logged values."""
        with tf.GradientTape() as tape:
            means, outputs = self._loss_terms(data, training=True)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            objective = means["loss"] / replicas  # the optimizer sums replica gradients
        self.optimizer.minimize(objective, self.trainable_variables, tape=tape)
        return self._update_metrics(means, outputs)

    def test_step(self, data: Any) -> dict:
        """Compute the losses and metrics without training."""
        means, outputs = self._loss_terms(data, training=False)
        return self._update_metrics(means, outputs)

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Any = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: Any = None,
        sample_weight: Any = None,
        **kwargs: Any,
    ) -> keras.callbacks.History:
        """Train like ``keras.Model.fit``; with a cache, pairs ``x`` with the cached logits.

        Args:
            x: Inputs: arrays or a ``tf.data.Dataset`` of ``(x, y[, sample_weight])``.
            y: Labels (``-1`` = no label) for array inputs, or None.
            batch_size: Batch size for array inputs (default 32).
            epochs: Number of epochs.
            verbose: Keras verbosity.
            callbacks: Keras callbacks.
            validation_split: As in Keras; not with ``teacher_outputs`` (pass
                ``validation_data``).
            validation_data: Validation data (run with the live teacher).
            shuffle: Shuffle training samples each epoch (also a cached dataset's samples).
            class_weight: As in Keras.
            sample_weight: Per-sample weights for array inputs.
            **kwargs: Other ``keras.Model.fit`` arguments.

        Returns:
            The Keras ``History``.

        Training stops with :class:`tf_green._engine.checks.NonFiniteLossError` (a
        ``ValueError``) when the loss becomes NaN or inf (a ``StopOnNonFiniteLoss``
        callback is added unless ``callbacks`` has one).

        Raises:
            ValueError: If array labels are outside ``[0, classes)`` and not ``-1``, if the
                cache does not match ``x`` (length or order), or ``validation_split`` is
                used with a cache. Raised before any training.

        Example:
            >>> import numpy as np
            >>> from tf_green import models
            >>> d = Distiller(teacher=models.mlp(hidden=(8,)), student=models.mlp(hidden=(4,)))
            >>> d.compile(optimizer="adam")
            >>> h = d.fit(np.zeros((4, 64)), np.array([0, 1, -1, 2]), epochs=1, verbose=0)
        """
        classes = self._output_sample_shape[-1] if self._output_sample_shape else None
        check_label_array(y, classes)
        cache = self._teacher_outputs
        if cache is not None and not is_packed(x):
            if validation_split:
                raise ValueError(
                    "`validation_split` cannot be used with `teacher_outputs`; pass "
                    "`validation_data` (it runs with the live teacher)."
                )
            x = cache.zip(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle)
            y = sample_weight = batch_size = None
        callbacks = list(callbacks or [])
        if not any(isinstance(c, StopOnNonFiniteLoss) for c in callbacks):
            callbacks.insert(0, StopOnNonFiniteLoss())
        return super().fit(
            x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
            shuffle, class_weight, sample_weight, **kwargs,
        )  # fmt: skip

    def save(self, filepath: Any, *args: Any, **kwargs: Any) -> None:
        """Save like ``keras.Model.save`` (``.keras`` or SavedModel); ``.h5`` is refused.

        Raises:
            ValueError: For HDF5 (a ``.h5``/``.hdf5`` path or ``save_format="h5"``), before
                anything is written.
        """
        save_format = kwargs.get("save_format") or (args[1] if len(args) > 1 else None)
        path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else ""
        if str(save_format).lower() in ("h5", "hdf5") or path.endswith((".h5", ".hdf5")):
            raise ValueError(
                "a Distiller is a subclassed model, which HDF5 (.h5) cannot store. Save it "
                "as `.keras` (or SavedModel: save_format='tf'), or save the student alone for "
                "deployment: distiller.student.save('student.h5')."
            )
        super().save(filepath, *args, **kwargs)

    def compile_from_config(self, config: dict) -> None:
        """Compile from :meth:`get_compile_config`'s output (used when loading ``.keras``)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built and isinstance(self.optimizer, keras.optimizers.Optimizer):
            self.optimizer.build(self.trainable_variables)

    def get_config(self) -> dict:
        """Return the full config: both models, ``alpha``, ``temperature``, feature pairs."""
        return {
            "name": self.name,
            "student": keras.layers.serialize(self.student),
            "teacher": keras.layers.serialize(self.teacher),
            "alpha": self.alpha,
            "temperature": self.temperature,
            "feature_pairs": [list(p) for p in self.feature_pairs] or None,
            "feature_weight": self.feature_weight,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> Distiller:
        """Rebuild a Distiller (without a cache) from :meth:`get_config`."""
        config = dict(config)
        student = keras.layers.deserialize(config.pop("student"), custom_objects)
        teacher = keras.layers.deserialize(config.pop("teacher"), custom_objects)
        return cls(teacher=teacher, student=student, **config)  # named: old files load too
