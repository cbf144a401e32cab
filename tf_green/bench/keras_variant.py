"""A Keras model as a bench variant, for both engines: tf_keras and Keras 3 (TensorFlow or JAX).

The model runs the way serving it costs on its own engine:

* tf_keras, and Keras 3 on the TensorFlow backend: one ``tf.function`` around
  ``model(x, training=False)`` (runtime "TensorFlow (tf.function)" / "Keras 3 on TensorFlow
  (tf.function)"); MACs are counted from that traced graph (:func:`~tf_green.bench.flops.
  keras_macs`).
* Keras 3 on the JAX backend: one ``jax.jit`` of ``model.stateless_call`` with the weights as
  arguments (runtime "Keras 3 on JAX (jax.jit)"); MACs are counted from the jaxpr of the same
  call, with the same convention (:mod:`tf_green.bench.keras3.jax_engine`).

Size, memory and energy are measured exactly as for tf_keras. This module imports no Keras:
it reads the model duck-typed, and imports JAX only for a Keras 3 model on the JAX backend, so
a Keras 3 profile never imports tf_keras or TFMOT.

Example:
    >>> from tf_green import models
    >>> KerasVariant(models.mlp(), "m").run(np.zeros((2, 64), np.float32)).shape
    (2, 10)
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine import engine_of, require_keras3_backend
from tf_green.bench._inputs import Inputs
from tf_green.bench.flops import MacCount, keras_macs
from tf_green.bench.size import SizeStats, keras_size
from tf_green.bench.variant import Spec, Variant

__all__ = ["KerasVariant"]

_RUNTIMES = {
    ("tf_keras", "tensorflow"): "TensorFlow (tf.function)",
    ("keras3", "tensorflow"): "Keras 3 on TensorFlow (tf.function)",
    ("keras3", "jax"): "Keras 3 on JAX (jax.jit)",
}


def _graph_inputs(model: Any) -> list[Any]:
    """The symbolic inputs of a functional/Sequential model; [] for a subclassed one."""
    try:
        return list(getattr(model, "inputs", None) or [])
    except (AttributeError, ValueError):
        return []


def _numpy_dtype(dtype: Any) -> np.dtype:
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype))


def _dims(shape: Any) -> tuple[int | None, ...]:
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return tuple(None if d is None else int(d) for d in dims)


class KerasVariant(Variant):
    """A tf_keras or Keras 3 model, run through one ``tf.function`` or one ``jax.jit``.

    Functional and Sequential models give their input signature; a subclassed model that has
    been built (called once) takes it from the data it is profiled with.

    Args:
        model: The model (one or several inputs, one output).
        name: Name in results; defaults to ``model.name``.

    Attributes:
        engine: "tf_keras" or "keras3".
        backend: "tensorflow" or "jax" (the Keras 3 backend; tf_keras runs on TensorFlow).

    Raises:
        TypeError: If ``model`` is not a tf_keras or Keras 3 model.
        ValueError: If it is a subclassed model that was never built, or a Keras 3 model on a
            backend other than TensorFlow or JAX.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> variant = KerasVariant(model, "k3")
        >>> variant.engine, variant.run(np.zeros((4, 3), np.float32)).shape
        ('keras3', (4, 2))
    """

    kind = "keras"

    def __init__(self, model: Any, name: str | None = None) -> None:
        self.engine = engine_of(model, "model")
        self.backend = "tensorflow" if self.engine == "tf_keras" else require_keras3_backend()
        self.model = model
        self.name = name or model.name
        self._specs: list[Spec] | None = None
        inputs = _graph_inputs(model)
        if inputs:
            names = getattr(model, "input_names", None) if self.engine == "tf_keras" else None
            self._names = [str(n) for n in names] if names else [str(t.name) for t in inputs]
            self._specs = [(_dims(t.shape)[1:], _numpy_dtype(t.dtype)) for t in inputs]
        elif not model.built:
            raise ValueError(
                f"model {model.name!r} is a subclassed model that was never built, so its "
                "inputs are unknown; call it once on a sample (model(x[:1])) before profiling."
            )
        else:
            self._names = ["input"]
        if self.backend == "jax":
            self._jax = importlib.import_module("tf_green.bench.keras3.jax_engine")
            self._call = self._jax.JaxRunner(model)
        else:
            self._call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @property
    def runtime(self) -> str:
        """What runs the model: TensorFlow (tf.function) or Keras 3 on TensorFlow/JAX."""
        return _RUNTIMES[(self.engine, self.backend)]

    def input_specs(self) -> list[Spec] | None:
        """From ``model.inputs``, or from the data for a subclassed model."""
        return self._specs

    def input_names(self) -> list[str]:
        """The model's input names (``["input"]`` for a subclassed model)."""
        return self._names

    def _specs_from(self, arrays: list[np.ndarray]) -> list[Spec]:
        self._specs = super()._specs_from(arrays)
        return self._specs

    def run(self, batch: np.ndarray | Inputs) -> np.ndarray:
        """Run one batch through the traced (or jitted) model and wait for the result."""
        arrays = batch.arrays if isinstance(batch, Inputs) else [batch]
        if self.backend == "jax":
            data: Any = arrays if isinstance(batch, Inputs) else arrays[0]
        else:
            tensors = [tf.convert_to_tensor(a) for a in arrays]
            data = tensors if isinstance(batch, Inputs) else tensors[0]
        outputs = self._call(data)
        if isinstance(outputs, (list, tuple, dict)):
            raise ValueError(
                f"model {self.name!r} has several outputs; the bench scores one: profile a "
                "model of the output you want (keras.Model(model.inputs, model.outputs[i]))."
            )
        return np.asarray(outputs)

    def macs(self, sample_shape: Sequence[int]) -> MacCount:
        """MACs counted from the traced graph or jaxpr (at the data's shapes for several inputs)."""
        specs = self._specs or [(tuple(sample_shape), np.dtype(np.float32))]
        if len(specs) == 1:
            specs = [(tuple(sample_shape), specs[0][1])]
        if self.backend == "jax":
            return self._jax.jax_macs(self.model, specs)
        if len(specs) == 1:
            return keras_macs(self.model, sample_shape, dtype=tf.as_dtype(specs[0][1]))
        signature = [tf.TensorSpec((1, *shape), tf.as_dtype(dtype)) for shape, dtype in specs]
        return keras_macs(self.model, sample_shape, signature=signature)

    def size(self) -> SizeStats:
        """Size of the weights."""
        return keras_size(self.model)
