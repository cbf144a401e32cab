"""Keras 3 models on the JAX backend: run one ``jax.jit``, count MACs from the jaxpr.

Running: :class:`JaxRunner` jits ``model(x, training=False)`` once, with the weights as
arguments (mapped in a ``keras.StatelessScope``, as ``model.stateless_call`` does; not baked
in as constants, so XLA cannot fold them away), and reads the model's current weights on every
call. This is what serving a
Keras 3 model on JAX costs (``model.predict`` jits its predict step the same way).

Counting (:func:`jax_macs`): the same call is traced to a jaxpr for one sample and every
``dot_general`` (Dense, EinsumDense, matmul, einsum, attention) and ``conv_general_dilated``
(Conv1D/2D/3D, DepthwiseConv, SeparableConv, Conv*Transpose) is counted from its static shapes,
**the same convention as** :func:`tf_green.bench.flops.keras_macs` **counts TF graph ops**:

* ``dot_general``: output elements x the product of the contracted dimensions (as TF's MatMul,
  BatchMatMul and Einsum).
* ``conv_general_dilated``: output elements x kernel window x input channels per group (as
  TF's Conv2D/Conv3D/DepthwiseConv2dNative); with an input dilation (a transposed conv), input
  elements x kernel window x output channels per group, as TF's Conv2DBackpropInput, so the
  inserted zeros are not counted.
* Everything else (bias adds, activations, pooling, normalization, softmax) is not counted.
* Called sub-jaxprs (``pjit``, custom derivatives, remat) count once; a ``scan`` body counts
  ``length`` times (Keras 3 RNNs on JAX). A ``while`` loop (trip count unknown) or ``cond``
  branch holding MAC ops is not counted and is named in ``uncounted_ops``.

Precision: a product counts in its left operand's dtype (float16/bfloat16 -> "fp16", integer
-> "int8", else "fp32"). Kernels are dense: nothing is skipped.

Why not ``jax.jit(...).lower(...).compile().cost_analysis()``: XLA's "flops" counts every
elementwise op too and is taken after fusion and algebraic rewrites, so it is neither the
bench's MAC convention nor comparable with the TensorFlow figure of the same architecture.

Example:
    >>> import keras, numpy as np  # doctest: +SKIP
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])  # doctest: +SKIP
    >>> jax_macs(model, [((8,), np.dtype("float32"))]).macs  # doctest: +SKIP
    32
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import jax
import keras
import numpy as np

from tf_green.bench.flops import PRECISIONS, MacCount

__all__ = ["JaxRunner", "jax_macs"]

METHOD = "from the jaxpr (dot_general/conv_general_dilated of a jax trace, batch 1)"


def _weights(model: Any) -> tuple[list[Any], list[Any]]:
    trainable = [v.value for v in model.trainable_variables]
    return trainable, [v.value for v in model.non_trainable_variables]


def _inference(model: Any) -> Any:
    """``f(trainable, non_trainable, x)``: the model's inference outputs, weights as arguments.

    The weights are mapped in a ``keras.StatelessScope`` around ``model(x, training=False)``
    (what ``stateless_call`` does), so Keras' ``__call__`` still decides whether ``call``
    takes ``training`` (a subclassed model's may not).
    """
    variables = [*model.trainable_variables, *model.non_trainable_variables]

    def infer(trainable: list[Any], non_trainable: list[Any], x: Any) -> Any:
        mapping = list(zip(variables, [*trainable, *non_trainable], strict=True))
        with keras.StatelessScope(state_mapping=mapping):
            return model(x, training=False)

    return infer


class JaxRunner:
    """One ``jax.jit`` of a Keras 3 model's inference call, the weights passed as arguments.

    Args:
        model: A Keras 3 model on the JAX backend (never changed).

    Example:
        >>> runner = JaxRunner(model)  # doctest: +SKIP
        >>> np.asarray(runner(np.zeros((2, 8), np.float32))).shape  # doctest: +SKIP
        (2, 4)
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._function = jax.jit(_inference(model))

    def __call__(self, x: Any) -> Any:
        """Outputs of ``x`` (an array, or a list of arrays in the model's input order)."""
        trainable, non_trainable = _weights(self.model)
        outputs = self._function(trainable, non_trainable, x)
        return jax.block_until_ready(outputs)


def _precision(*dtypes: Any) -> str:
    """The MAC precision of a dot/conv from its two operands' dtypes (the wider one decides)."""
    dtypes = [np.dtype(d) for d in dtypes]
    if any(d.name in ("float16", "bfloat16") for d in dtypes) and all(
        d.name in ("float16", "bfloat16") or np.issubdtype(d, np.integer) for d in dtypes
    ):
        return "fp16"
    if all(np.issubdtype(d, np.integer) for d in dtypes):
        bits = sorted(8 * d.itemsize for d in dtypes)
        if bits[-1] <= 8:
            return "int8"
        if bits == [8, 16]:
            return "int16x8"
        return "int16" if bits[-1] == 16 else "int32"
    return "fp32"


def _sub_jaxprs(params: dict[str, Any]) -> Iterator[Any]:
    for value in params.values():
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if hasattr(item, "eqns"):
                yield item
            elif hasattr(getattr(item, "jaxpr", None), "eqns"):
                yield item.jaxpr


def _eqn_macs(eqn: Any) -> int:
    name = eqn.primitive.name
    out = int(np.prod(eqn.outvars[0].aval.shape, dtype=np.int64))
    lhs, rhs = (v.aval.shape for v in eqn.invars[:2])
    if name == "dot_general":
        (contract, _), _ = eqn.params["dimension_numbers"]
        return out * int(np.prod([lhs[d] for d in contract], dtype=np.int64))
    numbers = eqn.params["dimension_numbers"]
    out_features, in_features, *spatial = (rhs[d] for d in numbers.rhs_spec)
    window = int(np.prod(spatial, dtype=np.int64))
    if any(int(d) != 1 for d in eqn.params.get("lhs_dilation") or ()):  # a transposed conv
        groups = int(eqn.params.get("feature_group_count", 1))
        return int(np.prod(lhs, dtype=np.int64)) * window * (int(out_features) // groups)
    return out * window * int(in_features)


def _count(jaxpr: Any, times: int, totals: dict[str, int], uncounted: list[str]) -> None:
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in ("dot_general", "conv_general_dilated"):
            totals[_precision(*(v.aval.dtype for v in eqn.invars[:2]))] += times * _eqn_macs(eqn)
            continue
        subs = list(_sub_jaxprs(eqn.params))
        if not subs:
            continue
        if name in ("while", "cond"):
            inner = dict.fromkeys(PRECISIONS, 0)
            for sub in subs:
                _count(sub, 1, inner, uncounted)
            if any(inner.values()):
                uncounted.append(f"{name} (MAC ops inside a {name} are not counted)")
            continue
        factor = int(eqn.params.get("length", 1)) if name == "scan" else 1
        for sub in subs:
            _count(sub, times * factor, totals, uncounted)


def jax_macs(model: Any, specs: Sequence[tuple[Sequence[int], Any]]) -> MacCount:
    """Count a Keras 3 (JAX backend) model's MACs for one sample, from its jaxpr.

    Args:
        model: A Keras 3 model on the JAX backend (not changed, not run: only traced).
        specs: ``(sample shape, dtype)`` of each input, in the model's input order.

    Returns:
        The count (see the module docstring for what is counted).

    Example:
        >>> jax_macs(model, [((8,), np.dtype("float32"))]).method  # doctest: +SKIP
        'from the jaxpr (dot_general/conv_general_dilated of a jax trace, batch 1)'
    """
    trainable, non_trainable = _weights(model)
    inputs = [jax.ShapeDtypeStruct((1, *shape), np.dtype(dtype)) for shape, dtype in specs]

    abstract = [jax.ShapeDtypeStruct(w.shape, w.dtype) for w in trainable]
    abstract_nt = [jax.ShapeDtypeStruct(w.shape, w.dtype) for w in non_trainable]
    x = inputs if len(inputs) > 1 else inputs[0]
    closed = jax.make_jaxpr(_inference(model))(abstract, abstract_nt, x)
    totals = dict.fromkeys(PRECISIONS, 0)
    uncounted: list[str] = []
    _count(closed.jaxpr, 1, totals, uncounted)
    return MacCount(
        macs_fp32=totals["fp32"],
        macs_fp16=totals["fp16"],
        macs_int8=totals["int8"],
        macs_skipped=0,
        macs_int16x8=totals["int16x8"],
        macs_int16=totals["int16"],
        macs_int32=totals["int32"],
        method=METHOD,
        uncounted_ops=tuple(uncounted),
    )
