"""The one place for model operations every transform shares, on both engines.

* :func:`copy_model`: an independent copy (clone + weights) of a tf_keras or Keras 3 model.
* :func:`compile_like`: compile a model as another was compiled (fresh optimizer and
  metrics); a clear error, never a silent default, when there is nothing to copy.
* :func:`is_compiled`, :func:`is_graph_model`, :func:`check_graph_model`.
* :func:`strip_pruning`: tf_keras pruning wrappers removed *with their masks applied*
  (TFMOT's ``strip_pruning`` keeps the raw weights, which are not sparse if a mask changed
  after the last weight update).

Nothing here imports a Keras at module import: each function uses the model's own engine
(:func:`tf_green._engine.keras_of`); the tf_keras-only pieces import it when called.

Example:
    >>> import tf_keras as keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> copy = copy_model(model)
    >>> copy.layers[0] is model.layers[0], is_graph_model(copy)
    (False, True)
"""

from __future__ import annotations

import importlib
from typing import Any

from tf_green._engine import engine_of, keras_of

__all__ = [
    "check_graph_model",
    "compile_like",
    "copy_model",
    "is_compiled",
    "is_graph_model",
    "strip_pruning",
]


def copy_model(model: Any) -> Any:
    """An independent copy of ``model``: same architecture, same weight values.

    Compile state follows each engine's ``clone_model``: a tf_keras copy is uncompiled; a
    Keras 3 copy of a compiled model is compiled from its compile config (a fresh optimizer,
    nothing shared). Call :func:`compile_like` for the settings you want either way.

    Sequential and functional models are cloned on both engines. A subclassed Keras 3 model
    is rebuilt from ``get_config()`` (Keras 3's ``clone_model``), which needs a
    ``get_config`` that returns its constructor arguments; a subclassed tf_keras model
    cannot be copied (tf_keras clones layer graphs only).

    Args:
        model: A built tf_keras or Keras 3 model; not changed.

    Returns:
        The copy (built in the current distribution strategy scope on TensorFlow).

    Raises:
        TypeError: For a non-model, a subclassed tf_keras model, or a subclassed Keras 3
            model whose class cannot be rebuilt from its config (naming the fix).

    Example:
        >>> import tf_keras as keras
        >>> original = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> copy_model(original).get_weights()[0].shape
        (3, 2)
    """
    keras = keras_of(model)
    if engine_of(model) == "tf_keras" and not is_graph_model(model):
        raise TypeError(
            f"`model` is a subclassed tf_keras model ({type(model).__name__}); tf_keras "
            "copies only Sequential and functional models. Rebuild it as a functional model "
            "from its layers, or pass its inner Sequential/functional parts."
        )
    try:
        copy = keras.models.clone_model(model)
    except (NotImplementedError, TypeError, ValueError) as error:
        raise TypeError(
            f"`model` ({type(model).__name__}) cannot be copied: Keras 3 rebuilds a "
            "subclassed model from get_config(), and this one failed "
            f"({type(error).__name__}: {str(error).strip().splitlines()[0]}). Give the class "
            "a get_config() that returns its constructor arguments (and accept them in "
            "__init__), or build the model functionally."
        ) from error
    values = model.get_weights()
    if len(copy.weights) != len(values):  # a subclassed model rebuilt but not built
        _build_like(copy, model)
    copy.set_weights(values)
    return copy


def _build_like(copy: Any, model: Any) -> None:
    """Build a rebuilt subclassed model by calling it on zeros of ``model``'s input shape."""
    shape = getattr(model, "_build_shapes_dict", None) or {}
    input_shape = next(iter(shape.values()), None)
    if input_shape is None:
        raise TypeError(
            f"`model` ({type(model).__name__}) was rebuilt from its config but not built, and "
            "its input shape is unknown. Call it on a batch before passing it in, or give "
            "it a build_config."
        )
    numpy = importlib.import_module("numpy")
    copy(numpy.zeros([1 if d is None else d for d in input_shape], "float32"))


def is_compiled(model: Any) -> bool:
    """Tell whether ``model`` was compiled (``compile`` called), on either engine.

    Args:
        model: A tf_keras or Keras 3 model.

    Returns:
        True if it has compile settings to copy.

    Example:
        >>> import tf_keras as keras
        >>> is_compiled(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
        False
    """
    return bool(getattr(model, "compiled", False) or getattr(model, "_is_compiled", False))


def compile_like(
    target: Any,
    source: Any | None,
    *,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
) -> Any:
    """Compile ``target`` as ``source`` was compiled (fresh optimizer and metrics), with overrides.

    One behaviour everywhere: what is given overrides ``source``'s settings; if no optimizer
    or no loss can be found, a clear error (no silent ``"adam"``). Callers that compile
    only when ``source`` was compiled check :func:`is_compiled` first.

    Args:
        target: The model to compile (same engine as ``source``).
        source: The model whose compile settings to copy, or None.
        optimizer: Overrides the optimizer (name, config dict or instance).
        loss: Overrides the loss.
        metrics: Overrides the metrics.

    Returns:
        ``target``, compiled.

    Raises:
        ValueError: If ``source`` is not compiled (or None) and ``optimizer`` or ``loss``
            is missing, naming the argument and the fix.

    Example:
        >>> import tf_keras as keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> compile_like(model, None, optimizer="adam", loss="mse").loss
        'mse'
    """
    kwargs = _compile_kwargs(source) if source is not None and is_compiled(source) else {}
    overrides = {"optimizer": optimizer, "loss": loss, "metrics": metrics}
    kwargs.update({key: value for key, value in overrides.items() if value is not None})
    missing = [key for key in ("optimizer", "loss") if kwargs.get(key) is None]
    if missing:
        name = getattr(source, "name", "model") if source is not None else "model"
        raise ValueError(
            f"model {name!r} is not compiled, so `{missing[0]}` is needed to train it: pass "
            "optimizer=... and loss=... (e.g. optimizer='adam', "
            "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), or "
            "compile the model first."
        )
    target.compile(**kwargs)
    return target


def _compile_kwargs(model: Any) -> dict[str, Any]:
    """``compile`` arguments of a compiled model, with fresh optimizer and metric objects."""
    keras = keras_of(model)
    config = model.get_compile_config()
    if config:
        try:
            return dict(keras.saving.deserialize_keras_object(config))
        except Exception:  # e.g. an unregistered custom loss: reuse the objects themselves
            pass
    if engine_of(model) == "tf_keras":
        args = dict(model._get_compile_args())
    else:
        args = dict(model._compile_config.config)
    args["optimizer"] = _fresh(args.get("optimizer"))
    for key in ("metrics", "weighted_metrics"):
        if isinstance(args.get(key), (list, tuple)):
            args[key] = [_fresh(metric) for metric in args[key]]
    return {key: value for key, value in args.items() if value is not None}


def _fresh(obj: Any) -> Any:
    """A new object of the same class and config (optimizers, metrics), else ``obj``."""
    if hasattr(obj, "get_config") and hasattr(type(obj), "from_config"):
        return type(obj).from_config(obj.get_config())
    return obj


def is_graph_model(model: Any) -> bool:
    """Tell whether ``model`` has a layer graph (Sequential or functional), on either engine.

    Args:
        model: A tf_keras or Keras 3 model.

    Returns:
        True for Sequential and functional models (and subclasses built functionally),
        False for subclassed models whose ``call`` is their own code.

    Raises:
        TypeError: As :func:`tf_green._engine.engine_of`, for a non-model.

    Example:
        >>> import tf_keras as keras
        >>> is_graph_model(keras.Sequential())
        True
    """
    if engine_of(model) == "tf_keras":
        keras = keras_of(model)
        return isinstance(model, keras.Sequential) or bool(
            getattr(model, "_is_graph_network", False)
        )
    return any(cls.__name__ in ("Functional", "Sequential") for cls in type(model).__mro__)


def check_graph_model(model: Any, argument: str = "model", needs: str | None = None) -> Any:
    """Return ``model`` if it is a built Sequential/functional model; raise a clear error if not.

    Args:
        model: The object to check.
        argument: The argument it came from, used in messages.
        needs: What needs a layer graph and what else to do, for the message; by default
            TFMOT pruning's (which wraps layers by cloning the layer graph).

    Returns:
        ``model``, unchanged.

    Raises:
        TypeError: For a non-model or a subclassed model.
        ValueError: For a model that is not built yet.

    Example:
        >>> import tf_keras as keras
        >>> check_graph_model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])).built
        True
    """
    if not is_graph_model(model):
        raise TypeError(
            f"`{argument}` is a subclassed model ({type(model).__name__}); "
            + (
                needs
                or "TFMOT wraps layers by cloning a model's layer graph, which only Sequential "
                "and functional models have. Prune its inner Sequential/functional parts "
                "instead (e.g. tf_green.prune(model.backbone, ...)), or rebuild it as a "
                "functional model from its layers."
            )
        )
    if not model.built:
        raise ValueError(
            f"`{argument}` ({model.name!r}) is not built; give its first layer an input_shape "
            "(or keras.Input) or call it on a batch first."
        )
    return model


def strip_pruning(model: Any) -> Any:
    """Remove tf_keras pruning wrappers, each mask applied, into an independent model.

    The weights of each wrapped layer are multiplied by its mask, as the wrapped model
    computes them, so the result is exactly as sparse as the masks even if a mask was
    updated after the last weight update (TFMOT's ``strip_pruning`` returns the raw
    weights then, and shares its layers with ``model``).

    Args:
        model: A built Sequential or functional tf_keras model, wrapped or not; not changed.

    Returns:
        The uncompiled model without wrappers (layer names as before wrapping), sharing
        nothing with ``model``, built in ``model``'s distribution strategy.

    Raises:
        TypeError: For a non-model, a Keras 3 model or a subclassed model.

    Example:
        >>> import tf_keras as keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
        >>> [layer.name for layer in strip_pruning(model).layers]
        ['d']
    """
    engine = importlib.import_module("tf_green._keras")  # the tf_keras engine, with TFMOT
    engine.require_tf_keras_model(model)
    check_graph_model(model)
    sparsity = "tensorflow_model_optimization.python.core.sparsity.keras"
    prune = importlib.import_module(f"{sparsity}.prune")
    wrapper = importlib.import_module(f"{sparsity}.pruning_wrapper")
    masked = {}
    for layer in model.submodules:
        if isinstance(layer, wrapper.PruneLowMagnitude):
            for weight, mask, _ in layer.pruning_vars:
                masked[id(weight)] = weight.numpy() * mask.numpy()
    with model.distribute_strategy.scope():
        shared = prune.strip_pruning(model)  # shares its layers with `model`
        values = [
            masked.get(id(v), value)
            for v, value in zip(shared.weights, shared.get_weights(), strict=True)
        ]
        result = engine.keras.models.clone_model(shared)
        result.set_weights(values)
    return result
