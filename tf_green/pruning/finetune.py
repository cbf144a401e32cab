"""``prune``: clone, wrap, fine-tune with a pruning schedule, strip; one fit-style call.

Example:
    >>> import tf_green as tg
    >>> (x, y), _ = tg.datasets.digits()
    >>> model = tg.models.cnn(width=8)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> pruned = prune(model, x, y, target_sparsity=0.5, epochs=2, verbose=0)
    >>> sorted(pruned.pruning_history)
    ['loss', 'pruning_step', 'sparsity']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from tf_green._input_checks import StopOnNonFiniteLoss, data_errors
from tf_green._keras import keras
from tf_green.pruning.api import (
    check_graph_model,
    compile_like,
    resolve_strategy,
    strip,
    wrap_layers,
)
from tf_green.pruning.arguments import check_epochs, check_per_layer_structure
from tf_green.pruning.checkpoint import CheckpointRun
from tf_green.pruning.data import inspect_data, inspect_validation
from tf_green.pruning.schedules import (
    check_reaches_target,
    check_sparsity,
    constant_schedule,
    make_schedule,
    parse_structure,
    with_target,
)
from tf_green.pruning.selection import LayerSelector, select_layers
from tf_green.pruning.sparsity_callbacks import callbacks as pruning_callbacks

__all__ = ["PruningHistory", "prune"]


class PruningHistory(dict):
    """The per-epoch logs of a ``prune`` fine-tuning: ``{"loss": [...], "sparsity": [...]}``.

    A plain ``dict`` of lists, like ``keras.callbacks.History.history``, with the masks'
    ``sparsity`` and the ``pruning_step`` added (and ``val_*`` with validation data).

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
) -> keras.Model:
    """Prune a trained model to a target sparsity and fine-tune it; return it stripped.

    Clones ``model`` (which is never changed), wraps the selected layers with TFMOT's
    magnitude pruning, trains with ``UpdatePruningStep`` while the schedule raises the
    sparsity, then strips the wrappers. With ``schedule="polynomial"`` (the default,
    TFMOT's ``PolynomialDecay``, power 3) the target is reached at the end of epoch
    ``epochs - 1`` and the last epoch fine-tunes at the target to recover accuracy.

    Args:
        model: A trained, built Sequential or functional tf_keras model.
        x: Training inputs (arrays, with ``y``) or a ``tf.data.Dataset`` of ``(x, y)``
            batches (a dataset of single samples is batched with ``batch_size``). NaN/inf
            values are refused: arrays before anything trains, a dataset at the batch
            that holds them (``fit`` consumes it once; no extra pass).
        y: Training targets for array ``x``; None for a dataset. With a sparse loss
            (``SparseCategoricalCrossentropy``) class ids in ``[0, classes)``; exactly
            one-hot rows are accepted too and turned into ids (soft labels need
            ``loss=keras.losses.CategoricalCrossentropy(...)``).
        target_sparsity: Fraction of each selected weight tensor set to zero, in [0, 1).
        initial_sparsity: Sparsity at the first mask update for ``"polynomial"``.
        schedule: ``"polynomial"``, ``"constant"`` (TFMOT ``ConstantSparsity``, from the
            first epoch), or a TFMOT ``PruningSchedule`` instance (its target wins).
        epochs: Fine-tuning epochs (>= 2 for ``"polynomial"``).
        batch_size: Batch size for array inputs.
        validation_data: ``(x_val, y_val)`` or a dataset, evaluated after each epoch.
        structure: ``"m:n"`` (e.g. ``"2:4"``) for TFMOT's m-by-n structured sparsity: each
            selected layer gets exactly m/n sparsity (the mask is set at the first step),
            so ``target_sparsity``, ``initial_sparsity`` and ``schedule`` are not used.
            Layers that cannot hold it are skipped with a warning unless named.
        layers: What to prune: None (every prunable layer), a list of layer names and/or
            classes, a regex, a callable ``layer -> bool``, or ``{name: sparsity}`` for
            per-layer targets. See :func:`tf_green.pruning.selection.select_layers`.
        optimizer: Fine-tuning optimizer; defaults to a fresh copy of ``model``'s.
        loss: Loss; defaults to ``model``'s.
        metrics: Metrics; default to ``model``'s.
        callbacks: Extra Keras callbacks, run after the pruning ones.
        checkpoint_dir: If given, back up after every epoch there; calling ``prune`` again
            with the same arguments and folder after an interruption resumes at the
            saved epoch and pruning step.
        verbose: Passed to ``fit``.
        strategy: A ``tf.distribute`` strategy to train under; defaults to the current one
            (so calling inside ``MirroredStrategy().scope()`` works).
        steps_per_epoch: Batches per epoch, needed for an infinite dataset.

    Returns:
        The pruned model: stripped, compiled (same optimizer settings, loss, metrics), with
        attribute ``pruning_history`` (a :class:`PruningHistory`).

    Raises:
        TypeError: For a Keras 3 or subclassed model, or arguments of the wrong type.
        ValueError: For a sparsity outside [0, 1), a bad ``structure``, a ``layers`` that
            selects nothing or names a missing layer, an unprunable layer selected by name,
            empty data, too few epochs to reach the target, or an uncompiled model without
            ``optimizer``/``loss``; for NaN/inf in the data (naming the argument and the
            first bad index), labels the loss cannot take (naming the value and the number
            of classes), or a dataset without targets. Nothing is trained or written
            before these checks (a dataset's NaN is found at its batch, and stops
            training). :class:`tf_green._input_checks.NonFiniteLossError` (a ValueError)
            if the loss becomes NaN or inf while training; no model is returned then.

    Example:
        >>> pruned = prune(model, x, y, target_sparsity=0.8, epochs=3,
        ...                validation_data=(x_val, y_val))      # doctest: +SKIP
        >>> tg.sparsity_report(pruned).iloc[-1]["sparsity"]      # doctest: +SKIP
    """
    model = check_graph_model(model)
    check_epochs(epochs)
    target_sparsity = check_sparsity(target_sparsity, "target_sparsity")
    initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity")
    m_by_n = parse_structure(structure)
    train_loss = loss if loss is not None else getattr(model, "loss", None)
    data = inspect_data(
        x,
        y,
        batch_size=batch_size,
        steps_per_epoch=steps_per_epoch,
        model=model,
        loss=train_loss,
    )
    validation_data = inspect_validation(
        validation_data, model=model, loss=train_loss, batch_size=batch_size
    )
    plan = select_layers(model, layers, m_by_n)
    if m_by_n is None:
        base = make_schedule(
            schedule,
            target_sparsity=target_sparsity,
            initial_sparsity=initial_sparsity,
            epochs=epochs,
            steps_per_epoch=data.steps_per_epoch,
        )
    else:  # TFMOT sets m:n masks once, at step 1; the schedule only documents the target.
        check_per_layer_structure(layers, structure, m_by_n)
        base = constant_schedule(m_by_n[0] / m_by_n[1], steps_per_epoch=data.steps_per_epoch)
    schedules = {
        name: base if target is None else with_target(base, target, name)
        for name, target in plan.items()
    }
    if m_by_n is None:
        for name, layer_schedule in schedules.items():
            check_reaches_target(
                layer_schedule, epochs=epochs, steps_per_epoch=data.steps_per_epoch, layer=name
            )
    extra = list(callbacks or [])
    if not all(isinstance(cb, keras.callbacks.Callback) for cb in extra):
        raise TypeError("`callbacks` must be a list of tf_keras keras.callbacks.Callback.")
    run = None
    if checkpoint_dir is not None:
        run = CheckpointRun(
            checkpoint_dir,
            {
                "model": model.name,
                "params": model.count_params(),
                "epochs": epochs,
                "batch_size": batch_size,
                "steps_per_epoch": data.steps_per_epoch,
                "structure": m_by_n,
                "schedules": {n: s.get_config() for n, s in schedules.items()},
            },
        )

    with resolve_strategy(strategy).scope():
        wrapped = wrap_layers(model, schedules, m_by_n)
        compile_like(wrapped, model, optimizer=optimizer, loss=loss, metrics=metrics, required=True)
    fit_callbacks = [StopOnNonFiniteLoss(), *pruning_callbacks()]
    if run is not None:
        run.start()
        fit_callbacks += run.callbacks()
    with data_errors():
        history = wrapped.fit(
            data.x,
            data.y,
            batch_size=batch_size if data.num_samples is not None else None,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation_data,
            callbacks=fit_callbacks + extra,
            verbose=verbose,
        )
    result = strip(wrapped)
    logs = run.history() if run is not None else history.history
    result.pruning_history = PruningHistory({k: list(v) for k, v in logs.items()})
    return result
