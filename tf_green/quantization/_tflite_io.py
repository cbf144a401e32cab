"""Read a LiteRT interpreter's inputs and outputs the way a Keras user names them.

Helpers of :class:`~tf_green.quantization.TFLiteModel`: the Keras input/output names kept in
the model's signature (the converter renames tensors and reorders outputs alphabetically),
whether a flatbuffer keeps state between invokes, which output a set of targets fits, and
the (de)quantization of inputs and outputs.

Example:
    >>> import numpy as np
    >>> fits(np.array([0, 9]), np.zeros((2, 10))), fits(np.array([0, 9]), np.zeros((2, 2)))
    (True, False)
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

__all__ = [
    "check_shape",
    "dequantize",
    "fits",
    "is_stateful",
    "pad",
    "quantize",
    "signature_input_names",
    "signature_output_names",
]


def signature_input_names(interpreter: Interpreter, inputs: list[dict]) -> list[str]:
    """Name each input as its signature does (the Keras Input name), else by tensor name.

    Example:
        >>> from tf_green.quantization import TFLiteModel, to_tflite
        >>> from tf_green import models
        >>> tfl = TFLiteModel(to_tflite(models.mlp()))
        >>> len(signature_input_names(tfl._interpreter, tfl.input_details))
        1
    """
    names = {d["index"]: d["name"] for d in inputs}
    signatures = interpreter.get_signature_list()
    if len(signatures) == 1:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        for name, detail in runner.get_input_details().items():
            if detail["index"] in names:
                names[detail["index"]] = name
    return [names[d["index"]] for d in inputs]


_VARIABLE_OPS = frozenset(
    {schema.BuiltinOperator.VAR_HANDLE, schema.BuiltinOperator.ASSIGN_VARIABLE}
)


def is_stateful(content: bytes) -> bool:
    """Whether the flatbuffer keeps state between invokes (variable tensors or resources).

    Example:
        >>> from tf_green.quantization import to_tflite
        >>> from tf_green import models
        >>> is_stateful(to_tflite(models.mlp()))
        False
    """
    model = schema.Model.GetRootAs(content, 0)
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        if any(graph.Tensors(t).IsVariable() for t in range(graph.TensorsLength())):
            return True
    for c in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(c)
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) in _VARIABLE_OPS:
            return True
    return False


def signature_output_names(interpreter: Interpreter, outputs: list[dict]) -> list[str]:
    """Name each output as its signature does (the Keras output name), else by tensor name.

    Example:
        >>> from tf_green.quantization import TFLiteModel, to_tflite
        >>> from tf_green import models
        >>> tfl = TFLiteModel(to_tflite(models.mlp()))
        >>> len(signature_output_names(tfl._interpreter, tfl.output_details))
        1
    """
    names = {d["index"]: d["name"] for d in outputs}
    signatures = interpreter.get_signature_list()
    if len(signatures) == 1:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        for name, detail in runner.get_output_details().items():
            if detail["index"] in names:
                names[detail["index"]] = name
    return [names[d["index"]] for d in outputs]


def fits(y: np.ndarray, output: np.ndarray) -> bool:
    """Whether targets ``y`` can belong to ``output`` (shape, and class ids within range).

    Example:
        >>> fits(np.array([0.5, 1.5]), np.zeros((2, 1)))
        True
    """
    if output.shape == y.shape or output.shape == (*y.shape, 1):
        return True
    if output.ndim >= 1 and output.shape[:-1] == y.shape and y.size:
        if y.dtype.kind not in "iub" and not np.allclose(y, np.round(y)):
            return False
        return bool(y.min() >= 0 and y.max() < output.shape[-1])
    return False


def pad(array: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad ``array`` along the batch axis to ``size`` samples.

    Example:
        >>> pad(np.ones((1, 2)), 3).tolist()
        [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    """
    padding = np.zeros((size - len(array), *array.shape[1:]), array.dtype)
    return np.concatenate([array, padding])


def check_shape(shape: tuple, detail: dict) -> None:
    """Raise a ValueError naming the input if a batch of ``shape`` does not fit it.

    Example:
        >>> check_shape((2, 3), {"name": "x", "shape_signature": np.array([-1, 3])})
    """
    signature = [int(d) for d in detail["shape_signature"]]
    fits = len(shape) == len(signature) and all(
        want < 0 or got == want for got, want in zip(shape[1:], signature[1:], strict=True)
    )
    if not fits:
        expected = "(n, " + ", ".join("?" if d < 0 else str(d) for d in signature[1:]) + ")"
        raise ValueError(
            f"input {detail['name']!r} expects samples of shape {expected}, got an array "
            f"of shape {shape}; reshape `x` to {expected}."
        )


def quantize(array: np.ndarray, detail: dict) -> np.ndarray:
    """Cast (and quantize, for an integer input with a scale) ``array`` to the input's dtype.

    Example:
        >>> quantize(np.array([0.5]), {"name": "x", "dtype": np.int8, "quantization": (0.5, 0)})
        array([1], dtype=int8)
    """
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if array.dtype == dtype:
        return array
    if array.dtype.kind not in "fiub":
        raise TypeError(f"`x` for input {detail['name']!r} has non-numeric dtype {array.dtype}.")
    if dtype.kind in "iu" and scale:
        info = np.iinfo(dtype)
        q = np.round(array.astype(np.float32) / scale + zero_point)
        return np.clip(q, info.min, info.max).astype(dtype)
    return array.astype(dtype)


def dequantize(array: np.ndarray, detail: dict) -> np.ndarray:
    """Return an output as float32, dequantized with its scale and zero point.

    Example:
        >>> dequantize(np.array([2], np.int8), {"quantization": (0.5, 0)})
        array([1.], dtype=float32)
    """
    scale, zero_point = detail["quantization"]
    if array.dtype.kind in "iu" and scale:
        return (array.astype(np.float32) - zero_point) * np.float32(scale)
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    return array.copy()
