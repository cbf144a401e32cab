"""Range and reference checks of recipe values, run by :func:`tf_green.recipe.parse_recipe`.

:mod:`tf_green.recipe` checks that every key is known and of the right type; this module checks
what the values mean before anything runs: ranges (``epochs >= 1``, ``sparsity`` in [0, 1),
``representative_samples >= 1``), choices (``model``, ``quantization``, ``metric``), and that
every model a step names was made by an earlier step, under a name that is still free.

Example:
    >>> check_value("train", "epochs", 3)
    >>> check_value("train", "epochs", -1)
    'must be >= 1, got -1'
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

from tf_green.pruning.schedule_math import parse_structure

__all__ = ["QUANTIZATIONS", "check_names", "check_step", "check_value"]

#: The export quantizations a recipe (and ``tf-green export --quantization``) accepts.
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8", "int16x8", "int4")
MODELS = ("cnn", "mlp", "tiny_lm")
METRICS = ("accuracy", "macro_f1", "perplexity")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")

Rule = Callable[[Any], "str | None"]


def _at_least(low: int) -> Rule:
    return lambda v: None if v >= low else f"must be >= {low}, got {v!r}"


def _positive(v: float) -> str | None:
    return None if v > 0 else f"must be > 0, got {v!r}"


def _non_negative(v: float) -> str | None:
    return None if v >= 0 else f"must be >= 0, got {v!r}"


def _unit(v: float) -> str | None:
    return None if 0.0 <= v <= 1.0 else f"must be in [0, 1], got {v!r}"


def _sparsity(v: float) -> str | None:
    return None if 0.0 <= v < 1.0 else f"must be in [0, 1) (1.0 removes every weight), got {v!r}"


def _one_of(*choices: str) -> Rule:
    return lambda v: None if v in choices else f"must be one of {list(choices)}, got {v!r}"


def _each(rule: Rule, allow_empty: bool = False) -> Rule:
    def check(values: list) -> str | None:
        if not values and not allow_empty:
            return "must not be empty"
        for value in values:
            problem = rule(value)
            if problem:
                return f"item {value!r}: {problem}"
        return None

    return check


def _name(v: Any) -> str | None:
    if not isinstance(v, str):
        return f"must be a name (text), got {type(v).__name__} {v!r}"
    if not _NAME.match(v):
        return (
            f"must be a name of letters, digits, '_', '-' or '.' (it becomes a file name), "
            f"not starting with '.' or '-'; got {v!r}"
        )
    return None


def _optional_name(v: Any) -> str | None:
    return None if v == "" else _name(v)


def _text(v: Any) -> str | None:
    return None if isinstance(v, str) and v else f"must be a non-empty string, got {v!r}"


def _structure(v: str) -> str | None:
    try:
        parse_structure(v or None)
    except (TypeError, ValueError) as error:
        return str(error).replace("`structure`", "it")
    return None


def _increasing_sparsities(values: list) -> str | None:
    problem = _each(_sparsity, allow_empty=True)(values)
    if problem:
        return problem
    if values and (values[0] <= 0 or any(b <= a for a, b in itertools.pairwise(values))):
        return f"must be strictly increasing values in (0, 1), got {values!r}"
    return None


_ARCHITECTURE = {
    "model": _one_of(*MODELS),
    "width": _at_least(1),
    "d_model": _at_least(1),
    "num_layers": _at_least(1),
    "num_heads": _at_least(1),
    "epochs": _at_least(1),
    "batch_size": _at_least(1),
    "learning_rate": _positive,
}

#: Value rules per step and key; every key of :data:`tf_green.recipe.STEP_SPECS` has one.
RULES: dict[str, dict[str, Rule]] = {
    "train": {"name": _name, **_ARCHITECTURE},
    "load": {"name": _name, "path": _text},
    "prune": {
        "name": _name,
        "source": _name,
        "sparsity": _sparsity,
        "sparsities": _increasing_sparsities,
        "epochs": _at_least(1),
        "max_accuracy_drop": _non_negative,
        "structure": _structure,
        "batch_size": _at_least(1),
    },
    "distill": {
        "name": _name,
        "teacher": _name,
        "student": _optional_name,
        **_ARCHITECTURE,
        "alpha": _unit,
        "temperature": _positive,
    },
    "export": {
        "sources": _each(_name),
        "quantization": _each(_one_of(*QUANTIZATIONS)),
        "representative_samples": _at_least(1),
    },
    "save": {"sources": _each(_name)},
    "sample": {
        "sources": _each(_name),
        "prompt": _text,
        "max_new_tokens": _at_least(1),
        "temperature": _non_negative,
        "compare_cache": _each(_name, allow_empty=True),
        "compare_tokens": _at_least(1),
    },
    "bench": {
        "baseline": _name,
        "metric": _one_of(*METRICS),
        "variants": _each(_name, allow_empty=True),
        "energy": lambda v: None,
        "energy_window_s": _positive,
        "repeats": _at_least(1),
        "max_metric_drop": _non_negative,
        "min_size_reduction": _positive,
    },
}


def check_value(kind: str, key: str, value: Any) -> str | None:
    """Check one (already type-checked) value of a step.

    Args:
        kind: The step name, e.g. ``"prune"``.
        key: The key, e.g. ``"epochs"``.
        value: Its value.

    Returns:
        What is wrong with it (``"must be >= 1, got -3"``), or None if it is fine.

    Example:
        >>> check_value("export", "quantization", ["int3"]).split(":")[0]
        "item 'int3'"
    """
    return RULES[kind][key](value)


def check_step(kind: str, args: dict[str, Any]) -> list[tuple[str, str]]:
    """Check every value of a step, and the rules that tie its keys together.

    Args:
        kind: The step name.
        args: Its arguments, defaults filled in and types checked.

    Returns:
        ``(key, problem)`` pairs; empty if the step is fine.

    Example:
        >>> check_step("prune", {"sparsities": [0.5, 0.8], "epochs": 1})
        [('epochs', 'must be >= 2 with `sparsities` (each step ramps, then recovers), got 1')]
    """
    problems = []
    for key, value in args.items():
        problem = check_value(kind, key, value)
        if problem:
            problems.append((key, problem))
    if kind == "prune" and args.get("sparsities") and args.get("epochs", 2) < 2:
        problems.append(
            (
                "epochs",
                "must be >= 2 with `sparsities` (each step ramps, then recovers), "
                f"got {args['epochs']!r}",
            )
        )
    tiny_lm = kind in ("train", "distill") and args.get("model") == "tiny_lm"
    if tiny_lm and args["d_model"] % args["num_heads"]:
        problems.append(
            ("d_model", f"({args['d_model']}) must be divisible by num_heads ({args['num_heads']})")
        )
    return problems


def _made(kind: str, args: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, type) pairs a step makes: type "model" or "tflite"."""
    if kind in ("train", "prune", "distill"):
        return [(args["name"], "model")]
    if kind == "load":
        return [(args["name"], "tflite" if args["path"].endswith(".tflite") else "model")]
    if kind == "export":
        return [(f"{s}_{q}", "tflite") for s in args["sources"] for q in args["quantization"]]
    return []


def _used(kind: str, args: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The (key, name, needs a Keras model) triples a step refers to."""
    models = {"prune": ["source"], "distill": ["teacher", "student"]}.get(kind, [])
    used = [(key, args[key], True) for key in models if args.get(key)]
    if kind in ("export", "save"):
        used += [("sources", name, True) for name in args["sources"]]
    elif kind == "sample":
        used += [("sources", name, False) for name in args["sources"]]
        used += [("compare_cache", name, False) for name in args.get("compare_cache", [])]
    elif kind == "bench":
        used += [("baseline", args["baseline"], False)]
        used += [("variants", name, False) for name in args["variants"]]
    return used


def check_names(steps: Sequence[tuple[str, dict[str, Any], str]]) -> None:
    """Check that every name a step uses was made earlier, and that no name is made twice.

    Args:
        steps: ``(kind, args, where)`` per step, ``where`` describing its position for
            messages (e.g. ``"step 2 (line 5), 'prune'"``).

    Raises:
        ValueError: Naming the step, the key and the known names.

    Example:
        >>> check_names([("prune", {"name": "b", "source": "a"}, "step 1")])
        Traceback (most recent call last):
        ...
        ValueError: recipe step 1: source 'a' is not a model made by an earlier step; known models: [].
    """  # noqa: E501
    made: dict[str, str] = {}
    for kind, args, where in steps:
        for key, name, needs_model in _used(kind, args):
            if name not in made or (needs_model and made[name] != "model"):
                known = sorted(n for n, t in made.items() if t == "model" or not needs_model)
                what = "a model" if needs_model else "a model or .tflite"
                also = (
                    f" ({name!r} is a .tflite file; this step needs a Keras model)"
                    if name in made
                    else ""
                )
                raise ValueError(
                    f"recipe {where}: {key} {name!r} is not {what} made by an earlier step"
                    f"{also}; known {'models' if needs_model else 'names'}: {known}."
                )
        for name, made_type in _made(kind, args):
            if name in made:
                raise ValueError(
                    f"recipe {where}: name {name!r} is already used by an earlier step; "
                    "give this one another name."
                )
            made[name] = made_type
