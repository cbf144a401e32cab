"""``prune`` for Keras 3 models: copy, mask, fine-tune with a schedule, strip; one call.

Example:
    >>> pruned = prune(model, x, y, target_sparsity=0.8, epochs=2, verbose=0)  # doctest: +SKIP
    >>> sorted(pruned.pruning_history)                                         # doctest: +SKIP
    ['loss', 'pruning_step', 'sparsity']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras
import pandas as pd

from tf_green._engine.checks import data_errors
from tf_green._engine.fit_data import check_fit_data, check_validation_data
from tf_green.pruning.arguments import check_epochs, check_per_layer_structure
from tf_green.pruning.keras3._models import check_model
from tf_green.pruning.keras3.checkpoint import PruningCheckpoint
from tf_green.pruning.keras3.engine import require_backend
from tf_green.pruning.keras3.fit_callbacks import StopOnNonFiniteLoss
from tf_green.pruning.keras3.fit_callbacks import callbacks as pruning_callbacks
from tf_green.pruning.keras3.schedules import (
    check_reaches_target,
    constant_schedule,
    make_schedule,
    with_target,
)
from tf_green.pruning.keras3.selection import LayerSelector, select_weights
from tf_green.pruning.keras3.strip import strip
from tf_green.pruning.keras3.wrap import prepare, strategy_scope
from tf_green.pruning.schedule_math import check_sparsity, parse_structure

__all__ = ["PruningHistory", "prune"]


class PruningHistory(dict):
    """The per-epoch logs of a ``prune`` fine-tuning: ``{"loss": [...], "sparsity": [...]}``.

    Example:
        >>> PruningHistory({"loss": [0.5, 0.3]}).to_pandas().shape
        (2, 1)
    """

    def to_pandas(self) -> pd.DataFrame:
        """The history as a DataFrame, one row per epoch (index: epoch, from 0).

        Returns:
            The DataFrame.
        """
        frame = pd.DataFrame(dict(self))
        frame.index.name = "epoch"
        return frame


def prune(
    model: Any,
    x: Any = None,
    y: Any = None,
    *,
    target_sparsity: float = 0.8,
    initial_sparsity: float = 0.0,
    schedule: Any = "polynomial",
    epochs: int = 2,
    batch_size: int = 32,
    validation_data: Any = None,
    structure: str | tuple[int, int] | None = None,
    layers: LayerSelector = None,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    callbacks: Sequence[Any] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    verbose: str | int = "auto",
    strategy: Any = None,
    steps_per_epoch: int | None = None,
) -> Any:
    """Prune a trained Keras 3 model to a target sparsity and fine-tune it; return it stripped.

    Copies ``model`` (never changed: weights, optimizer, compile state), gives the selected
    weights magnitude masks, trains while the schedule raises the sparsity (the masks are
    updated every ``frequency`` steps; pruned weights stay exactly zero after every
    optimizer update), then strips the masks into a plain Keras 3 model. Works on the
    TensorFlow and JAX backends, for Sequential, functional and subclassed models, with
    layers nested inside layers. With ``schedule="polynomial"`` (TFMOT's
    ``PolynomialDecay``, power 3) the target is reached at the end of epoch
    ``epochs - 1`` and the last epoch fine-tunes at the target.

    Args:
        model: A trained, built Keras 3 model.
        x: Training inputs (arrays, with ``y``) or a ``tf.data.Dataset`` of ``(x, y)``
            batches (a dataset of single samples is batched with ``batch_size``). NaN/inf
            values are refused: arrays before anything trains, a dataset at the batch that
            holds them (checked by :mod:`tf_green._engine.fit_data`).
        y: Training targets for array ``x``; None for a dataset.
        target_sparsity: Fraction of each selected weight tensor set to zero, in [0, 1).
        initial_sparsity: Sparsity at the first mask update for ``"polynomial"``.
        schedule: ``"polynomial"``, ``"constant"`` (``ConstantSparsity`` from the first
            epoch), or a :class:`tf_green.pruning.schedule_math.PruningSchedule` (or a
            TFMOT ``PolynomialDecay``/``ConstantSparsity``; its own target wins).
        epochs: Fine-tuning epochs (>= 2 for ``"polynomial"``).
        batch_size: Batch size for array inputs.
        validation_data: ``(x_val, y_val)`` or a dataset, evaluated after each epoch.
        structure: ``"m:n"`` (e.g. ``"2:4"``): each selected weight gets exactly m zeros in
            every n input-channel weights (set at the first step, as TFMOT), so
            ``target_sparsity``, ``initial_sparsity`` and ``schedule`` are not used.
            Layers that cannot hold it are skipped with a warning unless named.
        layers: What to prune: None (every prunable weight), a list of layer names,
            classes and/or ``"layer/weight"`` names, a regex, a callable
            ``layer -> bool``, or ``{name: sparsity}`` for per-layer targets. See
            :func:`tf_green.pruning.keras3.selection.select_weights`.
        optimizer: Fine-tuning optimizer; defaults to a fresh copy of ``model``'s.
        loss: Loss; defaults to ``model``'s.
        metrics: Metrics; default to ``model``'s.
        callbacks: Extra Keras 3 callbacks, run after the pruning ones.
        checkpoint_dir: If given, back up after every epoch there (weights, optimizer,
            masks, pruning step: :mod:`tf_green.pruning.keras3.checkpoint`); calling
            ``prune`` again with the same arguments and folder after an interruption
            resumes at the saved epoch and pruning step.
        verbose: Passed to ``fit``.
        strategy: Where to build and train: a ``tf.distribute`` strategy on the
            TensorFlow backend (e.g. ``MirroredStrategy()``), a
            ``keras.distribution.DataParallel()`` (or ``ModelParallel``) on JAX, or None
            for the current one.
        steps_per_epoch: Batches per epoch, needed for an infinite dataset.

    Returns:
        The pruned model: stripped, compiled (same optimizer settings, loss, metrics), with
        attribute ``pruning_history`` (a :class:`PruningHistory`).

    Raises:
        TypeError: For a non-Keras-3 model or arguments of the wrong type.
        ValueError: For an unsupported Keras backend, a sparsity outside [0, 1), a bad
            ``structure``, a ``layers`` that selects nothing or a layer that cannot be
            pruned, empty or non-finite data, labels the loss cannot take, too few epochs to
            reach the target, or an uncompiled model without ``optimizer``/``loss``.
            :class:`tf_green._engine.checks.NonFiniteLossError` (a ValueError) if the loss
            becomes NaN or inf while training; no model is returned then.

    Example:
        >>> pruned = prune(model, x, y, target_sparsity=0.8, epochs=3,
        ...                validation_data=(x_val, y_val))      # doctest: +SKIP
    """
    require_backend()
    model = check_model(model)
    check_epochs(epochs)
    target_sparsity = check_sparsity(target_sparsity, "target_sparsity")
    initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity")
    m_by_n = parse_structure(structure)
    train_loss = loss if loss is not None else getattr(model, "loss", None)
    data = check_fit_data(
        x, y, batch_size=batch_size, steps_per_epoch=steps_per_epoch, model=model, loss=train_loss
    )
    validation_data = check_validation_data(
        validation_data, model=model, loss=train_loss, batch_size=batch_size
    )
    extra = list(callbacks or [])
    if not all(isinstance(cb, keras.callbacks.Callback) for cb in extra):
        raise TypeError("`callbacks` must be a list of Keras 3 keras.callbacks.Callback.")
    selected = select_weights(model, layers, m_by_n)
    if m_by_n is None:
        base = make_schedule(
            schedule,
            target_sparsity=target_sparsity,
            initial_sparsity=initial_sparsity,
            epochs=epochs,
            steps_per_epoch=data.steps_per_epoch,
        )
    else:  # m:n masks are set once, at step 1; the schedule only documents the target.
        check_per_layer_structure(layers, structure, m_by_n)
        base = constant_schedule(m_by_n[0] / m_by_n[1], steps_per_epoch=data.steps_per_epoch)
    schedules = {
        s.name: base if s.target is None else with_target(base, s.target, s.name) for s in selected
    }
    if m_by_n is None:
        for name, layer_schedule in schedules.items():
            check_reaches_target(
                layer_schedule, epochs=epochs, steps_per_epoch=data.steps_per_epoch, layer=name
            )
    wrapped = prepare(
        model,
        selected,
        schedules,
        m_by_n,
        strategy=strategy,
        optimizer=optimizer,
        loss=loss,
        metrics=metrics,
        required=True,
    )
    fit_callbacks = [StopOnNonFiniteLoss(), *pruning_callbacks()]
    initial_epoch, run = 0, None
    if checkpoint_dir is not None:
        settings = {
            "model": model.name,
            "params": model.count_params(),
            "epochs": epochs,
            "batch_size": batch_size,
            "steps_per_epoch": data.steps_per_epoch,
            "structure": m_by_n,
            "schedules": {name: s.get_config() for name, s in schedules.items()},
        }
        run = PruningCheckpoint(checkpoint_dir, settings)
        initial_epoch = run.start(wrapped)
        fit_callbacks += run.callbacks()
    with data_errors(), strategy_scope(strategy):
        history = wrapped.fit(
            data.x,
            data.y,
            batch_size=batch_size if data.num_samples is not None else None,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation_data,
            callbacks=[*fit_callbacks, *extra],
            verbose=verbose,
        )
    result = strip(wrapped)
    if run is not None:
        run.finish()
    logs = run.history() if run is not None else history.history
    logs = PruningHistory({k: list(v) for k, v in logs.items()})
    object.__setattr__(result, "pruning_history", logs)  # not a tracked Keras attribute
    return result
