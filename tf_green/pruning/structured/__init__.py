"""Structured pruning: whole channels, units and attention heads removed, a smaller model.

``shrink(model, ratio)`` finds the channel groups of a Sequential or functional model
(:mod:`.graph`), ranks each group's channels (:mod:`.importance`), rebuilds a smaller model
with the kept slices of every weight (:mod:`.rebuild`) and reports the change per layer
(:mod:`.report`). Unlike ``tg.prune`` (masks), the result really does less arithmetic.
Beyond Conv filters and Dense units: MultiHeadAttention heads (every projection sliced per
head, :mod:`.attention`), a transformer's feed-forward units, and Embedding widths where
every consumer can follow them (a LayerNormalization cannot: that width is kept, and
selecting it is an error naming the layer). Keras 3 models on TensorFlow or JAX; tf_keras
functional models are read by the same graph (:mod:`.nodes`, :mod:`.layer_kinds`) and
rebuilt with tf_keras layers, pruned once (fine-tuning steps and latency: Keras 3).

Targets: a ``ratio`` of channels; ``macs=`` (the fraction of multiply-accumulates to
keep, reached with hardware-aware widths in multiples of 16/8 channels, :mod:`.widths`);
or ``latency=`` (a fraction of the float32 LiteRT latency, measured, :mod:`.latency`). With
training data, ``shrink(model, None, x, y, macs=0.5, steps=3, epochs=1, ...)`` prunes in
steps and fine-tunes after each (:mod:`.stepwise`), optionally distilling from the
unpruned model (``distill=True``). Criteria: L1/L2 filter norms, BatchNorm scale, and
first-order Taylor importance on the data (:mod:`.taylor`).

Example:
    >>> import keras
    >>> from tf_green.pruning.structured import shrink
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> small, report = shrink(model, ratio=0.5)
    >>> small.layers[0].filters
    4
"""

from tf_green.pruning.structured.graph import ChannelGraph, Group, analyse
from tf_green.pruning.structured.shrink import shrink

__all__ = ["ChannelGraph", "Group", "analyse", "shrink"]
