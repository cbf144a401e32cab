"""Which weights of which layers to prune in a Keras 3 model: every tracked layer, nested too.

The walk visits every layer the model tracks, depth first: the layers of Sequential and
functional models, the sublayers of subclassed models and of layers nested inside layers
(a ``Layer`` holding ``Dense``/``Conv`` sublayers), RNN cells and attention projections.

Prunable weights per layer:

* ``Dense``, ``EinsumDense``, ``Conv1D/2D/3D``, ``Conv1D/2D/3DTranspose``: ``kernel``;
  ``DepthwiseConv1D/2D``: the depthwise ``kernel``; ``SeparableConv1D/2D``: ``pointwise_kernel``
  (as TFMOT); ``Embedding``: ``embeddings``;
* ``LSTM``/``GRU``/``SimpleRNN``/``ConvLSTM`` (and ``Bidirectional``): their cells'
  ``kernel`` and ``recurrent_kernel``; ``MultiHeadAttention``: its query, key, value and
  output projections (``EinsumDense`` sublayers);
* a custom layer opts in with the protocol of TFMOT's ``PrunableLayer``: a method
  ``get_prunable_weights()`` returning the variables to prune; or the caller names its
  weights as ``"layer_name/weight_name"`` in ``layers=``.

Selecting a layer that holds sublayers (a block, a nested model) selects the prunable
weights inside it. Each weight is pruned once, by the first (outermost) selection.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="d1"),
    ...                           keras.layers.Dense(2, name="d2")])
    >>> [t.name for t in select_weights(model, None)]
    ['d1', 'd2']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import keras

from tf_green.pruning.arguments import LayerSelector
from tf_green.pruning.keras3.masks import mn_problem
from tf_green.pruning.schedule_math import check_sparsity

__all__ = ["LayerSelector", "Selected", "iter_layers", "prunable_weights", "select_weights"]

PROTOCOL_HINT = (
    "To prune a custom layer, give it a method `get_prunable_weights(self)` returning the "
    "variables to prune (e.g. `return [self.kernel]`), or name its weights in `layers=` as "
    "'<layer name>/<weight name>' (e.g. layers=['my_layer/kernel'])."
)

_KERNELS: dict[type, tuple[str, ...]] = {
    keras.layers.Dense: ("kernel",),
    keras.layers.EinsumDense: ("kernel",),
    keras.layers.Conv1D: ("kernel",),
    keras.layers.Conv2D: ("kernel",),
    keras.layers.Conv3D: ("kernel",),
    keras.layers.Conv1DTranspose: ("kernel",),
    keras.layers.Conv2DTranspose: ("kernel",),
    keras.layers.Conv3DTranspose: ("kernel",),
    keras.layers.DepthwiseConv1D: ("kernel",),  # Keras 3 names the depthwise kernel "kernel"
    keras.layers.DepthwiseConv2D: ("kernel",),
    keras.layers.SeparableConv1D: ("pointwise_kernel",),
    keras.layers.SeparableConv2D: ("pointwise_kernel",),
    keras.layers.Embedding: ("embeddings",),
    keras.layers.SimpleRNNCell: ("kernel", "recurrent_kernel"),
    keras.layers.LSTMCell: ("kernel", "recurrent_kernel"),
    keras.layers.GRUCell: ("kernel", "recurrent_kernel"),
}
_MHA_PROJECTIONS = ("_query_dense", "_key_dense", "_value_dense", "_output_dense")


@dataclass
class Selected:
    """One selected layer and the weights of it to prune.

    Attributes:
        name: The layer's name.
        layer: The layer.
        weights: The variables to prune (each in one ``Selected`` only).
        target: Its own target sparsity (``layers={name: sparsity}``), or None.

    Example:
        >>> Selected("dense", None).weights
        []
    """

    name: str
    layer: Any
    weights: list = field(default_factory=list)
    target: float | None = None


def iter_layers(model: Any) -> Iterator[Any]:
    """Yield every layer ``model`` tracks, depth first, each once (input layers excluded).

    Args:
        model: A Keras 3 model or layer.

    Yields:
        The layers inside it, nested ones included, parents before their sublayers.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
        >>> [layer.name for layer in iter_layers(m)]
        ['d']
    """
    seen: set[int] = set()

    def walk(layer: Any) -> Iterator[Any]:
        for child in getattr(layer, "_layers", []):
            if id(child) in seen or isinstance(child, keras.layers.InputLayer):
                continue
            seen.add(id(child))
            yield child
            yield from walk(child)

    seen.add(id(model))
    yield from walk(model)


def prunable_weights(layer: Any) -> list | None:
    """The variables of ``layer`` itself that are pruned by default.

    Args:
        layer: A built Keras 3 layer.

    Returns:
        The variables (possibly empty, e.g. for ``Flatten``); None for a layer outside
        the known classes without ``get_prunable_weights``.

    Raises:
        TypeError: If ``get_prunable_weights()`` returns something other than the layer's
            variables.

    Example:
        >>> import keras
        >>> dense = keras.layers.Dense(2)
        >>> dense.build((None, 3))
        >>> [tuple(w.shape) for w in prunable_weights(dense)]
        [(3, 2)]
    """
    if callable(getattr(layer, "get_prunable_weights", None)):
        weights = list(layer.get_prunable_weights())
        own = {id(w) for w in layer.weights}
        if not all(isinstance(w, keras.Variable) and id(w) in own for w in weights):
            raise TypeError(
                f"layer {layer.name!r}: get_prunable_weights() must return variables of the "
                f"layer (e.g. [self.kernel]), got {weights!r}."
            )
        return weights
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return [getattr(layer, name).kernel for name in _MHA_PROJECTIONS]
    if isinstance(layer, keras.layers.Bidirectional):
        return [*prunable_weights(layer.forward_layer), *prunable_weights(layer.backward_layer)]
    if isinstance(layer, keras.layers.RNN):
        cells = getattr(layer.cell, "cells", [layer.cell])
        return [w for cell in cells for w in (prunable_weights(cell) or _cell_kernels(cell))]
    for cls, names in _KERNELS.items():
        if isinstance(layer, cls):
            return [_variable(layer, name) for name in names]
    if type(layer).__module__.startswith("keras.") or not _own_weights(layer):
        return []  # a built-in layer without kernels (BatchNormalization, Flatten...)
    return None


def _variable(layer: Any, name: str) -> Any:
    # With LoRA enabled, `kernel` is a computed tensor; the base variable is `_kernel`.
    value = getattr(layer, name)
    if not isinstance(value, keras.Variable):
        value = getattr(layer, f"_{name}", value)
    if not isinstance(value, keras.Variable):
        raise TypeError(
            f"layer {layer.name!r}: its {name!r} is not a variable ({type(value).__name__}); "
            "it cannot be pruned. Leave it out of `layers`."
        )
    return value


def _cell_kernels(cell: Any) -> list:
    return [getattr(cell, name) for name in ("kernel", "recurrent_kernel") if hasattr(cell, name)]


def _own_weights(layer: Any) -> list:
    inner = {id(w) for child in getattr(layer, "_layers", []) for w in child.weights}
    return [w for w in layer.weights if id(w) not in inner]


def _weights_inside(layer: Any) -> list | None:
    """The layer's own prunable weights, or for a container, those of its sublayers."""
    weights = prunable_weights(layer)
    if weights is None and _own_weights(layer):
        return None
    result = list(weights or [])
    if weights is None or not result:
        for child in iter_layers(layer):
            result += prunable_weights(child) or []
    return result


def select_weights(
    model: Any, layers: LayerSelector, m_by_n: tuple[int, int] | None = None
) -> list[Selected]:
    """Resolve ``layers=`` to the weights to prune, grouped by selected layer.

    Args:
        model: A built Keras 3 model.
        layers: None (every prunable weight); a list of layer names, layer classes and/or
            ``"layer/weight"`` names; a regex (matched in full against layer names); a
            callable ``layer -> bool``; or a dict ``{name: sparsity}`` of per-layer targets
            (names as in a list). Names and classes select *explicitly*: a selected layer
            with nothing to prune is an error; None, regexes and callables skip such
            layers (with a warning for custom layers with weights).
        m_by_n: The ``(m, n)`` structure, if any; each weight must hold it.

    Returns:
        The selections, in model order, each weight in one of them.

    Raises:
        TypeError: If ``layers`` has an unsupported type.
        ValueError: If it is empty, names a layer or weight the model does not have,
            explicitly selects a layer with nothing to prune (or a custom layer without
            ``get_prunable_weights``, or a weight that cannot hold ``m_by_n``), gives a
            sparsity outside [0, 1), or selects nothing prunable.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="d")])
        >>> select_weights(m, {"d": 0.9})[0].target
        0.9
    """
    all_layers = list(iter_layers(model))
    names = {layer.name for layer in all_layers}
    if isinstance(layers, (list, tuple, set, frozenset, Mapping, str)) and not layers:
        raise ValueError("`layers` is empty; pass None to prune every prunable layer.")
    targets: dict[str, float] = {}
    explicit = True
    if layers is None:
        items, explicit = [lambda layer: True], False
    elif isinstance(layers, Mapping):
        targets = {n: check_sparsity(s, f"layers[{n!r}]") for n, s in layers.items()}
        items = list(layers)
    elif isinstance(layers, (str, re.Pattern)):
        pattern = re.compile(layers) if isinstance(layers, str) else layers
        items, explicit = [lambda layer: bool(pattern.fullmatch(layer.name))], False
    elif isinstance(layers, (list, tuple, set, frozenset)):
        items = list(layers)
    elif callable(layers) and not isinstance(layers, type):
        items, explicit = [layers], False
    else:
        raise TypeError(
            "`layers` must be None, a list of layer names or classes, a regex, a callable "
            f"(layer -> bool) or a dict {{name: sparsity}}; got {type(layers).__name__}."
        )

    claimed: set[int] = set()
    result: list[Selected] = []
    for item in items:
        for layer, weights in _resolve(item, model, all_layers, names, explicit):
            fresh = [w for w in weights if id(w) not in claimed]
            problem = _mn_check(fresh, m_by_n) if fresh else None
            if problem:
                if explicit:
                    raise ValueError(f"`layers` selects layer {layer.name!r}, but {problem}")
                warnings.warn(f"Not pruning layer {layer.name!r}: {problem}", stacklevel=3)
                continue
            if fresh:
                claimed.update(id(w) for w in fresh)
                target = targets.get(item) if isinstance(item, str) else None
                result.append(Selected(layer.name, layer, fresh, target))
    if not result:
        prunable = [layer.name for layer in all_layers if _quiet_prunable(layer)]
        raise ValueError(
            f"`layers`={_describe(layers)} selects no prunable weight in model {model.name!r}"
            f"{f' that can hold {m_by_n[0]}:{m_by_n[1]}' if m_by_n else ''}. "
            f"Its prunable layers are: {prunable or 'none'}. {PROTOCOL_HINT}"
        )
    order = {id(layer): i for i, layer in enumerate(all_layers)}
    return sorted(result, key=lambda s: order[id(s.layer)])


def _resolve(
    item: Any, model: Any, all_layers: list, names: set[str], explicit: bool
) -> Iterator[tuple[Any, list]]:
    if isinstance(item, str) and "/" in item and item.split("/", 1)[0] in names:
        layer_name, weight_name = item.split("/", 1)
        for layer in all_layers:
            if layer.name == layer_name:
                found = [w for w in layer.weights if w.name == weight_name]
                if not found:
                    raise ValueError(
                        f"`layers` names weight {item!r}, but layer {layer_name!r} has no "
                        f"weight {weight_name!r}; its weights are "
                        f"{[w.name for w in layer.weights]}."
                    )
                yield layer, found
        return
    if isinstance(item, str):
        if item not in names:
            raise ValueError(
                f"`layers` names {item!r}, but model {model.name!r} has no such layer. Its "
                f"layers are: {[layer.name for layer in all_layers]}."
            )
        chosen = [layer for layer in all_layers if layer.name == item]
    elif isinstance(item, type):
        if not issubclass(item, keras.layers.Layer):
            raise TypeError(
                f"`layers` as a list must hold layer names (str) and/or Keras 3 layer classes "
                f"(keras.layers.*), got {item!r}."
            )
        chosen = [layer for layer in all_layers if isinstance(layer, item)]
        if not chosen:
            raise ValueError(
                f"`layers` selects class {item.__name__}, but model {model.name!r} has no "
                "layer of this class."
            )
    elif callable(item):
        chosen = [layer for layer in all_layers if item(layer)]
    else:
        raise TypeError(
            "`layers` as a list must hold layer names (str), 'layer/weight' names and/or "
            f"Keras 3 layer classes, got {item!r}."
        )
    for layer in chosen:
        weights = _weights_inside(layer) if explicit else prunable_weights(layer)
        if weights is None:
            message = (
                f"layer {layer.name!r} is a {type(layer).__name__}, a custom layer without "
                f"get_prunable_weights(), so which of its weights to prune is unknown. "
                f"{PROTOCOL_HINT}"
            )
            if explicit:
                raise ValueError(f"`layers` selects {message}")
            warnings.warn(f"Not pruning {message}", stacklevel=4)
        elif weights:
            yield layer, weights
        elif explicit:
            raise ValueError(
                f"`layers` selects layer {layer.name!r}, but a {type(layer).__name__} has no "
                "weights to prune (kernels of Dense/Conv/Embedding/RNN/attention layers). "
                "Leave it out of `layers`."
            )


def _quiet_prunable(layer: Any) -> bool:
    try:
        return bool(prunable_weights(layer))
    except TypeError:
        return False


def _mn_check(weights: list, m_by_n: tuple[int, int] | None) -> str | None:
    if m_by_n is None:
        return None
    for weight in weights:
        problem = mn_problem(tuple(weight.shape), m_by_n)
        if problem:
            return (
                f"its weight {weight.path} of shape {tuple(weight.shape)} cannot hold "
                f"{m_by_n[0]}:{m_by_n[1]} sparsity: {problem}. Leave this layer out of "
                "`layers`, or use structure=None."
            )
    return None


def _describe(layers: Any) -> str:
    text = getattr(layers, "__name__", None) or repr(layers)
    return text if len(text) < 80 else text[:77] + "..."
