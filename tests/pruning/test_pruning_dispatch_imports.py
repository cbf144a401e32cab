"""The pruning dispatchers' signatures, and tf_keras-side modules imported first.

* ``tg.pruning.prune`` ... have real signatures, equal to both engines' (so ``help``
  shows the arguments and the three cannot drift apart).
* Importing a tf_keras-side pruning module first (before anything else of tf_green) never
  sets ``TF_USE_LEGACY_KERAS`` nor routes ``tf.keras`` to tf_keras: TFMOT comes from
  ``tf_green._keras`` (through ``tf_green.pruning._tfmot``), which keeps both as they are
  (checked in a fresh interpreter by tests/test_fresh_interpreter.py; here: no other module
  imports TFMOT directly).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os

import pytest

import tf_green.pruning as pruning

DISPATCHED = ("prune", "iterative", "wrap", "strip", "sparsity_report")


def _parameters(function):
    return list(inspect.signature(function).parameters.values())


@pytest.mark.parametrize("name", DISPATCHED)
def test_dispatcher_signature_equals_both_engines(name):
    dispatcher = getattr(pruning, name)
    tf_keras_impl = getattr(importlib.import_module(pruning._TF_KERAS[name]), name)
    keras3_impl = getattr(importlib.import_module(pruning._KERAS3), name)
    assert _parameters(dispatcher) == _parameters(tf_keras_impl) == _parameters(keras3_impl)
    assert _parameters(dispatcher)[0].name == "model"
    assert dispatcher.__doc__ and "Example:" in dispatcher.__doc__


def test_callbacks_dispatcher_adds_only_model():
    tf_keras_impl = importlib.import_module(pruning._TF_KERAS["callbacks"]).callbacks
    keras3_impl = importlib.import_module(pruning._KERAS3).callbacks
    params = _parameters(pruning.callbacks)
    assert [p.name for p in params] == ["log_dir", "model"]
    assert params[:1] == _parameters(tf_keras_impl) == _parameters(keras3_impl)


PRUNING = os.path.dirname(pruning.__file__)


def test_no_tf_keras_side_module_imports_tfmot_directly():
    """TFMOT comes only through tf_green.pruning._tfmot (which imports tf_green._keras first)."""
    offenders = []
    for name in sorted(os.listdir(PRUNING)):
        if name.endswith(".py") and name != "_tfmot.py":
            with open(os.path.join(PRUNING, name), encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                modules = []
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module]
                if any(m.split(".")[0] == "tensorflow_model_optimization" for m in modules):
                    offenders.append(f"{name}:{node.lineno}")
    assert offenders == []
