"""``tg.quantize`` for Keras 3 models: Keras' own weight quantization, on a copy, with a report.

``model.quantize("int8"|"int4")`` swaps the kernels of the layers Keras can quantize
(``Dense``, ``EinsumDense``, ``Embedding`` in Keras 3.15) for int8/int4 ones with scales; other
layers keep float weights. Keras says so only through a warning per layer (``Conv2D``) or not
at all (layers with no ``quantize`` method); :func:`quantize` turns that into a per-layer
report instead, and leaves the caller's model as it was. This is post-training quantization
of the Keras model; for a full-integer LiteRT file use ``tg.to_tflite(model,
quantization="int8")``. Quantization-aware training is tf_keras only (see
:mod:`tf_green.quantization.qat`).

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(3)])
    >>> quantized, report = quantize(model, mode="int8")
    >>> report[["class", "quantized"]].values.tolist()
    [['Conv2D', False], ['Dense', True]]
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
import pandas as pd

from tf_green._engine.models import copy_model
from tf_green.quantization import _data
from tf_green.quantization.qat import QAT_KERAS3_ADVICE

__all__ = ["MODES", "quantize"]

MODES = ("int8", "int4")

# tf_keras quantize()'s fine-tuning arguments: QAT, which Keras 3 models do not get.
_QAT_ARGUMENTS = (
    "y",
    "epochs",
    "preserve_sparsity",
    "batch_size",
    "validation_data",
    "callbacks",
    "optimizer",
    "loss",
    "metrics",
    "verbose",
)
_COLUMNS = ["layer", "class", "quantized", "mode", "reason"]


def quantize(
    model: keras.Model, x: Any = None, *args: Any, mode: str = "int8", **kwargs: Any
) -> tuple[keras.Model, pd.DataFrame]:
    """Quantize a copy of a Keras 3 model's weights with ``model.quantize(mode)``; report per layer.

    Args:
        model: A built Keras 3 model; not changed.
        x: Optional sample inputs (arrays as ``model.predict`` takes them): the float and the
            quantized model are compared on them, and ``report.attrs`` gets
            ``"max_abs_diff"`` (largest output difference) and ``"top1_agreement"`` (share
            of samples whose argmax agrees; classifiers) so a bad result shows.
        *args: Refused: ``y`` and the other fine-tuning arguments are tf_keras QAT's.
        mode: ``"int8"`` (per-channel int8 kernels) or ``"int4"`` (packed int4 kernels).
        **kwargs: Refused likewise (``epochs=``, ``optimizer=`` ...).

    Returns:
        ``(quantized, report)``: the quantized copy (compiled like ``model`` if it was) and a
        DataFrame with one row per layer that has weights: ``layer``, ``class``,
        ``quantized`` (bool), ``mode`` and ``reason`` (why it was not quantized: Keras'
        own message, or that the layer has no ``quantize`` support).

    Raises:
        TypeError: If QAT arguments are given (quantization-aware training is a tf_keras
            feature; the message names the alternatives).
        ValueError: On an unknown ``mode``, an unbuilt model, an already quantized model,
            or a model with no layer Keras can quantize.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> quantize(model, mode="int4")[1].loc[0, "mode"]
        'int4'
    """
    if args or kwargs:
        given = [_QAT_ARGUMENTS[i] if i < len(_QAT_ARGUMENTS) else "?" for i in range(len(args))]
        given += sorted(kwargs)
        raise TypeError(
            f"tg.quantize on a Keras 3 model quantizes its weights with Keras "
            f"(`model.quantize(mode)`), with no fine-tuning; got fine-tuning arguments "
            f"{given}. {QAT_KERAS3_ADVICE}"
        )
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}.")
    if not model.built:
        raise ValueError("`model` is not built; call it on data or give it an Input first.")
    already = [layer.name for layer in _leaves(model) if _mode_of(layer)]
    if already:
        raise ValueError(
            f"`model` is already quantized (layers {already[:5]}); pass the float model."
        )
    quantized = copy_model(model)
    messages = _quantize_capturing(quantized, mode)
    report = _report(quantized, mode, messages)
    if not report.quantized.any():
        raise ValueError(
            f"no layer of `model` can be quantized with Keras' mode {mode!r} (Keras 3 quantizes "
            "Dense, EinsumDense and Embedding kernels); use tg.to_tflite(model, "
            "quantization='int8', representative_data=x) for a full-integer LiteRT file."
        )
    if x is not None:
        report.attrs.update(_compare(model, quantized, x))
    return quantized, report


def _leaves(model: keras.Model) -> list[Any]:
    """The layers ``model.quantize`` visits: those with no layers inside."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if len(list(layer._flatten_layers())) == 1
    ]


def _mode_of(layer: Any) -> str | None:
    return getattr(layer, "quantization_mode", None)


def _quantize_capturing(model: keras.Model, mode: str) -> dict[str, list[str]]:
    """Run ``model.quantize(mode)``; return Keras' warnings per layer name (others re-raised)."""
    order: list[tuple[str, int]] = []

    def visit(layer: Any) -> bool:
        order.append((layer.name, len(log)))
        return True

    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        model.quantize(mode, filters=visit)
    messages: dict[str, list[str]] = {}
    bounds = [start for _, start in order[1:]] + [len(log)]
    for (name, start), end in zip(order, bounds, strict=True):
        for record in log[start:end]:
            text = str(record.message)
            if issubclass(record.category, UserWarning) and "quantize" in text:
                messages.setdefault(name, []).append(text)
            else:  # not about quantizing a layer: the caller sees it as Keras meant
                warnings.warn_explicit(
                    record.message, record.category, record.filename, record.lineno
                )
    return messages


def _report(model: keras.Model, mode: str, messages: dict[str, list[str]]) -> pd.DataFrame:
    rows = []
    for layer in _leaves(model):
        if not layer.weights:
            continue
        done = _mode_of(layer) == mode
        if done:
            reason = ""
        elif layer.name in messages:
            reason = " ".join(messages[layer.name])
        else:
            reason = f"{type(layer).__name__} has no Keras quantize support; weights stay float"
        rows.append(
            {
                "layer": layer.name,
                "class": type(layer).__name__,
                "quantized": done,
                "mode": mode if done else None,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


def _compare(model: keras.Model, quantized: keras.Model, x: Any) -> dict[str, float]:
    """Largest output difference and argmax agreement of the two models on ``x``."""
    reference = _flat(model.predict(x, verbose=0))
    candidate = _flat(quantized.predict(x, verbose=0))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(reference, candidate, strict=True))
    first, second = reference[0], candidate[0]
    agree = float(np.mean(first.argmax(-1) == second.argmax(-1))) if first.ndim > 1 else np.nan
    return {"max_abs_diff": diff, "top1_agreement": agree}


def _flat(outputs: Any) -> list[np.ndarray]:
    if isinstance(outputs, dict):
        return [_data.to_numpy(outputs[k], "x") for k in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return [_data.to_numpy(o, "x") for o in outputs]
    return [_data.to_numpy(outputs, "x")]
