"""The steps of a recipe run: one function per step kind, sharing a :class:`Context`.

Each runner only sequences the library's public calls (``tg.prune``, ``tg.distill``,
``tg.to_tflite``, ``tg.Bench``) and meters the energy each compression step costs with
``tg.EnergyMeter``. :func:`tf_green.workflow.run_recipe` drives them.

Example:
    >>> sorted(RUNNERS)
    ['bench', 'distill', 'export', 'load', 'prune', 'sample', 'save', 'train']
"""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tf_green import loading, models, pruning
from tf_green._engine import engine_of, keras_named, keras_of
from tf_green._engine.models import compile_like, copy_model, is_compiled
from tf_green.bench import Bench, EnergyMeter, Targets
from tf_green.datasets import python_docs_vocabulary
from tf_green.distillation import distill
from tf_green.generation import compare_decoding, generate
from tf_green.quantization import to_tflite
from tf_green.recipe import Step

__all__ = ["RUNNERS", "Context", "is_language_model"]

Progress = Callable[[str], None] | None


@dataclass
class Context:
    """What the steps of one run share: data, options, and every model made so far.

    Example:
        >>> Context(pathlib.Path("."), ((None, None), (None, None)), None, False).models
        {}
    """

    staging: pathlib.Path
    data: tuple
    progress: Progress
    energy: bool
    unsafe_deserialization: bool = False
    engine: str = "keras3"
    models: dict[str, Any] = field(default_factory=dict)
    tflite: dict[str, pathlib.Path] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    step_energy_j: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """Number of classes (or tokens): one more than the largest label seen."""
        (_, y), (_, y_val) = self.data
        return int(max(np.max(y), np.max(y_val))) + 1

    def say(self, message: str) -> None:
        """Report one line of progress (nothing without a progress callback)."""
        if self.progress is not None:
            self.progress(message)

    def model(self, name: str, step: Step, key: str = "source") -> Any:
        """The Keras model ``name`` made by an earlier step; ValueError naming ``key`` if none."""
        if name not in self.models:
            raise ValueError(
                f"recipe {step.where()}: {key} {name!r} is not a model made by an earlier step; "
                f"known models: {sorted(self.models)}."
            )
        return self.models[name]

    def add(self, name: str, value: Any, step: Step, parent: str | None, energy_j: float) -> None:
        """Record a model (or .tflite path) made by ``step`` from ``parent``."""
        if name in self.models or name in self.tflite:
            raise ValueError(f"recipe {step.where()}: name {name!r} is already used.")
        target = self.tflite if isinstance(value, pathlib.Path) else self.models
        target[name] = value
        self.parents[name] = parent
        self.step_energy_j[name] = energy_j

    def cost_since(self, name: str, baseline: str) -> float:
        """Energy spent making ``name`` from ``baseline`` (the chain of steps in between)."""
        total, node = 0.0, name
        while node is not None and node != baseline:
            total += self.step_energy_j.get(node, 0.0)
            node = self.parents.get(node)
        return total


def _metered(ctx: Context, work: Callable[[], Any]) -> tuple[Any, float]:
    if not ctx.energy:
        return work(), 0.0
    with EnergyMeter() as meter:
        result = work()
    return result, float(meter.energy_j or 0.0)


def _build(args: dict, x: np.ndarray, num_classes: int, step: Step, engine: str) -> Any:
    kind, width = args["model"], args["width"]
    if kind == "cnn":
        return models.cnn(
            width=width, input_shape=x.shape[1:], num_classes=num_classes, engine=engine
        )
    if kind == "mlp":
        keras = keras_named(engine)
        flat = int(np.prod(x.shape[1:]))
        return keras.Sequential(
            [
                keras.Input(x.shape[1:]),
                keras.layers.Reshape((flat,)),
                models.mlp((width, width // 2 or 1), flat, num_classes, engine=engine),
            ]
        )
    if kind == "tiny_lm":
        return models.tiny_lm(
            num_classes,
            d_model=args["d_model"],
            num_layers=args["num_layers"],
            num_heads=args["num_heads"],
            seq_len=x.shape[1],
            name=args["name"],
            engine=engine,
        )
    raise ValueError(
        f"recipe {step.where()}: model must be 'cnn', 'mlp' or 'tiny_lm', got {kind!r}."
    )


def is_language_model(model: Any) -> bool:
    """Whether ``model`` is a token language model (it has a PositionEmbedding layer).

    Example:
        >>> is_language_model(models.mlp())
        False
    """
    # By name and package: each engine has its own PositionEmbedding class.
    return any(
        type(layer).__name__ == "PositionEmbedding"
        and type(layer).__module__.startswith("tf_green")
        for layer in model.layers
    )


def _train(ctx: Context, step: Step) -> None:
    a = step.args
    (x, y), (x_val, y_val) = ctx.data
    model = models.compile_classifier(
        _build(a, x, ctx.num_classes, step, ctx.engine), a["learning_rate"]
    )
    ctx.say(f"train {a['name']}: {model.count_params():,} params, {a['epochs']} epochs")
    _, joules = _metered(
        ctx,
        lambda: model.fit(
            x,
            y,
            epochs=a["epochs"],
            batch_size=a["batch_size"],
            validation_data=(x_val, y_val),
            verbose=0,
        ),
    )
    ctx.add(a["name"], model, step, None, joules)


def _load(ctx: Context, step: Step) -> None:
    a = step.args
    path = pathlib.Path(a["path"])
    if path.suffix == ".tflite":
        if not path.is_file():
            raise ValueError(f"recipe {step.where()}: .tflite file {str(path)!r} does not exist.")
        copy = ctx.staging / f"{a['name']}.tflite"
        shutil.copyfile(path, copy)
        ctx.add(a["name"], copy, step, None, 0.0)
        return
    model = loading.load_model(path, unsafe_deserialization=ctx.unsafe_deserialization)
    ctx.say(f"load {a['name']}: {path} ({model.count_params():,} params)")
    ctx.add(a["name"], model, step, None, 0.0)


def _prune(ctx: Context, step: Step) -> None:
    a = step.args
    (x, y), validation = ctx.data
    source = ctx.model(a["source"], step)
    if a["sparsities"]:
        ctx.say(f"prune {a['name']}: iterative over sparsities {a['sparsities']}")
        result, joules = _metered(
            ctx,
            lambda: pruning.iterative(
                source,
                x,
                y,
                validation_data=validation,
                sparsities=tuple(a["sparsities"]),
                epochs_per_step=a["epochs"],
                max_accuracy_drop=a["max_accuracy_drop"],
            ),
        )
        # The sparsity steps tried, their metric and whether each was kept, for review.
        result.history.to_csv(ctx.staging / f"{a['name']}_iterative.csv", index=False)
        model = result.model
    else:
        ctx.say(f"prune {a['name']}: target sparsity {a['sparsity']}")
        model, joules = _metered(
            ctx,
            lambda: pruning.prune(
                source,
                x,
                y,
                target_sparsity=a["sparsity"],
                epochs=a["epochs"],
                batch_size=a["batch_size"],
                validation_data=validation,
                structure=a["structure"] or None,
                verbose=0,
            ),
        )
    ctx.add(a["name"], model, step, a["source"], joules)


def _distill(ctx: Context, step: Step) -> None:
    a = step.args
    (x, y), validation = ctx.data
    teacher = ctx.model(a["teacher"], step, "teacher")
    if a["student"]:
        template = ctx.model(a["student"], step, "student")
        student = keras_of(template).models.clone_model(template)
    else:
        # The student is built for the teacher's engine: a loaded teacher keeps its file's.
        student = _build(a, x, teacher.output_shape[-1], step, engine_of(teacher))
    ctx.say(f"distill {a['name']}: {teacher.count_params():,} -> {student.count_params():,} params")
    model, joules = _metered(
        ctx,
        lambda: distill(
            teacher,
            student,
            x,
            y,
            epochs=a["epochs"],
            alpha=a["alpha"],
            temperature=a["temperature"],
            validation_data=validation,
            batch_size=a["batch_size"],
            optimizer=keras_of(student).optimizers.Adam(a["learning_rate"]),
            verbose=0,
        ),
    )
    ctx.add(a["name"], model, step, a["teacher"], joules)


def _export(ctx: Context, step: Step) -> None:
    a = step.args
    (x, _), _ = ctx.data
    quantizations = a["quantization"]
    sources = a["sources"] if isinstance(a["sources"], list) else [a["sources"]]
    for source in sources:
        model = ctx.model(source, step, "sources")
        if is_language_model(model):
            # XNNPACK cannot resize a dynamic sequence length: export a static-length view.
            model = models.with_fixed_length(model)
        for quantization in quantizations:
            q = None if quantization in ("float32", "none", "") else quantization
            name = f"{source}_{quantization or 'float32'}"
            path = ctx.staging / f"{name}.tflite"
            ctx.say(f"export {name}")
            calibrated = q in ("int8", "int16x8")  # full-integer modes calibrate activations
            representative = x[: a["representative_samples"]] if calibrated else None
            _, joules = _metered(
                ctx,
                lambda m=model, p=path, q=q, r=representative: to_tflite(
                    m, p, quantization=q, representative_data=r
                ),
            )
            ctx.add(name, path, step, source, joules)


def _save(ctx: Context, step: Step) -> None:
    sources = step.args["sources"]
    for source in sources if isinstance(sources, list) else [sources]:
        model = ctx.model(source, step, "sources")
        path = ctx.staging / f"{source}.keras"
        # The .keras format has no include_optimizer flag and would keep Adam's slots
        # (tripling the file): save a copy compiled like the model with a fresh optimizer,
        # so the file evaluates and fine-tunes again (tf-green prune on it) without them.
        copy = copy_model(model)
        if is_compiled(model):  # an uncompiled model (say, loaded as is) is saved as is
            compile_like(copy, model)
        copy.save(path)
        ctx.say(f"save {source} -> {path.name}")


def _bench(ctx: Context, step: Step) -> None:
    a = step.args
    _, (x_val, y_val) = ctx.data
    baseline = a["baseline"]
    names = a["variants"] or [*ctx.models, *ctx.tflite]
    if baseline not in names:
        names = [baseline, *names]
    targets = Targets(
        max_metric_drop=a["max_metric_drop"], min_size_reduction=a["min_size_reduction"]
    )
    bench = Bench(
        x_val,
        y_val,
        metric=a["metric"],
        baseline=baseline,
        targets=targets,
        energy=a["energy"] and ctx.energy,  # run_recipe(energy=False) skips all metering
        repeats=a["repeats"],
        energy_window_s=a["energy_window_s"],
    )
    for name in names:
        if name in ctx.models:
            bench.add(name, ctx.models[name])
        elif name in ctx.tflite:
            bench.add(name, ctx.tflite[name])
        else:
            raise ValueError(
                f"recipe {step.where()}: variant {name!r} was not made by an earlier step; "
                f"known: {sorted([*ctx.models, *ctx.tflite])}."
            )
    ctx.say(f"bench {len(names)} variants (baseline {baseline})")
    table = bench.run(progress=ctx.progress is not None)
    costs = {n: ctx.cost_since(n, baseline) for n in names if n != baseline}
    bench.report(ctx.staging, compression_energy_j=costs if ctx.energy else None)
    ctx.outputs["table"] = table
    ctx.outputs["report"] = "report.md"


def _sample(ctx: Context, step: Step) -> None:
    a = step.args
    vocab = python_docs_vocabulary()
    lines = [f"# Samples\n\nPrompt: `{a['prompt']!r}`, temperature {a['temperature']}.\n"]
    sources = a["sources"] if isinstance(a["sources"], list) else [a["sources"]]
    for source in sources:
        model = ctx.models.get(source) or ctx.tflite.get(source)
        if model is None:
            raise ValueError(
                f"recipe {step.where()}: sources {source!r} was not made by an earlier step."
            )
        text = generate(
            model,
            a["prompt"],
            a["max_new_tokens"],
            vocab=vocab,
            temperature=a["temperature"],
            seed=0,
            errors="replace",
        )
        ctx.say(f"sample {source}: {text[:60]!r}...")
        lines.append(f"## {source}\n\n```text\n{a['prompt']}{text}\n```\n")
    if a["compare_cache"]:
        lines += _cache_comparison(ctx, step, vocab)
    (ctx.staging / "samples.md").write_text("\n".join(lines))


def _cache_comparison(ctx: Context, step: Step, vocab: Any) -> list[str]:
    """Greedy decoding of each ``compare_cache`` model with and without its key/value cache."""
    a = step.args
    lines = [
        "## Cached vs uncached decoding\n",
        f"Greedy, {a['compare_tokens']} tokens after the prompt, wall clock, the two paths "
        "interleaved in 3 rounds (medians).\n",
        "| model | cached ms/token | uncached ms/token | speedup | same tokens |",
        "|---|---:|---:|---:|---|",
    ]
    for source in a["compare_cache"]:
        model = ctx.models.get(source) or ctx.tflite.get(source)
        if model is None:
            raise ValueError(
                f"recipe {step.where()}: compare_cache {source!r} was not made by an earlier step."
            )
        result = compare_decoding(
            model, a["prompt"], a["compare_tokens"], vocab=vocab, errors="replace"
        )
        if not result.same_tokens:
            raise RuntimeError(
                f"recipe {step.where()}: {source!r} generated different greedy tokens with and "
                "without its key/value cache; the cache path is wrong for this model."
            )
        ctx.say(
            f"decode {source}: cached {result.cached_ms_per_token:.2f} ms/token, uncached "
            f"{result.uncached_ms_per_token:.2f} ms/token ({result.speedup:.1f}x), same tokens"
        )
        lines.append(
            f"| {source} | {result.cached_ms_per_token:.3f} | "
            f"{result.uncached_ms_per_token:.3f} | {result.speedup:.1f}x | yes |"
        )
    return lines


RUNNERS: dict[str, Callable[[Context, Step], None]] = {
    "train": _train,
    "load": _load,
    "prune": _prune,
    "distill": _distill,
    "export": _export,
    "save": _save,
    "sample": _sample,
    "bench": _bench,
}
