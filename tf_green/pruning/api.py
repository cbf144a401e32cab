"""Wrap a model for pruning and strip it again, never touching the caller's model.

* :func:`wrap`: clone the model (weights copied) and wrap the selected layers with
  TFMOT's pruning wrapper, for users who call ``compile``/``fit`` themselves.
* :func:`strip`: remove the wrappers, with the masks applied, into an independent model.

Both return compiled models when the input was compiled (a fresh optimizer of the same
configuration), and build inside a ``tf.distribute`` strategy's scope when given one.

Example:
    >>> from tf_green import models
    >>> from tf_green.pruning.schedules import ConstantSparsity
    >>> wrapped = wrap(models.mlp(hidden=(8,)), ConstantSparsity(0.5, begin_step=0))
    >>> [layer.name for layer in wrapped.layers][1:]
    ['prune_low_magnitude_dense1', 'prune_low_magnitude_logits']
"""

from __future__ import annotations

from typing import Any

from tf_green._engine import models as _models
from tf_green._engine.models import copy_model, strip_pruning
from tf_green._keras import keras, require_tf_keras_model, tf
from tf_green.pruning.compiling import compile_like
from tf_green.pruning.schedules import (
    ConstantSparsity,
    PruningSchedule,
    parse_structure,
    with_target,
)
from tf_green.pruning.selection import LayerSelector, select_layers
from tf_green.pruning.wrapper import PruneLowMagnitude

__all__ = [
    "check_graph_model",
    "compile_like",
    "copy_model",
    "resolve_strategy",
    "strip",
    "wrap",
    "wrap_layers",
]


def wrap(
    model: Any,
    schedule: Any = None,
    *,
    structure: str | tuple[int, int] | None = None,
    layers: LayerSelector = None,
    strategy: Any = None,
) -> keras.Model:
    """Clone ``model`` and wrap the selected layers with TFMOT pruning wrappers.

    Train the result with :func:`tf_green.pruning.callbacks` (TFMOT's ``UpdatePruningStep``
    is required), then :func:`strip` it.

    Args:
        model: A built Sequential or functional tf_keras model; it is not changed.
        schedule: A TFMOT ``PruningSchedule``; defaults to TFMOT's
            ``ConstantSparsity(0.5, begin_step=0)``. To derive one from epochs and data
            size use :func:`tf_green.pruning.polynomial_schedule`.
        structure: ``"m:n"`` structured sparsity (m zeros in every n weights), or None.
        layers: Which layers to prune (see :func:`tf_green.pruning.selection.select_layers`):
            None for all prunable, names/classes, a regex, a callable, or
            ``{name: sparsity}`` to give layers their own targets.
        strategy: A ``tf.distribute`` strategy to build the model in; defaults to the
            current one (so calling inside ``strategy.scope()`` works).

    Returns:
        The wrapped model, compiled like ``model`` (with a fresh optimizer) if ``model``
        was compiled.

    Raises:
        TypeError: For a Keras 3 or subclassed model, or arguments of the wrong type.
        ValueError: For an unbuilt model or a ``layers``/``structure`` that selects
            nothing prunable (see :func:`select_layers`).

    Example:
        >>> from tf_green import models
        >>> wrapped = wrap(models.cnn(width=4), layers=["conv2"], structure="2:4")
        >>> [layer.name for layer in wrapped.layers if "prune" in layer.name]
        ['prune_low_magnitude_conv2']
    """
    model = check_graph_model(model)
    m_by_n = parse_structure(structure)
    if schedule is None:
        schedule = ConstantSparsity(0.5, begin_step=0)
    elif not isinstance(schedule, PruningSchedule):
        raise TypeError(
            "`schedule` must be a tfmot.sparsity.keras.PruningSchedule or None, got "
            f"{schedule!r}. Build one from epochs and data size with "
            "tf_green.pruning.polynomial_schedule(...), or use tf_green.prune(...)."
        )
    plan = select_layers(model, layers, m_by_n)
    schedules = {
        name: schedule if target is None else with_target(schedule, target, name)
        for name, target in plan.items()
    }
    with resolve_strategy(strategy).scope():
        wrapped = wrap_layers(model, schedules, m_by_n)
        compile_like(wrapped, model)
    return wrapped


def strip(model: Any) -> keras.Model:
    """Remove the pruning wrappers, with each mask applied, into an independent model.

    The weights of each wrapped layer are multiplied by its mask (as the wrapped model
    computes them), so the result is exactly as sparse as the masks even if training
    stopped mid-epoch. The result shares nothing with ``model``.

    Args:
        model: A Sequential or functional tf_keras model, wrapped or not; not changed.

    Returns:
        The model without wrappers (layer names as before wrapping), compiled like
        ``model`` if it was compiled, built in ``model``'s distribution strategy.

    Raises:
        TypeError: For a Keras 3 or subclassed model.

    Example:
        >>> from tf_green import models
        >>> stripped = strip(wrap(models.mlp(hidden=(8,))))
        >>> [layer.name for layer in stripped.layers][1:]
        ['dense1', 'logits']
    """
    model = check_graph_model(model)
    result = strip_pruning(model)
    with model.distribute_strategy.scope():
        compile_like(result, model)
    return result


def wrap_layers(
    model: keras.Model,
    schedules: dict[str, PruningSchedule],
    m_by_n: tuple[int, int] | None = None,
) -> keras.Model:
    """Copy ``model`` and wrap the layers named in ``schedules`` (no checks; see :func:`wrap`).

    Args:
        model: A built Sequential or functional tf_keras model; not changed.
        schedules: ``{layer name: schedule}`` of the layers to wrap.
        m_by_n: ``(m, n)`` structured sparsity for every wrapped layer, or None.

    Returns:
        An uncompiled model whose named layers are :class:`PruneLowMagnitude` wrappers.

    Example:
        >>> from tf_green import models
        >>> s = ConstantSparsity(0.5, begin_step=0)
        >>> len(wrap_layers(models.mlp(hidden=(4,)), {"logits": s}).layers)
        3
    """
    copy = copy_model(model)

    def clone_function(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=clone_function)
        if layer.name in schedules:
            return PruneLowMagnitude(
                layer, pruning_schedule=schedules[layer.name], sparsity_m_by_n=m_by_n
            )
        return layer

    return keras.models.clone_model(copy, clone_function=clone_function)


def check_graph_model(model: Any, argument: str = "model") -> keras.Model:
    """Return ``model`` if TFMOT can wrap it: a built Sequential/functional tf_keras model.

    Args:
        model: The object to check.
        argument: The argument it came from, used in messages.

    Returns:
        ``model``, unchanged.

    Raises:
        TypeError: For a Keras 3 model, a non-model, or a subclassed model.
        ValueError: For a model that is not built yet.

    Example:
        >>> from tf_green import models
        >>> check_graph_model(models.mlp()).name
        'mlp'
    """
    model = require_tf_keras_model(model, argument)
    return _models.check_graph_model(model, argument)


def resolve_strategy(strategy: Any) -> tf.distribute.Strategy:
    """The strategy to build in: ``strategy`` if given, else the current one.

    Args:
        strategy: A ``tf.distribute.Strategy`` or None.

    Returns:
        The strategy.

    Raises:
        TypeError: If ``strategy`` is not a strategy.

    Example:
        >>> resolve_strategy(None) is tf.distribute.get_strategy()
        True
    """
    if strategy is None:
        return tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(
            f"`strategy` must be a tf.distribute.Strategy (e.g. MirroredStrategy()) or None, "
            f"got {type(strategy).__name__}."
        )
    return strategy
