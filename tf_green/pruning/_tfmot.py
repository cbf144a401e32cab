"""TFMOT's sparsity modules for the tf_keras pruning engine, imported the safe way.

Importing TFMOT directly sets ``TF_USE_LEGACY_KERAS=1`` and routes ``tf.keras`` to
tf_keras for the rest of the process. :mod:`tf_green._keras` imports it with the user's
environment kept (the variable restored, ``tf.keras`` resolved first), so this module
imports ``tf_green._keras`` before any TFMOT module, whatever the import order of the
module that uses it. Every tf_keras-side pruning module takes TFMOT from here.

Example:
    >>> pruning_schedule.PolynomialDecay.__name__
    'PolynomialDecay'
"""

from __future__ import annotations

import importlib

from tf_green._keras import tfmot

__all__ = [
    "prunable_layer",
    "prune_registry",
    "pruning_callbacks",
    "pruning_schedule",
    "pruning_wrapper",
    "tfmot",
]

_SPARSITY = "tensorflow_model_optimization.python.core.sparsity.keras"

prunable_layer = importlib.import_module(f"{_SPARSITY}.prunable_layer")
prune_registry = importlib.import_module(f"{_SPARSITY}.prune_registry")
pruning_callbacks = importlib.import_module(f"{_SPARSITY}.pruning_callbacks")
pruning_schedule = importlib.import_module(f"{_SPARSITY}.pruning_schedule")
pruning_wrapper = importlib.import_module(f"{_SPARSITY}.pruning_wrapper")
