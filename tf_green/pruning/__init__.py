"""Pruning: magnitude pruning behind fit-style calls, for tf_keras and Keras 3 models.

* :func:`prune`: clone, wrap, fine-tune with a schedule, strip; returns a compiled model.
* :func:`iterative`: prune -> fine-tune -> evaluate at rising sparsities within a budget.
* :func:`wrap` / :func:`callbacks` / :func:`strip`: the same pieces for your own ``fit``.
* :func:`sparsity_report`: zeros per weight tensor, m:n pattern check, a total row.
* :func:`shrink`: structured pruning (Keras 3): whole channels and units removed, a smaller
  model that really does less arithmetic (:mod:`tf_green.pruning.structured`).

Each call dispatches on the model it is given (:func:`tf_green._engine.engine_of`): a
tf_keras model goes to the TFMOT engine (``tf_green.pruning.finetune`` ...), imported then;
a Keras 3 model goes to ``tf_green.pruning.keras3``, which imports neither tf_keras nor
TFMOT. The tf_keras-only names (``PruneLowMagnitude``, ``SparsityLogger``, the schedule
helpers ...) load on first access.

Example:
    >>> import tf_green as tg
    >>> from tf_green import pruning
    >>> keras = tg.engine.tf_keras()
    >>> (x, y), (xv, yv) = tg.datasets.digits()
    >>> model = tg.models.cnn(width=8)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...               metrics=["accuracy"])
    >>> pruned = pruning.prune(model, x, y, target_sparsity=0.8, epochs=2, verbose=0)
    >>> float(round(pruning.sparsity_report(pruned).query("prunable == True").sparsity.min(), 2))
    0.8
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

from tf_green._engine import Engine, engine_of, require_keras3_backend, tf_keras_engine

__all__ = [
    "IterativeResult",
    "PruneLowMagnitude",
    "PruningHistory",
    "SparsityLogger",
    "callbacks",
    "constant_schedule",
    "iterative",
    "parse_structure",
    "polynomial_schedule",
    "prune",
    "reached_sparsity",
    "shrink",
    "sparsity_report",
    "strip",
    "wrap",
]

# The tf_keras engine's implementation of each dispatched call: name -> module.
_TF_KERAS = {
    "prune": "tf_green.pruning.finetune",
    "iterative": "tf_green.pruning.iterative_pruning",
    "wrap": "tf_green.pruning.api",
    "callbacks": "tf_green.pruning.sparsity_callbacks",
    "strip": "tf_green.pruning.api",
    "sparsity_report": "tf_green.pruning.report",
}
# The Keras 3 engine: the same names, in this package.
_KERAS3 = "tf_green.pruning.keras3"

# Submodules that import no tf_keras/TFMOT (the others load the tf_keras engine first).
_ENGINE_NEUTRAL = ("keras3", "schedule_math", "structured")

# tf_keras-only names, loaded on first access (PEP 562).
_LAZY = {
    "IterativeResult": "tf_green.pruning.iterative_pruning",
    "PruneLowMagnitude": "tf_green.pruning.wrapper",
    "PruningHistory": "tf_green.pruning.finetune",
    "SparsityLogger": "tf_green.pruning.sparsity_callbacks",
    "constant_schedule": "tf_green.pruning.schedules",
    "parse_structure": "tf_green.pruning.schedules",
    "polynomial_schedule": "tf_green.pruning.schedules",
    "reached_sparsity": "tf_green.pruning.schedules",
}


def implementation(name: str, engine: Engine) -> Any:
    """The function that runs pruning call ``name`` for models of ``engine``.

    Args:
        name: A dispatched call: ``"prune"``, ``"iterative"``, ``"wrap"``,
            ``"callbacks"``, ``"strip"`` or ``"sparsity_report"``.
        engine: ``"tf_keras"`` or ``"keras3"`` (see :func:`tf_green._engine.engine_of`).

    Returns:
        The engine's function of that name.

    Raises:
        TypeError: For a Keras 3 call the Keras 3 engine does not provide yet.
        ValueError: For a Keras 3 backend other than TensorFlow or JAX.

    Example:
        >>> implementation("strip", "tf_keras").__module__
        'tf_green.pruning.api'
    """
    if engine == "tf_keras":
        tf_keras_engine()  # first: it keeps tf.keras and TF_USE_LEGACY_KERAS as they are
        return getattr(importlib.import_module(_TF_KERAS[name]), name)
    require_keras3_backend()
    try:
        module = importlib.import_module(_KERAS3)
    except ModuleNotFoundError as error:
        if error.name != _KERAS3:
            raise
        module = None
    function = getattr(module, name, None)
    if function is None:
        raise TypeError(
            f"`model` is a Keras 3 model; Keras 3 support for tg.pruning.{name} is coming "
            "(issue #13) but is not in this version. For now prune a tf_keras model: rebuild "
            "the same architecture with `keras = tf_green.engine.tf_keras()` and copy the "
            "weights over with `new.set_weights(old.get_weights())`."
        )
    return function


def _dispatch(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    model = args[0] if args else kwargs.get("model")
    return implementation(name, engine_of(model))(*args, **kwargs)


def prune(*args: Any, **kwargs: Any) -> Any:
    """Prune a model to a target sparsity with a fine-tuning schedule; the caller's model is kept.

    Arguments and result are those of the model's engine: a tf_keras model goes to
    :func:`tf_green.pruning.finetune.prune` (``prune(model, x, y=None, *,
    target_sparsity=0.5, epochs=2, ...)``), a Keras 3 model to
    ``tf_green.pruning.keras3.prune`` (the same signature).

    Args:
        *args: ``model`` first, then the engine's arguments.
        **kwargs: The engine's keyword arguments.

    Returns:
        The pruned, stripped, compiled model, of the same engine as ``model``.

    Raises:
        TypeError: If ``model`` is not a Keras model, or as the engine's ``prune``.
        ValueError: As the engine's ``prune``.

    Example:
        >>> import numpy as np
        >>> from tf_green import models
        >>> model = models.mlp(hidden=(8,))
        >>> model.compile("adam", "sparse_categorical_crossentropy")
        >>> x, y = np.random.rand(64, 64).astype("float32"), np.zeros(64, "int64")
        >>> pruned = prune(model, x, y, target_sparsity=0.5, epochs=2, verbose=0)
        >>> pruned is model
        False
    """
    return _dispatch("prune", args, kwargs)


def iterative(*args: Any, **kwargs: Any) -> Any:
    """Prune at rising sparsities within a metric budget, on the model's engine.

    tf_keras: :func:`tf_green.pruning.iterative_pruning.iterative`
    (``iterative(model, x, y=None, *, validation_data, ...)``); Keras 3:
    ``tf_green.pruning.keras3.iterative`` (the same signature).

    Args:
        *args: ``model`` first, then the engine's arguments.
        **kwargs: The engine's keyword arguments.

    Returns:
        An ``IterativeResult`` (the best model within the budget and every step).

    Raises:
        TypeError: If ``model`` is not a Keras model, or as the engine's ``iterative``.
        ValueError: As the engine's ``iterative``.

    Example:
        >>> callable(iterative)
        True
    """
    return _dispatch("iterative", args, kwargs)


def wrap(*args: Any, **kwargs: Any) -> Any:
    """Copy a model and wrap its prunable layers for your own ``fit``, on the model's engine.

    tf_keras: :func:`tf_green.pruning.api.wrap` (``wrap(model, schedule=None, *,
    structure=None, layers=None, strategy=None)``); Keras 3: ``tf_green.pruning.keras3.wrap``.

    Args:
        *args: ``model`` first, then the engine's arguments.
        **kwargs: The engine's keyword arguments.

    Returns:
        The wrapped model, compiled like ``model`` if it was compiled.

    Raises:
        TypeError: If ``model`` is not a Keras model, or as the engine's ``wrap``.
        ValueError: As the engine's ``wrap``.

    Example:
        >>> from tf_green import models
        >>> [layer.name for layer in wrap(models.mlp(hidden=(8,))).layers][1:]
        ['prune_low_magnitude_dense1', 'prune_low_magnitude_logits']
    """
    return _dispatch("wrap", args, kwargs)


def strip(*args: Any, **kwargs: Any) -> Any:
    """Remove the pruning wrappers, each mask applied, into an independent model.

    tf_keras: :func:`tf_green.pruning.api.strip` (``strip(model)``); Keras 3:
    ``tf_green.pruning.keras3.strip``.

    Args:
        *args: ``model``.
        **kwargs: ``model=`` instead of positionally.

    Returns:
        The model without wrappers, compiled like ``model`` if it was compiled.

    Raises:
        TypeError: If ``model`` is not a Keras model, or as the engine's ``strip``.

    Example:
        >>> from tf_green import models
        >>> [layer.name for layer in strip(wrap(models.mlp(hidden=(8,)))).layers][1:]
        ['dense1', 'logits']
    """
    return _dispatch("strip", args, kwargs)


def sparsity_report(*args: Any, **kwargs: Any) -> Any:
    """Zeros per weight tensor, the m:n pattern check and a total row, on the model's engine.

    tf_keras: :func:`tf_green.pruning.report.sparsity_report` (``sparsity_report(model,
    structure="2:4")``); Keras 3: ``tf_green.pruning.keras3.sparsity_report``.

    Args:
        *args: ``model`` first, then ``structure``.
        **kwargs: ``model=``, ``structure=``.

    Returns:
        A ``pandas.DataFrame``, one row per weight tensor and a total row.

    Raises:
        TypeError: If ``model`` is not a Keras model.

    Example:
        >>> from tf_green import models
        >>> "sparsity" in sparsity_report(models.mlp()).columns
        True
    """
    return _dispatch("sparsity_report", args, kwargs)


def shrink(model: Any, ratio: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Remove whole channels and units and rebuild a smaller Keras 3 model (structured pruning).

    See :func:`tf_green.pruning.structured.shrink`; tf_keras models are not supported yet.

    Args:
        model: A built Keras 3 Sequential or functional model; not changed.
        ratio: The fraction of channels to remove, one number or ``{layer_name: ratio}``
            (0.5 when no ``macs=`` target is given).
        *args: ``x, y`` (training data for fine-tuning between steps).
        **kwargs: ``macs=``, ``steps=``, ``epochs=``, ``criterion=``, ``exclude=`` ... (see
            :func:`tf_green.pruning.structured.shrink`).

    Returns:
        ``(smaller_model, report)``: the rebuilt model and a per-layer DataFrame.

    Raises:
        TypeError: If ``model`` is not a Keras 3 functional or Sequential model.
        ValueError: On a ratio outside ``[0, 1)`` or a graph the analysis cannot prune.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
        ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> small, report = shrink(model, ratio=0.5)
        >>> small.layers[0].filters
        4
    """
    if engine_of(model) != "keras3":
        raise TypeError(
            "`model` is a tf_keras model; tg.pruning.shrink (structured pruning) works on Keras "
            "3 models for now. Rebuild the architecture with `import keras` and copy the "
            "weights (`new.set_weights(old.get_weights())`), or use tg.prune (unstructured)."
        )
    require_keras3_backend()
    structured = importlib.import_module("tf_green.pruning.structured")
    return structured.shrink(model, ratio, *args, **kwargs)


def callbacks(log_dir: Any = None, *, model: Any = None) -> list[Any]:
    """The callbacks ``fit`` needs to train a model from :func:`wrap`, for its engine.

    Args:
        log_dir: If given, also write TensorBoard summaries there.
        model: The wrapped model the callbacks are for; its engine picks them. Without it:
            tf_keras callbacks if ``tf_keras`` is imported in this process (a tf_keras
            user), Keras 3 ones otherwise. Pass it when both engines are in use.

    Returns:
        The engine's callbacks (tf_keras: :func:`tf_green.pruning.sparsity_callbacks.callbacks`).

    Raises:
        TypeError: If ``model`` is given and is not a Keras model.
        ValueError: As the engine's ``callbacks``.

    Example:
        >>> from tf_green import models
        >>> [type(c).__name__ for c in callbacks(model=wrap(models.mlp()))]
        ['UpdatePruningStep', 'SparsityLogger']
    """
    if model is not None:
        engine = engine_of(model)
    else:
        engine = "tf_keras" if "tf_keras" in sys.modules else "keras3"
    return implementation("callbacks", engine)(log_dir)


def __getattr__(name: str) -> Any:
    """Load a tf_keras-only name (or a submodule) on first access (PEP 562)."""
    if name not in _LAZY:
        if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}"):
            if name not in _ENGINE_NEUTRAL:
                tf_keras_engine()
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'tf_green.pruning' has no attribute {name!r}")
    tf_keras_engine()
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))
