"""MACs counted from a jaxpr are labelled by both operands' widths, never "int8" for any integer."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax_engine = pytest.importorskip("tf_green.bench.keras3.jax_engine")


def _labelled(lhs_dtype: str, rhs_dtype: str) -> dict[str, int]:
    """The MAC totals of one (4 x 3) @ (3 x 5) dot of the given operand dtypes."""
    lhs = jax.ShapeDtypeStruct((4, 3), np.dtype(lhs_dtype))
    rhs = jax.ShapeDtypeStruct((3, 5), np.dtype(rhs_dtype))
    closed = jax.make_jaxpr(lambda a, b: jax.lax.dot_general(a, b, (((1,), (0,)), ((), ()))))(
        lhs, rhs
    )
    totals = dict.fromkeys(jax_engine.PRECISIONS, 0)
    jax_engine._count(closed.jaxpr, 1, totals, [])
    return {name: count for name, count in totals.items() if count}


@pytest.mark.parametrize(
    ("lhs", "rhs", "label"),
    [
        ("float32", "float32", "fp32"),
        ("float16", "float16", "fp16"),
        ("int8", "int8", "int8"),
        ("int16", "int8", "int16x8"),
        ("int8", "int16", "int16x8"),
        ("int16", "int16", "int16"),
        ("int32", "int8", "int32"),
    ],
)
def test_dot_macs_get_the_precision_of_their_operands(lhs, rhs, label):
    assert _labelled(lhs, rhs) == {label: 4 * 3 * 5}
