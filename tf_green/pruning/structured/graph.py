"""The channel dependency graph of a functional or Sequential model (Keras 3 or tf_keras).

Every tensor's last (channel) axis is described by a :class:`Layout`: a list of *segments*,
each one an *atom* (the output channels of one layer) and its size, tiled ``repeat`` times
(a ``Flatten`` of an ``(H, W, C)`` map repeats the channel layout ``H * W`` times: flattened
index ``p * C + c``). Atoms that must keep the same channel indices (the inputs of an
``Add``, a ``BatchNormalization`` and its conv) are merged into one *group* (union-find).
A group can be pruned when it has at least one producer (Conv, Dense, SeparableConv) whose
filters it owns, and is *protected* (silently kept) when it reaches a model input, a model
output or a layer in ``exclude``. A group that passes through a layer the analysis does not
understand is *blocked*: asking to prune it is an error naming that layer; a blocked group
that holds an ``Embedding``'s width is kept instead (a LayerNormalization on the residual
stream of a transformer cannot follow it: its statistics would change).

Beyond channels: a ``MultiHeadAttention`` call adds an atom for its heads
(:mod:`.attention`), and its output follows its query's channels; an ``Embedding`` produces
channels (its table's columns) from token ids. Keras 3 and tf_keras models are read alike
(:mod:`.nodes`; layer classes of the model's own engine, :mod:`.layer_kinds`).

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

import numpy as np

from tf_green.pruning.structured.attention import attention_inputs
from tf_green.pruning.structured.layer_kinds import classes, layer_kind, mixes_channels
from tf_green.pruning.structured.nodes import (
    check_layer_graph,
    graph_nodes,
    node_inputs,
    node_outputs,
    tensor_key,
)

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
        producers: Layers whose output filters are these channels (Conv, Dense, SeparableConv,
            Embedding), or whose heads they are (MultiHeadAttention).
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
        heads: MultiHeadAttention name -> the layout of its heads (one atom).

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
    heads: dict[str, Layout] = dataclasses.field(default_factory=dict)

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


def _channels(tensor: Any) -> int:
    """The last axis of a tensor; 0 when it is unknown (token ids of any length)."""
    channels = tensor.shape[-1] if len(tensor.shape) else None
    return 0 if channels is None else int(channels)


def _join(builder: _Builder, layouts: list[Layout], widths: list[int]) -> Layout | None:
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


def _num_heads(layer: Any) -> int:
    return int(layer._query_dense.kernel.shape[1])  # (channels, heads, key_dim), both engines


class _Analysis:
    """The per-call rules: the layout of each call's output, merging what must match."""

    def __init__(self) -> None:
        self.builder = _Builder()
        self.layouts: dict[tuple[int, int, int], Layout] = {}
        self.inputs: dict[str, list[Layout]] = {}
        self.heads: dict[str, Layout] = {}

    def new(self, width: int, *, producer: Any = None, protect: str = "") -> Layout:
        out = Layout(((self.builder.atom(width), width),))
        if producer is not None:
            self.builder.producers[out.segments[0][0]] = [producer]
        if protect:
            self.builder.mark(self.builder.protected, out, protect)
        return out

    def attention(self, layer: Any, node: Any, reason: str, width: int) -> Layout | None:
        """The layouts around one MultiHeadAttention call (its heads are a new atom)."""
        roles = attention_inputs(node)
        if roles is None:
            return None
        tensors = (roles.query, roles.value, roles.key)
        query, value, key = (self.layouts[tensor_key(t)] for t in tensors)
        if any(lay.repeat != 1 for lay in (query, value, key)):
            return None
        for tensor in roles.others:  # masks: their last axis is not a channel axis
            self.builder.mark(self.builder.blocked, self.layouts[tensor_key(tensor)], reason)
        self.inputs[layer.name] = [query, value, key]
        self.heads[layer.name] = self.new(_num_heads(layer), producer=layer)
        if getattr(layer, "_output_shape", None) is None and query.width == width:
            return query  # the output has the query's width: pruned with it
        return self.new(width, protect=f"the output of {reason} (its output_shape is fixed)")

    def step(self, layer: Any, node: Any, kind: str, reason: str) -> Layout | None:
        """The output layout of one call, or None if the call is not understood."""
        builder, ins = self.builder, self.inputs[layer.name]
        out_tensors = node_outputs(node)
        width = _channels(out_tensors[0]) if out_tensors else 0
        if kind == "input":
            return self.new(width, protect="the model's input")
        if kind == "produce":
            out = self.new(width, producer=layer)
            if mixes_channels(layer):
                builder.mark(builder.blocked, out, f"the softmax of {reason}")
            return out
        if kind == "embedding":
            for lay in ins:  # token ids: their last axis is a sequence, not channels
                builder.mark(builder.protected, lay, f"the token ids of {reason}")
            return self.new(width, producer=layer)
        if kind == "attention":
            return self.attention(layer, node, reason, width)
        if kind in ("preserve", "depthwise"):
            return ins[0]
        if kind == "flatten":
            spatial = node_inputs(node)[0].shape[1:-1]
            if any(d is None for d in spatial):
                return None
            return Layout(ins[0].segments, ins[0].repeat * int(np.prod(spatial, dtype=int)))
        widths = [_channels(t) for t in node_inputs(node)]
        if kind == "join":
            return _join(builder, ins, widths)
        if kind == "concat":
            rank = len(out_tensors[0].shape)
            if layer.axis in (-1, rank - 1) and all(lay.repeat == 1 for lay in ins):
                return Layout(tuple(seg for lay in ins for seg in lay.segments))
            if layer.axis not in (-1, rank - 1):
                return _join(builder, ins, widths)
        return None


def analyse(model: Any, exclude: tuple[str, ...] | list[str] = ()) -> ChannelGraph:
    """Build the channel dependency graph of a Sequential or functional model.

    Keras 3 and tf_keras models are read the same way (:mod:`.nodes`, :mod:`.layer_kinds`).

    Args:
        model: A built Keras 3 or tf_keras Sequential or functional model (not changed).
        exclude: Names of layers whose channels are kept (inputs and outputs).

    Returns:
        The :class:`ChannelGraph`.

    Raises:
        TypeError: For a subclassed model (naming ``tg.prune`` as the alternative), or
            something that is not a Keras model.
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
    check_layer_graph(model, exclude)
    state = _Analysis()
    builder, layouts = state.builder, state.layouts
    outputs: dict[str, Layout] = {}
    calls: dict[str, int] = {}
    order = graph_nodes(model)
    for layer, _ in order:
        calls[layer.name] = calls.get(layer.name, 0) + 1
    for layer, node in order:
        ins = [layouts[tensor_key(t)] for t in node_inputs(node)]
        state.inputs[layer.name] = ins
        out_tensors = node_outputs(node)
        kind = "unknown" if calls[layer.name] > 1 else layer_kind(layer, node)
        reason = f"layer {layer.name!r} ({type(layer).__name__})"
        if calls[layer.name] > 1:
            reason += " is shared (called more than once)"
        width = _channels(out_tensors[0]) if out_tensors else 0
        out = state.step(layer, node, kind, reason)
        if out is None:  # not understood: its inputs are blocked, its output is new and kept
            state.inputs[layer.name] = ins
            state.heads.pop(layer.name, None)
            for lay in ins:
                builder.mark(builder.blocked, lay, reason)
            out = state.new(width, protect=f"the output of {reason}")
        if out.width * out.repeat != width:
            raise RuntimeError(
                f"internal error: channel layout of layer {layer.name!r} ({out.width} x "
                f"{out.repeat}) does not match its output width {width}; please report it."
            )
        for index, tensor in enumerate(out_tensors):
            if index == 0:
                layouts[tensor_key(tensor)] = out
            else:  # extra outputs of a layer the analysis does not prune through
                extra = state.new(_channels(tensor), protect=f"an output of {reason}")
                layouts[tensor_key(tensor)] = extra
        outputs[layer.name] = out
        if layer.name in exclude:
            kept = [*state.inputs[layer.name], out]
            kept += [state.heads[layer.name]] if layer.name in state.heads else []
            for lay in kept:
                builder.mark(builder.protected, lay, f"layer {layer.name!r} is in `exclude`")
    for tensor in model.outputs:
        builder.mark(builder.protected, layouts[tensor_key(tensor)], "the model's output")
    groups = _groups(builder)
    return ChannelGraph(model, state.inputs, outputs, groups, builder.parent, state.heads)


def _groups(builder: _Builder) -> list[Group]:
    groups: dict[int, Group] = {}
    for atom in range(len(builder.parent)):
        root = builder.find(atom)
        group = groups.setdefault(root, Group(root=root, size=builder.size[atom]))
        group.producers.extend(builder.producers.get(atom, []))
        group.protected.extend(builder.protected.get(atom, []))
        group.blocked.extend(builder.blocked.get(atom, []))
    for group in groups.values():  # an embedding width no layer can follow is kept
        if group.blocked and any(isinstance(p, classes(p).embedding) for p in group.producers):
            group.protected[:0] = [f"{group.blocked[0]}, which cannot follow a pruned width"]
    return [group for group in groups.values() if group.producers]
