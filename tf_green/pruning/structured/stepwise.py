"""Structured pruning in steps with fine-tuning between them, to a MACs or latency target.

Step ``k`` of ``n`` prunes the current model to ``macs ** (k / n)`` of the original MACs
(equal fractions per step: 0.5 in 3 steps keeps 79%, 63%, 50%) with hardware-aware widths
(:mod:`~tf_green.pruning.structured.widths`, planned by
:mod:`~tf_green.pruning.structured.plan`), rebuilds the smaller model, and fine-tunes it with
``fit`` (the data as ``fit`` takes it, checked by :mod:`tf_green._engine.fit_data`) before
the next step ranks its channels. A ``latency`` target is measured on the converted model
after each step instead (:mod:`~tf_green.pruning.structured.latency`).

Example:
    >>> small, report = shrink_in_steps(model, x, y, macs=0.5, steps=2)  # doctest: +SKIP
    >>> pd.DataFrame(report.attrs["steps"])                             # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from tf_green import distillation
from tf_green._engine.checks import data_errors
from tf_green._engine.data import is_dataset
from tf_green._engine.fit_data import check_fit_data, check_validation_data
from tf_green._engine.models import compile_like, is_compiled
from tf_green.pruning.keras3.fit_callbacks import StopOnNonFiniteLoss
from tf_green.pruning.structured.graph import analyse
from tf_green.pruning.structured.importance import CRITERIA, DATA_CRITERIA
from tf_green.pruning.structured.latency import LatencyProbe, check_latency
from tf_green.pruning.structured.plan import (
    EXTRA_LATENCY_STEPS,
    StepPlanner,
    removed_fraction,
    resolve_round_to,
)
from tf_green.pruning.structured.prune_once import prune_graph
from tf_green.pruning.structured.report import shrink_report
from tf_green.pruning.structured.targets import MacsCounter
from tf_green.pruning.structured.taylor import taylor_scores
from tf_green.pruning.structured.widths import by_name, group_sizes

__all__ = ["check_macs", "positive_int", "shrink_in_steps"]


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1, or a ValueError naming ``name``.

    Example:
        >>> positive_int(3, "steps")
        3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    return int(value)


def check_macs(macs: Any) -> float:
    """``macs`` as a float in ``(0, 1]``, or an error naming the argument.

    Example:
        >>> check_macs(0.5)
        0.5
    """
    if isinstance(macs, bool) or not isinstance(macs, (int, float, np.floating, np.integer)):
        raise TypeError(f"`macs` must be a number in (0, 1], got {type(macs).__name__}.")
    if not 0.0 < float(macs) <= 1.0:
        raise ValueError(
            f"`macs` is {macs}: it is the fraction of the model's multiply-accumulates to "
            "keep, in (0, 1] (0.5 keeps half)."
        )
    return float(macs)


def _evaluate(model: Any, data: Any, batch_size: int) -> dict[str, float]:
    if data is None:
        return {}
    if isinstance(data, tuple):
        logs = model.evaluate(*data[:2], batch_size=batch_size, verbose=0, return_dict=True)
    else:
        logs = model.evaluate(data, verbose=0, return_dict=True)
    return {f"val_{key}": float(value) for key, value in logs.items()}


def _distiller(
    teacher: Any,
    fit_kwargs: dict[str, Any],
    optimizer: Any,
    loss: Any,
    metrics: Any,
    temperature: float,
    alpha: float,
) -> Any:
    """``fine_tune(student) -> student``: distill from ``teacher`` with ``fit``'s settings."""
    x, y = fit_kwargs["x"], fit_kwargs["y"]
    cache: Any = False if is_dataset(x) else distillation.cache_teacher(teacher, x)
    if optimizer is None and is_compiled(teacher):
        optimizer = keras.optimizers.serialize(teacher.optimizer)

    def fine_tune(student: Any) -> Any:
        kwargs = {} if metrics is None else {"metrics": metrics}
        return distillation.distill(
            teacher, student, x, y, epochs=fit_kwargs["epochs"], alpha=alpha,
            temperature=temperature, validation_data=fit_kwargs["validation_data"],
            batch_size=fit_kwargs.get("batch_size", 32), cache=cache, loss=loss,
            optimizer=None if optimizer is None else keras.optimizers.deserialize(optimizer),
            callbacks=fit_kwargs["callbacks"][1:], verbose=fit_kwargs["verbose"], **kwargs,
        )  # fmt: skip

    return fine_tune


def shrink_in_steps(
    model: Any,
    x: Any = None,
    y: Any = None,
    *,
    macs: float | None = None,
    ratio: float | Mapping[str, float] | None = None,
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
    """Prune to a MACs target (or by a ratio) in ``steps``, fine-tuning after each step.

    Args:
        model: A built Keras 3 Sequential or functional model; not changed.
        x: Training inputs as ``fit`` takes them (arrays with ``y``, or a dataset); None
            prunes in one step without fine-tuning.
        y: Training targets for array ``x``.
        macs: The fraction of the model's MACs to keep, in ``(0, 1]``.
        ratio: Instead of ``macs``: the fraction of channels to remove (one step).
        latency: Instead of ``macs``: the fraction of the original's float32 LiteRT
            batch-1 latency to reach, measured after every step
            (:class:`~tf_green.pruning.structured.latency.LatencyProbe`); up to
            ``EXTRA_LATENCY_STEPS`` more steps follow while it is not reached, then a
            ``RuntimeWarning`` says so (:mod:`~tf_green.pruning.structured.plan`).
        latency_rounds: Interleaved timing rounds per latency measurement.
        latency_calls: Timed calls per model and round (None: the bench timer's choice).
        steps: Pruning steps (default 3 with ``x`` and ``macs``, else 1); more than one
            needs ``x`` and ``macs``.
        epochs: Fine-tuning epochs after each step.
        batch_size: Batch size for array inputs.
        validation_data: ``(x_val, y_val)`` or a dataset, evaluated after each step.
        callbacks: Keras 3 callbacks for every fine-tuning ``fit``.
        steps_per_epoch: Batches per epoch (needed for an infinite dataset).
        optimizer: Fine-tuning optimizer (a fresh one per step); default: ``model``'s.
        loss: Loss; default: ``model``'s.
        metrics: Metrics; default: ``model``'s.
        criterion: Channel importance (see :mod:`tf_green.pruning.structured.importance`);
            ``"taylor"`` is computed on (up to 8 batches of) ``x``/``y`` before each step.
        exclude: Layers kept whole.
        round_to: ``"auto"`` (default for ``macs``/``latency``: XNNPACK-friendly widths,
            multiples of 16 for layers of >= 32 channels, 8 for 16-31, see
            :mod:`~tf_green.pruning.structured.widths`), or one multiple for every layer
            (default 1 for ``ratio``, where counts are rounded up).
        distill: Fine-tune each step by distilling from the unpruned ``model`` (the
            teacher) with :func:`tf_green.distillation.distill` instead of plain ``fit``;
            for array ``x`` the teacher runs once (a teacher cache shared by every step).
        temperature: Distillation temperature (with ``distill``).
        alpha: Weight of the label loss when distilling, in [0, 1] (with ``distill``).
        verbose: Passed to ``fit``.

    Returns:
        ``(smaller_model, report)``; the report is indexed by ``(step, layer)`` (one
        :func:`~tf_green.pruning.structured.report.shrink_report` per step) and
        ``attrs`` holds the run's totals (``macs_before`` of the original model,
        ``macs_after`` of the result, ``params_*``, ``macs_target``) and ``steps``: one dict
        per step (``step``, ``ratio`` (for a target: the fraction of the prunable channels
        removed), ``widths`` (producer name -> channels kept, for a target), ``macs``,
        ``macs_kept``, the last epoch's training logs, the validation metrics after
        fine-tuning and, for ``latency``: ``latency`` (measured fraction), ``latency_ms``
        and ``latency_ms_original``); ``latency_target`` and ``latency_after`` too.

    Raises:
        TypeError: For a non-Keras 3 or subclassed model, or a ``macs`` that is not a number.
        ValueError: For a target that cannot be reached (naming the lowest MACs), bad
            ``latency``/``latency_rounds``/``latency_calls``, a multi-input model with
            ``latency``, bad
            ``steps``/``epochs``/``round_to``, several steps without data, data that
            ``fit`` would refuse, an uncompiled model without ``optimizer`` and ``loss``,
            and every error of :func:`~tf_green.pruning.structured.shrink.shrink`.

    Example:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(8, 3),
        ...                           keras.layers.Conv2D(8, 3), keras.layers.Flatten(),
        ...                           keras.layers.Dense(2)])
        >>> model.compile("adam", "mse")
        >>> x, y = np.zeros((8, 6, 6, 1)), np.zeros((8, 2))
        >>> small, report = shrink_in_steps(model, x, y, macs=0.5, steps=2)
        >>> report.attrs["macs_after"] <= 0.5 * report.attrs["macs_before"]
        True
    """
    if criterion not in CRITERIA:
        raise ValueError(f"`criterion` must be one of {CRITERIA}, got {criterion!r}.")
    if sum(value is not None for value in (macs, ratio, latency)) != 1:
        raise ValueError(
            "give one of `macs` (a MACs target), `latency` (a measured latency target) and "
            "`ratio` (channels removed)."
        )
    default_steps = 3 if x is not None and ratio is None else 1
    steps = positive_int(steps if steps is not None else default_steps, "steps")
    epochs = positive_int(epochs, "epochs")
    round_to = resolve_round_to(round_to, ratio is None)
    if ratio is not None and steps > 1:
        raise ValueError(
            "`steps` > 1 needs a `macs` target; a `ratio` is applied in one step (pass "
            "macs=... to prune in steps)."
        )
    if x is None and steps > 1 and latency is None:
        raise ValueError(
            f"steps={steps} needs training data `x` (and `y`) to fine-tune between steps; "
            "without data, prune in one step (steps=1)."
        )
    if x is None and (validation_data is not None or callbacks):
        raise ValueError("`validation_data` and `callbacks` need training data `x` to fit.")
    target = check_macs(macs) if macs is not None else None
    latency = check_latency(latency) if latency is not None else None
    if x is None and criterion in DATA_CRITERIA:
        raise ValueError(
            f"criterion={criterion!r} ranks channels by gradients on training data: pass x "
            "and y (and a compiled model or loss=)."
        )
    if distill and x is None:
        raise ValueError("`distill=True` fine-tunes from the unpruned model: pass x (and y).")
    fit_kwargs: dict[str, Any] = {}
    fine_tune, train_loss = None, loss
    if x is not None:
        train_loss = loss if loss is not None else getattr(model, "loss", None)
        data = check_fit_data(
            x, y, batch_size=batch_size, steps_per_epoch=steps_per_epoch, model=model,
            loss=train_loss,
        )  # fmt: skip
        validation_data = check_validation_data(
            validation_data, model=model, loss=train_loss, batch_size=batch_size
        )
        extra = list(callbacks or [])
        if not all(isinstance(cb, keras.callbacks.Callback) for cb in extra):
            raise TypeError("`callbacks` must be a list of Keras 3 keras.callbacks.Callback.")
        fit_kwargs = {
            "x": data.x,
            "y": data.y,
            "epochs": epochs,
            "validation_data": validation_data,
            "callbacks": [StopOnNonFiniteLoss(), *extra],
            "verbose": verbose,
            "steps_per_epoch": steps_per_epoch,
        }
        if data.y is not None:
            fit_kwargs["batch_size"] = batch_size
        if not is_compiled(model) and (optimizer is None or loss is None):
            compile_like(keras.Sequential(), model, optimizer=optimizer, loss=loss)  # raises
    if isinstance(optimizer, keras.optimizers.Optimizer):  # a fresh one for every step
        optimizer = keras.optimizers.serialize(optimizer)
    if distill:
        fine_tune = _distiller(
            model, fit_kwargs, optimizer, train_loss, metrics, temperature, alpha
        )

    original = analyse(model, exclude=tuple(exclude))
    macs_before = MacsCounter(original).total({})
    sizes = group_sizes(original)
    planner = StepPlanner(original, macs_before, sizes, round_to, target, steps)
    probe = None
    if latency is not None:
        probe = LatencyProbe(model, latency_rounds, latency_calls)
    frames, rows, current, fraction = [], [], model, 1.0
    last = steps if probe is None else steps + EXTRA_LATENCY_STEPS
    for step in range(1, last + 1):
        graph = original if step == 1 else analyse(current, exclude=tuple(exclude))
        if probe is not None:
            counts = planner.for_latency(graph, step, latency, fraction)
            if counts is None:  # the narrowest widths are reached
                break
        else:
            counts = planner.for_macs(graph, step)
        scores = None
        if criterion in DATA_CRITERIA:
            with data_errors():
                scores = taylor_scores(graph, data.x, data.y, train_loss, batch_size=batch_size)
        small = prune_graph(
            graph, ratio if counts is None else None, criterion, round_to, scores,
            counts=counts, sizes=sizes,
        )  # fmt: skip
        row: dict[str, Any] = {"step": step, "ratio": removed_fraction(graph, counts, ratio)}
        if counts is not None:
            row["widths"] = by_name(graph, counts)
        if x is not None:
            compile_like(small, model, optimizer=optimizer, loss=loss, metrics=metrics)
            with data_errors():
                if fine_tune is None:
                    history = small.fit(**fit_kwargs)
                    logs = {key: values[-1] for key, values in history.history.items()}
                else:
                    small = fine_tune(small)
                    logs = {key: values[-1] for key, values in small.history.history.items()}
            row.update({key: float(value) for key, value in logs.items()})
            row.update(_evaluate(small, validation_data, batch_size))
        elif is_compiled(model):
            compile_like(small, model)
        frame = shrink_report(current, small)
        row["macs"] = frame.attrs["macs_after"]
        row["macs_kept"] = frame.attrs["macs_after"] / max(1.0, macs_before)
        if probe is not None:
            reading = probe.measure(small)
            fraction = reading.fraction
            row.update(
                latency=reading.fraction, latency_ms=reading.ms,
                latency_ms_original=reading.original_ms,
            )  # fmt: skip
        rows.append(row)
        frames.append(frame)
        current = small
        if probe is not None and fraction <= latency:
            break
    if probe is not None and fraction > latency:
        warnings.warn(
            f"latency target {latency} not reached: the pruned model measured {fraction:.3f} "
            f"of the original's latency after {len(rows)} step(s)"
            + (" (the narrowest widths `round_to` allows)" if len(rows) < last else "")
            + "; see report.attrs['steps']. Ask for a larger `latency`, or more `steps`.",
            RuntimeWarning,
            stacklevel=3,
        )
    if not frames:
        raise ValueError(
            f"the latency target {latency} cannot be reached: no layer can lose channels "
            f"(round_to={round_to!r})."
        )
    report = pd.concat(frames, keys=range(1, len(frames) + 1), names=["step", "layer"])
    report.attrs.update(
        macs_before=frames[0].attrs["macs_before"],
        macs_after=frames[-1].attrs["macs_after"],
        params_before=int(model.count_params()),
        params_after=int(current.count_params()),
        macs_target=None if target is None else target,
        latency_target=latency,
        latency_after=None if probe is None else fraction,
        steps=rows,
    )
    return current, report
