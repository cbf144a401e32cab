"""Feature pairs on Keras 3: layer output shapes and the learned width projections.

The rules are the engine-neutral ones of :mod:`tf_green.distillation._feature_pairs`; the
activations are read by ``keras.distillation.Distiller``'s own feature extractors.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    >>> layer_shape(m, "d", "student")
    (3,)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from tf_green._engine.models import is_graph_model
from tf_green.distillation._feature_pairs import FeaturePair
from tf_green.distillation._feature_pairs import check_feature_pairs as _check_pairs

__all__ = ["check_feature_pairs", "layer_shape", "make_projection"]


def layer_shape(model: Any, name: str, role: str) -> tuple[int | None, ...]:
    """The output shape (batch axis excluded) of layer ``name`` of a Keras 3 graph model.

    Raises:
        ValueError: For a subclassed model, a missing layer, a layer called more than once,
            or an unknown width.
    """
    if not is_graph_model(model):
        raise ValueError(
            f"`feature_pairs` needs functional or Sequential {role} models with known inputs; "
            f"the {role} {model.name!r} is a subclassed or unbuilt model. Build it with the "
            "functional API, or drop feature_pairs."
        )
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise ValueError(
            f"`feature_pairs` names {role} layer {name!r}, which {role} {model.name!r} does "
            f"not have. Its layers are: {names}."
        )
    layer = model.get_layer(name)
    if len(getattr(layer, "_inbound_nodes", [])) > 1:
        raise ValueError(
            f"{role} layer {name!r} is called more than once in {model.name!r}, so its output "
            "is ambiguous; pick a layer used once."
        )
    shape = tuple(layer.output.shape)
    if len(shape) < 2 or shape[-1] is None:
        raise ValueError(f"{role} layer {name!r} has output shape {shape}; it needs a known width.")
    return shape[1:]


def check_feature_pairs(
    teacher: Any, student: Any, feature_pairs: Sequence[Sequence[str]] | None
) -> list[FeaturePair]:
    """Validate ``feature_pairs`` against two Keras 3 models, changing nothing.

    Raises:
        TypeError: If ``feature_pairs`` is not a sequence of name pairs.
        ValueError: As :func:`layer_shape`, or if a pair differs beyond the width axis.
    """
    return _check_pairs(student, teacher, feature_pairs, layer_shape)


def make_projection(pair: FeaturePair, index: int) -> keras.layers.Layer:
    """A built ``Dense`` (no bias) from the student's width to the teacher's, or Identity."""
    name = f"feature_projection_{index}"
    if not pair.needs_projection:
        return keras.layers.Identity(name=name)
    layer = keras.layers.Dense(pair.teacher_shape[-1], use_bias=False, name=name)
    layer.build((None, *pair.student_shape))
    return layer
