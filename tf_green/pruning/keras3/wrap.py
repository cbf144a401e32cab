"""``wrap``: a copy of a Keras 3 model with pruning masks, for your own ``fit`` or loop.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="d")])
    >>> len(wrap(m).weights) == len(m.weights)
    True
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras

from tf_green.pruning.keras3._models import check_model, compile_like, copy_model
from tf_green.pruning.keras3.engine import attach, get_state, require_backend
from tf_green.pruning.keras3.schedules import with_target
from tf_green.pruning.keras3.selection import (
    LayerSelector,
    Selected,
    iter_layers,
    select_weights,
)
from tf_green.pruning.schedule_math import ConstantSparsity, as_schedule, parse_structure

__all__ = ["prepare", "strategy_scope", "wrap"]

# keras.distribution exports the concrete classes only (their base class is private).
_DISTRIBUTIONS = (keras.distribution.DataParallel, keras.distribution.ModelParallel)


def wrap(
    model: Any,
    schedule: Any = None,
    *,
    structure: str | tuple[int, int] | None = None,
    layers: LayerSelector = None,
    strategy: Any = None,
) -> Any:
    """Copy ``model`` and give the selected weights magnitude-pruning masks.

    Train the result with :func:`tf_green.pruning.keras3.callbacks` (``fit``'s
    ``callbacks=``, or called by hand in a ``GradientTape`` loop), then :func:`strip` it.
    The copy has the same layers and weights as ``model`` (no wrapper layers): each
    pruned variable carries a mask and a constraint that keeps its pruned entries at zero.

    Args:
        model: A built Keras 3 model (Sequential, functional or subclassed); not changed.
        schedule: A :class:`tf_green.pruning.schedule_math.PruningSchedule` (or a TFMOT
            ``PolynomialDecay``/``ConstantSparsity``); defaults to
            ``ConstantSparsity(0.5, begin_step=0)`` (TFMOT's default, every 100 steps).
        structure: ``"m:n"`` structured sparsity (m zeros in every n weights), or None.
        layers: Which layers to prune (see :func:`select_weights`): None for all
            prunable, names/classes/``"layer/weight"`` names, a regex, a callable, or
            ``{name: sparsity}`` for per-layer targets.
        strategy: Where to build the copy: a ``tf.distribute`` strategy on the TensorFlow
            backend (e.g. ``MirroredStrategy()``; ``fit`` then trains under it), a
            ``keras.distribution`` ``DataParallel``/``ModelParallel`` on JAX (call your
            ``fit`` inside ``strategy.scope()`` too), or None for the current one.

    Returns:
        The copy, compiled like ``model`` (a fresh optimizer) if ``model`` was compiled.

    Raises:
        TypeError: If ``model`` is not a Keras 3 model, or arguments have the wrong type.
        ValueError: On an unbuilt model, an unsupported backend, or a ``layers`` /
            ``structure`` that selects nothing prunable or a layer that cannot be pruned.

    Example:
        >>> wrapped = wrap(model, layers=["conv2"], structure="2:4")   # doctest: +SKIP
        >>> wrapped.fit(x, y, callbacks=tg.pruning.callbacks())         # doctest: +SKIP
    """
    require_backend()
    model = check_model(model)
    m_by_n = parse_structure(structure)
    base = ConstantSparsity(0.5, begin_step=0) if schedule is None else as_schedule(schedule)
    selected = select_weights(model, layers, m_by_n)
    schedules = {
        s.name: base if s.target is None else with_target(base, s.target, s.name) for s in selected
    }
    return prepare(model, selected, schedules, m_by_n, strategy=strategy)


def prepare(
    model: Any,
    selected: list[Selected],
    schedules: dict[str, Any],
    m_by_n: tuple[int, int] | None,
    *,
    strategy: Any = None,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    required: bool = False,
) -> Any:
    """Copy, compile and attach masks (no argument checks; see :func:`wrap`).

    Args:
        model: A built Keras 3 model; not changed.
        selected: The selection on ``model`` (mapped onto the copy by weight position).
        schedules: ``{selected layer name: schedule}``.
        m_by_n: ``(m, n)`` or None.
        strategy: A ``tf.distribute`` strategy to build in, or None.
        optimizer: Compile override.
        loss: Compile override.
        metrics: Compile override.
        required: Raise if the copy cannot be compiled.

    Returns:
        The copy with masks.

    Example:
        >>> prepare(model, select_weights(model, None), schedules, None)  # doctest: +SKIP
    """
    if get_state(model) is not None:
        raise ValueError(
            f"model {model.name!r} already has pruning masks. Strip them first with "
            "tf_green.pruning.strip(model), or train it with tf_green.pruning.callbacks()."
        )
    with strategy_scope(strategy):
        copy = copy_model(model)
        compiled = compile_like(
            copy, model, optimizer=optimizer, loss=loss, metrics=metrics, required=required
        )
        if compiled and not copy.optimizer.built:
            # Built here, eagerly (as strip does): built by the first train step instead, its
            # variables are created inside the traced step, which TensorFlow then traces
            # twice (about 1 s of CPU for the digits CNN, 15% of a 12-epoch fit).
            copy.optimizer.build(copy.trainable_variables)
        index = {id(v): i for i, v in enumerate(model.weights)}
        owner = {id(v): layer for layer in iter_layers(copy) for v in layer.weights}
        mapped = []
        for chosen in selected:
            weights = [copy.weights[index[id(w)]] for w in chosen.weights]
            mapped.append(Selected(chosen.name, owner[id(weights[0])], weights, chosen.target))
        attach(copy, mapped, schedules, m_by_n)
    return copy


def strategy_scope(strategy: Any) -> Any:
    """The context to build and train in for ``strategy=`` on the current backend.

    Args:
        strategy: None; a ``tf.distribute.Strategy`` (TensorFlow backend); or a
            ``keras.distribution.DataParallel``/``ModelParallel`` (JAX backend).

    Returns:
        A context manager.

    Raises:
        TypeError: For another object, or a strategy of the other backend.

    Example:
        >>> with strategy_scope(None):
        ...     pass
    """
    if strategy is None:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    tf_strategy = type(strategy).__module__.startswith("tensorflow") and hasattr(
        strategy, "num_replicas_in_sync"
    )
    if backend == "tensorflow" and tf_strategy:
        return strategy.scope()
    if backend == "jax" and isinstance(strategy, _DISTRIBUTIONS):
        return strategy.scope()
    wanted = (
        "a tf.distribute.Strategy (e.g. tf.distribute.MirroredStrategy())"
        if backend == "tensorflow"
        else "a keras.distribution.DataParallel() (or ModelParallel)"
    )
    raise TypeError(
        f"`strategy` must be {wanted} on Keras 3's {backend!r} backend, or None; got "
        f"{type(strategy).__name__}."
    )
