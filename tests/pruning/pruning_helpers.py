"""Helpers of the pruning tests (a module with a unique name, importable from the tests)."""

from __future__ import annotations

import numpy as np

from tf_green import models
from tf_green._keras import keras

compile_classifier = models.compile_classifier


def kernel_sparsity(model: keras.Model) -> dict[str, float]:
    """{layer name: sparsity of its kernel} for the layers that have one."""
    result = {}
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        kernel = getattr(inner, "kernel", None)
        if kernel is not None:
            value = kernel.numpy()
            result[inner.name] = 1.0 - np.count_nonzero(value) / value.size
    return result


def expected_sparsity(size: int, target: float) -> float:
    """The sparsity TFMOT's magnitude mask gives a tensor of `size` at `target`."""
    kept = max(1, round(size * (1 - target)))
    return 1.0 - kept / size
