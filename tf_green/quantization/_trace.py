"""Give a model the fixed input signature the TFLite converter needs: recurrent and subclassed.

* A subclassed model has no ``model.inputs``: its signature comes from the inputs Keras saw
  in its first call (``model.save_spec()``), or else from the representative data's shapes.
* A recurrent model (LSTM/GRU/RNN layers) cannot be converted with a dynamic batch axis
  (``tf.TensorListReserve`` needs a static element shape), so it is traced at batch 1.
* For INT8, GRU/SimpleRNN layers (no fused TFLite kernel: a WHILE loop, which TensorFlow's
  calibrator can crash on) are unrolled in a copy of the model when the sequence length is
  fixed. LSTM layers keep TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM kernel.

Example:
    >>> from tf_green._keras import keras
    >>> model = keras.Sequential([keras.Input((5, 2)), keras.layers.GRU(3)])
    >>> has_recurrent_layers(model)
    True
    >>> with_batch(signature(model), 1).shape.as_list()
    [1, 5, 2]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tf_green._keras import keras, tf

_NO_SIGNATURE = (
    "`model` has no defined inputs (a subclassed model that was never called on data?); "
    "call it once on a batch (model(x[:1])), or pass `representative_data` so its input "
    "shape can be read from it."
)


def has_recurrent_layers(model: keras.Model) -> bool:
    """Tell whether ``model`` (nested layers included) has a recurrent layer.

    Args:
        model: A tf_keras model.

    Returns:
        True if any submodule is a ``keras.layers.RNN`` (LSTM, GRU, SimpleRNN ...).
    """
    return any(isinstance(m, keras.layers.RNN) for m in model.submodules)


def signature(model: keras.Model, data: Any = None) -> Any:
    """The ``tf.TensorSpec`` (or list/dict of them) that ``model``'s call takes.

    Args:
        model: A tf_keras model.
        data: Representative arrays (an array, a list or a dict of arrays) to read the input
            shapes from when the model has neither ``inputs`` nor a saved call signature.

    Returns:
        One spec for a single input, else a list (or dict) of named specs.

    Raises:
        ValueError: If no signature can be found.
    """
    if model.inputs:
        names = list(getattr(model, "input_names", None) or [])
        if len(names) != len(model.inputs):
            names = [t.name.split(":")[0] for t in model.inputs]
        specs = [
            tf.TensorSpec(t.shape, t.dtype, name=name)
            for name, t in zip(names, model.inputs, strict=True)
        ]
        return specs[0] if len(specs) == 1 else specs
    saved = model.save_spec() if hasattr(model, "save_spec") else None
    if saved is not None:
        args, kwargs = saved
        if len(args) != 1 or kwargs:
            raise ValueError(
                f"`model`'s call takes {len(args)} positional and {len(kwargs)} keyword "
                "tensor arguments; export a model whose call takes one input (a tensor, or a "
                "list or dict of tensors)."
            )
        return _named(args[0])
    if data is not None and not isinstance(data, tf.data.Dataset):
        return _named(tf.nest.map_structure(_spec_of, _as_structure(data)))
    raise ValueError(_NO_SIGNATURE)


def _as_structure(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: np.asarray(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [np.asarray(value) for value in data]
    return np.asarray(data)


def _spec_of(array: np.ndarray) -> tf.TensorSpec:
    if array.ndim == 0 or array.dtype == object:
        raise ValueError(
            f"`representative_data` of shape {array.shape} and dtype {array.dtype} cannot "
            "give `model` an input signature; pass numeric arrays with samples first."
        )
    dtype = tf.float32 if array.dtype.kind == "f" else tf.as_dtype(array.dtype)
    return tf.TensorSpec((None, *array.shape[1:]), dtype)


def _named(structure: Any) -> Any:
    """Give every spec a unique name (dict keys for dicts, else its own or ``input_<i>``)."""
    if isinstance(structure, dict):
        return {k: tf.TensorSpec(s.shape, s.dtype, name=str(k)) for k, s in structure.items()}
    flat = tf.nest.flatten(structure)
    names: list[str] = []
    for i, spec in enumerate(flat, 1):
        name = spec.name or f"input_{i}"
        names.append(name if name not in names else f"input_{i}")
    named = [tf.TensorSpec(s.shape, s.dtype, name=n) for s, n in zip(flat, names, strict=True)]
    return tf.nest.pack_sequence_as(structure, named)


def flat_specs(structure: Any) -> list[tuple[str, tuple, tf.DType]]:
    """``(name, shape with batch axis, dtype)`` of each input of a :func:`signature`.

    Args:
        structure: What :func:`signature` returned.

    Returns:
        One tuple per input, in the order the converter's signature lists them.
    """
    return [(s.name, tuple(s.shape.as_list()), s.dtype) for s in tf.nest.flatten(structure)]


def with_batch(structure: Any, batch: int) -> Any:
    """The same signature with batch axis ``batch`` (a fixed batch axis is kept).

    Args:
        structure: What :func:`signature` returned.
        batch: The batch size to give inputs whose batch axis is dynamic.

    Returns:
        The specs with a static batch axis.
    """

    def fix(spec: tf.TensorSpec) -> tf.TensorSpec:
        dims = spec.shape.as_list()
        first = dims[0] if dims[0] is not None else batch
        return tf.TensorSpec([first, *dims[1:]], spec.dtype, name=spec.name)

    return tf.nest.map_structure(fix, structure)


def concrete_function(model: keras.Model, structure: Any) -> Any:
    """Trace ``model`` (inference mode) on ``structure``; outputs keyed by output name.

    Args:
        model: A tf_keras model.
        structure: The input specs (see :func:`signature`, :func:`with_batch`).

    Returns:
        A concrete function whose signature has the specs' names as inputs and
        ``model.output_names`` (or the output dict's keys, or ``output_<i>``) as outputs.
    """
    flat = tf.nest.flatten(structure)

    @tf.function
    def serve(*tensors: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = model(tf.nest.pack_sequence_as(structure, list(tensors)), training=False)
        if isinstance(outputs, dict):
            return {str(k): v for k, v in outputs.items()}
        values = tf.nest.flatten(outputs)
        names = list(getattr(model, "output_names", None) or [])
        if len(names) != len(values) or len(set(names)) != len(names):
            names = [f"output_{i}" for i in range(1, len(values) + 1)]
        return dict(zip(names, values, strict=True))

    return serve.get_concrete_function(*flat)


def unroll_recurrent(model: keras.Model) -> keras.Model | None:
    """A copy of ``model`` with its GRU/SimpleRNN layers unrolled (weights copied).

    Args:
        model: A tf_keras model.

    Returns:
        The unrolled copy; ``model`` itself if it has nothing to unroll; None if it cannot
        be unrolled (a subclassed model, or a recurrent layer without a fixed length).
    """
    targets = [
        m
        for m in model.submodules
        if isinstance(m, keras.layers.RNN) and not isinstance(m, keras.layers.LSTM)
    ]
    if not targets:
        return model
    if not model.inputs or any(_steps(layer) is None for layer in targets):
        return None

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if isinstance(layer, keras.layers.RNN) and not isinstance(layer, keras.layers.LSTM):
            config["unroll"] = True
        elif isinstance(layer, keras.layers.Bidirectional):
            for key in ("layer", "backward_layer"):
                inner = config.get(key)
                if inner and inner.get("class_name") != "LSTM":
                    inner["config"]["unroll"] = True
        return layer.__class__.from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone)
    except (ValueError, TypeError, NotImplementedError):
        return None
    copy.set_weights(model.get_weights())
    return copy


def _steps(layer: keras.layers.Layer) -> int | None:
    """The number of time steps ``layer`` runs over, or None when it is not fixed."""
    try:
        shape = layer.input_shape
    except (AttributeError, RuntimeError):
        return None
    if isinstance(shape, list):
        shape = shape[0]
    return shape[1] if shape and len(shape) > 2 else None
