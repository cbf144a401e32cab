"""SLM benchmark: a lean task-specific character LM by distill -> prune -> dynamic-range INT8.

Teacher: ``tiny_lm(vocab, d_model=128, num_layers=4, num_heads=4)`` (~828k parameters),
trained here on the standard library's help text (``tg.datasets.python_docs``, ~465k
characters; the last 10% held out). Student: ``tiny_lm(vocab, 48, 2, 4)`` (~70k parameters,
~12x fewer). Both arms of the student comparison (trained from scratch on the labels, and
distilled with ``tg.distill``: T=1, alpha=0.5, cached teacher logits; chosen by the sweep
in RESULTS.md) get the same optimizer, learning rate, epochs and seeds. The distilled
student (seed 0) is then pruned to 50% with ``tg.prune`` and exported with
``tg.to_tflite(quantization="dynamic")``. Full INT8 also converts once the sequence length
is static (``tg.models.with_fixed_length``), and is benched too, but 8-bit activations
through LayerNorm and softmax ruin the perplexity. ``tg.Bench`` measures all variants with
perplexity as the metric.

Energy per 1k generated tokens: generation without a KV cache runs one batch-1 forward
pass over the (sliding) 64-token context per generated token, so the bench's energy per 1k
batch-1 inferences *is* the energy per 1k generated tokens, and latency p50 at batch 1 is
the latency per token.

Usage:
    .venv/bin/python benchmarks/slm.py           # full run (~15-20 min), writes RESULTS.md
    .venv/bin/python benchmarks/slm.py --quick   # smoke run (~2 min), prints only
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

import tf_green as tg
from tf_green._keras import keras
from tf_green.bench.report import markdown_table


def perplexity(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    logits = model.predict(x, batch_size=64, verbose=0)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None].astype(np.int64), axis=-1)
    return float(np.exp(-picked.mean()))


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run; prints, writes nothing")
    args = parser.parse_args()
    quick = args.quick
    corpus = tg.datasets.python_docs(seq_len=64, max_chars=60_000 if quick else None)
    x, y, x_val, y_val = corpus.x_train, corpus.y_train, corpus.x_val, corpus.y_val
    vocab = len(corpus.vocab)
    teacher_shape = (64, 2, 4) if quick else (128, 4, 4)
    student_shape = (16, 1, 2) if quick else (48, 2, 4)
    teacher_epochs, student_epochs = (2, 2) if quick else (8, 10)
    seeds = (0, 1)
    lr_teacher, lr_student = 2e-3, 3e-3
    started = time.perf_counter()

    keras.utils.set_random_seed(0)
    teacher = tg.models.compile_classifier(
        tg.models.tiny_lm(vocab, *teacher_shape, name="teacher"), lr_teacher
    )
    with tg.EnergyMeter() as teacher_meter:
        teacher.fit(x, y, epochs=teacher_epochs, batch_size=32, verbose=0)
    ppl_teacher = perplexity(teacher, x_val, y_val)
    print(f"teacher {teacher.count_params():,} params: ppl {ppl_teacher:.3f}", flush=True)

    scratch_ppl, distilled_ppl, distilled_models, kd_energy = [], [], [], []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        scratch = tg.models.compile_classifier(tg.models.tiny_lm(vocab, *student_shape), lr_student)
        scratch.fit(x, y, epochs=student_epochs, batch_size=32, verbose=0)
        scratch_ppl.append(perplexity(scratch, x_val, y_val))
        keras.utils.set_random_seed(seed)
        fresh = tg.models.tiny_lm(vocab, *student_shape, name="student")
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
    pruned_dynamic = tg.to_tflite(fixed(pruned), quantization="dynamic")
    pruned_int8 = None
    try:
        pruned_int8 = tg.to_tflite(fixed(pruned), quantization="int8", representative_data=x[:200])
        int8_note = (
            "full INT8 converts once the sequence length is static (the causal mask is then "
            f"constant-folded): {len(pruned_int8):,} bytes, benched below"
        )
    except ValueError as error:
        int8_note = f"full INT8 refused by to_tflite: {str(error).split(';')[0]}"

    n_bench = 64 if quick else 256
    bench = tg.Bench(
        x_val[:n_bench],
        y_val[:n_bench],
        metric="perplexity",
        baseline="teacher",
        targets=tg.Targets(max_metric_drop=0.15 * ppl_teacher),
        energy=True,
        repeats=1 if quick else 3,
        energy_window_s=1.0 if quick else 3.0,
    )
    bench.add("teacher", teacher)
    bench.add("teacher_tflite_float32", teacher_float)
    bench.add("student", student)
    bench.add("student_pruned", pruned)
    bench.add("student_tflite_float32", student_float)
    bench.add("student_pruned_tflite_dynamic", pruned_dynamic)
    if pruned_int8 is not None:
        bench.add("student_pruned_tflite_int8", pruned_int8)
    table = bench.run(progress=False)

    mean_scratch, mean_distilled = statistics.mean(scratch_ppl), statistics.mean(distilled_ppl)
    ratio_teacher = mean_distilled / ppl_teacher
    ratio_pruned = ppl_pruned / distilled_ppl[0]
    int8_ratio = len(student_float) / len(pruned_dynamic)
    teacher_bytes = len(teacher_float)
    shrink_raw = teacher_bytes / len(pruned_dynamic)
    shrink_gz = gz(teacher_float) / gz(pruned_dynamic)

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
        f"{' (quick mode)' if quick else ''}.",
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
        f"| dynamic-range file >= 4x smaller than the float student file | "
        f"{int8_ratio:.2f}x ({len(pruned_dynamic):,} vs {len(student_float):,} bytes) | "
        f"{bar(int8_ratio >= 4)} |",
        f"| teacher -> final student >= 30x smaller | {shrink_raw:.1f}x raw, {shrink_gz:.1f}x "
        f"gzip ({teacher_bytes:,} -> {len(pruned_dynamic):,} bytes, .tflite float vs "
        f"pruned dynamic) | {bar(shrink_raw >= 30)} |",
        "",
        f"INT8: {int8_note}.",
        "",
        "Energy per 1k generated tokens = `energy_j_per_1k` (one batch-1 forward pass of the "
        "64-token context per token, no KV cache); latency per token = `latency_ms_p50`. "
        f"Energy: {table['energy_method'].iloc[0]}, net of idle; an estimate on this machine "
        "(no RAPL), not a measurement. Metric: perplexity on "
        f"{n_bench} held-out windows.",
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
    for name, model in (("teacher", teacher), ("student_pruned_tflite_dynamic", pruned_dynamic)):
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
