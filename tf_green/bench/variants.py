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
from tf_green.bench._inputs import Inputs
from tf_green.bench.flops import MacCount, keras_macs, tflite_macs
from tf_green.bench.size import SizeStats, keras_size, tflite_size
from tf_green.quantization._data import as_input_list

Spec = tuple[tuple[int | None, ...], np.dtype]

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

    def input_specs(self) -> list[Spec] | None:
        """``(sample shape, dtype)`` of each input (None: any size); None until known."""
        raise NotImplementedError

    def input_names(self) -> list[str]:
        """The input names, in the model's input order."""
        raise NotImplementedError

    def input_ranks(self) -> list[int] | None:
        """Each input's rank, batch axis included (None: not known before the data)."""
        specs = self.input_specs()
        return None if specs is None else [len(shape) + 1 for shape, _ in specs]

    def expected_shape(self) -> tuple[int | None, ...]:
        """Shape of one sample of the first input (None: any size)."""
        specs = self.input_specs()
        if specs is None:
            raise ValueError(f"variant {self.name!r} learns its input shape from the data.")
        return specs[0][0]

    def input_dtype(self) -> np.dtype:
        """The dtype the first input's data is cast to before inference."""
        specs = self.input_specs()
        return np.dtype(np.float32) if specs is None else specs[0][1]

    def _specs_from(self, arrays: list[np.ndarray]) -> list[Spec]:
        """Learn the input signature from the data (models without ``inputs``)."""
        return [
            (tuple(a.shape[1:]), np.dtype(np.float32) if a.dtype.kind == "f" else a.dtype)
            for a in arrays
        ]

    def check_input(self, x: Any) -> np.ndarray | Inputs:
        """Check that ``x``'s samples fit the model and cast them to its input dtypes.

        Args:
            x: Inputs, first axis the samples: an array, or for several inputs a list (in the
                model's input order) or a dict keyed by input name.

        Returns:
            The array in the model's input dtype, or :class:`~tf_green.bench._inputs.Inputs`
            (one array per input, in the model's order) for several inputs.

        Raises:
            ValueError: If the number of inputs or a sample shape does not match the model.
        """
        names = self.input_names()
        if isinstance(x, Inputs):
            x = x.as_dict()
        arrays = as_input_list(x, names, "x")
        specs = self.input_specs() or self._specs_from(arrays)
        checked = []
        for name, array, (expected, dtype) in zip(names, arrays, specs, strict=True):
            if not _compatible(expected, array.shape[1:]):
                shown = tuple("None" if e is None or e < 0 else int(e) for e in expected)
                which = f" input {name!r}" if len(names) > 1 else ""
                raise ValueError(
                    f"variant {self.name!r}{which} expects samples of shape {shown} but `x` has "
                    f"samples of shape {tuple(array.shape[1:])}; profile it with the data it "
                    "was built for."
                )
            checked.append(array.astype(dtype, copy=False))
        return checked[0] if len(checked) == 1 else Inputs(checked, names)

    def run(self, batch: np.ndarray | Inputs) -> np.ndarray:
        """Run one batch to completion and return the outputs as float arrays."""
        raise NotImplementedError

    def predict(self, x: np.ndarray | Inputs, batch_size: int = 64) -> np.ndarray:
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

    Functional and Sequential models give their input signature; a subclassed model that has
    been built (called once) takes it from the data it is profiled with.

    Args:
        model: The model (one or several inputs, one output).
        name: Name in results; defaults to ``model.name``.

    Raises:
        TypeError: If ``model`` is not a tf_keras model.
        ValueError: If it is a subclassed model that was never built.

    Example:
        >>> from tf_green import models
        >>> KerasVariant(models.mlp(), "m").run(np.zeros((2, 64), np.float32)).shape
        (2, 10)
    """

    kind = "keras"

    def __init__(self, model: keras.Model, name: str | None = None) -> None:
        self.model = require_tf_keras_model(model, "model", call="tg.profile/tg.Bench")
        self.name = name or model.name
        self._specs: list[Spec] | None = None
        if model.inputs:
            self._names = [str(n) for n in model.input_names]
            self._specs = [
                (tuple(t.shape[1:]), np.dtype(t.dtype.as_numpy_dtype)) for t in model.inputs
            ]
        elif not model.built:
            raise ValueError(
                f"model {model.name!r} is a subclassed model that was never built, so its "
                "inputs are unknown; call it once on a sample (model(x[:1])) before profiling."
            )
        else:
            self._names = ["input"]
        self._function = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def input_specs(self) -> list[Spec] | None:
        """From ``model.inputs``, or from the data for a subclassed model."""
        return self._specs

    def input_names(self) -> list[str]:
        """``model.input_names`` (``["input"]`` for a subclassed model)."""
        return self._names

    def _specs_from(self, arrays: list[np.ndarray]) -> list[Spec]:
        self._specs = super()._specs_from(arrays)
        return self._specs

    def run(self, batch: np.ndarray | Inputs) -> np.ndarray:
        """Run one batch through the traced model."""
        if isinstance(batch, Inputs):
            outputs = self._function([tf.convert_to_tensor(a) for a in batch.arrays])
        else:
            outputs = self._function(tf.convert_to_tensor(batch))
        if isinstance(outputs, (list, tuple, dict)):
            raise ValueError(
                f"model {self.name!r} has several outputs; the bench scores one: profile a "
                "model of the output you want (keras.Model(model.inputs, model.outputs[i]))."
            )
        return outputs.numpy()

    def macs(self, sample_shape: Sequence[int]) -> MacCount:
        """MACs counted from the traced graph (at the data's shapes for several inputs)."""
        specs = self._specs or [(tuple(sample_shape), np.dtype(np.float32))]
        if len(specs) == 1:
            return keras_macs(self.model, sample_shape, dtype=tf.as_dtype(specs[0][1]))
        signature = [tf.TensorSpec((1, *shape), tf.as_dtype(dtype)) for shape, dtype in specs]
        return keras_macs(self.model, sample_shape, signature=signature)

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
