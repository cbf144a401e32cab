"""SLM benchmark: a lean task-specific character LM by distill -> prune -> quantize for LiteRT.

Teacher: ``tiny_lm(vocab, d_model=128, num_layers=4, num_heads=4)`` (~828k parameters),
trained here on the standard library's help text (``tg.datasets.python_docs``, ~465k
characters; the last 10% held out). Student: ``tiny_lm(vocab, 48, 2, 4)`` (~70k parameters,
~12x fewer). Both arms of the student comparison (trained from scratch on the labels, and
distilled with ``tg.distill``: T=1, alpha=0.5, cached teacher logits; chosen by the sweep
in RESULTS.md) get the same optimizer, learning rate, epochs and seeds. The distilled
student (seed 0) is then pruned to 50% with ``tg.prune`` and exported with ``tg.to_tflite``
(static sequence length, ``tg.models.with_fixed_length``) as dynamic-range INT8, full INT8,
``"int16x8"`` (int8 weights, 16-bit activations, ai-edge-quantizer) and ``"int4"`` (INT4
blockwise-32 weights, float activations, ai-edge-quantizer). Perplexity of every export on
all held-out windows; ``tg.Bench`` measures size, latency and energy in interleaved rounds
(medians), with perplexity as the metric.

Energy per 1k generated tokens: generation without a KV cache runs one batch-1 forward
pass over the (sliding) 64-token context per generated token, so the bench's energy per 1k
batch-1 inferences *is* the energy per 1k generated tokens (uncached), and latency p50 at
batch 1 is the latency per token. Cached decoding: ``benchmarks/slm_decoding.py``.

Usage:
    .venv/bin/python benchmarks/slm.py           # full run (~15-20 min), writes RESULTS.md
    .venv/bin/python benchmarks/slm.py --quick   # smoke run (~3 min), prints only
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from _results import write_section
from ai_edge_litert import schema_py_generated as schema

import tf_green as tg
from tf_green._keras import keras
from tf_green.bench.report import markdown_table
from tf_green.quantization import TFLiteModel, precision_report

TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


def perplexity(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    logits = model.predict(x, batch_size=64, verbose=0)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None].astype(np.int64), axis=-1)
    return float(np.exp(-picked.mean()))


def tflite_perplexity(content: bytes, x: np.ndarray, y: np.ndarray) -> float:
    logits = TFLiteModel(content).predict(x)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None].astype(np.int64), axis=-1)
    return float(np.exp(-picked.mean()))


def precision_summary(content: bytes) -> str:
    """Dense-layer and lookup-table bits and the ops left in float, from the flatbuffer."""
    report = precision_report(content)
    parts = []
    for op, label in (("FULLY_CONNECTED", ""), ("EMBEDDING_LOOKUP", "lookup ")):
        dense = report[report.op == op]
        kinds = dense.groupby(
            [
                dense.weight_bits.astype(str),
                dense.weight_granularity.fillna("float"),
                dense.activation_bits.astype(str),
            ]
        ).size()
        parts += [f"{n} x {label}w{w}/{g}/a{a}" for (w, g, a), n in kinds.items()]
    compute = report[
        ~report.op.isin(
            [
                "QUANTIZE",
                "DEQUANTIZE",
                "SHAPE",
                "GATHER",
                "PACK",
                "REDUCE_PROD",
                "CONCATENATION",
                "RESHAPE",
            ]
        )
    ]
    floats = compute[compute.activation_dtype == "float32"].op.value_counts()
    left = ", ".join(f"{op} x{n}" for op, n in floats.items()) or "none"
    return f"{'; '.join(parts)} | {left}"


def anatomy(content: bytes) -> str:
    """Where a .tflite file's bytes go: constant data by type, and the rest (graph, names)."""
    model = schema.Model.GetRootAs(content, 0)
    by_type: dict[str, int] = {}
    names = 0
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for i in range(graph.TensorsLength()):
            tensor = graph.Tensors(i)
            names += len(tensor.Name() or b"")
            size = model.Buffers(tensor.Buffer()).DataLength()
            if size:
                kind = TYPE_NAMES.get(tensor.Type(), str(tensor.Type())).lower()
                by_type[kind] = by_type.get(kind, 0) + size
    data = sum(by_type.values())
    parts = ", ".join(f"{k} {v:,}" for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]))
    return (
        f"{len(content):,} bytes: constants {data:,} ({parts}); tensor names {names:,}; "
        f"graph structure, quantization parameters and alignment {len(content) - data - names:,}"
    )


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run; prints, writes nothing")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved bench rounds")
    parser.add_argument("--seeds", type=int, default=2, help="student seeds per arm")
    args = parser.parse_args()
    quick = args.quick
    corpus = tg.datasets.python_docs(seq_len=64, max_chars=60_000 if quick else None)
    x, y, x_val, y_val = corpus.x_train, corpus.y_train, corpus.x_val, corpus.y_val
    vocab = len(corpus.vocab)
    teacher_shape = (64, 2, 4) if quick else (128, 4, 4)
    student_shape = (16, 1, 2) if quick else (48, 2, 4)
    teacher_epochs, student_epochs = (2, 2) if quick else (8, 10)
    seeds = tuple(range(1 if quick else args.seeds))
    lr_teacher, lr_student = 2e-3, 3e-3
    started = time.perf_counter()

    keras.utils.set_random_seed(0)
    teacher = tg.models.compile_classifier(
        tg.models.tiny_lm(vocab, *teacher_shape, name="teacher", engine="tf_keras"), lr_teacher
    )
    with tg.EnergyMeter() as teacher_meter:
        teacher.fit(x, y, epochs=teacher_epochs, batch_size=32, verbose=0)
    ppl_teacher = perplexity(teacher, x_val, y_val)
    print(f"teacher {teacher.count_params():,} params: ppl {ppl_teacher:.3f}", flush=True)

    scratch_ppl, distilled_ppl, distilled_models, kd_energy = [], [], [], []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        scratch = tg.models.compile_classifier(
            tg.models.tiny_lm(vocab, *student_shape, engine="tf_keras"), lr_student
        )
        scratch.fit(x, y, epochs=student_epochs, batch_size=32, verbose=0)
        scratch_ppl.append(perplexity(scratch, x_val, y_val))
        keras.utils.set_random_seed(seed)
        fresh = tg.models.tiny_lm(vocab, *student_shape, name="student", engine="tf_keras")
        with tg.EnergyMeter() as meter:
            student = tg.distill(
                teacher,
                fresh,
                x,
                y,
                epochs=student_epochs,
                alpha=0.5,
                temperature=1.0,
                optimizer=keras.optimizers.Adam(lr_student),
                batch_size=32,
            )
        kd_energy.append(meter.energy_j or 0.0)
        distilled_ppl.append(perplexity(student, x_val, y_val))
        distilled_models.append(student)
        print(
            f"seed {seed}: scratch ppl {scratch_ppl[-1]:.3f}, distilled {distilled_ppl[-1]:.3f}",
            flush=True,
        )
    student = distilled_models[0]
    with tg.EnergyMeter() as prune_meter:
        pruned = tg.prune(student, x, y, target_sparsity=0.5, epochs=2 if quick else 3, verbose=0)
    ppl_pruned = perplexity(pruned, x_val, y_val)
    print(f"pruned 50%: ppl {ppl_pruned:.3f}", flush=True)

    fixed = tg.models.with_fixed_length
    teacher_float = tg.to_tflite(fixed(teacher))
    student_float = tg.to_tflite(fixed(student))
    pruned_fixed = fixed(pruned)
    calibration = x[:300]
    exports = {
        "student_tflite_float32": student_float,
        "student_pruned_tflite_dynamic": tg.to_tflite(pruned_fixed, quantization="dynamic"),
        "student_pruned_tflite_int8": tg.to_tflite(
            pruned_fixed, quantization="int8", representative_data=calibration
        ),
        "student_pruned_tflite_int16x8": tg.to_tflite(
            pruned_fixed, quantization="int16x8", representative_data=calibration
        ),
        "student_pruned_tflite_int4": tg.to_tflite(pruned_fixed, quantization="int4"),
    }
    final = exports["student_pruned_tflite_int4"]
    ppl_exports = {name: tflite_perplexity(c, x_val, y_val) for name, c in exports.items()}
    for name, value in ppl_exports.items():
        print(f"{name}: {len(exports[name]):,} bytes, ppl {value:.3f}", flush=True)

    n_bench = 64 if quick else 256
    rounds = 1 if quick else args.rounds
    variants = [
        ("teacher", teacher),
        ("teacher_tflite_float32", teacher_float),
        ("student", student),
        ("student_pruned", pruned),
        *exports.items(),
    ]
    tables = []
    for _ in range(rounds):  # every variant once per round; medians over rounds
        bench = tg.Bench(
            x_val[:n_bench],
            y_val[:n_bench],
            metric="perplexity",
            baseline="teacher",
            targets=tg.Targets(max_metric_drop=0.15 * ppl_teacher),
            energy=True,
            repeats=1,
            energy_window_s=1.0 if quick else 2.0,
        )
        for name, model in variants:
            bench.add(name, model)
        tables.append(bench.run(progress=False).set_index("name"))
    table = tables[0].copy()
    for column in ("latency_ms_p50", "energy_j_per_1k"):
        table[column] = np.median([t[column].to_numpy(float) for t in tables], axis=0)
    table = table.reset_index()

    mean_scratch, mean_distilled = statistics.mean(scratch_ppl), statistics.mean(distilled_ppl)
    ratio_teacher = mean_distilled / ppl_teacher
    ratio_pruned = ppl_pruned / distilled_ppl[0]
    ppl_student_float = ppl_exports["student_tflite_float32"]
    int16_ratio = ppl_exports["student_pruned_tflite_int16x8"] / ppl_student_float
    int4_ratio = ppl_exports["student_pruned_tflite_int4"] / ppl_student_float
    int4_shrink = len(student_float) / len(final)
    teacher_bytes = len(teacher_float)
    shrink_raw = teacher_bytes / len(final)
    shrink_gz = gz(teacher_float) / gz(final)
    dynamic = exports["student_pruned_tflite_dynamic"]

    def bar(ok: bool) -> str:
        return "met" if ok else "**missed**"

    columns = [
        "name",
        "kind",
        "params",
        "metric_value",
        "size_bytes",
        "gzip_bytes",
        "latency_ms_p50",
        "energy_j_per_1k",
        "analytic_energy_j_per_1k",
    ]
    lines = [
        f"Teacher `tiny_lm{teacher_shape}` {teacher.count_params():,} params, "
        f"{teacher_epochs} epochs; student `tiny_lm{student_shape}` "
        f"{student.count_params():,} params "
        f"({teacher.count_params() / student.count_params():.1f}x fewer), {student_epochs} "
        f"epochs per arm, seeds {list(seeds)}. Held-out text: last 10% of pydoc_data.topics "
        f"({len(x_val)} windows of 64 characters). Run time {time.perf_counter() - started:.0f} s"
        f"{' (quick mode)' if quick else ''}. The machine was shared with other jobs during "
        f"the run: latency and energy are medians of {rounds} interleaved rounds (every "
        "variant once per round).",
        "",
        "| bar | figure | |",
        "|---|---|---|",
        f"| distilled < scratch perplexity (mean of {len(seeds)} seeds) | "
        f"{mean_distilled:.3f} vs {mean_scratch:.3f} "
        f"(per seed: {[round(p, 3) for p in distilled_ppl]} vs "
        f"{[round(p, 3) for p in scratch_ppl]}) | {bar(mean_distilled < mean_scratch)} |",
        f"| distilled within 15% of the teacher ({ppl_teacher:.3f}) | "
        f"{100 * (ratio_teacher - 1):+.1f}% | {bar(ratio_teacher <= 1.15)} |",
        f"| pruned-50% within 5% of the unpruned student | {100 * (ratio_pruned - 1):+.1f}% "
        f"({ppl_pruned:.3f} vs {distilled_ppl[0]:.3f}) | {bar(ratio_pruned <= 1.05)} |",
        f"| int16x8 (pruned) within 5% of the float student's perplexity | "
        f"{100 * (int16_ratio - 1):+.1f}% ({ppl_exports['student_pruned_tflite_int16x8']:.3f} "
        f"vs {ppl_student_float:.3f}) | {bar(int16_ratio <= 1.05)} |",
        f"| INT4 (pruned) within 10% of the float student's perplexity | "
        f"{100 * (int4_ratio - 1):+.1f}% ({ppl_exports['student_pruned_tflite_int4']:.3f} "
        f"vs {ppl_student_float:.3f}) | {bar(int4_ratio <= 1.10)} |",
        f"| INT4 file >= 3.5x smaller than the float student file | {int4_shrink:.2f}x "
        f"({len(final):,} vs {len(student_float):,} bytes) | {bar(int4_shrink >= 3.5)} |",
        f"| teacher -> final student >= 30x smaller | {shrink_raw:.1f}x raw, {shrink_gz:.1f}x "
        f"gzip ({teacher_bytes:,} -> {len(final):,} bytes, .tflite float vs pruned INT4) | "
        f"{bar(shrink_raw >= 30)} |",
        f"| (previous round) dynamic-range file >= 4x smaller than the float student | "
        f"{len(student_float) / len(dynamic):.2f}x ({len(dynamic):,} bytes) | "
        f"{bar(len(student_float) / len(dynamic) >= 4)} |",
        "",
        f"Perplexity of each export on all {len(x_val)} held-out windows (the bars above); the "
        f"bench table below uses the first {n_bench}.",
        "",
        "| export | bytes | perplexity | dense layers and lookup tables: weight "
        "bits/granularity/activation bits | ops with float activations (besides shape ops) |",
        "|---|---:|---:|---|---|",
    ]
    for name, content in exports.items():
        lines.append(
            f"| {name} | {len(content):,} | {ppl_exports[name]:.3f} | "
            f"{precision_summary(content)} |"
        )
    lines += [
        "",
        "int16x8 and int4 are made by `ai-edge-quantizer` 0.10 from the float export "
        "(`tg.to_tflite(quantization=...)`); the per-layer columns come from "
        "`tg.quantization.precision_report`. int16x8 calibrates on 300 training windows. "
        "int4: the token `GATHER`, the position table and the causal mask are exported as "
        "`EMBEDDING_LOOKUP`s (exact in float), their tables stored per row in int8 (the "
        "0/-1e9 mask in INT4, exactly).",
        "",
        "Bytes of the files (constant data by type; tensor names; the rest):",
        "",
        f"- student float: {anatomy(student_float)}",
        f"- student pruned INT4: {anatomy(final)}",
        "",
        "Energy per 1k generated tokens = `energy_j_per_1k` (one batch-1 forward pass of the "
        "64-token context per token, no KV cache); latency per token = `latency_ms_p50`. "
        "`analytic_energy_j_per_1k` prices int16x8 MACs (16-bit activations x int8 "
        "weights) as 16-bit integer MACs and INT4-weight MACs as int8 "
        "(`tf_green.bench.analytic`). "
        f"Energy: {table['energy_method'].iloc[0]}, net of idle; an estimate on this machine "
        "(no RAPL), not a measurement. Metric: perplexity on "
        f"{n_bench} held-out windows. Cached decoding (prefill + one token per step) vs this "
        "uncached path: section `slm-decoding` (`benchmarks/slm_decoding.py`).",
        "",
        markdown_table(table, columns),
        "",
        f"Energy spent (same estimate): teacher training {teacher_meter.energy_j or 0:.0f} J, "
        f"distillation {statistics.mean(kd_energy):.0f} J per student, pruning "
        f"{prune_meter.energy_j or 0:.0f} J.",
        "",
        "Samples (temperature 0.8, seed 0), prompt `'The for statement '`:",
        "",
    ]
    for name, model in (("teacher", teacher), ("student_pruned_tflite_int4", final)):
        text = tg.generate(
            model, "The for statement ", 160, vocab=corpus.vocab, temperature=0.8, seed=0
        )
        lines += [f"{name}:", "", "```text", "The for statement " + text, "```", ""]
    text = "\n".join(lines)
    print(text)
    if not quick:
        print("wrote", write_section("slm", text))


if __name__ == "__main__":
    main()
