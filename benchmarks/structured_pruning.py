"""Structured pruning benchmark (issue #18): fewer MACs, real LiteRT latency, accuracy kept.

Two Keras 3 models on the embedded digits data, each pruned with
``tg.pruning.shrink(model, None, x, y, macs=..., steps=2, ...)`` (channels removed in two
steps with fine-tuning between them) and exported to LiteRT float32 and INT8:

* the compute-bound reference CNN of ``benchmarks/export.py`` (digits upsampled 4x to 32x32,
  3x3 convs 32-32-pool-64-64-pool-128, GAP, Dense), rebuilt here in Keras 3 with the same
  layers and names, at 50% of its MACs: float32 batch-1 latency >= 1.7x faster and
  accuracy within 1 point of the unpruned model; INT8 measured beside it;
* a ResNet-style model of our own (digits upsampled to 16x16, three stages of residual
  blocks with BatchNormalization and ``Add`` skips, 1x1 projection shortcuts) at 60% of its
  MACs (40% fewer): accuracy within 1.5 points.

Latencies: batch 1, one thread, ai-edge-litert ``Interpreter`` (XNNPACK); the variants are
timed interleaved in rounds (each round times every variant once, ``calls`` invokes each)
and each speed-up is the median of the per-round ratios. INT8 time: ai-edge-litert 2.3's
Python API has no op profiler, so the INT8 breakdown is measured by variants: the same
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
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TF 2.21's oneDNN ops abort ("double free or corruption") in fit of the ResNet below.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
import numpy as np
import tensorflow as tf
from _results import write_section
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import tf_green as tg


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


def to_litert(model: keras.Model, int8: bool = False, int8_io: bool = True, calib=None) -> bytes:
    """Keras 3 -> LiteRT through a batch-1 SavedModel (builtin ops; INT8 fully quantized).

    A local helper until ``tg.to_tflite`` takes Keras 3 models (H-EXPORT, this session).
    """
    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
        archive.add_endpoint("serve", lambda x: model(x, training=False), input_signature=[spec])
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([row[None]] for row in calib)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if int8_io:
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        return converter.convert()


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


def prune_case(model, x, y, xv, yv, macs, epochs, steps, criterion, round_to, ratio=None):
    start = time.time()
    small, report = tg.pruning.shrink(
        model, ratio, x, y, macs=macs, steps=steps, epochs=epochs, validation_data=(xv, yv),
        criterion=criterion, round_to=round_to,
    )  # fmt: skip
    return small, report, time.time() - start


def variants(base, small, x_calib) -> dict[str, bytes]:
    return {
        "unpruned float32": to_litert(base),
        "pruned float32": to_litert(small),
        "unpruned int8": to_litert(base, int8=True, calib=x_calib),
        "pruned int8": to_litert(small, int8=True, calib=x_calib),
        "pruned int8 (float I/O)": to_litert(small, int8=True, int8_io=False, calib=x_calib),
    }


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


def _ratio_text(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{name} {r:g}" for name, r in value.items())
    return f"{value:.3f}"


def steps_table(report) -> str:
    lines = ["| step | ratio | MACs kept | val accuracy after fine-tuning |"]
    lines.append("|---:|---:|---:|---:|")
    for row in report.attrs["steps"]:
        lines.append(
            f"| {row['step']} | {_ratio_text(row['ratio'])} | {row['macs_kept']:.3f} | "
            f"{row.get('val_accuracy', float('nan')):.4f} |"
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


def run_case(title, base, x, y, xv, yv, *, macs, epochs, prune_epochs, steps, criterion,
             round_to, rounds, calls, ratio=None):  # fmt: skip
    t0 = time.time()
    if epochs:
        base.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    base_acc = float(base.evaluate(xv, yv, verbose=0)[1])
    small, report, prune_s = prune_case(base, x, y, xv, yv, macs, prune_epochs, steps, criterion,
                                        round_to, ratio)  # fmt: skip
    small_acc = float(small.evaluate(xv, yv, verbose=0)[1])
    print(f"[{time.time() - t0:.0f}s] {title}: trained and pruned", flush=True)
    contents = variants(base, small, x[:300])
    runners = {label: Runner(content) for label, content in contents.items()}
    accs = {label: runner.accuracy(xv, yv) for label, runner in runners.items()}
    extra = {"pruned int8 (no XNNPACK)": Runner(contents["pruned int8"], delegate=False)}
    per_round = interleaved({**runners, **extra}, xv[:1], rounds, calls)
    print(f"[{time.time() - t0:.0f}s] {title}: exported and timed", flush=True)
    return {
        "model": base,
        "base_acc": base_acc,
        "small_acc": small_acc,
        "report": report,
        "prune_s": prune_s,
        "contents": contents,
        "runners": runners,
        "accs": accs,
        "per_round": per_round,
    }


def ops_line(runners) -> str:
    parts = []
    for label in ("unpruned int8", "pruned int8", "pruned int8 (float I/O)"):
        ops = ", ".join(f"{op} {n}" for op, n in sorted(runners[label].ops.items()))
        parts.append(f"- `{label}`: {ops}")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run; prints, no RESULTS.md")
    args = parser.parse_args()
    quick = args.quick
    keras.utils.set_random_seed(0)
    (x, y), (xv, yv) = tg.datasets.digits()
    x, xv = x.astype("float32"), xv.astype("float32")
    rounds, calls = (5, 10) if quick else (15, 30)
    t0 = time.time()

    cnn = run_case(
        "cnn", compiled(compute_bound_cnn(16 if quick else 32)), x, y, xv, yv, macs=0.5,
        epochs=2 if quick else 10, prune_epochs=1 if quick else 2, steps=2, criterion="l1",
        round_to=8, rounds=rounds, calls=calls,
    )  # fmt: skip
    # The same trained CNN, per-layer ratios whose widths are multiples of 16 (16/48/96):
    # XNNPACK's float32 convs here run 24-channel layers about as slowly as 32-channel ones.
    per_layer = {"conv0": 0.5, "conv1": 0.5, "conv3": 0.25, "conv4": 0.25, "conv6": 0.25}
    cnn16 = run_case(
        "cnn per-layer", cnn["model"], x, y, xv, yv, macs=None, ratio=per_layer, epochs=0,
        prune_epochs=2 if quick else 4, steps=1, criterion="l1", round_to=1, rounds=rounds,
        calls=calls,
    )  # fmt: skip
    res = run_case(
        "resnet", compiled(resnet(8 if quick else 16)), x, y, xv, yv, macs=0.6,
        epochs=2 if quick else 12, prune_epochs=1 if quick else 2, steps=2, criterion="l1",
        round_to=1, rounds=rounds, calls=calls,
    )  # fmt: skip

    sections, verdicts = [], []
    for key, case, title in (
        ("cnn", cnn, "Compute-bound reference CNN (`benchmarks/export.py`, Keras 3)"),
        (
            "cnn per-layer",
            cnn16,
            "The same trained CNN, per-layer ratios to widths that are multiples of 16 "
            "(conv0/conv1 16, conv3/conv4 48, conv6 96: one step, 4 fine-tuning epochs)",
        ),
        ("resnet", res, "ResNet-style model (BatchNorm, Add skips, projection shortcuts)"),
    ):
        pr, rep = case["per_round"], case["report"]
        kept = rep.attrs["macs_after"] / rep.attrs["macs_before"]
        f32 = ratio(pr, "unpruned float32", "pruned float32")
        i8 = ratio(pr, "unpruned int8", "pruned int8")
        io = ratio(pr, "pruned int8 (float I/O)", "pruned int8")
        xnn = ratio(pr, "pruned int8 (no XNNPACK)", "pruned int8")
        f32_vs_i8 = ratio(pr, "pruned float32", "pruned int8")
        drop_keras = case["base_acc"] - case["small_acc"]
        drop_lite = case["accs"]["unpruned float32"] - case["accs"]["pruned float32"]
        case.update(kept=kept, f32=f32, i8=i8, drop=max(drop_keras, drop_lite))
        keras_accs = {False: case["base_acc"], True: case["small_acc"]}
        sections.append(
            f"### {title}\n\n"
            f"MACs kept: {kept:.3f} (target {rep.attrs['macs_target']}), params "
            f"{rep.attrs['params_before']:,} -> {rep.attrs['params_after']:,}; pruning + "
            f"fine-tuning took {case['prune_s']:.0f} s.\n\n"
            + case_table(key, case["contents"], case["runners"], pr, case["accs"], rep, keras_accs)
            + "\n\nSpeed-ups (median of per-round ratios, batch 1, 1 thread): "
            f"**float32 pruned vs unpruned {f32:.2f}x**, INT8 pruned vs unpruned {i8:.2f}x, "
            f"pruned float32 vs pruned INT8 {f32_vs_i8:.2f}x.\n\n"
            "INT8 time, by variant (ai-edge-litert 2.3's Python API exposes no op profiler): "
            f"float32 I/O (QUANTIZE + DEQUANTIZE at the I/O) costs {io:.2f}x the int8-I/O "
            f"model; without the XNNPACK delegate (builtin kernels) the pruned INT8 model "
            f"takes {xnn:.2f}x as long. Ops of each INT8 graph:\n\n"
            + ops_line(case["runners"])
            + "\n\nSteps:\n\n"
            + steps_table(rep)
            + "\n\nChannels and MACs per layer (first step's before -> last step's after):\n\n"
            + channels_table(rep)
        )
    verdicts.append(
        (
            "compute-bound CNN at 50% MACs: float32 >= 1.7x faster, accuracy within 1 point",
            cnn["f32"] >= 1.7 and cnn["drop"] <= 0.01 and cnn["kept"] <= 0.5,
            f"{cnn['f32']:.2f}x, drop {100 * cnn['drop']:.2f} points, MACs {cnn['kept']:.3f}",
        )
    )
    verdicts.append(
        (
            "compute-bound CNN, per-layer widths in multiples of 16, <= 50% MACs: float32 "
            ">= 1.7x faster, accuracy within 1 point",
            cnn16["f32"] >= 1.7 and cnn16["drop"] <= 0.01 and cnn16["kept"] <= 0.5,
            f"{cnn16['f32']:.2f}x, drop {100 * cnn16['drop']:.2f} points, MACs {cnn16['kept']:.3f}",
        )
    )
    verdicts.append(
        (
            "ResNet-style at 40% fewer MACs: accuracy within 1.5 points",
            res["drop"] <= 0.015 and res["kept"] <= 0.6,
            f"drop {100 * res['drop']:.2f} points, MACs {res['kept']:.3f}",
        )
    )
    bars = "\n".join(
        f"- {'PASS' if ok else 'FAIL'}: {text} ({detail})" for text, ok, detail in verdicts
    )
    body = (
        "Digits (1,347 train / 450 validation), Keras 3 on TensorFlow. "
        "`tg.pruning.shrink(model, None, x, y, macs=..., steps=2, epochs=2, round_to=...)` "
        "removes whole channels in two steps (each to an equal share of the MACs target, "
        "fine-tuned after it). Accuracy drop = max of the Keras and the LiteRT float32 drop. "
        "LiteRT export through a local SavedModel helper (tg.to_tflite for Keras 3 was not in "
        "yet). The machine was shared with other engineers' jobs (2 cores): latencies were "
        f"timed interleaved, {rounds} rounds x {calls} invokes per variant, and each speed-up "
        "is the median of the per-round ratios.\n\n"
        f"{bars}\n\n" + "\n\n".join(sections) + f"\n\nTotal run time {time.time() - t0:.0f} s."
    )
    print(body)
    if not quick:
        write_section("structured-pruning", body)


if __name__ == "__main__":
    main()
