"""Pruning for Keras 3 models (``import keras``), on the TensorFlow and JAX backends.

The same calls as the tf_keras engine, for any Keras 3 model (Sequential, functional or
subclassed, with layers nested inside layers), without TFMOT:

* :func:`prune`: copy, mask, fine-tune with a schedule, strip; returns a compiled model.
* :func:`iterative`: prune -> fine-tune -> evaluate at rising sparsities within a budget.
* :func:`wrap` / :func:`callbacks` / :func:`strip`: the same pieces for your own ``fit``
  or ``GradientTape`` loop (see :mod:`tf_green.pruning.keras3.fit_callbacks`).
* :func:`sparsity_report`: zeros per weight tensor, m:n pattern check, a total row.

How it works: each pruned weight carries a 0/1 mask and a constraint that multiplies it by
the mask after every optimizer update (inside the compiled or jitted train step), and a
callback updates the masks from the weights' magnitudes every ``frequency`` steps, as
TFMOT's schedules say (:mod:`tf_green.pruning.schedule_math`). No wrapper layers: the
stripped model is a plain copy that saves and loads without ``custom_objects``.

A custom layer is pruned if it has a ``get_prunable_weights()`` method returning the
variables to prune (TFMOT's ``PrunableLayer`` protocol), or if ``layers=`` names its
weights as ``"layer_name/weight_name"``.

Example:
    >>> import keras
    >>> from tf_green.pruning import keras3
    >>> pruned = keras3.prune(model, x, y, target_sparsity=0.8, epochs=2)  # doctest: +SKIP
    >>> keras3.sparsity_report(pruned).query("prunable == True")           # doctest: +SKIP
"""

from tf_green.pruning.keras3.fit_callbacks import SparsityLogger, UpdatePruningStep, callbacks
from tf_green.pruning.keras3.iterative import IterativeResult, iterative
from tf_green.pruning.keras3.prune import PruningHistory, prune
from tf_green.pruning.keras3.report import sparsity_report
from tf_green.pruning.keras3.strip import strip
from tf_green.pruning.keras3.wrap import wrap

__all__ = [
    "IterativeResult",
    "PruningHistory",
    "SparsityLogger",
    "UpdatePruningStep",
    "callbacks",
    "iterative",
    "prune",
    "sparsity_report",
    "strip",
    "wrap",
]
