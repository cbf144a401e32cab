"""Recipes: a reviewable, reproducible description of a workflow, and its validation.

A recipe is YAML (or JSON) with a few top-level keys and a list of steps, each a one-key
mapping from a step name to its arguments::

    data: digits
    seed: 0
    engine: keras3      # the default; tf_keras builds tf_keras models and prunes with TFMOT
    steps:
      - train: {name: teacher, width: 128, epochs: 15}
      - prune: {name: pruned, source: teacher, sparsities: [0.5, 0.7, 0.8, 0.9]}
      - export: {sources: [teacher, pruned], quantization: int8}
      - bench: {baseline: teacher}

Every step name, key and value is checked before anything runs: names and types against
:data:`STEP_SPECS`, ranges and choices and the models each step names by
:mod:`tf_green.recipe_checks`. An error names the step, its line in the file and the key.

A recipe cannot allow unsafe deserialization (loading model files whose layers carry Python
code): only the person running it can, with ``tf-green run --unsafe-deserialization`` or
``run_recipe(..., unsafe_deserialization=True)``.

Example:
    >>> recipe = parse_recipe({"steps": [{"train": {"name": "m", "epochs": 1}}]})
    >>> recipe.steps[0].kind, recipe.steps[0].args["epochs"]
    ('train', 1)
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from tf_green.recipe_checks import check_names, check_step

__all__ = ["ENGINES", "REQUIRED", "STEP_SPECS", "Recipe", "Step", "dump_recipe", "parse_recipe"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

_TOP_LEVEL = {
    "task": "digits",
    "data": "digits",
    "data_options": {},
    "seed": 0,
    "engine": "keras3",
    "steps": REQUIRED,
}

#: The engines a recipe can run on: ``"keras3"`` (the default: the ``keras`` package, on its
#: configured backend) or ``"tf_keras"`` (tf_keras + TFMOT).
ENGINES = ("keras3", "tf_keras")

#: Each step's keys and defaults; ``REQUIRED`` marks keys without a default. A default's
#: type is the type the key must have (ints are accepted where floats are expected; a single
#: value where a list is expected). ``prune`` with a non-empty ``sparsities`` list runs
#: ``tg.pruning.iterative`` (``epochs`` per step) and ignores ``sparsity``. ``distill`` builds
#: the student from ``model``/``width``/``d_model``... (for the teacher's engine) unless
#: ``student`` names a model made by an earlier step, whose architecture is then copied with
#: fresh weights.
STEP_SPECS: dict[str, dict[str, Any]] = {
    "train": {
        "name": REQUIRED,
        "model": "cnn",
        "width": 32,
        "d_model": 64,
        "num_layers": 2,
        "num_heads": 4,
        "epochs": 15,
        "batch_size": 32,
        "learning_rate": 3e-3,
    },
    "load": {"name": REQUIRED, "path": REQUIRED},
    "prune": {
        "name": REQUIRED,
        "source": REQUIRED,
        "sparsity": 0.8,
        "sparsities": [],
        "epochs": 2,
        "max_accuracy_drop": 0.01,
        "structure": "",
        "batch_size": 32,
    },
    "distill": {
        "name": REQUIRED,
        "teacher": REQUIRED,
        "student": "",
        "model": "cnn",
        "width": 16,
        "d_model": 32,
        "num_layers": 2,
        "num_heads": 2,
        "epochs": 20,
        "alpha": 0.1,
        "temperature": 4.0,
        "batch_size": 32,
        "learning_rate": 3e-3,
    },
    "export": {
        "sources": REQUIRED,
        "quantization": ["int8"],
        "representative_samples": 300,
    },
    "save": {"sources": REQUIRED},
    "sample": {
        "sources": REQUIRED,
        "prompt": "The ",
        "max_new_tokens": 200,
        "temperature": 0.8,
        "compare_cache": [],
        "compare_tokens": 32,
    },
    "bench": {
        "baseline": REQUIRED,
        "metric": "accuracy",
        "variants": [],
        "energy": True,
        "energy_window_s": 3.0,
        "repeats": 3,
        "max_metric_drop": 0.02,
        "min_size_reduction": 2.0,
    },
}


@dataclass(frozen=True)
class Step:
    """One validated step of a recipe.

    Attributes:
        kind: The step name, a key of :data:`STEP_SPECS`.
        args: Its arguments, defaults filled in.
        line: 1-based line of the step in the recipe text (0 if unknown).

    Example:
        >>> Step("save", {"sources": ["m"]}).kind
        'save'
    """

    kind: str
    args: dict[str, Any]
    line: int = 0

    def where(self) -> str:
        """Describe the step's position for error messages, e.g. "step 'prune' (line 7)"."""
        return f"step {self.kind!r}" + (f" (line {self.line})" if self.line else "")


@dataclass(frozen=True)
class Recipe:
    """A validated recipe.

    Attributes:
        task: The task name (``"digits"``).
        data: The data spec (``"digits"``, ``"python_docs"`` or an ``.npz`` path).
        seed: The random seed of the run.
        engine: The Keras the recipe's ``train`` steps build models with (:data:`ENGINES`,
            default ``"keras3"``); loaded models keep the engine of their file, and a
            ``distill`` step builds its student for its teacher's engine.
        data_options: Keyword arguments of :func:`tf_green.loading.load_data`
            (``seq_len``, ``max_chars`` for ``"python_docs"``).
        steps: The steps, in order.

    Example:
        >>> Recipe(task="digits", data="digits", seed=0, steps=()).seed
        0
    """

    task: str
    data: str
    seed: int
    steps: tuple[Step, ...] = field(default_factory=tuple)
    data_options: dict[str, Any] = field(default_factory=dict)
    engine: str = "keras3"

    def to_dict(self) -> dict[str, Any]:
        """Return the recipe as plain data, the form :func:`dump_recipe` writes."""
        return {
            "task": self.task,
            "data": self.data,
            "data_options": dict(self.data_options),
            "seed": self.seed,
            "engine": self.engine,
            "steps": [{step.kind: dict(step.args)} for step in self.steps],
        }


def _step_lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """Per step: its 1-based line, and the line of each of its keys."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "steps" and isinstance(value, yaml.SequenceNode):
            return [_item_lines(item) for item in value.value]
    return []


def _item_lines(item: yaml.Node) -> tuple[int, dict[str, int]]:
    keys: dict[str, int] = {}
    if isinstance(item, yaml.MappingNode) and len(item.value) == 1:
        args = item.value[0][1]
        if isinstance(args, yaml.MappingNode):
            keys = {str(k.value): k.start_mark.line + 1 for k, _ in args.value}
    return item.start_mark.line + 1, keys


#: The type of the items of each list-valued key.
_LIST_ITEMS: dict[str, type] = {
    "sparsities": float,
    "quantization": str,
    "sources": str,
    "variants": str,
}


def _check_value(where: str, key: str, value: Any, default: Any) -> Any:
    expected = type(default)
    if value is None:
        raise ValueError(
            f"recipe {where}: key {key!r} has no value; give it a {expected.__name__} or "
            "remove the key to use its default."
        )
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is list and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise ValueError(
            f"recipe {where}: key {key!r} must be {expected.__name__}, "
            f"got {type(value).__name__} {value!r}."
        )
    return value


def _parse_step(item: Any, index: int, lines: tuple[int, dict[str, int]]) -> Step:
    line, key_lines = lines
    where = f"step {index + 1}" + (f" (line {line})" if line else "")
    if not isinstance(item, dict) or len(item) != 1:
        raise ValueError(
            f"recipe {where}: each step must be a mapping with one key, the step name "
            f"(one of {sorted(STEP_SPECS)}), got {item!r}."
        )
    ((kind, args),) = item.items()
    if kind not in STEP_SPECS:
        raise ValueError(
            f"recipe {where}: unknown step {kind!r}; valid steps: {sorted(STEP_SPECS)}."
        )
    where = f"{where}, {kind!r}"
    args = args or {}
    if not isinstance(args, dict):
        raise ValueError(f"recipe {where}: arguments must be a mapping, got {args!r}.")

    def at(key: str) -> str:
        shown = f"step {index + 1}" + (f" (line {key_lines[key]})" if key in key_lines else "")
        return f"{shown}, {kind!r}" if key in key_lines else where

    if args.get("unsafe_deserialization") is False:
        # Recipes written by earlier versions carry ``unsafe_deserialization: false``: asking
        # for the safe default is harmless, so it is accepted and dropped.
        args = {key: value for key, value in args.items() if key != "unsafe_deserialization"}
    if "unsafe_deserialization" in args:
        raise ValueError(
            f"recipe {at('unsafe_deserialization')}: 'unsafe_deserialization' cannot be set in "
            "a recipe (a shared recipe must not be able to run code from model files). Remove "
            "it, and if you trust the model files pass --unsafe-deserialization on the command "
            "line (tf-green run --unsafe-deserialization ...) or "
            "run_recipe(..., unsafe_deserialization=True)."
        )
    spec = STEP_SPECS[kind]
    unknown = sorted(set(args) - set(spec))
    if unknown:
        raise ValueError(
            f"recipe {at(unknown[0])}: unknown key(s) {unknown}; valid keys: {sorted(spec)}."
        )
    missing = [key for key, default in spec.items() if default is REQUIRED and key not in args]
    if missing:
        raise ValueError(f"recipe {where}: missing required key(s) {missing}.")
    full = {}
    for key, default in spec.items():
        value = args.get(key, default)
        if key in _LIST_ITEMS:
            value = _check_value(at(key), key, value, [])
            item = _LIST_ITEMS[key]()
            value = [_check_value(at(key), f"{key} item", entry, item) for entry in value]
        else:
            value = _check_value(at(key), key, value, "" if default is REQUIRED else default)
        full[key] = value
    for key, problem in check_step(kind, full):
        raise ValueError(f"recipe {at(key)}: {key!r} {problem}.")
    return Step(kind, full, line)


def parse_recipe(source: str | pathlib.Path | dict) -> Recipe:
    """Parse and validate a recipe from YAML/JSON text, a file path or a dict.

    Args:
        source: Recipe text, a path to a ``.yaml``/``.yml``/``.json`` file, or the parsed
            mapping.

    Returns:
        The validated :class:`Recipe`, defaults filled in.

    Raises:
        ValueError: If the file is missing or unparsable, or a step or key is unknown,
            missing or of the wrong type; the message names the step, its line and the key.

    Example:
        >>> parse_recipe({"steps": [{"train": {"name": "m"}}]}).data
        'digits'
    """
    text = None
    if isinstance(source, dict):
        data = source
    else:
        if isinstance(source, pathlib.Path) or (
            isinstance(source, str)
            and "\n" not in source
            and source.endswith((".yaml", ".yml", ".json"))
        ):
            path = pathlib.Path(source)
            if not path.is_file():
                raise ValueError(f"recipe file {str(path)!r} does not exist.")
            text = path.read_text()
        else:
            text = source
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"recipe is not valid YAML/JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("recipe must be a mapping with a 'steps' list at the top level.")
    unknown = sorted(set(data) - set(_TOP_LEVEL))
    if unknown:
        raise ValueError(
            f"recipe: unknown top-level key(s) {unknown}; valid keys: {sorted(_TOP_LEVEL)}."
        )
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ValueError("recipe: 'steps' must be a non-empty list of steps.")
    lines = _step_lines(text) if text is not None else []
    seed = _check_value("top level", "seed", data.get("seed", 0), 0)
    if not 0 <= seed < 2**32:
        raise ValueError(f"recipe top level: 'seed' must be in [0, 2**32), got {seed!r}.")
    task = _check_value("top level", "task", data.get("task", "digits"), "")
    spec = _check_value("top level", "data", data.get("data", "digits"), "")
    if not spec:
        raise ValueError("recipe top level: 'data' must name a data set or an .npz file.")
    options = _check_options(data.get("data_options") or {})
    engine = _check_value("top level", "engine", data.get("engine", "keras3"), "")
    if engine not in ENGINES:
        raise ValueError(
            f"recipe top level: 'engine' must be one of {list(ENGINES)}, got {engine!r}."
        )
    parsed = tuple(
        _parse_step(item, i, lines[i] if i < len(lines) else (0, {}))
        for i, item in enumerate(steps)
    )
    check_names([(step.kind, step.args, _where(step, i)) for i, step in enumerate(parsed)])
    return Recipe(
        task=task, data=spec, seed=seed, steps=parsed, data_options=options, engine=engine
    )


def _where(step: Step, index: int) -> str:
    return f"step {index + 1}" + (f" (line {step.line})" if step.line else "") + f", {step.kind!r}"


_DATA_OPTIONS = {"seq_len": 64, "max_chars": 0, "image": True}


def _check_options(options: Any) -> dict[str, Any]:
    options = _check_value("top level", "data_options", options, {})
    unknown = sorted(set(options) - set(_DATA_OPTIONS))
    if unknown:
        raise ValueError(f"recipe: unknown data_options {unknown}; valid: {sorted(_DATA_OPTIONS)}.")
    checked = {}
    for key, value in options.items():
        where = "top level, data_options"
        checked[key] = _check_value(where, key, value, _DATA_OPTIONS[key])
        if key in ("seq_len", "max_chars") and checked[key] < 1:
            raise ValueError(f"recipe {where}: {key!r} must be >= 1, got {value!r}.")
    return checked


def dump_recipe(recipe: Recipe, path: str | pathlib.Path | None = None) -> str:
    """Write a recipe as YAML (readable, and re-parsable by :func:`parse_recipe`).

    Args:
        recipe: The recipe.
        path: If given, the file to write.

    Returns:
        The YAML text.

    Example:
        >>> steps = [{"load": {"name": "m", "path": "m.keras"}}, {"save": {"sources": "m"}}]
        >>> text = dump_recipe(parse_recipe({"steps": steps}))
        >>> parse_recipe(text).steps[1].args
        {'sources': ['m']}
    """
    text = yaml.safe_dump(recipe.to_dict(), sort_keys=False, default_flow_style=None)
    if path is not None:
        pathlib.Path(path).write_text(text)
    return text
