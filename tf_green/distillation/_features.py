"""Feature (FitNets-style) distillation plumbing: layer taps and width projections.

A feature pair ``(teacher_layer_name, student_layer_name)`` compares the two layers'
activations with a mean squared error. When the widths (last axes) differ, a learned
``Dense`` projection without bias maps the student's activation to the teacher's width;
all other axes (spatial size, time) must match.
"""

from __future__ import annotations

from collections.abc import Sequence

from tf_green._keras import keras
from tf_green.distillation._feature_pairs import FeaturePair
from tf_green.distillation._feature_pairs import check_feature_pairs as _check_pairs

__all__ = ["FeaturePair", "check_feature_pairs", "make_projection", "make_taps"]


def _layer_output_shape(model: keras.Model, name: str, role: str) -> tuple[int | None, ...]:
    if not getattr(model, "_is_graph_network", False) or not getattr(model, "inputs", None):
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
    try:
        layer.get_output_at(1)
        used_twice = True
    except (ValueError, IndexError, RuntimeError, AttributeError):
        used_twice = False
    if used_twice:
        raise ValueError(
            f"{role} layer {name!r} is called more than once in {model.name!r}, so its output "
            "is ambiguous; pick a layer used once."
        )
    shape = layer.output.shape
    if shape.rank is None or shape.rank < 2 or shape[-1] is None:
        raise ValueError(f"{role} layer {name!r} has output shape {shape}; it needs a known width.")
    return tuple(shape.as_list()[1:])


def check_feature_pairs(
    student: keras.Model, teacher: keras.Model, feature_pairs: Sequence[Sequence[str]] | None
) -> list[FeaturePair]:
    """Validate ``feature_pairs`` against two tf_keras models (see :mod:`._feature_pairs`)."""
    return _check_pairs(student, teacher, feature_pairs, _layer_output_shape)


def make_taps(model: keras.Model, layer_names: Sequence[str]) -> keras.Model:
    """A functional model sharing ``model``'s layers, returning ``[output, *activations]``."""
    outputs = [model.outputs[0], *(model.get_layer(n).output for n in layer_names)]
    return keras.Model(model.inputs, outputs, name=f"{model.name}_feature_taps")


def make_projection(pair: FeaturePair, index: int) -> keras.layers.Layer:
    """A built ``Dense`` (no bias) projecting the student's width to the teacher's, or Identity."""
    name = f"feature_projection_{index}"
    if not pair.needs_projection:
        return keras.layers.Identity(name=name)
    layer = keras.layers.Dense(pair.teacher_shape[-1], use_bias=False, name=name)
    layer.build((None, *pair.student_shape))
    return layer
