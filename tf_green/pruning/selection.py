"""Which layers to prune: resolve ``layers=`` against a model, with TFMOT's prunability rules.

A layer is *prunable* if TFMOT's registry knows its class (and lists weights to prune for
it: ``Dense``/``Conv``/``Embedding`` kernels, RNN kernels, attention projections) or it
implements ``get_prunable_weights`` (``tfmot.sparsity.keras.PrunableLayer``). Nothing here
changes a layer: TFMOT's ``make_prunable`` patches the layer object, so the weights are
looked up by name instead.

Example:
    >>> from tf_green import models
    >>> sorted(select_layers(models.cnn(width=4), None))
    ['conv1', 'conv2', 'logits']
"""

from __future__ import annotations

import operator
import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from tf_green._keras import keras, tf
from tf_green.pruning._tfmot import prunable_layer, prune_registry
from tf_green.pruning.arguments import LayerSelector
from tf_green.pruning.schedules import check_sparsity
from tf_green.pruning.wrapper import is_pruning_wrapper

PruneRegistry = prune_registry.PruneRegistry

__all__ = ["LayerSelector", "iter_layers", "prunable_weights", "select_layers"]

_PRUNABLE_HINT = (
    "To prune a custom layer, implement tfmot.sparsity.keras.PrunableLayer "
    "(a `get_prunable_weights()` method returning its kernels)."
)


def iter_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Yield the layers of ``model``, descending into nested Sequential/functional models.

    Args:
        model: A Sequential or functional tf_keras model.

    Yields:
        Every non-model layer (input layers excluded), depth first, in model order.

    Example:
        >>> from tf_green import models
        >>> [layer.name for layer in iter_layers(models.mlp(hidden=(4,)))]
        ['dense1', 'logits']
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def prunable_weights(layer: keras.layers.Layer) -> list[tf.Variable] | None:
    """The weights TFMOT would prune in ``layer``, without modifying the layer.

    Args:
        layer: A built layer (or a TFMOT pruning wrapper).

    Returns:
        The weight variables (possibly empty, e.g. for ``Flatten``), or None if TFMOT
        cannot prune this layer class at all.

    Example:
        >>> dense = keras.layers.Dense(2)
        >>> dense.build((None, 3))
        >>> [tuple(w.shape) for w in prunable_weights(dense)]
        [(3, 2)]
    """
    if is_pruning_wrapper(layer):
        return list(getattr(layer, "prunable_weights", []) or [])
    if isinstance(layer, prunable_layer.PrunableLayer) or hasattr(layer, "get_prunable_weights"):
        return list(layer.get_prunable_weights())
    if not PruneRegistry.supports(layer):
        return None
    if PruneRegistry._is_rnn_layer(layer):
        weights = []
        for cell in PruneRegistry._get_rnn_cells(layer):
            if hasattr(cell, "get_prunable_weights"):
                weights.extend(cell.get_prunable_weights())
            else:
                names = PruneRegistry._RNN_CELLS_WEIGHTS_MAP[cell.__class__]
                weights.extend(getattr(cell, name) for name in names)
        return weights
    return [operator.attrgetter(name)(layer) for name in PruneRegistry._weight_names(layer)]


def select_layers(
    model: keras.Model,
    layers: LayerSelector,
    m_by_n: tuple[int, int] | None = None,
) -> dict[str, float | None]:
    """Resolve ``layers=`` to the layers to prune, each with its own target or None.

    Args:
        model: A built Sequential or functional tf_keras model.
        layers: None (every prunable layer); a list of layer names and/or layer classes;
            a regex (``str`` or compiled, matched in full against layer names); a callable
            ``layer -> bool``; or a dict ``{layer name: sparsity}`` for per-layer targets.
            Names and classes select *explicitly*: a selected layer that cannot be pruned
            is an error. None, regexes and callables skip such layers with a warning.
        m_by_n: The ``(m, n)`` structure, if any: each selected weight must be rank 2 or 4
            with an input-channel axis (``shape[-2]``) divisible by ``n``.

    Returns:
        ``{layer name: sparsity}`` in model order; the sparsity is None unless ``layers``
        is a dict.

    Raises:
        TypeError: If ``layers`` has an unsupported type.
        ValueError: If it is empty, names a layer the model does not have, explicitly
            selects a layer that cannot be pruned (or cannot hold ``m_by_n``), gives a
            sparsity outside [0, 1), or selects nothing prunable.

    Example:
        >>> from tf_green import models
        >>> select_layers(models.cnn(width=4), {"conv2": 0.9})
        {'conv2': 0.9}
    """
    all_layers = list(iter_layers(model))
    by_name = {layer.name: layer for layer in all_layers}
    wrapped = [layer.name for layer in all_layers if is_pruning_wrapper(layer)]
    if wrapped:
        raise ValueError(
            f"model {model.name!r} already has pruning wrappers ({', '.join(wrapped)}). "
            "Strip them first with tf_green.pruning.strip(model), or train it with "
            "tf_green.pruning.callbacks()."
        )
    if isinstance(layers, (list, tuple, set, frozenset, Mapping, str)) and not layers:
        raise ValueError("`layers` is empty; pass None to prune every prunable layer.")
    explicit: set[str] = set()
    targets: dict[str, float | None] = {}
    if layers is None:
        chosen = all_layers
    elif isinstance(layers, Mapping):
        unknown = [name for name in layers if name not in by_name]
        _raise_unknown(unknown, model, all_layers)
        targets = {n: check_sparsity(s, f"layers[{n!r}]") for n, s in layers.items()}
        chosen = [layer for layer in all_layers if layer.name in layers]
        explicit = set(layers)
    elif isinstance(layers, (str, re.Pattern)):
        pattern = re.compile(layers) if isinstance(layers, str) else layers
        chosen = [layer for layer in all_layers if pattern.fullmatch(layer.name)]
    elif isinstance(layers, (list, tuple, set, frozenset)):
        chosen, explicit = _from_list(list(layers), model, all_layers)
    elif callable(layers) and not isinstance(layers, type):
        chosen = [layer for layer in all_layers if layers(layer)]
    else:
        raise TypeError(
            "`layers` must be None, a list of layer names or classes, a regex, a callable "
            f"(layer -> bool) or a dict {{name: sparsity}}; got {type(layers).__name__}."
        )

    selected: dict[str, float | None] = {}
    for layer in chosen:
        reason = _why_not_prunable(layer, m_by_n)
        if reason is None:
            selected[layer.name] = targets.get(layer.name)
        elif layer.name in explicit:
            raise ValueError(f"`layers` selects layer {layer.name!r}, but {reason}")
        elif reason.startswith(("TFMOT", "its weight")) and layer.weights:
            warnings.warn(f"Not pruning layer {layer.name!r}: {reason}", stacklevel=3)
    if not selected:
        names = [layer.name for layer in all_layers if _why_not_prunable(layer, m_by_n) is None]
        raise ValueError(
            f"`layers`={_describe(layers)} selects no prunable layer in model {model.name!r}. "
            f"Its prunable layers are: {names or 'none'}."
        )
    return selected


def _from_list(
    items: list, model: keras.Model, all_layers: list[keras.layers.Layer]
) -> tuple[list[keras.layers.Layer], set[str]]:
    names = {item for item in items if isinstance(item, str)}
    classes = tuple(item for item in items if isinstance(item, type))
    bad = [item for item in items if not isinstance(item, (str, type))]
    if bad or not all(issubclass(cls, keras.layers.Layer) for cls in classes):
        raise TypeError(
            "`layers` as a list must hold layer names (str) and/or tf_keras layer classes, "
            f"got {(bad or classes)[0]!r}."
        )
    _raise_unknown(sorted(names - {layer.name for layer in all_layers}), model, all_layers)
    chosen = [
        layer for layer in all_layers if layer.name in names or isinstance(layer, classes or ())
    ]
    if classes and not any(isinstance(layer, classes) for layer in all_layers):
        raise ValueError(
            f"`layers` selects classes {[c.__name__ for c in classes]}, but model "
            f"{model.name!r} has no layer of these classes."
        )
    return chosen, {layer.name for layer in chosen}


def _why_not_prunable(layer: keras.layers.Layer, m_by_n: tuple[int, int] | None) -> str | None:
    weights = prunable_weights(layer)
    if weights is None:
        return (
            f"TFMOT cannot prune a {type(layer).__name__}: it is neither a built-in layer "
            f"TFMOT supports nor a PrunableLayer. {_PRUNABLE_HINT}"
        )
    if not weights:
        return f"a {type(layer).__name__} has no weights to prune."
    if m_by_n is not None:
        m, n = m_by_n
        for weight in weights:
            shape = tuple(weight.shape)
            if len(shape) not in (2, 4) or shape[-2] % n:
                return (
                    f"its weight {weight.name} of shape {shape} cannot hold {m}:{n} sparsity: "
                    f"m:n needs a rank-2 or rank-4 kernel whose input axis (size {shape[-2]}) "
                    f"is a multiple of {n}. Leave this layer out of `layers`, or use "
                    "structure=None."
                )
    return None


def _raise_unknown(
    unknown: list[str], model: keras.Model, all_layers: list[keras.layers.Layer]
) -> None:
    if unknown:
        raise ValueError(
            f"`layers` names {unknown}, but model {model.name!r} has no such layer. "
            f"Its layers are: {[layer.name for layer in all_layers]}."
        )


def _describe(layers: Any) -> str:
    text = getattr(layers, "__name__", None) or repr(layers)
    return text if len(text) < 80 else text[:77] + "..."
