"""One interface over what the bench can profile: a Keras model, a TFLite model, or a path.

* a ``tf_keras`` model: run through one ``tf.function`` (what serving a Keras model costs);
* a :class:`tf_green.quantization.TFLiteModel` (or any object with its interface:
  ``predict``, ``model_bytes``, ``kind``, ``input_details``), or raw .tflite bytes;
* a path: ``.tflite`` (loaded with ``TFLiteModel``), or ``.keras``, ``.h5`` or a SavedModel
  directory (loaded safely with :func:`tf_green.loading.load_model`).

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

from tf_green._keras import is_keras3_model, keras, require_tf_keras_model, tf
from tf_green.bench.flops import MacCount, keras_macs, tflite_macs
from tf_green.bench.size import SizeStats, keras_size, tflite_size

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


def _compatible(expected: Sequence[int | None], sample_shape: Sequence[int]) -> bool:
    if len(expected) != len(sample_shape):
        return False
    pairs = zip(expected, sample_shape, strict=True)
    return all(e is None or e < 0 or int(e) == int(s) for e, s in pairs)


class Variant:
    """A profiled model: runs batches, counts MACs, measures size.

    Attributes:
        name: Name in results.
        kind: "keras" or the TFLite kind ("tflite-float32", "tflite-int8" ...).
        model: The wrapped object (never changed).

    Example:
        >>> from tf_green import models
        >>> as_variant(models.mlp()).expected_shape()
        (64,)
    """

    name: str
    kind: str
    model: Any

    def expected_shape(self) -> tuple[int | None, ...]:
        """Shape of one input sample the model accepts (None: any size)."""
        raise NotImplementedError

    def input_dtype(self) -> np.dtype:
        """The dtype the data is cast to before inference."""
        raise NotImplementedError

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """Check that ``x``'s samples fit the model and cast them to its input dtype.

        Args:
            x: Inputs, first axis the samples.

        Returns:
            ``x`` in the model's input dtype.

        Raises:
            ValueError: If the sample shape does not match the model's input.
        """
        expected = self.expected_shape()
        if not _compatible(expected, x.shape[1:]):
            shown = tuple("None" if e is None or e < 0 else int(e) for e in expected)
            raise ValueError(
                f"variant {self.name!r} expects samples of shape {shown} but `x` has samples "
                f"of shape {tuple(x.shape[1:])}; profile it with the data it was built for."
            )
        return x.astype(self.input_dtype(), copy=False)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch to completion and return the outputs as float arrays."""
        raise NotImplementedError

    def predict(self, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Outputs for all of ``x``, in batches.

        Args:
            x: Inputs (already checked).
            batch_size: Samples per call.

        Returns:
            The concatenated outputs.
        """
        parts = [self.run(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts, axis=0)

    def macs(self, sample_shape: Sequence[int]) -> MacCount:
        """MACs of one inference on one sample."""
        raise NotImplementedError

    def size(self) -> SizeStats:
        """Size figures."""
        raise NotImplementedError


class KerasVariant(Variant):
    """A tf_keras model, run through one ``tf.function``.

    Args:
        model: The model (single input).
        name: Name in results; defaults to ``model.name``.

    Raises:
        TypeError: If ``model`` is not a tf_keras model.
        ValueError: If it has several inputs.

    Example:
        >>> from tf_green import models
        >>> KerasVariant(models.mlp(), "m").run(np.zeros((2, 64), np.float32)).shape
        (2, 10)
    """

    kind = "keras"

    def __init__(self, model: keras.Model, name: str | None = None) -> None:
        self.model = require_tf_keras_model(model, "model")
        if len(model.inputs or []) != 1:
            raise ValueError(
                f"model {model.name!r} has {len(model.inputs or [])} inputs; the bench profiles "
                "single-input models."
            )
        self.name = name or model.name
        self._function = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def expected_shape(self) -> tuple[int | None, ...]:
        """Shape of one input sample (from ``model.inputs``)."""
        return tuple(self.model.inputs[0].shape[1:])

    def input_dtype(self) -> np.dtype:
        """The model input's dtype."""
        return np.dtype(self.model.inputs[0].dtype.as_numpy_dtype)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch through the traced model."""
        outputs = self._function(tf.convert_to_tensor(batch))
        if isinstance(outputs, (list, tuple, dict)):
            raise ValueError(f"model {self.name!r} has several outputs; the bench needs one.")
        return outputs.numpy()

    def macs(self, sample_shape: Sequence[int]) -> MacCount:
        """MACs counted from the traced graph."""
        return keras_macs(self.model, sample_shape)

    def size(self) -> SizeStats:
        """Size of the weights."""
        return keras_size(self.model)


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

    def expected_shape(self) -> tuple[int | None, ...]:
        """Shape of one input sample (``shape_signature``: -1 is any size)."""
        detail = self.model.input_details[0]
        shape = detail.get("shape_signature", detail["shape"])
        return tuple(None if int(d) < 0 else int(d) for d in list(shape)[1:])

    def input_dtype(self) -> np.dtype:
        """The dtype ``TFLiteModel.predict`` takes: float32, or the integer type of ids."""
        dtype = np.dtype(self.model.input_details[0]["dtype"])
        quantized = self.model.input_details[0].get("quantization", (0.0, 0))[0] not in (0, 0.0)
        return np.dtype(np.float32) if quantized or dtype.kind == "f" else dtype

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch (``TFLiteModel.predict`` dequantizes the outputs)."""
        return np.asarray(self.model.predict(batch, batch_size=len(batch)))

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
        model: A tf_keras model, a ``TFLiteModel``, .tflite bytes, or a path (str or Path) to a
            .tflite, .keras, .h5 file or SavedModel directory.
        name: Name in results; defaults to the model's name or the file's stem.

    Returns:
        The variant.

    Raises:
        ValueError: If a path does not exist or has an unknown suffix.
        TypeError: If ``model`` is none of the above (a Keras 3 model gets a hint).

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
    if isinstance(model, keras.Model) or is_keras3_model(model):
        return KerasVariant(model, name)
    if is_tflite_model(model):
        return TFLiteVariant(model, name)
    raise TypeError(
        f"`model` must be a tf_keras model, a TFLiteModel, .tflite bytes or a path, "
        f"got {type(model).__name__}."
    )
