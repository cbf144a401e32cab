"""Representative data for INT8 calibration: checked against the inputs, fed one sample at a time.

Engine-neutral (numpy and TensorFlow's dtypes only): the tf_keras and the Keras 3 exporters
describe a model's inputs as ``specs`` - ``[(name, shape, tf.DType), ...]`` with the batch
axis first - and share these checks.

Example:
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> specs = [("x", (None, 3), tf.float32)]
    >>> arrays = representative_arrays(specs, np.ones((4, 3)), samples=2)
    >>> [sample[0].shape for sample in generator(arrays, specs, 2)()]
    [(1, 3), (1, 3)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine.checks import check_finite
from tf_green.quantization import _data

__all__ = ["NO_REPRESENTATIVE_DATA", "generator", "representative_arrays"]

NO_REPRESENTATIVE_DATA = (
    "quantization='int8' needs `representative_data` to calibrate activation ranges: "
    "pass a few hundred training inputs, e.g. representative_data=x_train[:300] or a "
    "tf.data.Dataset of (x, y) batches. Or use quantization='dynamic', which needs none."
)


def representative_arrays(
    specs: list[tuple[str, tuple, tf.DType]], data: Any, samples: int
) -> list[np.ndarray]:
    """Check ``data`` against the model's inputs; return one array per input."""
    names = [name for name, _, _ in specs]
    if _data.is_dataset(data):
        arrays, _ = _data.dataset_to_arrays(
            data, [len(s) for _, s, _ in specs], limit=samples, argument="representative_data"
        )
        if isinstance(arrays, dict):
            arrays = _data.as_input_list(arrays, names, "representative_data")
    else:
        arrays = _data.as_input_list(data, names, "representative_data")
    checked = []
    for array, (name, shape, dtype) in zip(arrays, specs, strict=True):
        checked.append(_check_array(array, name, shape, dtype))
    if len(checked[0]) == 0:
        raise ValueError("`representative_data` is empty; pass at least one sample.")
    # NaN/inf in calibration data gives NaN scales: a broken INT8 model, not an error.
    check_finite(
        checked[0][:samples] if len(checked) == 1 else [a[:samples] for a in checked],
        "representative_data",
    )
    return checked


def generator(
    arrays: list[np.ndarray], specs: list[tuple[str, tuple, tf.DType]], samples: int
) -> Callable[[], Iterator[list[np.ndarray] | dict[str, np.ndarray]]]:
    """A representative-dataset generator: one sample at a time."""
    names = [name for name, _, _ in specs]

    def generate() -> Iterator[list[np.ndarray] | dict[str, np.ndarray]]:
        for sample in _data.iter_samples(arrays, samples):
            # Several inputs go by signature name: the converter may reorder its inputs.
            yield sample if len(sample) == 1 else dict(zip(names, sample, strict=True))

    return generate


def _check_array(array: np.ndarray, name: str, shape: tuple, dtype: tf.DType) -> np.ndarray:
    """Check one input's representative array (shape and dtype kind); cast it to ``dtype``."""
    expected = "(n, " + ", ".join("?" if d is None else str(d) for d in shape[1:]) + ")"
    dims = zip(array.shape[1:], shape[1:], strict=False)
    if array.ndim != len(shape) or any(want is not None and got != want for got, want in dims):
        raise ValueError(
            f"`representative_data` for input {name!r} has shape {array.shape}, but the model "
            f"expects samples of shape {expected}; pass an array of shape {expected}."
        )
    kind = array.dtype.kind
    if dtype.is_floating:
        ok, hint = kind == "f", "pass float data preprocessed exactly as in training"
    elif dtype.is_bool:
        ok, hint = kind == "b", "pass a boolean array"
    else:
        ok, hint = kind in "iu", f"pass integer data (e.g. token ids) castable to {dtype.name}"
    if not ok:
        raise TypeError(
            f"`representative_data` for input {name!r} has dtype {array.dtype}, but the model "
            f"input is {dtype.name}; {hint}."
        )
    return array.astype(dtype.as_numpy_dtype, copy=False)
