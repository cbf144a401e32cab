"""Mixed-precision and INT4 LiteRT exports with Google's ``ai-edge-quantizer``.

:func:`tf_green.quantization.to_tflite` converts the model to a float ``.tflite`` as usual,
then, for the two modes here, hands the flatbuffer to ``ai-edge-quantizer`` (which works on
any ``.tflite``, whatever made it):

* ``"int16x8"``: full integer, int8 weights (per channel) and 16-bit activations
  (recipe ``static_wi8_ai16``), calibrated on ``representative_data`` with the absolute
  min/max over all samples. 16-bit activations keep LayerNorm and softmax accurate where
  8-bit ones break a transformer. Model inputs and outputs stay float (integer token ids
  stay integer). Float islands, all listed by
  :func:`~tf_green.quantization.precision_report`: ops with no int16 kernel in LiteRT 2.3
  (the ``SQUARED_DIFFERENCE`` of a LayerNorm's variance), and an additive attention mask
  (Keras's -1e9 causal mask) with the softmax it feeds, whose huge constant would leave the
  attention scores no 16-bit resolution. The converter's own 16x8 mode
  (``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``) is no alternative for
  transformers with TF 2.21: its calibration fails on int16 ``SQUARED_DIFFERENCE``.
* ``"int4"``: INT4 weights with float activations, dynamic range (recipe
  ``dynamic_wi4b32_afp32``): fully connected weights in blocks of :data:`INT4_BLOCK_SIZE`
  (32) values along the input axis, each block with its own scale; a layer whose input
  size is not a multiple of 32, and every Conv2D (the quantizer has no blockwise Conv2D),
  gets one INT4 scale per output channel instead. Tables are made quantizable first
  (:mod:`~tf_green.quantization._ai_edge_tables`): a token embedding's ``GATHER`` and a
  float table added to activations (position table, constant-folded causal mask) become
  ``EMBEDDING_LOOKUP``s of the same table, exactly; every lookup table is stored with one
  scale per row, in int8 (INT4 where that is exact, as for a 0/-1e9 mask; see
  :func:`int4_recipe`). Internal tensor names lose their repeated model prefix
  (:func:`~tf_green.quantization._ai_edge_tables.compact_names`; inputs and outputs keep
  theirs). Depthwise convolutions keep float weights. Blockwise INT4 needs the XNNPACK
  delegate (LiteRT's default on CPU): LiteRT 2.3's builtin ``FULLY_CONNECTED`` kernel
  miscomputes blockwise weights (per-channel INT4 is right on both).

Both results are checked to load in the LiteRT interpreter (XNNPACK on) and to use builtin
operators only. Per-layer recipes (a different mode for some layers) are not offered:
mixing int16 and int8 activations, or INT4 and int16x8, in one graph is not something
ai-edge-quantizer 0.10 checks, and a silently broken mix is worse than none.

Example:
    >>> from tf_green import models
    >>> from tf_green.quantization import to_tflite
    >>> content = export(to_tflite(models.mlp()), "int4", None, 1)
    >>> content[4:8]
    b'TFL3'
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter
from ai_edge_quantizer import calibrator, quantizer, recipe_manager
from ai_edge_quantizer.utils import qsv_utils

from tf_green.quantization import (
    _ai_edge_tables,
    _data,
    _files,
    _representative,
)
from tf_green.quantization._ai_edge_recipes import (
    INT4_BLOCK_SIZE,
    int4_recipe,
    int16x8_recipe,
)

__all__ = [
    "INT4_BLOCK_SIZE",
    "QUANTIZATIONS",
    "export",
    "int4_recipe",
    "int16x8_recipe",
    "to_tflite",
]

QUANTIZATIONS = ("int16x8", "int4")
_OPS = schema.BuiltinOperator


def to_tflite(
    convert: Callable[..., bytes],
    model: Any,
    path: str | os.PathLike | None = None,
    *,
    quantization: str,
    representative_data: Any = None,
    int8_io: bool = False,
    sparse: bool = False,
    representative_samples: int = 300,
) -> bytes:
    """``tg.to_tflite`` for ``"int16x8"``/``"int4"``: float export, quantize, write atomically.

    Args:
        convert: The public ``to_tflite``; called as ``convert(model)`` for the float file
            (so every model check, pruning-wrapper strip and engine of it applies).
        model: The Keras model.
        path: If given, the file to write (checked before converting; atomic write).
        quantization: ``"int16x8"`` or ``"int4"``.
        representative_data: Calibration samples for ``"int16x8"`` (see :func:`export`).
        int8_io: Refused: only ``"int8"`` has int8 inputs/outputs.
        sparse: Refused: ai-edge-quantizer reads dense tensors only.
        representative_samples: How many samples to calibrate on, >= 1.

    Returns:
        The quantized flatbuffer bytes (also written to ``path`` when given).

    Raises:
        ValueError: On ``int8_io``/``sparse``, a bad ``representative_samples`` or ``path``,
            or what :func:`export` raises.

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite as tg_to_tflite
        >>> content = to_tflite(tg_to_tflite, models.mlp(), quantization="int4")
        >>> content[4:8]
        b'TFL3'
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"`quantization` must be one of {QUANTIZATIONS}, got {quantization!r}.")
    if int8_io:
        raise ValueError(
            f"`int8_io=True` needs quantization='int8' (got {quantization!r}): "
            f"{quantization!r} keeps float inputs and outputs."
        )
    if sparse:
        raise ValueError(
            f"`sparse=True` does not combine with quantization={quantization!r}: "
            "ai-edge-quantizer reads dense tensors only. Use sparse=True with 'dynamic' or "
            "'int8'."
        )
    if (
        isinstance(representative_samples, bool)
        or not isinstance(representative_samples, int)
        or representative_samples < 1
    ):
        raise ValueError(
            f"`representative_samples` must be an int >= 1, got {representative_samples!r}."
        )
    if quantization == "int16x8" and representative_data is None:
        raise ValueError(_NO_REPRESENTATIVE_DATA)
    target = _files.check_path(path) if path is not None else None
    content = export(convert(model), quantization, representative_data, representative_samples)
    if target is not None:
        _files.write_atomically(target, content)
    return content


def export(
    float_content: bytes, quantization: str, representative_data: Any, samples: int
) -> bytes:
    """Quantize a float ``.tflite`` to ``"int16x8"`` or ``"int4"``; check it loads and is builtin.

    Args:
        float_content: The float flatbuffer (from ``to_tflite(model)``).
        quantization: ``"int16x8"`` or ``"int4"``.
        representative_data: For ``"int16x8"``: samples like the model's inputs (array,
            list/dict of arrays, or a ``tf.data.Dataset``). Ignored by ``"int4"``.
        samples: How many samples to calibrate on, >= 1.

    Returns:
        The quantized flatbuffer bytes.

    Raises:
        ValueError: On an unknown mode, missing or mis-shaped representative data, NaN/inf
            in it, or a model with several signatures (``"int16x8"``).
        RuntimeError: If the quantized model does not load in the LiteRT interpreter or
            holds non-builtin (custom) operators.

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> len(export(to_tflite(models.mlp()), "int4", None, 1)) > 0
        True
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"`quantization` must be one of {QUANTIZATIONS}, got {quantization!r}.")
    calibration = None
    if quantization == "int16x8":
        if representative_data is None:
            raise ValueError(_NO_REPRESENTATIVE_DATA)
        recipe_ = int16x8_recipe(float_content)
        calibration = _calibration_data(float_content, representative_data, samples)
    else:
        float_content = _ai_edge_tables.as_embedding_lookups(float_content)
        recipe_ = int4_recipe(float_content)
    content = _run_quantizer(float_content, recipe_, calibration)
    if quantization == "int4":
        content = _ai_edge_tables.compact_names(content)
    _check_runs(content, quantization)
    return content


_NO_REPRESENTATIVE_DATA = (
    "quantization='int16x8' needs `representative_data` to calibrate activation ranges: "
    "pass a few hundred training inputs, e.g. representative_data=x_train[:300]. Or use "
    "quantization='int4' or 'dynamic', which need none."
)


def _run_quantizer(content: bytes, recipe_: list[dict], calibration: dict | None) -> bytes:
    """Run ai-edge-quantizer quietly (its progress bars, debug warnings and logs muted)."""
    quiet = contextlib.redirect_stderr(io.StringIO())
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with quiet, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = quantizer.Quantizer(bytearray(content), recipe_)
            result = _calibrate(content, recipe_, calibration) if calibration else None
            quantized = q.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    finally:
        absl.setLevel(level)
    return bytes(quantized.quantized_model)


def _calibrate(content: bytes, recipe_: list[dict], calibration: dict) -> dict:
    """Activation ranges over all samples: the absolute min/max, as TensorFlow's calibrator.

    ``Quantizer.calibrate`` keeps a moving average of per-sample min/max (smoothing 0.95),
    which clips every value beyond the running average: with one sample per step, a
    single-Conv2D model lost 7% of its largest output in ``"int16x8"``. 16-bit activations
    have the resolution for the full range.
    """
    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(recipe_)
    calib = calibrator.Calibrator(content, qsv_update_func=qsv_utils.min_max_update)
    calib.calibrate(calibration, manager)
    return calib.get_model_qsvs()


def _signature(content: bytes) -> tuple[str, list[dict]]:
    """The float model's one signature key and its input details, in signature order."""
    interpreter = Interpreter(model_content=content)
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise ValueError(
            f"quantization='int16x8' calibrates one signature; the model has "
            f"{len(signatures)} ({sorted(signatures)}). Export each signature separately."
        )
    key = next(iter(signatures))
    details = interpreter.get_signature_runner(key).get_input_details()
    return key, [{**detail, "name": name} for name, detail in details.items()]


def _calibration_data(content: bytes, data: Any, samples: int) -> dict[str, list[dict]]:
    """``representative_data`` checked against the float model's signature, one sample each."""
    key, inputs = _signature(content)
    specs = [
        (d["name"], tuple(None if n < 0 else int(n) for n in d["shape_signature"]), d["dtype"])
        for d in inputs
    ]
    specs = [(name, shape, tf.as_dtype(dtype)) for name, shape, dtype in specs]
    arrays = _representative.representative_arrays(specs, data, samples)
    names = [name for name, _, _ in specs]
    feeds = [
        dict(zip(names, sample, strict=True)) for sample in _data.iter_samples(arrays, samples)
    ]
    return {key: feeds}


def _custom_ops(content: bytes) -> list[str]:
    model = schema.Model.GetRootAs(content, 0)
    names = set()
    for c in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(c)
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == _OPS.CUSTOM:
            names.add((code.CustomCode() or b"CUSTOM").decode(errors="replace"))
    return sorted(names)


def _check_runs(content: bytes, quantization: str) -> None:
    """The quantized model must load (XNNPACK on) and use builtin operators only."""
    custom = _custom_ops(content)
    if custom:
        raise RuntimeError(
            f"quantization={quantization!r}: ai-edge-quantizer produced non-builtin operators "
            f"{custom}; use quantization='dynamic' instead."
        )
    try:
        Interpreter(model_content=content).allocate_tensors()
    except (RuntimeError, ValueError) as error:
        raise RuntimeError(
            f"quantization={quantization!r}: the quantized model does not load in the LiteRT "
            f"interpreter ({error}); use quantization='dynamic' instead."
        ) from None
