"""Feature (FitNets-style) distillation plumbing: layer taps and width projections.

A feature pair ``(teacher_layer_name, student_layer_name)`` compares the two layers'
activations with a mean squared error. When the widths (last axes) differ, a learned
``Dense`` projection without bias maps the student's activation to the teacher's width;
all other axes (spatial size, time) must match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tf_green._keras import keras

__all__ = ["FeaturePair", "check_feature_pairs", "make_projection", "make_taps"]


@dataclass(frozen=True)
class FeaturePair:
    """A validated feature pair with its activation shapes (batch axis excluded)."""

    teacher_layer: str
    student_layer: str
    teacher_shape: tuple[int | None, ...]
    student_shape: tuple[int | None, ...]

    @property
    def needs_projection(self) -> bool:
        """Whether the widths differ, so a learned projection is needed."""
        return self.teacher_shape[-1] != self.student_shape[-1]


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
    """Validate ``feature_pairs`` against the two models, changing nothing.

    Args:
        student: The student model.
        teacher: The teacher model.
        feature_pairs: ``[(teacher_layer_name, student_layer_name), ...]`` or None.

    Returns:
        The validated pairs (empty for None).

    Raises:
        TypeError: If ``feature_pairs`` is not a sequence of name pairs.
        ValueError: If a layer does not exist, a model is not functional, or the
            non-width axes of a pair differ.
    """
    if feature_pairs is None:
        return []
    if isinstance(feature_pairs, (str, bytes)) or not isinstance(feature_pairs, Sequence):
        raise TypeError(
            "`feature_pairs` must be a list of (teacher_layer_name, student_layer_name) "
            f"tuples, got {feature_pairs!r}."
        )
    pairs = []
    for item in feature_pairs:
        if (
            isinstance(item, (str, bytes))
            or not isinstance(item, Sequence)
            or len(item) != 2
            or not all(isinstance(n, str) for n in item)
        ):
            raise TypeError(
                "each entry of `feature_pairs` must be a (teacher_layer_name, "
                f"student_layer_name) pair of strings, got {item!r}."
            )
        teacher_name, student_name = item
        teacher_shape = _layer_output_shape(teacher, teacher_name, "teacher")
        student_shape = _layer_output_shape(student, student_name, "student")
        if len(teacher_shape) != len(student_shape) or any(
            t is not None and s is not None and t != s
            for t, s in zip(teacher_shape[:-1], student_shape[:-1], strict=True)
        ):
            raise ValueError(
                f"feature pair ({teacher_name!r}, {student_name!r}): activations of shape "
                f"{teacher_shape} and {student_shape} differ beyond the last (width) axis; "
                "only widths can be projected. Pick layers with the same spatial/time size."
            )
        pairs.append(FeaturePair(teacher_name, student_name, teacher_shape, student_shape))
    return pairs


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
