"""Keras 3 model helpers of the pruning engine: check, copy, compile like another model.

Private until the engine-neutral ``tf_green._engine.models`` provides the same calls.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> copy_model(m).layers[0] is m.layers[0]
    False
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["check_model", "compile_like", "copy_model"]


def check_model(model: Any, argument: str = "model") -> Any:
    """Return ``model`` if it is a built Keras 3 model; else raise a clear error.

    Args:
        model: The object to check.
        argument: The argument it came from, used in messages.

    Returns:
        ``model``.

    Raises:
        TypeError: If it is not a Keras 3 ``keras.Model`` (e.g. a tf_keras model).
        ValueError: If it is not built.

    Example:
        >>> check_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])).built
        True
    """
    if not isinstance(model, keras.Model):
        kind = type(model).__module__.split(".")[0]
        hint = (
            " It is a tf_keras model: use tf_green.prune / tf_green.pruning (they dispatch "
            "on the model's engine)."
            if kind == "tf_keras"
            else ""
        )
        raise TypeError(
            f"`{argument}` must be a Keras 3 keras.Model, got {type(model).__name__}.{hint}"
        )
    if not model.built or not model.weights:
        raise ValueError(
            f"`{argument}` ({model.name!r}) is not built; start it with keras.Input(...) or "
            "call it on a batch first (model(x[:1]))."
        )
    return model


def copy_model(model: Any) -> Any:
    """An independent, uncompiled, built copy with the same weight values.

    Sequential and functional models are cloned from their layer graph; subclassed
    models from ``get_config``/``from_config`` (Keras 3 records simple ``__init__``
    arguments itself), then built from the original's build config.

    Args:
        model: A built Keras 3 model.

    Returns:
        The copy.

    Raises:
        TypeError: If a subclassed model cannot be rebuilt from its config (its
            ``__init__`` takes arguments Keras cannot record: implement ``get_config``).

    Example:
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> len(copy_model(m).weights)
        2
    """
    try:
        copy = keras.models.clone_model(model)
        if not copy.built:
            copy.build_from_config(model.get_build_config())
    except (TypeError, ValueError, NotImplementedError) as error:
        raise TypeError(
            f"could not copy model {model.name!r} ({type(model).__name__}) to prune it: "
            f"{error}. A subclassed model is copied with from_config(get_config()): give its "
            "class a get_config() returning its __init__ arguments (and its layers, if "
            "passed in)."
        ) from error
    if len(copy.weights) != len(model.weights):
        raise TypeError(
            f"the copy of model {model.name!r} has {len(copy.weights)} weights but the model "
            f"has {len(model.weights)}: its get_config()/build do not rebuild the same layers. "
            "Implement get_config() (and build()) so that from_config recreates it."
        )
    copy.set_weights(model.get_weights())
    return copy


def compile_like(
    target: Any,
    source: Any,
    *,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    required: bool = False,
) -> bool:
    """Compile ``target`` as ``source`` was compiled (a fresh optimizer), with overrides.

    Args:
        target: The model to compile.
        source: The model whose compile settings to copy, or None.
        optimizer: Overrides the optimizer (name, config or instance).
        loss: Overrides the loss.
        metrics: Overrides the metrics.
        required: Raise if no optimizer or loss can be found, instead of returning False.

    Returns:
        True if ``target`` was compiled.

    Raises:
        ValueError: With ``required``, if ``source`` is not compiled and ``optimizer`` or
            ``loss`` is missing.

    Example:
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> compile_like(m, None, optimizer="adam", loss="mse")
        True
    """
    kwargs = _compile_kwargs(source) if source is not None else {}
    overrides = {"optimizer": optimizer, "loss": loss, "metrics": metrics}
    kwargs.update({key: value for key, value in overrides.items() if value is not None})
    missing = [key for key in ("optimizer", "loss") if kwargs.get(key) is None]
    if missing:
        if required:
            name = getattr(source, "name", "model")
            raise ValueError(
                f"model {name!r} is not compiled, so `{missing[0]}` is needed to fine-tune it: "
                "pass optimizer=... and loss=... (e.g. optimizer='adam', "
                "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), or "
                "compile the model first."
            )
        return False
    target.compile(**kwargs)
    return True


def _compile_kwargs(model: Any) -> dict[str, Any]:
    config = getattr(model, "_compile_config", None)
    if config is None or not getattr(model, "compiled", False):
        return {}
    try:
        return dict(keras.saving.deserialize_keras_object(model.get_compile_config()))
    except Exception:  # e.g. an unregistered custom loss: reuse the objects, fresh optimizer
        kwargs = dict(config.config)
        opt = kwargs["optimizer"]
        kwargs["optimizer"] = opt.__class__.from_config(opt.get_config())
        return {key: value for key, value in kwargs.items() if value is not None}
