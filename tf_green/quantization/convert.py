"""Export a Keras model to a TFLite/LiteRT flatbuffer: float32, float16, dynamic or full INT8.

:func:`to_tflite` strips TFMOT pruning wrappers, converts with ``tf.lite.TFLiteConverter``,
checks that a full-INT8 export really runs on integer builtin kernels only, writes the file
atomically if asked, and returns the bytes.

Example:
    >>> from tf_green import models
    >>> content = to_tflite(models.mlp(), quantization="dynamic")
    >>> content[4:8]
    b'TFL3'
"""

from __future__ import annotations

import os
import pathlib
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tf_green._keras import keras, require_tf_keras_model, tf
from tf_green.quantization import _data, _flatbuffer, _wrappers

__all__ = ["QUANTIZATIONS", "REPRESENTATIVE_SAMPLES", "to_tflite"]

QUANTIZATIONS = (None, "float32", "float16", "dynamic", "int8")
REPRESENTATIVE_SAMPLES = 300


def to_tflite(
    model: keras.Model,
    path: str | os.PathLike | None = None,
    *,
    quantization: str | None = None,
    representative_data: Any = None,
    int8_io: bool = False,
    sparse: bool = False,
    representative_samples: int = REPRESENTATIVE_SAMPLES,
) -> bytes:
    """Convert a tf_keras model to TFLite bytes, optionally quantized, and write it atomically.

    Pruning wrappers (``prune_low_magnitude``) are stripped first. A model prepared for
    quantization-aware training (:func:`tf_green.quantization.qat`) keeps its wrappers: the
    converter turns their learned ranges into the INT8 model's quantization parameters, so
    such a model exports with ``quantization="int8"`` only, and needs no representative data.
    The caller's model is never changed.

    Quantization modes:

    * ``None`` / ``"float32"``: float32 weights and kernels.
    * ``"float16"``: float16 weights, dequantized at load; float kernels. About half the size.
    * ``"dynamic"``: int8 weights, float activations (dynamic-range quantization); ~1/4 size.
    * ``"int8"``: full integer: int8 weights and activations, calibrated on
      ``representative_data``; builtin INT8 kernels only (checked after conversion).

    ``sparse=True`` adds ``Optimize.EXPERIMENTAL_SPARSITY``: tensors that are sparse enough
    (pruned to high sparsity, e.g. 80-90%) are stored in a compressed sparse encoding, which
    shrinks the raw file a device maps into memory. It does nothing on dense models, and the
    sparse encoding compresses worse with zip/xz than runs of zeros, so a zipped download
    can grow. LiteRT 2.3's XNNPACK delegate cannot run sparse INT8 or dynamic-range tensors;
    :class:`tf_green.quantization.TFLiteModel` then falls back to the builtin kernels (slower).

    Args:
        model: A tf_keras model (Sequential, functional or subclassed).
        path: If given, the file to write (its folder must exist and be writable); written
            via a temporary file in the same folder and ``os.replace``, so a failure leaves
            no partial file.
        quantization: One of None, ``"float32"``, ``"float16"``, ``"dynamic"``, ``"int8"``.
        representative_data: For ``"int8"``: samples like the model's inputs, as an array
            (or a list/dict of arrays for several inputs) or a ``tf.data.Dataset`` of ``x``
            or ``(x, y)`` elements, batched or not. Typically a few hundred training
            samples. Ignored by the other modes and by QAT models.
        int8_io: With ``"int8"``, make the model's inputs and outputs int8 too (callers
            quantize inputs with the input's scale/zero point;
            :class:`~tf_green.quantization.TFLiteModel` does it for you).
        sparse: Ask the converter to encode sparse tensors (see above).
        representative_samples: How many samples of ``representative_data`` to calibrate
            on, >= 1.

    Returns:
        The flatbuffer bytes (also written to ``path`` when given).

    Raises:
        TypeError: If ``model`` is not a tf_keras model, or ``representative_data`` has a
            dtype the model's input cannot take.
        ValueError: On an unknown ``quantization``, ``"int8"`` without representative data,
            representative data of the wrong shape, ``int8_io`` without ``"int8"``, a QAT
            model with a non-INT8 mode, a ``path`` whose folder is missing or not writable,
            or a model with ops the builtin INT8 set cannot express (the error names them
            and suggests ``"dynamic"``).
        OSError: If writing ``path`` fails (no partial file is left).

    Example:
        >>> import numpy as np
        >>> from tf_green import models
        >>> x = np.random.default_rng(0).random((50, 64), dtype=np.float32)
        >>> content = to_tflite(models.mlp(), quantization="int8", representative_data=x)
        >>> from tf_green.quantization import TFLiteModel
        >>> TFLiteModel(content).precision
        'int8'
    """
    model = require_tf_keras_model(model)
    quantization = _check_quantization(quantization)
    if int8_io and quantization != "int8":
        raise ValueError(
            f"`int8_io=True` needs quantization='int8' (got {quantization!r}): only a full "
            "integer model can have int8 inputs and outputs."
        )
    if not isinstance(representative_samples, int) or representative_samples < 1:
        raise ValueError(
            f"`representative_samples` must be an int >= 1, got {representative_samples!r}."
        )
    target = _check_path(path) if path is not None else None
    qat_model = _wrappers.has_qat_wrappers(model)
    if qat_model and quantization != "int8":
        raise ValueError(
            f"`model` is prepared for quantization-aware training (it has TFMOT quantize "
            f"wrappers); export it with quantization='int8', not {quantization!r}. To export "
            "a float model, convert the model you passed to `qat()`/`quantize()` instead."
        )
    model = _wrappers.strip_pruning(model)
    representative = None
    if quantization == "int8" and not qat_model:
        representative = _representative_dataset(model, representative_data, representative_samples)
    converter = _converter(model, quantization, representative, int8_io, sparse, qat_model)
    content = _convert(converter, quantization)
    if quantization == "int8":
        _check_integer_only(content)
    if target is not None:
        _write_atomically(target, content)
    return content


def _check_quantization(quantization: Any) -> str | None:
    if quantization not in QUANTIZATIONS:
        valid = ", ".join(repr(q) for q in QUANTIZATIONS)
        raise ValueError(f"unknown `quantization` {quantization!r}; valid values: {valid}.")
    return None if quantization == "float32" else quantization


def _check_path(path: str | os.PathLike) -> pathlib.Path:
    """Check, before any work, that ``path`` can be written; return it as a Path."""
    try:
        target = pathlib.Path(path)
    except TypeError:
        raise TypeError(
            f"`path` must be a str or os.PathLike, got {type(path).__name__}."
        ) from None
    folder = target.parent
    if not folder.is_dir():
        raise ValueError(
            f"`path` {str(target)!r}: folder {str(folder)!r} does not exist; create it first "
            "or choose another path."
        )
    if target.is_dir():
        raise ValueError(f"`path` {str(target)!r} is a folder; give a file name (model.tflite).")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(
            f"`path` {str(target)!r}: folder {str(folder)!r} is not writable; choose a folder "
            "you can write to."
        )
    return target


def _write_atomically(target: pathlib.Path, content: bytes) -> None:
    """Write via a temporary file in the same folder and ``os.replace``; no partial file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise OSError(
                error.errno, f"could not write `path` {str(target)!r}: {error.strerror or error}"
            ) from error
        raise


def _input_specs(model: keras.Model) -> list[tuple[str, tuple, tf.DType]]:
    """(name, shape with batch axis, dtype) of each model input."""
    if not model.inputs:
        raise ValueError(
            "`model` has no defined inputs (an unbuilt subclassed model?); call it once on "
            "data or build it with `model.build(input_shape)` before exporting."
        )
    names = list(getattr(model, "input_names", None) or [])
    if len(names) != len(model.inputs):
        names = [t.name.split(":")[0] for t in model.inputs]
    return [
        (name, tuple(t.shape.as_list()), tf.as_dtype(t.dtype))
        for name, t in zip(names, model.inputs, strict=True)
    ]


def _representative_dataset(
    model: keras.Model, data: Any, samples: int
) -> Callable[[], Iterator[list[np.ndarray]]]:
    """Check ``data`` against the model's inputs; return a one-sample-at-a-time generator."""
    if data is None:
        raise ValueError(
            "quantization='int8' needs `representative_data` to calibrate activation ranges: "
            "pass a few hundred training inputs, e.g. representative_data=x_train[:300] or a "
            "tf.data.Dataset of (x, y) batches. Or use quantization='dynamic', which needs none."
        )
    specs = _input_specs(model)
    names = [name for name, _, _ in specs]
    if _data.is_dataset(data):
        arrays, _ = _data.dataset_to_arrays(data, [len(s) for _, s, _ in specs], limit=samples)
        if isinstance(arrays, dict):
            arrays = _data.as_input_list(arrays, names, "representative_data")
    else:
        arrays = _data.as_input_list(data, names, "representative_data")
    checked = []
    for array, (name, shape, dtype) in zip(arrays, specs, strict=True):
        checked.append(_check_array(array, name, shape, dtype))
    if len(checked[0]) == 0:
        raise ValueError("`representative_data` is empty; pass at least one sample.")

    def generate() -> Iterator[list[np.ndarray] | dict[str, np.ndarray]]:
        for sample in _data.iter_samples(checked, samples):
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


def _converter(
    model: keras.Model,
    quantization: str | None,
    representative: Callable | None,
    int8_io: bool,
    sparse: bool,
    qat_model: bool,
) -> tf.lite.TFLiteConverter:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    optimizations = []
    if quantization is not None:
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        if not qat_model:
            # A QAT model is integer through its fake-quant ranges; the converter refuses
            # TFLITE_BUILTINS_INT8 without a representative dataset there, so the integer-only
            # property is checked on the result instead (_check_integer_only).
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter


_TF_OP = re.compile(r"'((?:tf|tfl)\.[A-Za-z0-9_]+)' op")


def _convert(converter: tf.lite.TFLiteConverter, quantization: str | None) -> bytes:
    try:
        with warnings.catch_warnings():
            # Emitted for every quantized conversion of a float-input model; not actionable.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            # The calibrator runs tf.lite.Interpreter internally for multi-input models.
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprec")
            return converter.convert()
    except Exception as error:
        if type(error).__name__ != "ConverterError":
            raise
        ops = sorted(set(_TF_OP.findall(str(error))))
        what = ", ".join(ops) if ops else "an operation"
        hint = (
            " For quantization='int8', try quantization='dynamic' (int8 weights, float "
            "activations)."
            if quantization == "int8"
            else ""
        )
        raise ValueError(
            f"the TFLite converter cannot express {what} of `model` with builtin ops"
            f" (quantization={quantization!r}). Replace the layer that uses it with standard "
            f"Keras layers.{hint} Converter message: {_first_error_line(str(error))}"
        ) from error


def _first_error_line(message: str) -> str:
    for line in message.splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()[:300]
    return message.strip().splitlines()[0][:300] if message.strip() else "?"


def _check_integer_only(content: bytes) -> None:
    """Refuse an "int8" export in which the converter left operators in float."""
    float_ops = _flatbuffer.inspect(content).float_ops
    if float_ops:
        listed = "; ".join(str(op) for op in float_ops[:8])
        raise ValueError(
            "quantization='int8': the builtin INT8 op set cannot express "
            f"{len(float_ops)} operator(s) of `model`, which the converter left in float: "
            f"{listed}. Use quantization='dynamic' (int8 weights, float activations), or "
            "replace those layers with ones that have INT8 kernels."
        )
