"""Pruning: magnitude pruning behind fit-style calls, for tf_keras and Keras 3 models.

* :func:`prune`: clone, wrap, fine-tune with a schedule, strip; returns a compiled model.
* :func:`iterative`: prune -> fine-tune -> evaluate at rising sparsities within a budget.
* :func:`wrap` / :func:`callbacks` / :func:`strip`: the same pieces for your own ``fit``.
* :func:`sparsity_report`: zeros per weight tensor, m:n pattern check, a total row.
* :func:`shrink`: structured pruning: whole channels, units and heads removed, a smaller
  model that really does less arithmetic (:mod:`tf_green.pruning.structured`).

Each call dispatches on the model it is given (:func:`tf_green._engine.engine_of`): a
tf_keras model goes to the TFMOT engine (``tf_green.pruning.finetune`` ...), imported then;
a Keras 3 model goes to ``tf_green.pruning.keras3``, which imports neither tf_keras nor
TFMOT. The tf_keras-only names (``PruneLowMagnitude``, ``SparsityLogger``, the schedule
helpers ...) load on first access.

Example:
    >>> import tf_green as tg
    >>> from tf_green import pruning
    >>> keras = tg.engine.tf_keras()
    >>> (x, y), (xv, yv) = tg.datasets.digits()
    >>> model = tg.models.cnn(width=8)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...               metrics=["accuracy"])
    >>> pruned = pruning.prune(model, x, y, target_sparsity=0.8, epochs=2, verbose=0)
    >>> float(round(pruning.sparsity_report(pruned).query("prunable == True").sparsity.min(), 2))
    0.8
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

from tf_green._engine import Engine, engine_of, require_keras3_backend, tf_keras_engine
from tf_green._engine.lazy import package_getattr
from tf_green.pruning.arguments import LayerSelector

__all__ = [
    "IterativeResult",
    "PruneLowMagnitude",
    "PruningHistory",
    "SparsityLogger",
    "callbacks",
    "constant_schedule",
    "iterative",
    "parse_structure",
    "polynomial_schedule",
    "prune",
    "reached_sparsity",
    "shrink",
    "sparsity_report",
    "strip",
    "wrap",
]

# The tf_keras engine's implementation of each dispatched call: name -> module.
_TF_KERAS = {
    "prune": "tf_green.pruning.finetune",
    "iterative": "tf_green.pruning.iterative_pruning",
    "wrap": "tf_green.pruning.api",
    "callbacks": "tf_green.pruning.sparsity_callbacks",
    "strip": "tf_green.pruning.api",
    "sparsity_report": "tf_green.pruning.report",
}
# The Keras 3 engine: the same names, in this package.
_KERAS3 = "tf_green.pruning.keras3"

# Submodules that import no tf_keras/TFMOT (the others load the tf_keras engine first).
_ENGINE_NEUTRAL = (
    "arguments",
    "checkpoint_files",
    "compiling",
    "iterative_core",
    "keras3",
    "report_table",
    "schedule_math",
    "schedule_plan",
    "structured",
)

# tf_keras-only names, loaded on first access (PEP 562).
_LAZY = {
    "IterativeResult": "tf_green.pruning.iterative_pruning",
    "PruneLowMagnitude": "tf_green.pruning.wrapper",
    "PruningHistory": "tf_green.pruning.finetune",
    "SparsityLogger": "tf_green.pruning.sparsity_callbacks",
    "constant_schedule": "tf_green.pruning.schedules",
    "parse_structure": "tf_green.pruning.schedules",
    "polynomial_schedule": "tf_green.pruning.schedules",
    "reached_sparsity": "tf_green.pruning.schedules",
}


def implementation(name: str, engine: Engine) -> Any:
    """The function that runs pruning call ``name`` for models of ``engine``.

    Args:
        name: A dispatched call: ``"prune"``, ``"iterative"``, ``"wrap"``,
            ``"callbacks"``, ``"strip"`` or ``"sparsity_report"``.
        engine: ``"tf_keras"`` or ``"keras3"`` (see :func:`tf_green._engine.engine_of`).

    Returns:
        The engine's function of that name.

    Raises:
        TypeError: For a Keras 3 call the Keras 3 engine does not provide yet.
        ValueError: For a Keras 3 backend other than TensorFlow or JAX.

    Example:
        >>> implementation("strip", "tf_keras").__module__
        'tf_green.pruning.api'
    """
    if engine == "tf_keras":
        tf_keras_engine()  # first: it keeps tf.keras and TF_USE_LEGACY_KERAS as they are
        return getattr(importlib.import_module(_TF_KERAS[name]), name)
    require_keras3_backend()
    try:
        module = importlib.import_module(_KERAS3)
    except ModuleNotFoundError as error:
        if error.name != _KERAS3:
            raise
        module = None
    function = getattr(module, name, None)
    if function is None:
        raise TypeError(
            f"`model` is a Keras 3 model; Keras 3 support for tg.pruning.{name} is coming "
            "(issue #13) but is not in this version. For now prune a tf_keras model: rebuild "
            "the same architecture with `keras = tf_green.engine.tf_keras()` and copy the "
            "weights over with `new.set_weights(old.get_weights())`."
        )
    return function


def _dispatch(name: str, arguments: dict[str, Any]) -> Any:
    """Call the engine's ``name`` for ``arguments["model"]`` with the same arguments."""
    return implementation(name, engine_of(arguments["model"]))(**arguments)


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
    """Prune a trained model to a target sparsity and fine-tune it; return it stripped.

    Copies ``model`` (never changed), gives the selected weights magnitude masks, trains
    while the schedule raises the sparsity (masks updated every ``frequency`` steps, pruned
    weights kept at zero through the optimizer's updates), then strips the masks. A
    tf_keras model runs on TFMOT (:func:`tf_green.pruning.finetune.prune`); a Keras 3
    model (TensorFlow or JAX backend) on ``tf_green.pruning.keras3.prune``. With
    ``schedule="polynomial"`` the target is reached at the end of epoch ``epochs - 1``.

    Args:
        model: A trained, built tf_keras or Keras 3 model.
        x: Training inputs (arrays with ``y``), or a ``tf.data.Dataset`` of ``(x, y)``.
        y: Training targets for array ``x``; None for a dataset.
        target_sparsity: Fraction of each selected weight tensor set to zero, in [0, 1).
        initial_sparsity: Sparsity at the first mask update for ``"polynomial"``.
        schedule: ``"polynomial"`` (TFMOT's ``PolynomialDecay``, power 3), ``"constant"``,
            or a schedule object of the engine (its own target wins).
        epochs: Fine-tuning epochs (>= 2 for ``"polynomial"``).
        batch_size: Batch size for array inputs.
        validation_data: ``(x_val, y_val)`` or a dataset, evaluated after each epoch.
        structure: ``"m:n"`` (e.g. ``"2:4"``) structured sparsity, or None.
        layers: What to prune: None (all prunable), names/classes/``"layer/weight"``
            names, a regex, a callable ``layer -> bool``, or ``{name: sparsity}``.
        optimizer: Fine-tuning optimizer; defaults to a fresh copy of ``model``'s.
        loss: Loss; defaults to ``model``'s.
        metrics: Metrics; default to ``model``'s.
        callbacks: Extra callbacks of the model's engine, run after the pruning ones.
        checkpoint_dir: If given, back up after every epoch and resume from there.
        verbose: Passed to ``fit``.
        strategy: A ``tf.distribute`` strategy (TensorFlow), a
            ``keras.distribution.DataParallel`` (Keras 3 on JAX), or None.
        steps_per_epoch: Batches per epoch, needed for an infinite dataset.

    Returns:
        The pruned, stripped, compiled model, of the same engine as ``model``, with
        attribute ``pruning_history``.

    Raises:
        TypeError: If ``model`` is not a Keras model, or arguments have the wrong type.
        ValueError: On bad arguments or data (see the engine's ``prune``).

    Example:
        >>> import numpy as np
        >>> from tf_green import models
        >>> model = models.mlp(hidden=(8,))
        >>> model.compile("adam", "sparse_categorical_crossentropy")
        >>> x, y = np.random.rand(64, 64).astype("float32"), np.zeros(64, "int64")
        >>> pruned = prune(model, x, y, target_sparsity=0.5, epochs=2, verbose=0)
        >>> pruned is model
        False
    """
    return _dispatch("prune", locals())


def iterative(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any,
    sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9),
    epochs_per_step: int = 2,
    max_accuracy_drop: float = 0.01,
    metric: str = "accuracy",
    batch_size: int = 32,
    layers: LayerSelector = None,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    verbose: str | int = 0,
) -> Any:
    """Prune at rising sparsities; keep the sparsest model within a metric budget.

    Each step prunes the previous step's model further and fine-tunes it; the search
    stops at the first step that drops ``metric`` by more than ``max_accuracy_drop`` from
    the unpruned baseline. tf_keras: :func:`tf_green.pruning.iterative_pruning.iterative`;
    Keras 3: ``tf_green.pruning.keras3.iterative``.

    Args:
        model: A trained, built tf_keras or Keras 3 model (not changed).
        x: Training inputs (arrays with ``y``, or a ``tf.data.Dataset``).
        y: Training targets for array ``x``.
        validation_data: ``(x_val, y_val)`` or a dataset, to measure ``metric``.
        sparsities: Increasing target sparsities in (0, 1), one per step.
        epochs_per_step: Fine-tuning epochs per step (>= 2).
        max_accuracy_drop: Largest allowed drop of ``metric`` from the baseline.
        metric: A metric the model is compiled with, or ``"loss"``.
        batch_size: Batch size for array inputs.
        layers: What to prune (as in :func:`prune`).
        optimizer: Fine-tuning optimizer; defaults to a fresh copy of ``model``'s.
        loss: Loss; defaults to ``model``'s.
        metrics: Metrics; default to ``model``'s.
        verbose: Passed to ``fit``.

    Returns:
        An ``IterativeResult``: the best model within the budget and every step.

    Raises:
        TypeError: If ``model`` is not a Keras model, or arguments have the wrong type.
        ValueError: On bad arguments or data (see the engine's ``iterative``).

    Example:
        >>> import inspect
        >>> "sparsities" in inspect.signature(iterative).parameters
        True
    """
    return _dispatch("iterative", locals())


def wrap(
    model: Any,
    schedule: Any = None,
    *,
    structure: str | tuple[int, int] | None = None,
    layers: LayerSelector = None,
    strategy: Any = None,
) -> Any:
    """Copy a model and give its prunable weights masks, for your own ``fit`` or loop.

    Train the result with :func:`callbacks`, then :func:`strip` it. tf_keras:
    :func:`tf_green.pruning.api.wrap` (TFMOT wrapper layers); Keras 3:
    ``tf_green.pruning.keras3.wrap`` (the same layers, each pruned weight masked).

    Args:
        model: A built tf_keras or Keras 3 model; not changed.
        schedule: A pruning schedule; defaults to ``ConstantSparsity(0.5, begin_step=0)``.
        structure: ``"m:n"`` structured sparsity, or None.
        layers: Which layers to prune (as in :func:`prune`).
        strategy: Where to build the copy (as in :func:`prune`), or None.

    Returns:
        The wrapped copy, compiled like ``model`` if it was compiled.

    Raises:
        TypeError: If ``model`` is not a Keras model, or arguments have the wrong type.
        ValueError: If ``layers``/``structure`` select nothing prunable (see the engine).

    Example:
        >>> from tf_green import models
        >>> [layer.name for layer in wrap(models.mlp(hidden=(8,))).layers][1:]
        ['prune_low_magnitude_dense1', 'prune_low_magnitude_logits']
    """
    return _dispatch("wrap", locals())


def strip(model: Any) -> Any:
    """Return a plain copy of a model from :func:`wrap`, each mask applied to its weight.

    tf_keras: :func:`tf_green.pruning.api.strip`; Keras 3: ``tf_green.pruning.keras3.strip``.

    Args:
        model: A model from :func:`wrap` (or any built model: then a plain copy).

    Returns:
        The copy without wrappers or masks, compiled like ``model`` if it was compiled.

    Raises:
        TypeError: If ``model`` is not a Keras model.

    Example:
        >>> from tf_green import models
        >>> [layer.name for layer in strip(wrap(models.mlp(hidden=(8,)))).layers][1:]
        ['dense1', 'logits']
    """
    return _dispatch("strip", locals())


def sparsity_report(model: Any, structure: str | tuple[int, int] = "2:4") -> Any:
    """Zeros per weight tensor, the m:n pattern check and a total row.

    tf_keras: :func:`tf_green.pruning.report.sparsity_report`; Keras 3:
    ``tf_green.pruning.keras3.sparsity_report``.

    Args:
        model: A tf_keras or Keras 3 model (wrapped or not).
        structure: The ``"m:n"`` pattern to check each tensor against.

    Returns:
        A ``pandas.DataFrame``, one row per weight tensor and a total row.

    Raises:
        TypeError: If ``model`` is not a Keras model.
        ValueError: On a bad ``structure``.

    Example:
        >>> from tf_green import models
        >>> "sparsity" in sparsity_report(models.mlp()).columns
        True
    """
    return _dispatch("sparsity_report", locals())


def shrink(model: Any, ratio: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Remove whole channels and units and rebuild a smaller Keras 3 model (structured pruning).

    See :func:`tf_green.pruning.structured.shrink`; a tf_keras functional model is pruned
    once (no fine-tuning data) into a smaller tf_keras model.

    Args:
        model: A built Keras 3 (or tf_keras) Sequential or functional model; not changed.
        ratio: The fraction of channels to remove, one number or ``{layer_name: ratio}``
            (0.5 when no ``macs=`` target is given).
        *args: ``x, y`` (training data for fine-tuning between steps).
        **kwargs: ``macs=``, ``steps=``, ``epochs=``, ``criterion=``, ``exclude=`` ... (see
            :func:`tf_green.pruning.structured.shrink`).

    Returns:
        ``(smaller_model, report)``: the rebuilt model and a per-layer DataFrame.

    Raises:
        TypeError: If ``model`` is not a functional or Sequential model (subclassed: use
            :func:`prune`).
        ValueError: On a ratio outside ``[0, 1)`` or a graph the analysis cannot prune.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
        ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> small, report = shrink(model, ratio=0.5)
        >>> small.layers[0].filters
        4
    """
    if engine_of(model) == "keras3":
        require_keras3_backend()
    else:
        tf_keras_engine()  # a tf_keras model: pruned once into a smaller tf_keras model
    structured = importlib.import_module("tf_green.pruning.structured")
    return structured.shrink(model, ratio, *args, **kwargs)


def callbacks(log_dir: str | os.PathLike | None = None, *, model: Any = None) -> list[Any]:
    """The callbacks ``fit`` needs to train a model from :func:`wrap`, for its engine.

    Args:
        log_dir: If given, also write TensorBoard summaries there.
        model: The wrapped model the callbacks are for; its engine picks them. Without it:
            tf_keras callbacks if ``tf_keras`` is imported in this process (a tf_keras
            user), Keras 3 ones otherwise. Pass it when both engines are in use.

    Returns:
        The engine's callbacks (tf_keras: :func:`tf_green.pruning.sparsity_callbacks.callbacks`).

    Raises:
        TypeError: If ``model`` is given and is not a Keras model.
        ValueError: As the engine's ``callbacks``.

    Example:
        >>> from tf_green import models
        >>> [type(c).__name__ for c in callbacks(model=wrap(models.mlp()))]
        ['UpdatePruningStep', 'SparsityLogger']
    """
    if model is not None:
        engine = engine_of(model)
    else:
        engine = "tf_keras" if "tf_keras" in sys.modules else "keras3"
    return implementation("callbacks", engine)(log_dir)


__getattr__ = package_getattr(__name__, _LAZY, _ENGINE_NEUTRAL)


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))
