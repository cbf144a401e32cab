"""Feature pairs, engine-neutral: validation of ``(teacher_layer, student_layer)`` names.

Each engine reads a layer's output shape its own way (``layer_shape``); the rules are
shared: both layers exist and are used once, and their activations differ at most in the
last (width) axis, which a learned projection then maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FeaturePair", "check_feature_pairs"]


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


def check_feature_pairs(
    student: Any,
    teacher: Any,
    feature_pairs: Sequence[Sequence[str]] | None,
    layer_shape: Callable[[Any, str, str], tuple[int | None, ...]],
) -> list[FeaturePair]:
    """Validate ``feature_pairs`` against the two models, changing nothing.

    Args:
        student: The student model.
        teacher: The teacher model.
        feature_pairs: ``[(teacher_layer_name, student_layer_name), ...]`` or None.
        layer_shape: The engine's ``layer_shape(model, layer_name, role)``: the layer's
            output shape without the batch axis, or a ValueError naming the problem.

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
        teacher_shape = layer_shape(teacher, teacher_name, "teacher")
        student_shape = layer_shape(student, student_name, "student")
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
