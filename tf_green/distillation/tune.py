"""``tune()``: distillation that does not lose to training from scratch (on a held-out split).

The temperature and alpha that suit one teacher/student pair do not suit another, and at
some budgets distillation ends below the same student trained without its teacher.
:func:`tune` picks T and alpha on a held-out split of the *training* data with a short
sweep, always including the scratch arm (the student trained on the labels alone, no
teacher), and returns the best student with a table of every arm it tried. It calls the
public, engine-dispatching :func:`tf_green.distillation.distill` and
:func:`~tf_green.distillation.cache_teacher`, so it serves every engine they serve.
``tg.distill(..., tune=True)`` runs it and returns the student.

Example:
    >>> from tf_green import models
    >>> x, y = np.zeros((50, 64), np.float32), np.arange(50) % 10
    >>> tune(models.mlp(), models.mlp(hidden=(4,)), x, y, temperatures=())
    Traceback (most recent call last):
    ...
    ValueError: `temperatures` is empty; the sweep needs at least one value > 0.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

import tf_green.distillation as _distillation
import tf_green.distillation.tune_arms as tune_arms
from tf_green._engine import engine_of, keras_of
from tf_green._engine.checks import check_finite
from tf_green._engine.data import is_dataset, output_shape
from tf_green.distillation.teacher_cache import TeacherCache
from tf_green.distillation.tune_data import check_grid, class_ids, holdout_split, subset_cache, take

__all__ = ["TuneResult", "tune"]

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(repr=False)
class TuneResult:
    """What :func:`tune` tried and the student it kept.

    Attributes:
        student: The best student, compiled and trained at the full budget (on all the
            training data when ``refit=True``).
        table: One row per fit: ``arm``, ``stage`` (``"sweep"``: short run; ``"full"``:
            the full budget on the fit split; ``"refit"``: the winner on all the training
            data, not scored), ``temperature`` (NaN for scratch), ``alpha``,
            ``holdout_accuracy``, ``epochs``, ``train_samples``, ``seconds``.
        arm: The winning arm's name (``"scratch"`` or ``"T=4, alpha=0.1"``).
        temperature: The winning temperature; None when scratch won.
        alpha: The winning alpha (1.0 for scratch).
        scratch_won: True when no distillation arm beat the student trained without the
            teacher on the held-out split (ties go to scratch).
        holdout_accuracy: The winner's held-out accuracy at the full budget.
        holdout_samples: How many labelled training samples were held out to score.

    Example:
        >>> r = TuneResult(None, pd.DataFrame(), "scratch", None, 1.0, True, 0.9, 10)
        >>> r
        TuneResult(arm='scratch', holdout_accuracy=0.9000, scratch_won=True, rows=0)
    """

    student: Any
    table: pd.DataFrame
    arm: str
    temperature: float | None
    alpha: float
    scratch_won: bool
    holdout_accuracy: float
    holdout_samples: int

    def to_pandas(self) -> pd.DataFrame:
        """A copy of :attr:`table`.

        Example:
            >>> TuneResult(None, pd.DataFrame({"arm": ["scratch"]}), "scratch", None, 1.0,
            ...            True, 0.9, 10).to_pandas().arm.tolist()
            ['scratch']
        """
        return self.table.copy()

    def __repr__(self) -> str:
        return (
            f"TuneResult(arm={self.arm!r}, holdout_accuracy={self.holdout_accuracy:.4f}, "
            f"scratch_won={self.scratch_won}, rows={len(self.table)})"
        )


def _check_options(epochs, sweep_epochs, finalists, feature_pairs, task, cache, x, y, refit, extra):
    for name, value in (("epochs", epochs), ("finalists", finalists)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    if sweep_epochs is not None and (
        isinstance(sweep_epochs, bool)
        or not isinstance(sweep_epochs, (int, np.integer))
        or not 1 <= sweep_epochs <= epochs
    ):
        raise ValueError(
            f"`sweep_epochs` must be None or an integer in [1, epochs={epochs}], got "
            f"{sweep_epochs!r}."
        )
    if feature_pairs is not None:
        raise ValueError(
            "`feature_pairs` are not supported by tune: feature distillation runs the live "
            "teacher every epoch of every arm. Tune T and alpha without them, or call "
            "tg.distill with fixed values."
        )
    if task not in ("auto", "classification"):
        raise ValueError(
            f"tune picks a softmax temperature, so it is for classifiers: `task` must be "
            f"'auto' or 'classification', got {task!r}."
        )
    if not isinstance(cache, (bool, TeacherCache)):
        raise TypeError(f"`cache` must be True or a TeacherCache of `x`, got {cache!r}.")
    if not refit and any(value is not None for value in extra.values()):
        names = " and ".join(f"`{name}`" for name, value in extra.items() if value is not None)
        raise ValueError(
            f"{names}: used only by the refit on all the training data, which refit=False "
            "skips; set refit=True, or fit the returned student yourself with them."
        )
    if cache is False:
        raise ValueError(
            "`cache`=False: tune runs the teacher once and serves its outputs to every arm; "
            "pass cache=True (or a TeacherCache of `x`)."
        )
    if is_dataset(x):
        raise TypeError(
            "`x` is a tf.data.Dataset; tune splits the training samples into a fit part and a "
            "held-out part, so it needs arrays: pass `x` and `y` as arrays."
        )
    if y is None:
        raise ValueError(
            "`y` is None; tune scores every arm on held-out labels. Pass class ids (-1 for a "
            "sample without a label) or one-hot rows."
        )


def tune(
    teacher: Any,
    student: Any,
    x: Any,
    y: Any,
    *,
    epochs: int = 10,
    temperatures: Sequence[float] = (2.0, 4.0, 8.0),
    alphas: Sequence[float] = (0.1, 0.5),
    temperature: float | None = None,
    alpha: float | None = None,
    holdout: float = 0.2,
    sweep_epochs: int | None = None,
    finalists: int = 1,
    refit: bool = True,
    seed: int = 0,
    batch_size: int = 32,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Sequence[Any] | None = ("accuracy",),
    sample_weight: Any = None,
    cache: Any = True,
    validation_data: Any = None,
    callbacks: Sequence[Any] | None = None,
    shuffle: bool = True,
    verbose: int | str = 0,
    feature_pairs: Any = None,
    task: str = "auto",
) -> TuneResult:
    """Pick T and alpha on a held-out split of the training data; keep the best student.

    Procedure (every fit starts from the caller's ``student`` weights, with
    ``keras.utils.set_random_seed(seed)`` before it, so a run is reproducible):

    1. Hold out ``holdout`` of the *labelled* training samples, stratified by class
       (unlabelled ``-1`` samples all stay in training). ``validation_data`` is never used
       to choose.
    2. Run the teacher once over all of ``x`` (:func:`~tf_green.distillation.cache_teacher`);
       every arm is served rows of that one cache.
    3. Sweep: distil every (T, alpha) of ``temperatures`` x ``alphas`` (plus ``temperature``
       and ``alpha`` when given) for ``sweep_epochs`` on the fit split; score each on the
       held-out split (accuracy).
    4. Full budget: the ``finalists`` best sweep arms and the scratch arm (the student
       trained on the labelled fit samples alone, no teacher: alpha=1) train ``epochs``
       from the start; the best held-out score wins, ties going to scratch. So on the
       held-out split the kept arm never scores below scratch. A warning says when
       scratch won.
    5. ``refit=True``: the winner trains again, ``epochs`` on all the training data (with
       ``validation_data`` and ``callbacks``), and that student is returned.

    Cost: ``len(grid)`` fits of ``sweep_epochs`` plus ``finalists + 1`` fits of ``epochs``
    on the fit split (``1 - holdout`` of the labelled samples), plus one fit of ``epochs``
    on everything when ``refit``; one teacher pass. With the defaults (6 arms,
    ``sweep_epochs = max(1, epochs // 4)``, one finalist) and ``epochs=10``: 6 x 2 + 2 x
    10 + 10 = 42 epochs, about 4x one ``tg.distill`` call (a scratch epoch is cheaper: no
    teacher outputs). When ``sweep_epochs == epochs`` the sweep already is the full budget
    and the finalists are not trained twice.

    Args:
        teacher: The trained teacher classifier (outputs logits); not changed.
        student: The student architecture (same outputs); not changed (copies train).
        x: Training inputs: arrays, or a dict/list of arrays.
        y: Class ids (``-1`` = no label: a transfer set) or one-hot rows.
        epochs: The full budget of a fit.
        temperatures: The sweep's temperatures, each > 0.
        alphas: The sweep's hard-label weights, each in [0, 1].
        temperature: An extra temperature for the grid (``tg.distill(..., tune=True)``
            passes its own), or None.
        alpha: An extra alpha for the grid, or None.
        holdout: Fraction of the labelled samples held out to score the arms, in (0, 1).
            At least 10 held-out samples are needed.
        sweep_epochs: Epochs of a sweep fit; default ``max(1, epochs // 4)``.
        finalists: How many sweep arms train at the full budget beside scratch.
        refit: Retrain the winner on all the training data (default); False returns the
            winner trained on the fit split.
        seed: Seed of the split and of every fit.
        batch_size: Batch size.
        optimizer: Optimizer, its name, or a no-argument factory; each fit gets a fresh
            copy (``from_config``). Default ``Adam(1e-3)``.
        loss: The student's hard-label loss; default cross-entropy on logits.
        metrics: The student's metrics.
        sample_weight: Per-sample weights of ``x``.
        cache: True: run the teacher once here; a ``TeacherCache`` of ``x``: use it.
        validation_data: Passed to the refit's ``fit`` only (reporting, never choosing);
            refused with ``refit=False``.
        callbacks: Passed to the refit's ``fit`` only; refused with ``refit=False``.
        shuffle: Shuffle each epoch.
        verbose: Keras verbosity of every fit.
        feature_pairs: Not supported (the live teacher would run every epoch); must be
            None.
        task: ``"auto"`` or ``"classification"`` (T is a softmax temperature).

    Returns:
        A :class:`TuneResult`.

    Raises:
        ValueError: For an empty grid, a temperature <= 0, an alpha outside [0, 1], a
            ``holdout`` outside (0, 1), too few labelled samples to hold out 10, bad
            labels, NaN/inf in the data, ``cache=False``, ``feature_pairs``,
            ``validation_data``/``callbacks`` with ``refit=False``, a
            regression ``task``, or a model that is not a classifier (each naming the
            argument).
        TypeError: For a ``tf.data.Dataset`` ``x`` (arrays are split), a ``cache`` that is
            not a bool or TeacherCache, or models that are not Keras models.

    Example:
        >>> from tf_green import models
        >>> rng = np.random.default_rng(0)
        >>> x = rng.random((60, 64), dtype=np.float32)
        >>> y = np.arange(60) % 3
        >>> result = tune(models.mlp(hidden=(8,)), models.mlp(hidden=(4,)), x, y, epochs=1,
        ...               temperatures=(2.0,), alphas=(0.5,), holdout=0.25)
        >>> result.table[["arm", "stage", "epochs", "train_samples"]].head(2).values.tolist()
        [['T=2, alpha=0.5', 'full', 1, 45], ['scratch', 'full', 1, 45]]
        >>> result.table.stage.iloc[-1], result.holdout_samples
        ('refit', 15)
    """
    engine_of(teacher, "teacher")
    engine_of(student, "student")
    extra = {"validation_data": validation_data, "callbacks": callbacks}
    _check_options(epochs, sweep_epochs, finalists, feature_pairs, task, cache, x, y, refit, extra)
    grid_t, grid_a = check_grid(temperatures, alphas)
    extra_t, extra_a = check_grid(
        () if temperature is None else (temperature,),
        () if alpha is None else (alpha,),
        names=("temperature", "alpha"),
        allow_empty=True,
    )
    grid_t, grid_a = tuple(dict.fromkeys(grid_t + extra_t)), tuple(dict.fromkeys(grid_a + extra_a))
    shape = output_shape(student)
    if shape is None or len(shape) != 2 or not shape[-1] or shape[-1] < 2:
        raise ValueError(
            f"`student` has output shape {shape}; tune is for classifiers with (batch, "
            "classes) logits, classes >= 2."
        )
    x = check_finite(x, "x")
    y = check_finite(y, "y")
    sample_weight = check_finite(sample_weight, "sample_weight")
    ids = class_ids(y, int(shape[-1]))
    split = holdout_split(ids, holdout, seed)
    sweep_epochs = max(1, epochs // 4) if sweep_epochs is None else int(sweep_epochs)
    keras = keras_of(student)
    settings = tune_arms.FitSettings(
        keras=keras, seed=seed, batch_size=batch_size, optimizer=optimizer, loss=loss,
        metrics=metrics, shuffle=shuffle, verbose=verbose, classes=int(shape[-1]),
    )  # fmt: skip

    if not isinstance(cache, bool) and len(cache) != len(ids):
        raise ValueError(
            f"`cache` has {len(cache)} samples but `x` has {len(ids)}; pass a cache of `x` "
            "(cache_teacher(teacher, x)) or cache=True."
        )
    if isinstance(cache, bool):
        cache = _distillation.cache_teacher(teacher, x, batch_size=max(batch_size, 256))
    fit_x, fit_y = take(x, split.fit), take(y, split.fit)
    fit_w, fit_ids = take(sample_weight, split.fit), ids[split.fit]
    fit_cache = subset_cache(cache, split.fit)
    hold_x, hold_ids = take(x, split.holdout), ids[split.holdout]

    def scored(run, *args, **kwargs):
        start = time.perf_counter()
        model = run(*args, **kwargs)
        seconds = time.perf_counter() - start
        return model, tune_arms.accuracy(model, hold_x, hold_ids, batch_size), seconds

    rows, models = [], {}
    grid = [(t, a) for t in grid_t for a in grid_a]
    full_in_sweep = sweep_epochs == epochs
    for t, a in grid:
        model, score, seconds = scored(
            tune_arms.distilled, teacher, student, fit_x, fit_y, fit_w, fit_cache, t, a,
            sweep_epochs, settings, task,
        )  # fmt: skip
        rows.append(tune_arms.row((t, a), "full" if full_in_sweep else "sweep", score,
                                  sweep_epochs, len(split.fit), seconds))  # fmt: skip
        if full_in_sweep:
            models[(t, a)] = model
    ranked = sorted(range(len(grid)), key=lambda i: -rows[i]["holdout_accuracy"])
    finals = [grid[i] for i in ranked[:finalists]]
    scores = {}
    model, scores[None], seconds = scored(
        tune_arms.scratch, student, fit_x, fit_y, fit_w, fit_ids, epochs, settings
    )
    models[None] = model
    rows.append(tune_arms.row(None, "full", scores[None], epochs, int((fit_ids >= 0).sum()),
                              seconds))  # fmt: skip
    for arm in finals:
        if full_in_sweep:
            scores[arm] = rows[grid.index(arm)]["holdout_accuracy"]
            continue
        models[arm], scores[arm], seconds = scored(
            tune_arms.distilled, teacher, student, fit_x, fit_y, fit_w, fit_cache, *arm,
            epochs, settings, task,
        )  # fmt: skip
        rows.append(tune_arms.row(arm, "full", scores[arm], epochs, len(split.fit), seconds))
    winner = max(scores, key=scores.get)  # scratch first: ties go to scratch
    best = models[winner]
    _report(winner, scores)
    if refit:
        start = time.perf_counter()
        if winner is None:
            best = tune_arms.scratch(student, x, y, sample_weight, ids, epochs, settings, **extra)
            samples = int((ids >= 0).sum())
        else:
            best = tune_arms.distilled(
                teacher, student, x, y, sample_weight, cache, *winner, epochs, settings, task,
                **extra,
            )  # fmt: skip
            samples = len(ids)
        rows.append(tune_arms.row(winner, "refit", float("nan"), epochs, samples,
                                  time.perf_counter() - start))  # fmt: skip
    return TuneResult(
        student=best,
        table=pd.DataFrame(rows, columns=tune_arms.COLUMNS),
        arm=tune_arms.arm_name(winner),
        temperature=None if winner is None else winner[0],
        alpha=1.0 if winner is None else winner[1],
        scratch_won=winner is None,
        holdout_accuracy=float(scores[winner]),
        holdout_samples=len(split.holdout),
    )


def _report(winner: Any, scores: dict) -> None:
    best_kd = max((arm for arm in scores if arm is not None), key=scores.get)
    line = (
        f"held-out accuracy: scratch {scores[None]:.4f}, best distilled "
        f"({tune_arms.arm_name(best_kd)}) {scores[best_kd]:.4f}"
    )
    if winner is None:
        warnings.warn(
            f"tg.distillation.tune: the scratch arm won ({line}): no distillation setting "
            "beat the student trained without the teacher on the held-out split, so the "
            "student returned is trained on the labels alone.",
            UserWarning,
            stacklevel=3,
        )
    else:
        _LOG.info("tg.distillation.tune: %s won (%s)", tune_arms.arm_name(winner), line)
