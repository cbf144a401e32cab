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
import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tf_green._engine.models import strip_pruning
from tf_green._input_checks import check_finite
from tf_green._keras import keras, require_tf_keras_model, tf
from tf_green.quantization import _calibrate, _data, _tflite_converter, _trace, _wrappers

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

    Models users build themselves:

    * Recurrent models (LSTM/GRU/SimpleRNN layers) are exported at batch 1 (a warning says
      so): the converter cannot express their loops with a dynamic batch axis.
      :class:`~tf_green.quantization.TFLiteModel` runs such a model on any number of
      samples, one at a time. For ``"int8"``, GRU/SimpleRNN layers with a fixed sequence
      length are unrolled in a copy of the model, and calibration runs in a child process
      (see :mod:`tf_green.quantization._calibrate`): TensorFlow's calibrator can crash with a
      segmentation fault on recurrent graphs, which would kill the caller's process (a
      notebook kernel); a crash becomes a ``RuntimeError`` instead. The child costs a
      TensorFlow import (5-10 s), so other models calibrate in process.
    * Subclassed models are traced on the inputs of their first call (after ``fit`` or
      ``model(x)``); a subclassed model only built with ``model.build`` is traced on the
      shapes of ``representative_data``.

    Args:
        model: A tf_keras model (Sequential, functional or subclassed).
        path: If given, the file to write; ``~`` is expanded. Checked before converting: its
            folder must exist and accept a new file (a temporary file is created there and
            removed). Written via a temporary file in the same folder and ``os.replace``,
            so a failure leaves no partial file.
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
        RuntimeError: If INT8 calibration of a recurrent model crashed TensorFlow's
            calibrator (in the child process; the error suggests ``"dynamic"``).

    Example:
        >>> import numpy as np
        >>> from tf_green import models
        >>> x = np.random.default_rng(0).random((50, 64), dtype=np.float32)
        >>> content = to_tflite(models.mlp(), quantization="int8", representative_data=x)
        >>> from tf_green.quantization import TFLiteModel
        >>> TFLiteModel(content).precision
        'int8'
    """
    model = require_tf_keras_model(model, call="tg.to_tflite")
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
    calibrate = quantization == "int8" and not qat_model
    if calibrate and representative_data is None:
        raise ValueError(_NO_REPRESENTATIVE_DATA)
    if _wrappers.has_pruning_wrappers(model):
        model = strip_pruning(model)  # the masks applied: TFMOT's strip keeps raw weights
    structure = _trace.signature(model, representative_data)
    specs = _trace.flat_specs(structure)
    arrays = None
    if calibrate:
        arrays = _representative_arrays(specs, representative_data, representative_samples)
    if _trace.has_recurrent_layers(model):
        content = _convert_recurrent(
            model,
            structure,
            arrays,
            quantization,
            int8_io,
            sparse,
            qat_model,
            representative_samples,
        )
    else:
        if model.inputs or model.save_spec() is not None:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
        else:  # a subclassed model built without data: traced on the representative shapes
            function = _trace.concrete_function(model, structure)
            converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
        generator = _generator(arrays, specs, representative_samples) if calibrate else None
        _tflite_converter.configure(converter, quantization, generator, int8_io, sparse, qat_model)
        content = _tflite_converter.convert(converter, quantization)
    if quantization == "int8":
        _tflite_converter.check_integer_only(content)
    if target is not None:
        _write_atomically(target, content)
    return content


_NO_REPRESENTATIVE_DATA = (
    "quantization='int8' needs `representative_data` to calibrate activation ranges: "
    "pass a few hundred training inputs, e.g. representative_data=x_train[:300] or a "
    "tf.data.Dataset of (x, y) batches. Or use quantization='dynamic', which needs none."
)


def _convert_recurrent(
    model: keras.Model,
    structure: Any,
    arrays: list[np.ndarray] | None,
    quantization: str | None,
    int8_io: bool,
    sparse: bool,
    qat_model: bool,
    samples: int,
) -> bytes:
    """Convert a model with LSTM/GRU/RNN layers at batch 1; calibrate INT8 in a subprocess."""
    fixed = _trace.with_batch(structure, 1)
    if fixed != structure:
        warnings.warn(
            "to_tflite: `model` has recurrent layers (LSTM/GRU/RNN), which TFLite cannot "
            "convert with a dynamic batch axis; exporting it at batch 1 (TFLiteModel.predict "
            "runs any number of samples, one at a time).",
            UserWarning,
            stacklevel=3,
        )
    batch = _trace.flat_specs(fixed)[0][1][0]
    if quantization == "int8" and not qat_model:
        source = _trace.unroll_recurrent(model) or model
        function = _trace.concrete_function(source, fixed)
        try:
            return _calibrate.convert_isolated(
                source.variables,
                function,
                arrays,
                [name for name, _, _ in _trace.flat_specs(fixed)],
                batch=batch,
                samples=samples,
                int8_io=int8_io,
                sparse=sparse,
            )
        except _calibrate.ConverterFailedError as error:
            raise _tflite_converter.converter_error(str(error), quantization) from None
    function = _trace.concrete_function(model, fixed)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    _tflite_converter.configure(converter, quantization, None, int8_io, sparse, qat_model)
    if quantization == "dynamic":
        # The new dynamic-range quantizer leaves the fused LSTM kernel's weights in float
        # (the "dynamic" file would be a float32 one); the previous quantizer stores them int8.
        converter.experimental_new_dynamic_range_quantizer = False
    return _tflite_converter.convert(converter, quantization)


def _check_quantization(quantization: Any) -> str | None:
    if quantization not in QUANTIZATIONS:
        valid = ", ".join(repr(q) for q in QUANTIZATIONS)
        raise ValueError(f"unknown `quantization` {quantization!r}; valid values: {valid}.")
    return None if quantization == "float32" else quantization


def _check_path(path: str | os.PathLike) -> pathlib.Path:
    """Check, before any work, that ``path`` can be written; return it as a Path.

    Besides the folder's permission bits, a temporary file is created (and removed) next to
    ``path``: that is what :func:`_write_atomically` does later, and it also catches folders
    that ``os.access`` calls writable but are not (read-only mounts, ``/proc``, root).
    """
    try:
        target = pathlib.Path(os.path.expanduser(os.fspath(path)))
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
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(
            f"`path` {str(target)!r} exists and is read-only; remove it or choose another path."
        )
    unwritable = ValueError(
        f"`path` {str(target)!r}: folder {str(folder)!r} is not writable; choose a folder "
        "you can write to."
    )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise unwritable
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise ValueError(f"{unwritable.args[0][:-1]} ({error.strerror or error}).") from None
    os.close(fd)
    os.unlink(probe)
    return target


def _write_atomically(target: pathlib.Path, content: bytes) -> None:
    """Write via a temporary file in the same folder and ``os.replace``; no partial file."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as error:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise OSError(
                error.errno, f"could not write `path` {str(target)!r}: {error.strerror or error}"
            ) from error
        raise


def _representative_arrays(
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


def _generator(
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
