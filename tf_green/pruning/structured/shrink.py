"""``shrink``: structured pruning of a Keras 3 model into a smaller model.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> small, report = shrink(model, ratio=0.25)
    >>> int(report.loc[model.layers[0].name, "channels_after"])
    6
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from tf_green._engine import engine_of
from tf_green._engine.models import compile_like, is_compiled
from tf_green.pruning.structured.graph import analyse
from tf_green.pruning.structured.importance import CRITERIA, DATA_CRITERIA
from tf_green.pruning.structured.plan import resolve_round_to
from tf_green.pruning.structured.prune_once import prune_graph
from tf_green.pruning.structured.report import shrink_report
from tf_green.pruning.structured.stepwise import check_macs, shrink_in_steps
from tf_green.pruning.structured.targets import MacsCounter
from tf_green.pruning.structured.widths import allocate, by_name

__all__ = ["shrink"]


def shrink(
    model: Any,
    ratio: float | Mapping[str, float] | None = None,
    x: Any = None,
    y: Any = None,
    *,
    macs: float | None = None,
    latency: float | None = None,
    latency_rounds: int = 5,
    latency_calls: int | None = None,
    steps: int | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: Any = None,
    callbacks: Sequence[Any] | None = None,
    steps_per_epoch: int | None = None,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    criterion: str = "l1",
    exclude: tuple[str, ...] | list[str] = (),
    round_to: int | str | None = None,
    distill: bool = False,
    temperature: float = 4.0,
    alpha: float = 0.1,
    verbose: Any = 0,
) -> tuple[Any, pd.DataFrame]:
    """Remove whole channels (Conv filters, Dense units) and rebuild a smaller Keras 3 model.

    Channels that depend on each other (a conv and its BatchNormalization, every input of an
    ``Add``, a ``Concatenate``'s parts, the input channels of every consumer, a ``Dense``
    after ``Flatten``) are removed together, with the same indices. The model's inputs and
    outputs and the layers in ``exclude`` keep all their channels. The kept weights are
    copied, not masked: the result does less arithmetic (see the report's MACs).

    Three kinds of target: a ``ratio`` of channels removed from every prunable layer (or per
    layer); a global ``macs`` fraction to keep; or a ``latency`` fraction of the original's
    float32 LiteRT batch-1 latency, measured on the converted model after every step. For
    the two targets the kept widths are hardware-aware by default (``round_to="auto"``:
    multiples of 16 channels, 8 for narrow layers, where XNNPACK's SIMD tiles are full) and
    the layers cut hardest are those where a cut saves the most MACs
    (:mod:`~tf_green.pruning.structured.widths`): 24 of 32 channels would run about as slowly
    as 32. With training data ``x``/``y`` (as ``Model.fit`` takes them) the call prunes in
    ``steps`` towards the target and fine-tunes ``epochs`` after each step (see
    :func:`~tf_green.pruning.structured.stepwise.shrink_in_steps`); without data it prunes
    once (a latency target: until measured), and you fine-tune the result yourself.

    Args:
        model: A built Keras 3 Sequential or functional model, or a tf_keras one (pruned
            once: no `x`, no `latency`, returned as a tf_keras model); not changed.
        ratio: The fraction of channels to remove in ``[0, 1)``: one number for every
            prunable layer, or ``{layer_name: ratio}`` for chosen Conv/Dense layers (layers
            joined by an ``Add`` share one ratio). Default 0.5 when ``macs`` is not given.
        x: Training inputs for fine-tuning between steps (arrays or a ``tf.data.Dataset``).
        y: Training targets for array ``x``.
        macs: Instead of ``ratio``: the fraction of the MACs to keep, in ``(0, 1]``.
        latency: Instead of ``ratio``: the fraction of the original's float32 LiteRT
            batch-1 latency (one thread, XNNPACK) to reach, in ``(0, 1)``; measured with the
            bench's latency timer, original and candidate interleaved in rounds (median
            ratio), after every step, with up to 2 extra steps while it is not reached (then
            a ``RuntimeWarning``); the report's ``attrs["steps"]`` has each measurement.
            Costs a float32 conversion per step.
        latency_rounds: Interleaved timing rounds per latency measurement (default 5).
        latency_calls: Timed calls per model and round (None: enough for ~0.25 s).
        steps: Pruning steps towards ``macs``/``latency`` (default 3 with ``x``; 1
            without).
        epochs: Fine-tuning epochs after each step (with ``x``).
        batch_size: Batch size for array inputs.
        validation_data: ``(x_val, y_val)`` or a dataset, evaluated after each step.
        callbacks: Keras 3 callbacks for each fine-tuning ``fit``.
        steps_per_epoch: Batches per epoch, needed for an infinite dataset.
        optimizer: Fine-tuning optimizer (a fresh copy per step); default ``model``'s.
        loss: Fine-tuning loss; default ``model``'s.
        metrics: Metrics; default ``model``'s.
        criterion: ``"l1"`` (filter L1 norm, summed over the group), ``"l2"``, ``"bn"``
            (``|gamma|`` of the following BatchNormalization) or ``"taylor"`` (first-order
            Taylor importance from gradients on ``x``/``y``; needs data).
        exclude: Names of layers kept whole: their output channels *and* input channels
            (so the layers feeding them keep theirs too).
        round_to: Kept widths in multiples of this: ``"auto"`` (the default with ``macs`` or
            ``latency``: 16 for layers of 32 channels or more in the original, 8 for 16-31,
            none below; a layer can always stay whole), or one integer for every layer.
            With ``ratio`` (default 1, exact) kept counts are rounded *up* to the multiple.
        distill: With ``x``: fine-tune each step by distilling from the unpruned ``model``
            (:func:`tf_green.distillation.distill`; for arrays the teacher's outputs are
            cached once and shared by every step) instead of plain ``fit``.
        temperature: Distillation temperature (with ``distill``).
        alpha: Weight of the label loss when distilling (with ``distill``).
        verbose: Passed to ``fit``.

    Returns:
        ``(smaller_model, report)``: the new model (compiled like ``model`` with a fresh
        optimizer if ``model`` was compiled or ``optimizer``/``loss`` are given; trained
        when ``x`` is given) and a DataFrame with one row per layer (see
        :func:`tf_green.pruning.structured.report.shrink_report`; totals in ``.attrs``).
        With ``x`` the rows are indexed by ``(step, layer)``, one block per step, and
        ``attrs["steps"]`` lists each step's ratio, widths, MACs, metrics and measured
        latency.

    Raises:
        TypeError: For a non-Keras or subclassed model (use ``tg.prune`` there), data or a
            latency target with a tf_keras model, or a
            ratio, ``macs`` or ``latency`` that is not a number.
        ValueError: For a ratio outside ``[0, 1)``, ``macs`` outside ``(0, 1]`` or
            ``latency`` outside ``(0, 1)`` (or two of them given), a MACs target the graph
            cannot reach at the allowed widths (naming the lowest), a bad ``round_to``, a
            multi-input model or one of unknown input size with ``latency``, a selected
            layer that cannot be pruned, a group that reaches a layer the analysis does not
            understand (naming it), an unknown criterion or ``exclude`` name, data ``fit``
            would refuse, or fine-tuning an uncompiled model without ``optimizer``/``loss``.

    Example:
        >>> import keras
        >>> x = keras.Input((8, 8, 3))
        >>> h = keras.layers.Conv2D(8, 3, padding="same")(x)
        >>> h = keras.layers.Add()([h, keras.layers.Conv2D(8, 1)(h)])
        >>> y = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
        >>> small, report = shrink(keras.Model(x, y), macs=0.5)
        >>> report.attrs["macs_after"] <= 0.5 * report.attrs["macs_before"]
        True
    """
    if engine_of(model) == "tf_keras" and (x is not None or latency is not None):
        raise TypeError(
            "`model` is a tf_keras model: it is pruned once (no x/y, a `ratio` or `macs` "
            "target) into a smaller tf_keras model; fine-tuning between steps and the latency "
            "target run on Keras 3 models. Prune once and `fit` the result yourself."
        )
    if criterion not in CRITERIA:
        raise ValueError(f"`criterion` must be one of {CRITERIA}, got {criterion!r}.")
    if sum(value is not None for value in (ratio, macs, latency)) > 1:
        raise ValueError(
            "give one of `ratio` (channels removed), `macs` (MACs kept) and `latency` "
            "(measured latency kept), not several."
        )
    if ratio is None and macs is None and latency is None:
        ratio = 0.5
    if x is not None or latency is not None:
        return shrink_in_steps(
            model, x, y, macs=macs, ratio=ratio, latency=latency,
            latency_rounds=latency_rounds, latency_calls=latency_calls, steps=steps,
            epochs=epochs, batch_size=batch_size, validation_data=validation_data,
            callbacks=callbacks, steps_per_epoch=steps_per_epoch, optimizer=optimizer,
            loss=loss, metrics=metrics, criterion=criterion, exclude=exclude,
            round_to=round_to, distill=distill, temperature=temperature, alpha=alpha,
            verbose=verbose,
        )  # fmt: skip
    if steps not in (None, 1) or validation_data is not None or callbacks or distill:
        raise ValueError(
            "`steps`, `validation_data`, `callbacks` and `distill` fine-tune between steps "
            "and need training data: pass x (and y), or leave them out to prune once."
        )
    round_to = resolve_round_to(round_to, ratio is None)
    if criterion in DATA_CRITERIA:
        raise ValueError(
            f"criterion={criterion!r} ranks channels by gradients on training data: pass x "
            "and y (and a compiled model or loss=), or use 'l1', 'l2' or 'bn'."
        )
    graph = analyse(model, exclude=tuple(exclude))
    counts = None
    if macs is not None:
        target = check_macs(macs) * MacsCounter(graph).total({})
        counts = allocate(graph, target, round_to)
    small = prune_graph(graph, ratio, criterion, round_to, counts=counts)
    if is_compiled(model) or (optimizer is not None and loss is not None):
        compile_like(small, model, optimizer=optimizer, loss=loss, metrics=metrics)
    report = shrink_report(model, small)
    report.attrs["macs_target"] = macs
    if counts is not None:
        report.attrs["widths"] = by_name(graph, counts)
    return small, report
