"""Structured pruning benchmark (issue #18): fewer MACs, real LiteRT latency, energy, accuracy.

Keras 3 models on the embedded digits data, pruned with ``tg.pruning.shrink`` in two steps
with fine-tuning between them, with the default hardware-aware widths (``round_to="auto"``:
multiples of 16 channels for layers of 32 or more, chosen by the MACs allocation of
``tf_green.pruning.structured.widths``), and exported with ``tg.to_tflite`` to float32 and to
INT8 (``quantization="int8", int8_io=True``):

* the compute-bound reference CNN of ``benchmarks/export.py`` (digits upsampled 4x to 32x32,
  3x3 convs 32-32-pool-64-64-pool-128, GAP, Dense), rebuilt here in Keras 3 with the same
  layers and names, at 50% of its MACs (``macs=0.5``): float32 batch-1 latency >= 1.7x
  faster and accuracy within 1 point of the unpruned model; INT8 measured beside it;
* the same trained CNN with a *measured* latency target (``latency=0.5``: half the
  unpruned float32 LiteRT batch-1 latency), the report's latency per step;
* a ResNet-style model of our own (digits upsampled to 16x16, three stages of residual
  blocks with BatchNormalization and ``Add`` skips, 1x1 projection shortcuts) at 60% of its
  MACs (40% fewer): accuracy within 1.5 points.

Baselines are trained to convergence (EarlyStopping on a held-out 15% of the training data,
restore_best_weights), and each accuracy drop is the worse of the drop vs that baseline and
vs an equal-budget control (the unpruned baseline fine-tuned for the same extra epochs as
the pruned model). The INT8 pruned model is also exported with a static batch-1 input to
time the dynamic-batch shape ops (SHAPE, STRIDED_SLICE, CONCATENATION, EXPAND_DIMS).

Latencies: batch 1, one thread, ai-edge-litert ``Interpreter`` (XNNPACK); the variants are
timed interleaved in rounds (each round times every variant once, ``calls`` invokes each)
and each speed-up is the median of the per-round ratios. Energy: ``tg.Bench`` profiles the
four exports (unpruned/pruned x float32/INT8) with its energy windows (estimated, see the
caveat) and analytic energy, and its break-even uses the compression energy measured with
``EnergyMeter`` around pruning + fine-tuning and each conversion. INT8 time: ai-edge-litert
2.3's Python API has no op profiler, so the INT8 breakdown is measured by variants: the same
INT8 model with float32 vs int8 I/O (the QUANTIZE/DEQUANTIZE at the I/O), with and without
the XNNPACK delegate, and the op counts of each graph (ADD at residual joins, pooling).

Usage:
    .venv/bin/python benchmarks/structured_pruning.py           # full run, writes RESULTS.md
    .venv/bin/python benchmarks/structured_pruning.py --quick   # smoke run, prints only
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TF 2.21's oneDNN ops abort ("double free or corruption") in fit of the ResNet below.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
import numpy as np
from _results import write_section
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import tf_green as tg
from tf_green.bench import ESTIMATE_CAVEAT, Bench, EnergyMeter
from tf_green.bench.report import markdown_table
from tf_green.quantization import TFLiteModel


def compute_bound_cnn(filters: int = 32, num_classes: int = 10) -> keras.Model:
    """``benchmarks/export.py``'s compute-bound reference CNN, in Keras 3 (same layers)."""
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.UpSampling2D(4, name="upsample")(inputs)
    for i, width in enumerate((filters, filters, None, 2 * filters, 2 * filters, None)):
        if width is None:
            h = keras.layers.MaxPooling2D(name=f"pool{i}")(h)
        else:
            h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{i}")(h)
    h = keras.layers.Conv2D(4 * filters, 3, padding="same", activation="relu", name="conv6")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name=f"compute_bound_cnn_{filters}")


def _conv_bn(h, filters, name, strides=1, kernel=3, relu=True):
    h = keras.layers.Conv2D(
        filters, kernel, strides=strides, padding="same", use_bias=False, name=name
    )(h)
    h = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(h)
    return keras.layers.ReLU(name=f"{name}_relu")(h) if relu else h


def resnet(width: int = 16, num_classes: int = 10) -> keras.Model:
    """A small ResNet: digits upsampled to 16x16, three stages of one residual block each."""
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.UpSampling2D(2, name="upsample")(inputs)
    h = _conv_bn(h, width, "stem")
    for stage, filters in enumerate((width, 2 * width, 4 * width)):
        strides = 1 if stage == 0 else 2
        shortcut = h
        if strides != 1 or h.shape[-1] != filters:
            shortcut = _conv_bn(h, filters, f"s{stage}_proj", strides, kernel=1, relu=False)
        r = _conv_bn(h, filters, f"s{stage}_a", strides)
        r = _conv_bn(r, filters, f"s{stage}_b", relu=False)
        h = keras.layers.Add(name=f"s{stage}_add")([shortcut, r])
        h = keras.layers.ReLU(name=f"s{stage}_out")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name="resnet_digits")


def compiled(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(learning_rate), loss, metrics=["accuracy"])
    return model


def fit_converged(model: keras.Model, x, y, *, max_epochs: int, patience: int, seed: int = 0):
    """Train to convergence: EarlyStopping on a held-out 15% of the TRAINING data.

    The split is stratification-free but shuffled with a fixed seed; ``restore_best_weights``
    keeps the epoch with the best held-out loss. Returns the number of epochs run and the
    best epoch (1-based).
    """
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.85 * len(x))
    fit, held = order[:cut], order[cut:]
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    history = model.fit(
        x[fit], y[fit], epochs=max_epochs, batch_size=32, verbose=0,
        validation_data=(x[held], y[held]), callbacks=[stop],
    )  # fmt: skip
    losses = history.history["val_loss"]
    return len(losses), int(np.argmin(losses)) + 1


def equal_budget_control(base: keras.Model, x, y, epochs: int) -> keras.Model:
    """The UNPRUNED model fine-tuned for the same extra epochs the pruned one got.

    Same data (all of ``x``), batch size and a fresh optimizer compiled like ``base``, as
    ``tg.pruning.shrink``'s fine-tuning does (``compile_like``).
    """
    control = keras.models.clone_model(base)
    control.set_weights(base.get_weights())
    compiled(control, float(keras.ops.convert_to_numpy(base.optimizer.learning_rate)))
    control.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return control


def static_batch1(model: keras.Model) -> keras.Model:
    """A clone of a functional ``model`` with a static batch-1 input (same weights)."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = [1, *layer["config"]["batch_shape"][1:]]
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def to_litert(model: keras.Model, int8: bool = False, int8_io: bool = True, calib=None) -> bytes:
    """``tg.to_tflite``: float32, or full INT8 calibrated on ``calib`` (int8 I/O by default)."""
    if not int8:
        return tg.to_tflite(model)
    return tg.to_tflite(model, quantization="int8", representative_data=calib, int8_io=int8_io)


class Runner:
    """One LiteRT model at batch 1 on one thread; int8 I/O quantized here."""

    def __init__(self, content: bytes, delegate: bool = True):
        kind = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interpreter = Interpreter(
            model_content=content, num_threads=1, experimental_op_resolver_type=kind
        )
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.ops = collections.Counter(
            op["op_name"]
            for op in self.interpreter._get_ops_details()
            if op["op_name"] != "DELEGATE"
        )

    def feed(self, x1: np.ndarray) -> np.ndarray:
        if self.input["dtype"] == np.int8:
            scale, zero = self.input["quantization"]
            return np.clip(np.round(x1 / scale) + zero, -128, 127).astype(np.int8)
        return x1.astype(np.float32)

    def run(self, fed: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], fed)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        hits = sum(int(np.argmax(self.run(self.feed(x[i : i + 1]))) == y[i]) for i in range(len(x)))
        return hits / len(x)


def interleaved(runners: dict[str, Runner], x1: np.ndarray, rounds: int, calls: int) -> dict:
    """Per-round medians (ms) of every runner, timed interleaved so drift hits all alike."""
    fed = {name: runner.feed(x1) for name, runner in runners.items()}
    for name, runner in runners.items():
        for _ in range(20):
            runner.run(fed[name])
    per_round: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                runner.run(fed[name])
                times.append((time.perf_counter() - start) * 1e3)
            per_round[name].append(statistics.median(times))
    return per_round


def ratio(per_round: dict, slow: str, fast: str) -> float:
    return statistics.median(a / b for a, b in zip(per_round[slow], per_round[fast], strict=True))


def prune_case(model, x, y, xv, yv, *, epochs, steps, **target):
    """``tg.pruning.shrink`` in ``steps`` with fine-tuning, inside an EnergyMeter."""
    start = time.time()
    with EnergyMeter() as meter:
        small, report = tg.pruning.shrink(
            model, None, x, y, steps=steps, epochs=epochs, validation_data=(xv, yv), **target
        )
    return small, report, time.time() - start, meter


def variants(base, small, x_calib) -> tuple[dict[str, bytes], dict[str, EnergyMeter]]:
    """The exports (``tg.to_tflite``) and the energy of each conversion."""
    plan = {
        "unpruned float32": (base, {}),
        "pruned float32": (small, {}),
        "unpruned int8": (base, {"int8": True}),
        "pruned int8": (small, {"int8": True}),
        "pruned int8 (float I/O)": (small, {"int8": True, "int8_io": False}),
        "pruned int8 (static batch 1)": (static_batch1(small), {"int8": True}),
    }
    contents, meters = {}, {}
    for label, (model, options) in plan.items():
        with EnergyMeter() as meter:
            contents[label] = to_litert(model, calib=x_calib, **options)
        meters[label] = meter
    return contents, meters


BENCHED = ("unpruned float32", "pruned float32", "unpruned int8", "pruned int8")


def energy_bench(contents, meters, prune_meter, xv, yv, repeats, window_s) -> dict:
    """tg.Bench over the four exports: estimated and analytic energy, and break-even."""
    bench = Bench(xv, yv, energy=True, repeats=repeats, energy_window_s=window_s)
    for label in BENCHED:
        bench.add(label, TFLiteModel(contents[label], num_threads=1, name=label))
    results = bench.run(progress=False)
    costs = {}
    for label in BENCHED[1:]:
        parts = [meters[label]] + ([prune_meter] if label.startswith("pruned") else [])
        if all(part.available for part in parts):
            costs[label] = sum(part.energy_j for part in parts)
    measured = bench.break_even(costs) if costs else None
    analytic = bench.break_even(costs, basis="analytic") if costs else None
    return {"results": results, "measured": measured, "analytic": analytic, "costs": costs}


def energy_text(meter: EnergyMeter) -> str:
    if not meter.available:
        return f"n/a ({meter.method})"
    return f"{meter.energy_j:.1f} J in {meter.duration_s:.1f} s"


def energy_section(case) -> str:
    energy = case["energy"]
    frame = energy["results"]
    lines = [
        "Energy (`tg.Bench`, the four exports; baseline `unpruned float32`; "
        f"energy method: {'; '.join(sorted(set(frame['energy_method'])))}):",
        "",
        markdown_table(
            frame,
            [
                "name",
                "metric_value",
                "flops_per_sample",
                "latency_ms_p50",
                "speedup",
                "energy_j_per_1k",
                "energy_j_per_1k_min",
                "energy_j_per_1k_max",
                "energy_reduction",
                "analytic_energy_j_per_1k",
                "analytic_energy_reduction",
            ],
        ),
        "",
        "Compression energy (EnergyMeter): pruning + fine-tuning "
        + energy_text(case["prune_meter"])
        + "; conversions: "
        + "; ".join(f"{n} {energy_text(m)}" for n, m in case["meters"].items())
        + ". A pruned export pays for the pruning and its conversion.",
    ]
    if energy["measured"] is not None:
        table = energy["measured"].merge(
            energy["analytic"][["name", "saved_j_per_1k", "break_even_inferences"]],
            on="name",
            suffixes=("_measured", "_analytic"),
        )
        lines += [
            "",
            "Break-even (inferences until the saved energy repays the compression energy):",
            "",
            markdown_table(
                table,
                [
                    "name",
                    "compression_energy_j",
                    "saved_j_per_1k_measured",
                    "break_even_inferences_measured",
                    "saved_j_per_1k_analytic",
                    "break_even_inferences_analytic",
                    "status",
                ],
            ),
        ]
    return "\n".join(lines)


def case_table(name, contents, runners, per_round, accs, report, keras_accs) -> str:
    lines = [
        f"| {name} | MACs | params | Keras acc | LiteRT acc | KB | p50 ms (median of rounds) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, content in contents.items():
        pruned = label.startswith("pruned")
        macs = report.attrs["macs_after" if pruned else "macs_before"]
        params = report.attrs["params_after" if pruned else "params_before"]
        lines.append(
            f"| {label} | {macs / 1e6:.2f}M | {params:,} | "
            f"{keras_accs[pruned]:.4f} | {accs[label]:.4f} | {len(content) / 1024:.0f} | "
            f"{statistics.median(per_round[label]):.3f} |"
        )
    return "\n".join(lines)


def _widths_text(row) -> str:
    widths = row.get("widths")
    if widths is None:
        return str(row["ratio"])
    return ", ".join(f"{name} {w}" for name, w in widths.items()) or "(none)"


def steps_table(report) -> str:
    timed = "latency" in report.attrs["steps"][0]
    lines = [
        "| step | channels removed | widths cut to | MACs kept | "
        + ("measured latency (fraction, ms) | " if timed else "")
        + "val accuracy after fine-tuning |"
    ]
    lines.append("|---:|---:|---|---:|" + ("---:|" if timed else "") + "---:|")
    for row in report.attrs["steps"]:
        latency = (
            f"{row['latency']:.3f} ({row['latency_ms']:.3f} vs {row['latency_ms_original']:.3f}) | "
            if timed
            else ""
        )
        lines.append(
            f"| {row['step']} | {row['ratio']:.3f} | {_widths_text(row)} | "
            f"{row['macs_kept']:.3f} | {latency}{row.get('val_accuracy', float('nan')):.4f} |"
        )
    return "\n".join(lines)


def channels_table(report) -> str:
    last = report.xs(report.index.get_level_values("step").max(), level="step")
    first = report.xs(1, level="step")
    rows = first[first["macs_before"] > 0].index
    lines = ["| layer | channels | MACs |", "|---|---:|---:|"]
    for layer in rows:
        lines.append(
            f"| {layer} | {first.loc[layer, 'channels_before']} -> "
            f"{last.loc[layer, 'channels_after']} | {first.loc[layer, 'macs_before']:,} -> "
            f"{last.loc[layer, 'macs_after']:,} |"
        )
    return "\n".join(lines)


def run_case(title, base, x, y, xv, yv, *, epochs, prune_epochs, steps, rounds, calls,
             energy=None, control=None, **target):  # fmt: skip
    """``epochs=(max_epochs, patience)`` trains ``base`` to convergence first (None: trained).

    ``control``: an equal-budget control accuracy already measured for this ``base`` and
    budget (else the unpruned model is fine-tuned ``steps * prune_epochs`` epochs here).
    """
    t0 = time.time()
    trained = None
    if epochs:
        trained = fit_converged(base, x, y, max_epochs=epochs[0], patience=epochs[1])
    base_acc = float(base.evaluate(xv, yv, verbose=0)[1])
    small, report, prune_s, prune_meter = prune_case(
        base, x, y, xv, yv, epochs=prune_epochs, steps=steps, **target
    )
    small_acc = float(small.evaluate(xv, yv, verbose=0)[1])
    if control is None:
        control_model = equal_budget_control(base, x, y, steps * prune_epochs)
        control = float(control_model.evaluate(xv, yv, verbose=0)[1])
    print(f"[{time.time() - t0:.0f}s] {title}: trained, pruned, control", flush=True)
    contents, meters = variants(base, small, x[:300])
    runners = {label: Runner(content) for label, content in contents.items()}
    accs = {label: runner.accuracy(xv, yv) for label, runner in runners.items()}
    extra = {"pruned int8 (no XNNPACK)": Runner(contents["pruned int8"], delegate=False)}
    per_round = interleaved({**runners, **extra}, xv[:1], rounds, calls)
    print(f"[{time.time() - t0:.0f}s] {title}: exported and timed", flush=True)
    case = {
        "model": base,
        "base_acc": base_acc,
        "small_acc": small_acc,
        "control_acc": control,
        "trained": trained,
        "budget": steps * prune_epochs,
        "report": report,
        "prune_s": prune_s,
        "prune_meter": prune_meter,
        "meters": meters,
        "contents": contents,
        "runners": runners,
        "accs": accs,
        "per_round": per_round,
        "energy": None,
    }
    if energy is not None:
        case["energy"] = energy_bench(contents, meters, prune_meter, xv, yv, *energy)
        print(f"[{time.time() - t0:.0f}s] {title}: benched (energy)", flush=True)
    return case


def ops_line(runners) -> str:
    parts = []
    for label in (
        "unpruned int8",
        "pruned int8",
        "pruned int8 (float I/O)",
        "pruned int8 (static batch 1)",
    ):
        ops = ", ".join(f"{op} {n}" for op, n in sorted(runners[label].ops.items()))
        parts.append(f"- `{label}`: {ops}")
    return "\n".join(parts)


def case_section(key, case, title) -> str:
    pr, rep = case["per_round"], case["report"]
    kept = rep.attrs["macs_after"] / rep.attrs["macs_before"]
    f32 = ratio(pr, "unpruned float32", "pruned float32")
    i8 = ratio(pr, "unpruned int8", "pruned int8")
    io = ratio(pr, "pruned int8 (float I/O)", "pruned int8")
    xnn = ratio(pr, "pruned int8 (no XNNPACK)", "pruned int8")
    static = ratio(pr, "pruned int8", "pruned int8 (static batch 1)")
    f32_vs_i8 = ratio(pr, "pruned float32", "pruned int8")
    drop_keras = case["base_acc"] - case["small_acc"]
    drop_lite = case["accs"]["unpruned float32"] - case["accs"]["pruned float32"]
    drop_control = case["control_acc"] - case["small_acc"]
    drop_base = max(drop_keras, drop_lite)
    drop_i8 = case["accs"]["unpruned int8"] - case["accs"]["pruned int8"]
    case.update(
        kept=kept, f32=f32, i8=i8, drop=max(drop_base, drop_control), drop_base=drop_base,
        drop_control=drop_control, drop_i8=drop_i8, static=static,
    )  # fmt: skip
    shape_ops = ("SHAPE", "STRIDED_SLICE", "CONCATENATION", "EXPAND_DIMS")
    dynamic_ops = case["runners"]["pruned int8"].ops
    n_shape = sum(dynamic_ops.get(op, 0) for op in shape_ops)
    trained = case["trained"]
    baseline = (
        f"trained to convergence here ({trained[0]} epochs, best held-out loss at epoch "
        f"{trained[1]}, weights restored)"
        if trained
        else "the converged model of the case above"
    )
    keras_accs = {False: case["base_acc"], True: case["small_acc"]}
    target = rep.attrs.get("latency_target") or rep.attrs["macs_target"]
    kind = "latency" if rep.attrs.get("latency_target") else "MACs"
    text = (
        f"### {title}\n\n"
        f"MACs kept: {kept:.3f} ({kind} target {target}), params "
        f"{rep.attrs['params_before']:,} -> {rep.attrs['params_after']:,}; pruning + "
        f"fine-tuning took {case['prune_s']:.0f} s.\n\n"
        f"Accuracy (Keras, validation): baseline {case['base_acc']:.4f}, {baseline}; pruned + "
        f"{case['budget']} fine-tuning epochs {case['small_acc']:.4f}; equal-budget control "
        f"(the unpruned baseline fine-tuned the same {case['budget']} epochs) "
        f"{case['control_acc']:.4f}. Drop vs the baseline {100 * drop_base:.2f} points (max "
        f"of Keras and LiteRT float32), vs the control {100 * drop_control:.2f} points; the "
        f"bar uses the worse, {100 * case['drop']:.2f} points.\n\n"
        + case_table(key, case["contents"], case["runners"], pr, case["accs"], rep, keras_accs)
        + "\n\nSpeed-ups (median of per-round ratios, batch 1, 1 thread): "
        f"**float32 pruned vs unpruned {f32:.2f}x**, **INT8 pruned vs unpruned {i8:.2f}x** "
        f"(INT8 accuracy drop {100 * drop_i8:.2f} points), pruned float32 vs pruned INT8 "
        f"{f32_vs_i8:.2f}x.\n\n"
        "INT8 time, by variant (ai-edge-litert 2.3's Python API exposes no op profiler): "
        f"float32 I/O (QUANTIZE + DEQUANTIZE at the I/O) costs {io:.2f}x the int8-I/O "
        f"model; without the XNNPACK delegate (builtin kernels) the pruned INT8 model "
        f"takes {xnn:.2f}x as long. Shape plumbing: the dynamic-batch export holds {n_shape} "
        "SHAPE/STRIDED_SLICE/CONCATENATION/EXPAND_DIMS ops (the batch size read at run time "
        f"for UpSampling2D's TILE/RESHAPE) of {sum(dynamic_ops.values())}; the same pruned "
        "model re-exported with a static batch-1 input (`keras.Model.from_config` with "
        "`batch_shape=(1, 8, 8, 1)`, same weights) folds them away and takes "
        f"{1 / static:.2f}x the dynamic export's time (dynamic / static = {static:.2f}x). "
        "Ops of each INT8 graph:\n\n"
        + ops_line(case["runners"])
        + "\n\nSteps:\n\n"
        + steps_table(rep)
        + "\n\nChannels and MACs per layer (first step's before -> last step's after):\n\n"
        + channels_table(rep)
    )
    if case["energy"] is not None:
        text += "\n\n" + energy_section(case)
    return text


def _analytic_vs_macs(case) -> tuple[float, float]:
    frame = case["energy"]["results"].set_index("name")
    analytic = (
        frame.loc["pruned float32", "analytic_energy_j_per_1k"]
        / frame.loc["unpruned float32", "analytic_energy_j_per_1k"]
    )
    return float(analytic), case["kept"]


def _break_even_text(case) -> str:
    even = case["energy"]["measured"]
    if even is None:
        return "no compression energy measured"
    row = even.set_index("name").loc["pruned float32"]
    return f"{row['break_even_inferences']:.3g} inferences ({row['status']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run; prints, no RESULTS.md")
    args = parser.parse_args()
    quick = args.quick
    keras.utils.set_random_seed(0)
    (x, y), (xv, yv) = tg.datasets.digits()
    x, xv = x.astype("float32"), xv.astype("float32")
    rounds, calls = (5, 10) if quick else (15, 30)
    energy = (2, 0.3) if quick else (3, 1.0)  # Bench repeats, energy window (s)
    converge = (3, 1) if quick else (40, 5)  # baseline: max epochs, EarlyStopping patience
    load_before = os.getloadavg()[0]
    t0 = time.time()

    cnn = run_case(
        "cnn", compiled(compute_bound_cnn(16 if quick else 32)), x, y, xv, yv, macs=0.5,
        epochs=converge, prune_epochs=1 if quick else 2, steps=2, rounds=rounds,
        calls=calls, energy=energy,
    )  # fmt: skip
    timed = run_case(
        "cnn latency", cnn["model"], x, y, xv, yv, latency=0.5, epochs=None,
        control=cnn["control_acc"],
        prune_epochs=1 if quick else 2, steps=2, rounds=rounds, calls=calls,
        latency_rounds=3 if quick else 7,
    )  # fmt: skip
    res = run_case(
        "resnet", compiled(resnet(8 if quick else 16)), x, y, xv, yv, macs=0.6,
        epochs=converge, prune_epochs=1 if quick else 2, steps=2, rounds=rounds,
        calls=calls, energy=energy,
    )  # fmt: skip

    sections = [
        case_section("cnn", cnn, "Compute-bound reference CNN (`benchmarks/export.py`, Keras 3)"),
        case_section(
            "cnn latency",
            timed,
            "The same trained CNN with a measured latency target (`latency=0.5`)",
        ),
        case_section(
            "resnet", res, "ResNet-style model (BatchNorm, Add skips, projection shortcuts)"
        ),
    ]
    analytic, macs_kept = _analytic_vs_macs(cnn)
    reached = timed["report"].attrs["latency_after"]
    verdicts = [
        (
            "compute-bound CNN at 50% MACs (default widths): float32 >= 1.7x faster, accuracy "
            "within 1 point",
            cnn["f32"] >= 1.7 and cnn["drop"] <= 0.01 and cnn["kept"] <= 0.5,
            f"{cnn['f32']:.2f}x, drop {100 * cnn['drop']:.2f} points (vs converged baseline "
            f"{100 * cnn['drop_base']:.2f}, vs equal-budget control "
            f"{100 * cnn['drop_control']:.2f}), MACs {cnn['kept']:.3f}; "
            f"INT8 {cnn['i8']:.2f}x",
        ),
        (
            "compute-bound CNN: analytic energy drops with the MACs, and the pruned float32 "
            "export's measured (estimated) break-even is finite",
            abs(analytic - macs_kept) <= 0.1
            and cnn["energy"]["measured"] is not None
            and np.isfinite(
                cnn["energy"]["measured"]
                .set_index("name")
                .loc["pruned float32"]["break_even_inferences"]
            ),
            f"analytic energy x{analytic:.3f} for MACs x{macs_kept:.3f}; break-even "
            + _break_even_text(cnn),
        ),
        (
            "compute-bound CNN, `latency=0.5`: the last measured step is at most 0.5",
            reached is not None and reached <= 0.5,
            f"measured {reached:.3f} after {len(timed['report'].attrs['steps'])} step(s); "
            f"interleaved re-timing {1 / timed['f32']:.3f} of the unpruned latency, drop "
            f"{100 * timed['drop']:.2f} points",
        ),
        (
            "ResNet-style at 40% fewer MACs: accuracy within 1.5 points",
            res["drop"] <= 0.015 and res["kept"] <= 0.6,
            f"drop {100 * res['drop']:.2f} points (vs converged baseline "
            f"{100 * res['drop_base']:.2f}, vs equal-budget control "
            f"{100 * res['drop_control']:.2f}), MACs {res['kept']:.3f}; float32 "
            f"{res['f32']:.2f}x, INT8 {res['i8']:.2f}x",
        ),
    ]
    bars = "\n".join(
        f"- {'PASS' if ok else 'FAIL'}: {text} ({detail})" for text, ok, detail in verdicts
    )
    body = (
        "Digits (1,347 train / 450 validation), Keras 3 on TensorFlow. "
        "`tg.pruning.shrink(model, None, x, y, macs=... | latency=..., steps=2, epochs=2)` "
        "removes whole channels in two steps with fine-tuning after each; widths are the "
        "default hardware-aware ones (`round_to='auto'`). Exports: `tg.to_tflite` (float32; "
        "INT8 with `int8_io=True`). Baselines are trained to convergence (Adam 1e-3, batch 32, "
        f"up to {converge[0]} epochs, EarlyStopping patience {converge[1]} on val_loss of a "
        "held-out 15% of the TRAINING data, restore_best_weights, seed 0). Accuracy drop = the "
        "worse of (a) vs the converged baseline (max of the Keras and the LiteRT float32 drop) "
        "and (b) vs an equal-budget control: the unpruned baseline fine-tuned for the same "
        "extra epochs (steps x epochs) on the same data. The machine was shared with other "
        "engineers' jobs (2 cores; 1-minute load "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end): latencies were "
        f"timed interleaved, {rounds} rounds x {calls} invokes per variant, and each speed-up "
        "is the median of the per-round ratios; energy windows of "
        f"{energy[1]:g} s x {energy[0]}. {ESTIMATE_CAVEAT}\n\n"
        f"{bars}\n\n" + "\n\n".join(sections) + f"\n\nTotal run time {time.time() - t0:.0f} s."
    )
    print(body)
    if not quick:
        write_section("structured-pruning", body)


if __name__ == "__main__":
    main()
