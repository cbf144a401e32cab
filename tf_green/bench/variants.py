"""One interface over what the bench can profile: a Keras model, a TFLite model, or a path.

* a Keras model of either engine (:class:`~tf_green.bench.keras_variant.KerasVariant`): a
  tf_keras model or a Keras 3 model on TensorFlow through one ``tf.function``, a Keras 3 model
  on JAX through one ``jax.jit`` (what serving the model costs on its own engine);
* a :class:`tf_green.quantization.TFLiteModel` (or any object with its interface:
  ``predict``, ``model_bytes``, ``kind``, ``input_details``), or raw .tflite bytes, whichever
  Keras made it;
* a path: ``.tflite`` (loaded with ``TFLiteModel``), or ``.keras``, ``.h5`` or a SavedModel
  directory (loaded safely with :func:`tf_green.loading.load_model`: scanned before anything
  is deserialized, then loaded by the engine that wrote it, so a Keras 3 file profiles as a
  Keras 3 model).

Nothing here imports tf_keras: which Keras a model belongs to is read from its class
(:func:`tf_green._engine.engine_of`).

Example:
    >>> from tf_green import models
    >>> variant = as_variant(models.mlp(), name="mlp")
    >>> variant.kind, variant.predict(np.zeros((3, 64), np.float32), batch_size=2).shape
    ('keras', (3, 10))
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_green._engine import engine_of
from tf_green.bench._inputs import Inputs
from tf_green.bench.flops import MacCount, tflite_macs
from tf_green.bench.keras_variant import KerasVariant
from tf_green.bench.size import SizeStats, tflite_size
from tf_green.bench.variant import Spec, Variant

__all__ = ["KerasVariant", "TFLiteVariant", "Variant", "as_variant", "is_tflite_model"]


def is_tflite_model(obj: Any) -> bool:
    """Tell whether ``obj`` has the ``TFLiteModel`` interface the bench uses.

    Args:
        obj: Any object.

    Returns:
        True if it has ``predict``, ``model_bytes`` and ``input_details``.

    Example:
        >>> is_tflite_model(object())
        False
    """
    return all(hasattr(obj, name) for name in ("predict", "model_bytes", "input_details"))


class TFLiteVariant(Variant):
    """A TFLite model with the ``TFLiteModel`` interface.

    Args:
        model: A ``TFLiteModel`` (or an object with its interface).
        name: Name in results; defaults to ``model.name``.

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import TFLiteModel, to_tflite
        >>> TFLiteVariant(TFLiteModel(to_tflite(models.mlp()))).kind
        'tflite-float32'
    """

    def __init__(self, model: Any, name: str | None = None) -> None:
        self.model = model
        self.name = name or str(getattr(model, "name", "tflite"))
        self.kind = str(getattr(model, "kind", "tflite"))

    @property
    def runtime(self) -> str:
        """What runs the model: LiteRT and its delegate, e.g. ``LiteRT (xnnpack)``."""
        return f"LiteRT ({getattr(self.model, 'delegate', 'unknown')})"

    def input_specs(self) -> list[Spec]:
        """From ``input_details`` (-1 in ``shape_signature``: any size).

        Quantized inputs take float32 (``TFLiteModel.predict`` quantizes them).
        """
        specs = []
        for detail in self.model.input_details:
            shape = detail.get("shape_signature", detail["shape"])
            dims = tuple(None if int(d) < 0 else int(d) for d in list(shape)[1:])
            dtype = np.dtype(detail["dtype"])
            quantized = detail.get("quantization", (0.0, 0))[0] not in (0, 0.0)
            specs.append((dims, np.dtype(np.float32) if quantized or dtype.kind == "f" else dtype))
        return specs

    def input_names(self) -> list[str]:
        """The Keras input names the model's signature keeps (else the tensor names)."""
        names = getattr(self.model, "input_names", None)
        return list(names) if names else [d["name"] for d in self.model.input_details]

    def run(self, batch: np.ndarray | Inputs) -> np.ndarray:
        """Run one batch (``TFLiteModel.predict`` dequantizes the outputs)."""
        data = batch.arrays if isinstance(batch, Inputs) else batch
        outputs = self.model.predict(data, batch_size=len(batch))
        if isinstance(outputs, (dict, list)):
            raise ValueError(
                f"model {self.name!r} has several outputs; the bench scores one: export a model "
                "of the output you want."
            )
        return np.asarray(outputs)

    def macs(self, sample_shape: Sequence[int]) -> MacCount:
        """MACs counted per operator from the flatbuffer."""
        return tflite_macs(bytes(self.model.model_bytes), sample_shape)

    def size(self) -> SizeStats:
        """Size of the flatbuffer and its parameters."""
        return tflite_size(bytes(self.model.model_bytes))


def _load_path(path: pathlib.Path) -> Any:
    if not path.exists():
        raise ValueError(
            f"`model` path {str(path)!r} does not exist; give an existing .tflite, .keras or "
            ".h5 file or SavedModel directory."
        )
    if path.suffix == ".tflite":
        from tf_green.quantization import TFLiteModel

        return TFLiteModel(str(path))
    if path.suffix in (".keras", ".h5") or path.is_dir():
        from tf_green.loading import load_model

        return load_model(path)
    raise ValueError(
        f"`model` path {str(path)!r} has an unknown suffix {path.suffix!r}; use .tflite, .keras, "
        ".h5 or a SavedModel directory."
    )


def as_variant(model: Any, name: str | None = None) -> Variant:
    """Wrap what the caller gave into a :class:`Variant`.

    Args:
        model: A tf_keras model, a Keras 3 model (TensorFlow or JAX backend), a
            ``TFLiteModel``, .tflite bytes, or a path (str or Path) to a .tflite, .keras, .h5
            file or SavedModel directory.
        name: Name in results; defaults to the model's name or the file's stem.

    Returns:
        The variant.

    Raises:
        ValueError: If a path does not exist or has an unknown suffix.
        TypeError: If ``model`` is none of the above.

    Example:
        >>> as_variant("missing.tflite")
        Traceback (most recent call last):
        ...
        ValueError: `model` path 'missing.tflite' does not exist; give an existing .tflite, \
.keras or .h5 file or SavedModel directory.
    """
    if isinstance(model, Variant):
        return model
    if isinstance(model, (str, pathlib.Path)):
        path = pathlib.Path(model)
        return as_variant(_load_path(path), name or path.stem)
    if isinstance(model, (bytes, bytearray)):
        from tf_green.quantization import TFLiteModel

        return TFLiteVariant(TFLiteModel(bytes(model)), name)
    if _is_keras_model(model):
        return KerasVariant(model, name)
    if is_tflite_model(model):
        return TFLiteVariant(model, name)
    raise TypeError(
        f"`model` must be a tf_keras or Keras 3 model, a TFLiteModel, .tflite bytes or a path, "
        f"got {type(model).__name__}."
    )


def _is_keras_model(model: Any) -> bool:
    try:
        engine_of(model)
    except TypeError:
        return False
    return True
