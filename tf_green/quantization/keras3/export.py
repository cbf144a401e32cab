"""The Keras 3 engine of :func:`tf_green.quantization.to_tflite`: a Keras 3 model to bytes.

Both backends take one path: the model's forward pass at ``training=False`` becomes the
``serving_default`` endpoint of a ``keras.export.ExportArchive`` (on JAX Keras converts it
with jax2tf to StableHLO inside a TensorFlow graph, weights as constants), written as a
SavedModel to a temporary folder and converted with
``tf.lite.TFLiteConverter.from_saved_model``. The endpoint takes one tensor per model input,
named as the model's inputs (dict keys, or the ``Input`` layers' names), and returns a dict
keyed by the model's output names, so :class:`~tf_green.quantization.TFLiteModel` addresses
inputs and outputs by name, and the batch axis stays dynamic.

Builtin ops only unless ``allow_flex=True`` (:mod:`.._tflite_converter`); the argument
checks, the checks on the result and the write are
:func:`~tf_green.quantization.to_tflite`'s. Recurrent models (an ``RNN``/``LSTM``/``GRU``
layer inside) are exported at batch 1 with a warning, and calibrated for INT8 in a child
process (:mod:`.._calibrate`: TensorFlow's calibrator can crash on them), as on the tf_keras
engine. Imports only Keras 3, TensorFlow and numpy.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> convert(model, quantization="float16")[4:8]
    b'TFL3'
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tf_green.quantization import _calibrate, _representative, _tflite_converter

__all__ = ["convert", "input_specs"]

_ENDPOINT = "serving_default"

Spec = tuple[str, tuple, tf.DType]


def convert(
    model: keras.Model,
    *,
    quantization: str | None = None,
    representative_data: Any = None,
    int8_io: bool = False,
    sparse: bool = False,
    representative_samples: int = 300,
    allow_flex: bool = False,
) -> bytes:
    """Convert a Keras 3 model to TFLite bytes (arguments checked by ``to_tflite``).

    Args:
        model: A built Keras 3 model: Sequential, functional, or subclassed and called once.
        quantization: None, ``"float16"``, ``"dynamic"`` or ``"int8"``.
        representative_data: Calibration samples for ``"int8"``.
        int8_io: int8 inputs and outputs (``"int8"`` only).
        sparse: Add ``Optimize.EXPERIMENTAL_SPARSITY``.
        representative_samples: How many samples to calibrate on.
        allow_flex: Allow TensorFlow (Flex) ops.

    Returns:
        The flatbuffer bytes.

    Raises:
        TypeError: On a representative dtype that the model's input cannot take.
        ValueError: If ``model`` has Keras-quantized layers (``model.quantize``), is not
            built (or is a subclassed model never called),
            ``"int8"`` lacks representative data, or the converter cannot express an op
            (named; TensorFlow ops that need Flex name ``allow_flex=True``).

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> len(convert(model)) > 0
        True
    """
    quantized = [
        layer.name
        for layer in model._flatten_layers()
        if getattr(layer, "quantization_mode", None) is not None
    ]
    if quantized:
        raise ValueError(
            f"`model` has layers quantized by Keras ({', '.join(quantized[:5])}: tg.quantize or "
            "model.quantize), whose int8/int4 kernels the TFLite converter cannot express. "
            "Export the float model and let the converter quantize it: to_tflite(float_model, "
            "quantization='dynamic') (int8 weights), 'int8' (with representative_data) or "
            "'int4'."
        )
    specs, pack = input_specs(model)
    arrays = None
    if quantization == "int8":
        if representative_data is None:
            raise ValueError(_representative.NO_REPRESENTATIVE_DATA)
        arrays = _representative.representative_arrays(
            specs, representative_data, representative_samples
        )
    recurrent = _has_recurrent_layers(model)
    if recurrent and any(shape[0] is None for _, shape, _ in specs):
        warnings.warn(
            "to_tflite: `model` has recurrent layers (LSTM/GRU/RNN), which TFLite cannot "
            "convert with a dynamic batch axis; exporting it at batch 1 (TFLiteModel.predict "
            "runs any number of samples, one at a time).",
            UserWarning,
            stacklevel=3,
        )
        specs = [(name, (1, *shape[1:]), dtype) for name, shape, dtype in specs]
    generator = None
    if arrays is not None:
        generator = _representative.generator(arrays, specs, representative_samples)
    settings = {"int8_io": int8_io, "sparse": sparse, "allow_flex": allow_flex}
    with tempfile.TemporaryDirectory(prefix="tf_green_export_") as folder:
        _write_saved_model(model, specs, pack, folder)
        if recurrent and arrays is not None:
            # TensorFlow's calibrator can crash (SIGSEGV) on recurrent graphs: in a child.
            names = [name for name, _, _ in specs]
            try:
                return _calibrate.convert_saved_model_isolated(
                    folder,
                    arrays,
                    names,
                    batch=specs[0][1][0],
                    samples=representative_samples,
                    **settings,
                )
            except _calibrate.ConverterFailedError as error:
                raise _tflite_converter.converter_error(str(error), quantization) from None
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[_ENDPOINT])
        _tflite_converter.configure(
            converter,
            quantization,
            generator,
            **settings,
        )
        return _tflite_converter.convert(converter, quantization)


def input_specs(model: keras.Model) -> tuple[list[Spec], Callable[[list[Any]], Any]]:
    """The model's inputs as ``[(name, shape, tf.DType)]`` and how to pack tensors for it.

    Args:
        model: A built Keras 3 model.

    Returns:
        ``(specs, pack)``: one spec per input (batch axis first, None where dynamic), and a
        function turning a list of tensors (in ``specs`` order) into what ``model`` takes
        (a tensor, a list, or a dict keyed by input name).

    Raises:
        ValueError: If ``model`` is not built, or is a subclassed model never called.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(2)])
        >>> [(name, shape) for name, shape, _ in input_specs(model)[0]]
        [('features', (None, 4))]
    """
    if not model.built:
        raise ValueError(
            "`model` is not built: call it once on data (`model(x[:1])`), fit it, or give it "
            "an Input, then export it."
        )
    if getattr(model, "inputs", None):
        try:
            structure = model.input  # a tensor, a list, or a dict keyed by input name
        except AttributeError:  # a Sequential model with an Input, never called
            structure = model.inputs[0] if len(model.inputs) == 1 else list(model.inputs)
        if isinstance(structure, dict):
            names = list(structure)
            tensors = [structure[name] for name in names]
        else:
            tensors = list(model.inputs)
            names = [_input_name(tensor, i) for i, tensor in enumerate(tensors)]
        pairs = zip(names, tensors, strict=True)
        specs = [(name, tuple(t.shape), tf.as_dtype(t.dtype)) for name, t in pairs]
        return specs, _packer(structure, names)
    return _subclassed_specs(model)


def _input_name(tensor: Any, index: int) -> str:
    """The ``Input`` layer's name of a functional input (what Keras' dict inputs are keyed by)."""
    history = getattr(tensor, "_keras_history", None)
    layer = getattr(history, "operation", None)
    return str(getattr(layer, "name", None) or getattr(tensor, "name", None) or f"input_{index}")


def _packer(structure: Any, names: list[str]) -> Callable[[list[Any]], Any]:
    if isinstance(structure, dict):
        return lambda tensors: dict(zip(names, tensors, strict=True))
    if isinstance(structure, (list, tuple)):
        return list
    return lambda tensors: tensors[0]


def _subclassed_specs(model: keras.Model) -> tuple[list[Spec], Callable[[list[Any]], Any]]:
    """Specs of a subclassed model from the shapes Keras recorded at its first call."""
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    if not getattr(model, "_called", False) or len(shapes) != 1:
        raise ValueError(
            f"`model` ({type(model).__name__}) is a subclassed model that was never called "
            "on one input tensor; call it once on a batch (`model(x[:1])`) or fit it before "
            "exporting (or build it functionally)."
        )
    shape = next(iter(shapes.values()))
    if not isinstance(shape, (tuple, list)) or any(isinstance(d, (tuple, list)) for d in shape):
        raise ValueError(
            f"`model` ({type(model).__name__}) is a subclassed model with nested inputs; "
            "tf_green exports subclassed models with one input tensor. Build it functionally."
        )
    dtype = tf.as_dtype(model.input_dtype if hasattr(model, "input_dtype") else "float32")
    spec = ("input", (None, *tuple(shape)[1:]), dtype)
    return [spec], lambda tensors: tensors[0]


def _has_recurrent_layers(model: keras.Model) -> bool:
    return any(isinstance(layer, keras.layers.RNN) for layer in model._flatten_layers())


def _write_saved_model(
    model: keras.Model, specs: list[Spec], pack: Callable[[list[Any]], Any], folder: str
) -> None:
    """Write ``model``'s inference function as a SavedModel endpoint (jax2tf on JAX)."""
    output_names = list(getattr(model, "output_names", None) or [])

    def serve(*tensors: Any) -> dict[str, Any]:
        outputs = model(pack(list(tensors)), training=False)
        if isinstance(outputs, dict):
            return dict(outputs)
        flat = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        names = output_names if len(output_names) == len(flat) else []
        return {(names[i] if names else f"output_{i}"): value for i, value in enumerate(flat)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    signature = [tf.TensorSpec(shape, dtype, name=name) for name, shape, dtype in specs]
    # JAX: a static endpoint (the weights become constants of the StableHLO, as they do in the
    # .tflite anyway). The stateful one threads every non-trainable variable through the
    # graph and back, and a layer's SeedGenerator state (uint32: Dropout, LSTM ...) is a
    # variable type TFLite cannot hold, so that conversion fails.
    static = {"is_static": True} if keras.backend.backend() == "jax" else {}
    archive.add_endpoint(_ENDPOINT, serve, input_signature=signature, **static)
    archive.write_out(folder, verbose=False)
