"""Pruning: TFMOT magnitude pruning behind fit-style calls.

* :func:`prune`: clone, wrap, fine-tune with a schedule, strip; returns a compiled model.
* :func:`iterative`: prune -> fine-tune -> evaluate at rising sparsities within a budget.
* :func:`wrap` / :func:`callbacks` / :func:`strip`: the same pieces for your own ``fit``.
* :func:`sparsity_report`: zeros per weight tensor, m:n pattern check, a total row.

Example:
    >>> import tf_green as tg
    >>> from tf_green import pruning
    >>> from tf_green._keras import keras
    >>> (x, y), (xv, yv) = tg.datasets.digits()
    >>> model = tg.models.cnn(width=8)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...               metrics=["accuracy"])
    >>> pruned = pruning.prune(model, x, y, target_sparsity=0.8, epochs=2, verbose=0)
    >>> round(pruning.sparsity_report(pruned).query("prunable == True").sparsity.min(), 2)
    0.8
"""

from tf_green.pruning.api import strip, wrap
from tf_green.pruning.finetune import PruningHistory, prune
from tf_green.pruning.iterative_pruning import IterativeResult, iterative
from tf_green.pruning.report import sparsity_report
from tf_green.pruning.schedules import (
    constant_schedule,
    parse_structure,
    polynomial_schedule,
    reached_sparsity,
)
from tf_green.pruning.sparsity_callbacks import SparsityLogger, callbacks
from tf_green.pruning.wrapper import PruneLowMagnitude

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
    "sparsity_report",
    "strip",
    "wrap",
]
