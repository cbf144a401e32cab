"""The layer calls of a Keras 3 or tf_keras functional model, read the same way for both.

The dependency graph (:mod:`.graph`) walks a model's calls (*nodes*): which tensors each
call read and wrote, and which argument each tensor was. Keras 3 and tf_keras keep the
same facts under different names (``node.input_tensors`` vs ``node.keras_inputs``,
``node.arguments`` vs ``call_args``); this module hides that, so the graph logic is written
once for both engines.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> [type(layer).__name__ for layer, _ in graph_nodes(model)]
    ['InputLayer', 'Dense']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tf_green._engine import engine_of
from tf_green._engine.models import is_graph_model

__all__ = ["as_numpy", "call_arguments", "graph_nodes", "node_inputs", "node_outputs", "tensor_key"]


def as_numpy(variable: Any) -> Any:
    """A weight's value as a numpy array (Keras 3 on any backend, or tf_keras).

    Example:
        >>> import keras
        >>> as_numpy(keras.Variable([1.0, 2.0])).tolist()
        [1.0, 2.0]
    """
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)


def _is_keras3_node(node: Any) -> bool:
    return hasattr(node, "arguments")


def _flatten(structure: Any) -> list[Any]:
    if isinstance(structure, dict):
        return [t for value in structure.values() for t in _flatten(value)]
    if isinstance(structure, (list, tuple)):
        return [t for value in structure for t in _flatten(value)]
    return [structure]


def node_inputs(node: Any) -> list[Any]:
    """The symbolic tensors one call read, flat, in argument order.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> [tuple(t.shape) for t in node_inputs(model.layers[0]._inbound_nodes[0])]
        [(None, 3)]
    """
    if _is_keras3_node(node):
        return list(node.input_tensors)
    return [] if node.is_input else list(node.keras_inputs)


def node_outputs(node: Any) -> list[Any]:
    """The symbolic tensors one call wrote, flat.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> [tuple(t.shape) for t in node_outputs(model.layers[0]._inbound_nodes[0])]
        [(None, 2)]
    """
    if _is_keras3_node(node):
        return list(node.output_tensors)
    return _flatten(node.outputs)


def call_arguments(node: Any) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of one call (tensors and plain values).

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> args, kwargs = call_arguments(model.layers[0]._inbound_nodes[0])
        >>> len(args), kwargs
        (1, {})
    """
    if _is_keras3_node(node):
        return list(node.arguments.args), dict(node.arguments.kwargs)
    return list(node.call_args), dict(node.call_kwargs)


def tensor_key(tensor: Any) -> tuple[int, int, int]:
    """A symbolic tensor's identity: the call that made it and its output index.

    Example:
        >>> import keras
        >>> x = keras.Input((3,))
        >>> tensor_key(x) == tensor_key(x)
        True
    """
    layer, node_index, tensor_index = tensor._keras_history
    return id(layer), node_index, tensor_index


def graph_nodes(model: Any) -> list[tuple[Any, Any]]:
    """The ``(layer, node)`` calls from the model's inputs to its outputs, in order.

    Args:
        model: A built Sequential or functional model (Keras 3 or tf_keras).

    Returns:
        The calls, each input before its consumers.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> [type(layer).__name__ for layer, _ in graph_nodes(model)]
        ['InputLayer', 'Dense']
    """
    order, seen = [], set()
    stack = [(tensor, False) for tensor in reversed(model.outputs)]
    while stack:
        tensor, expanded = stack.pop()
        layer, node_index, _ = tensor._keras_history
        key = (id(layer), node_index)
        node = layer._inbound_nodes[node_index]
        if expanded:
            if key not in seen:
                seen.add(key)
                order.append((layer, node))
            continue
        if key in seen:
            continue
        stack.append((tensor, True))
        stack.extend((parent, False) for parent in reversed(node_inputs(node)))
    return order


def check_layer_graph(model: Any, exclude: tuple[str, ...] | list[str] = ()) -> None:
    """Refuse what has no layer graph to analyse: a subclassed, unbuilt or non-Keras model.

    Args:
        model: The model to analyse (Keras 3 or tf_keras).
        exclude: Layer names that must be layers of ``model``.

    Raises:
        TypeError: For a non-Keras or subclassed model (naming unstructured pruning,
            ``tg.prune``, as the alternative for its engine).
        ValueError: For an unbuilt model or an ``exclude`` name that is not a layer.

    Example:
        >>> import keras
        >>> check_layer_graph(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    """
    engine = engine_of(model)  # TypeError for what is not a Keras 3 or tf_keras model
    if not is_graph_model(model):
        alternative = (
            "Use unstructured pruning, `tg.prune(model, x, y, ...)`, which works on subclassed "
            "Keras 3 models, or build the model functionally."
            if engine == "keras3"
            else "Use unstructured pruning instead: `tg.prune` on its inner Sequential/functional "
            "parts (e.g. tg.prune(model.backbone, ...)), or on a Keras 3 version of the model "
            "(tg.prune works on subclassed Keras 3 models); or build the model functionally."
        )
        raise TypeError(
            f"`model` is a subclassed {'Keras 3' if engine == 'keras3' else 'tf_keras'} model "
            f"({type(model).__name__}): structured pruning needs a layer graph (Sequential or "
            f"functional) to know which channels depend on each other. {alternative}"
        )
    if not model.built or not getattr(model, "outputs", None):
        raise ValueError("`model` is not built: give it an Input (or call build) first.")
    names = {layer.name for layer in model.layers}
    unknown = [name for name in exclude if name not in names]
    if unknown:
        raise ValueError(f"`exclude` names {unknown}, which are not layers of the model.")
