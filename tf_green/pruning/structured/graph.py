"""The channel dependency graph of a Keras 3 functional or Sequential model.

Every tensor's last (channel) axis is described by a :class:`Layout`: a list of *segments*,
each one an *atom* (the output channels of one layer) and its size, tiled ``repeat`` times
(a ``Flatten`` of an ``(H, W, C)`` map repeats the channel layout ``H * W`` times: flattened
index ``p * C + c``). Atoms that must keep the same channel indices (the inputs of an
``Add``, a ``BatchNormalization`` and its conv) are merged into one *group* (union-find).
A group can be pruned when it has at least one producer (Conv, Dense, SeparableConv) whose
filters it owns, and is *protected* (silently kept) when it reaches a model input, a model
output or a layer in ``exclude``. A group that passes through a layer the analysis does not
understand is *blocked*: asking to prune it is an error naming that layer.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(3, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> graph = analyse(model)
    >>> [layer.name for layer in graph.groups[0].producers] == [model.layers[0].name]
    True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
from keras.src.models.functional import Functional

from tf_green.pruning.structured.layer_kinds import layer_kind, mixes_channels

__all__ = ["ChannelGraph", "Group", "Layout", "analyse", "graph_nodes"]


@dataclasses.dataclass(frozen=True)
class Layout:
    """The channel axis of one tensor: ``segments`` of ``(atom, size)``, tiled ``repeat`` times.

    Example:
        >>> Layout(((0, 4), (1, 2))).width
        6
    """

    segments: tuple[tuple[int, int], ...]
    repeat: int = 1

    @property
    def width(self) -> int:
        """Channels of one tile (the last axis is ``width * repeat``).

        Example:
            >>> Layout(((0, 4),), repeat=9).width
            4
        """
        return sum(size for _, size in self.segments)


@dataclasses.dataclass
class Group:
    """Channels that are pruned together with the same indices.

    Attributes:
        root: The union-find root atom (an id).
        size: Channels in the group.
        producers: Layers whose output filters are these channels (Conv, Dense, SeparableConv).
        protected: Why the group is kept (model input/output, ``exclude``); empty if prunable.
        blocked: Layers the analysis does not understand that these channels reach.

    Example:
        >>> Group(root=0, size=8).prunable
        False
    """

    root: int
    size: int
    producers: list[Any] = dataclasses.field(default_factory=list)
    protected: list[str] = dataclasses.field(default_factory=list)
    blocked: list[str] = dataclasses.field(default_factory=list)

    @property
    def prunable(self) -> bool:
        """Whether pruning may remove channels of this group (blocked groups raise instead).

        Example:
            >>> Group(root=0, size=8, producers=["conv"]).prunable
            True
        """
        return bool(self.producers) and not self.protected


@dataclasses.dataclass
class ChannelGraph:
    """The analysed model: per-layer layouts and the channel groups.

    Attributes:
        model: The analysed model (not changed).
        inputs: Layer name -> the layouts of its (tensor) inputs.
        outputs: Layer name -> the layout of its first output.
        groups: The groups with at least one producer, in model order.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> analyse(model).groups[0].size
        4
    """

    model: Any
    inputs: dict[str, list[Layout]]
    outputs: dict[str, Layout]
    groups: list[Group]
    _parent: list[int]

    def find(self, atom: int) -> int:
        """The group root of an atom.

        Example:
            >>> import keras
            >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
            >>> graph = analyse(model)
            >>> graph.find(graph.outputs[model.layers[0].name].segments[0][0]) >= 0
            True
        """
        while self._parent[atom] != atom:
            atom = self._parent[atom]
        return atom

    def indices(self, layout: Layout, kept: dict[int, np.ndarray]) -> np.ndarray | None:
        """Kept positions along a tensor's last axis, or None when nothing there is pruned.

        Args:
            layout: The tensor's layout.
            kept: Group root -> sorted kept channel indices (pruned groups only).

        Returns:
            The kept indices (tiles and segments included), or None.

        Example:
            >>> import keras
            >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
            >>> graph = analyse(model)
            >>> graph.indices(graph.outputs[model.layers[0].name], {}) is None
            True
        """
        parts, offset, changed = [], 0, False
        for atom, size in layout.segments:
            keep = kept.get(self.find(atom))
            changed = changed or keep is not None
            parts.append(offset + (np.arange(size) if keep is None else keep))
            offset += size
        if not changed:
            return None
        tile = np.concatenate(parts)
        return np.concatenate([p * layout.width + tile for p in range(layout.repeat)])


def graph_nodes(model: Any) -> list[tuple[Any, Any]]:
    """The ``(layer, node)`` calls from the model's inputs to its outputs, in order.

    Args:
        model: A built Keras 3 Sequential or functional model.

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
        stack.extend((parent, False) for parent in reversed(node.input_tensors))
    return order


class _Builder:
    """Walks the calls once, creating atoms and merging them."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []
        self.producers: dict[int, list[Any]] = {}
        self.protected: dict[int, list[str]] = {}
        self.blocked: dict[int, list[str]] = {}

    def atom(self, size: int) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        return len(self.parent) - 1

    def find(self, atom: int) -> int:
        while self.parent[atom] != atom:
            self.parent[atom] = self.parent[self.parent[atom]]
            atom = self.parent[atom]
        return atom

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def mark(self, table: dict[int, list[str]], layout: Layout, reason: str) -> None:
        for atom, _ in layout.segments:
            table.setdefault(atom, []).append(reason)


def _channels(tensor: Any, name: str) -> int:
    channels = tensor.shape[-1] if len(tensor.shape) else None
    if channels is None:
        raise ValueError(
            f"layer {name!r} has an output of unknown channel size (shape {tensor.shape}); "
            "structured pruning needs a model built with a known last axis."
        )
    return int(channels)


def _join(builder: _Builder, layouts: list[Layout], widths: list[int], name: str) -> Layout | None:
    """Merge the inputs of an element-wise join; None if their layouts do not line up."""
    full = max(widths)
    live = [lay for lay, w in zip(layouts, widths, strict=True) if w == full]
    first = live[0]
    for other in live[1:]:
        sizes = [size for _, size in other.segments]
        if other.repeat != first.repeat or sizes != [size for _, size in first.segments]:
            return None
        for (a, _), (b, _) in zip(first.segments, other.segments, strict=True):
            builder.union(a, b)
    return first


def analyse(model: Any, exclude: tuple[str, ...] | list[str] = ()) -> ChannelGraph:
    """Build the channel dependency graph of a Keras 3 Sequential or functional model.

    Args:
        model: A built Keras 3 Sequential or functional model (not changed).
        exclude: Names of layers whose channels are kept (inputs and outputs).

    Returns:
        The :class:`ChannelGraph`.

    Raises:
        TypeError: For a subclassed model (naming ``tg.prune`` as the alternative).
        ValueError: For an ``exclude`` name that is not a layer of the model.

    Example:
        >>> import keras
        >>> x = keras.Input((8, 8, 3))
        >>> a = keras.layers.Conv2D(4, 3, padding="same")(x)
        >>> b = keras.layers.Conv2D(4, 1)(a)
        >>> y = keras.layers.Conv2D(2, 1)(keras.layers.Add()([a, b]))
        >>> graph = analyse(keras.Model(x, y))
        >>> [len(group.producers) for group in graph.groups]
        [2, 1]
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_inbound_nodes"):
        raise TypeError(f"`model` must be a Keras 3 model, got {type(model).__name__}.")
    if not isinstance(model, (keras.Sequential, Functional)):
        raise TypeError(
            f"`model` is a subclassed Keras 3 model ({type(model).__name__}): structured "
            "pruning needs a layer graph (Sequential or functional) to know which channels "
            "depend on each other. Use unstructured pruning, `tg.prune(model, x, y, ...)`, "
            "which works on subclassed models, or build the model functionally."
        )
    if not model.built or not getattr(model, "outputs", None):
        raise ValueError("`model` is not built: give it an Input (or call build) first.")
    names = {layer.name for layer in model.layers}
    unknown = [name for name in exclude if name not in names]
    if unknown:
        raise ValueError(f"`exclude` names {unknown}, which are not layers of the model.")
    builder = _Builder()
    layouts: dict[tuple[int, int, int], Layout] = {}
    inputs: dict[str, list[Layout]] = {}
    outputs: dict[str, Layout] = {}
    calls: dict[str, int] = {}
    order = graph_nodes(model)
    for layer, _ in order:
        calls[layer.name] = calls.get(layer.name, 0) + 1
    for layer, node in order:
        ins = [layouts[_key(t)] for t in node.input_tensors]
        out_tensors = node.output_tensors
        kind = "unknown" if calls[layer.name] > 1 else layer_kind(layer, node)
        reason = f"layer {layer.name!r} ({type(layer).__name__})"
        if calls[layer.name] > 1:
            reason += " is shared (called more than once)"
        out = None
        width = _channels(out_tensors[0], layer.name) if out_tensors else 0
        if kind == "input":
            out = Layout(((builder.atom(width), width),))
            builder.mark(builder.protected, out, "the model's input")
        elif kind == "produce":
            out = Layout(((builder.atom(width), width),))
            builder.producers[out.segments[0][0]] = [layer]
            if mixes_channels(layer):
                builder.mark(builder.blocked, out, f"the softmax of {reason}")
        elif kind in ("preserve", "depthwise"):
            out = ins[0]
        elif kind == "flatten":
            shape = node.input_tensors[0].shape
            spatial = shape[1:-1]
            if any(d is None for d in spatial):
                kind = "unknown"
            else:
                out = Layout(ins[0].segments, ins[0].repeat * int(np.prod(spatial, dtype=int)))
        elif kind == "join":
            widths = [_channels(t, layer.name) for t in node.input_tensors]
            out = _join(builder, ins, widths, layer.name)
        elif kind == "concat":
            rank = len(out_tensors[0].shape)
            if layer.axis in (-1, rank - 1) and all(lay.repeat == 1 for lay in ins):
                out = Layout(tuple(seg for lay in ins for seg in lay.segments))
            elif layer.axis not in (-1, rank - 1):
                widths = [_channels(t, layer.name) for t in node.input_tensors]
                out = _join(builder, ins, widths, layer.name)
        if out is None:  # not understood: its inputs are blocked, its output is new and kept
            for lay in ins:
                builder.mark(builder.blocked, lay, reason)
            out = Layout(((builder.atom(width), width),))
            builder.mark(builder.protected, out, f"the output of {reason}")
            kind = "unknown"
        if out.width * out.repeat != width:
            raise RuntimeError(
                f"internal error: channel layout of layer {layer.name!r} ({out.width} x "
                f"{out.repeat}) does not match its output width {width}; please report it."
            )
        for index, tensor in enumerate(out_tensors):
            if index == 0:
                layouts[_key(tensor)] = out
            else:  # extra outputs of a layer the analysis does not prune through
                size = _channels(tensor, layer.name)
                layouts[_key(tensor)] = Layout(((builder.atom(size), size),))
                builder.mark(builder.protected, layouts[_key(tensor)], f"an output of {reason}")
        inputs[layer.name] = ins
        outputs[layer.name] = out
        if layer.name in exclude:
            for lay in [*ins, out]:
                builder.mark(builder.protected, lay, f"layer {layer.name!r} is in `exclude`")
    for tensor in model.outputs:
        builder.mark(builder.protected, layouts[_key(tensor)], "the model's output")
    return ChannelGraph(model, inputs, outputs, _groups(builder), builder.parent)


def _key(tensor: Any) -> tuple[int, int, int]:
    layer, node_index, tensor_index = tensor._keras_history
    return id(layer), node_index, tensor_index


def _groups(builder: _Builder) -> list[Group]:
    groups: dict[int, Group] = {}
    for atom in range(len(builder.parent)):
        root = builder.find(atom)
        group = groups.setdefault(root, Group(root=root, size=builder.size[atom]))
        group.producers.extend(builder.producers.get(atom, []))
        group.protected.extend(builder.protected.get(atom, []))
        group.blocked.extend(builder.blocked.get(atom, []))
    return [group for group in groups.values() if group.producers]
