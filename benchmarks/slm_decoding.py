"""Cached vs uncached decoding of the SLM student (and teacher) at a 64-token context (#16).

Writes the ``slm-decoding`` section of benchmarks/RESULTS.md.

Method: a ``tiny_lm(vocab, 48, 2, 4, seq_len=64)`` student (the SLM benchmark's shape),
trained briefly so it writes text, generates greedily from a 16-character prompt to fill the
64-token context (48 new tokens) four ways: Keras uncached (one forward pass of the whole
context per token: what ``tg.generate`` did before), Keras cached (prefill once, then one
token per step, ``tf_green.lm_cache``), LiteRT uncached (the ``with_fixed_length`` float
export, one 64-token forward per token) and LiteRT cached (the prefill/decode export,
``tf_green.quantization.tflite_decoder``). With ``--teacher`` (default) the SLM teacher
``tiny_lm(vocab, 128, 4, 4)`` is timed the same way on LiteRT (its Keras uncached path
takes minutes per round). All variants run interleaved, in rounds, with the order rotated
each round; each run repeats the generation for at least ``--window`` seconds inside a
``tg.EnergyMeter``. Latency and energy per generated token are medians over rounds, and
the ratios are ratios of medians. Energy is a CodeCarbon estimate (CPU TDP x load + RAM
model; no RAPL here), not a measurement. The machine is shared with other jobs, which is
why the runs are interleaved and medians are reported.

Usage:
    python benchmarks/slm_decoding.py [--rounds 5] [--window 1.0] [--epochs 1] [--no-teacher]
        [--engine keras3|tf_keras]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _results import write_section
from ai_edge_litert.interpreter import Interpreter

import tf_green as tg
from tf_green._engine import keras_named
from tf_green.quantization.tflite_decoder import TFLiteDecoder, export_decoder, signature_ops

CONTEXT = 64
PROMPT = "def parse(self, "  # 16 characters; 16 + 48 new tokens = the 64-token context
NEW_TOKENS = CONTEXT - len(PROMPT)
BAR = 5.0
SHAPES = {"student": (48, 2, 4), "teacher": (128, 4, 4)}  # d_model, layers, heads


def _train(shape: tuple[int, int, int], corpus: object, epochs: int, engine: str) -> object:
    keras_named(engine).utils.set_random_seed(0)
    lm = tg.models.compile_classifier(
        tg.models.tiny_lm(len(corpus.vocab), *shape, CONTEXT, engine=engine)
    )
    lm.fit(corpus.x_train, corpus.y_train, epochs=epochs, batch_size=32, verbose=0)
    return lm


def _run(model: object, vocab: object, use_cache: bool, window_s: float) -> dict:
    """Generate for >= window_s inside an EnergyMeter; per-token latency and energy."""
    texts, count = set(), 0
    with tg.EnergyMeter(label="decode") as meter:
        start, cpu = time.perf_counter(), time.process_time()
        while count == 0 or time.perf_counter() - start < window_s:
            texts.add(
                tg.generate(
                    model, PROMPT, NEW_TOKENS, vocab=vocab, temperature=0, use_cache=use_cache
                )
            )
            count += 1
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    tokens = count * NEW_TOKENS
    energy = meter.energy_j
    return {
        "ms": 1e3 * elapsed / tokens,
        "cpu": 1e3 * cpu / tokens,
        "mj": None if energy is None else 1e3 * energy / tokens,
        "texts": texts,
        "method": meter.method,
    }


def _invoke_cpu_ms(fixed_bytes: bytes, decoder_bytes: bytes, repeats: int = 300) -> dict:
    """CPU ms of one bare LiteRT invoke: 64-token forward vs one decode step (no Python I/O)."""
    full = Interpreter(model_content=fixed_bytes, num_threads=1)
    full.allocate_tensors()
    full.set_tensor(full.get_input_details()[0]["index"], np.zeros((1, CONTEXT), np.int32))
    steps = TFLiteDecoder(decoder_bytes, num_threads=1)
    _, state = steps.prefill(np.ones(CONTEXT // 2, np.int32))
    steps.decode(1, CONTEXT // 2, state)  # sets every input of the decode subgraph
    interpreter = steps._steps  # the decode (primary) subgraph's interpreter

    def cpu_ms(call: object) -> float:
        call()
        start = time.process_time()
        for _ in range(repeats):
            call()
        return 1e3 * (time.process_time() - start) / repeats

    return {"full": cpu_ms(full.invoke), "decode": cpu_ms(interpreter.invoke)}


def _decode_graph(decoder_bytes: bytes) -> tuple[int, int]:
    """(operators in the decode signature, XNNPACK partitions they run in)."""
    interpreter = Interpreter(model_content=decoder_bytes, num_threads=1)
    interpreter.allocate_tensors()  # decode is the primary subgraph
    nodes = [op["op_name"] for op in interpreter._get_ops_details()]
    return len(signature_ops(decoder_bytes)["decode"]), nodes.count("DELEGATE")


def main() -> None:
    """Train, export, time the variants interleaved, write the RESULTS section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=1.0, help="seconds per timed run")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-chars", type=int, default=200_000)
    parser.add_argument("--teacher", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--engine", choices=["keras3", "tf_keras"], default="keras3")
    args = parser.parse_args()
    started = time.perf_counter()

    corpus = tg.datasets.python_docs(seq_len=CONTEXT, max_chars=args.max_chars)
    models = ["student", "teacher"] if args.teacher else ["student"]
    variants, info = {}, {}
    for model_name in models:
        lm = _train(SHAPES[model_name], corpus, args.epochs, args.engine)
        fixed_bytes = tg.to_tflite(tg.models.with_fixed_length(lm))
        decoder_bytes = export_decoder(lm)
        info[model_name] = {
            "params": lm.count_params(),
            "invoke": _invoke_cpu_ms(fixed_bytes, decoder_bytes),
            "graph": _decode_graph(decoder_bytes),
        }
        if model_name == "student":
            variants["student keras uncached"] = (lm, False)
            variants["student keras cached"] = (lm, True)
        variants[f"{model_name} litert uncached"] = (tg.TFLiteModel(fixed_bytes), False)
        variants[f"{model_name} litert cached"] = (TFLiteDecoder(decoder_bytes), True)
    for model, use_cache in variants.values():  # warm up: trace, compile, allocate
        _run(model, corpus.vocab, use_cache, 0.0)

    results: dict[str, list[dict]] = {name: [] for name in variants}
    names = list(variants)
    for round_index in range(args.rounds):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            model, use_cache = variants[name]
            results[name].append(_run(model, corpus.vocab, use_cache, args.window))
            print(f"round {round_index} {name}: {results[name][-1]['ms']:.3f} ms/token", flush=True)

    def median(name: str, key: str) -> float | None:
        values = [r[key] for r in results[name] if r[key] is not None]
        return statistics.median(values) if values else None

    rows, bars, cpu_rows = [], [], []
    for name in names:
        ms, mj, cpu = median(name, "ms"), median(name, "mj"), median(name, "cpu")
        energy = "n/a" if mj is None else f"{mj:.3f}"
        rows.append(f"| {name} | {ms:.3f} | {cpu:.3f} | {energy} |")
    pairs = [("student", "keras"), *((m, "litert") for m in models)]
    for model_name, engine in pairs:
        prefix = f"{model_name} {engine}"
        for key, what in (("ms", "latency"), ("mj", "estimated energy")):
            slow, fast = median(f"{prefix} uncached", key), median(f"{prefix} cached", key)
            label = f"{prefix}: {what} per token >= {BAR:g}x lower"
            if slow is None or fast is None:
                bars.append(f"| {label} | n/a | not measured |")
                continue
            ratio = slow / fast
            per_round = [
                a[key] / b[key]
                for a, b in zip(
                    results[f"{prefix} uncached"], results[f"{prefix} cached"], strict=True
                )
                if a[key] and b[key]
            ]
            verdict = "met" if ratio >= BAR else "**missed**"
            bars.append(
                f"| {label} | {ratio:.1f}x (per round: "
                f"{', '.join(f'{r:.1f}' for r in per_round)}) | {verdict} |"
            )
        slow, fast = median(f"{prefix} uncached", "cpu"), median(f"{prefix} cached", "cpu")
        cpu_rows.append(f"| {prefix} | {slow / fast:.1f}x |")
    for model_name in models:
        texts = [r["texts"] for name in names if name.startswith(model_name) for r in results[name]]
        same = len(set().union(*texts)) == 1
        bars.append(
            f"| {model_name}: same tokens, cached and uncached (greedy) | "
            f"{'identical' if same else 'DIFFERENT'} | {'met' if same else '**missed**'} |"
        )
    sample = next(iter(results["student keras uncached"][0]["texts"]))
    graph_rows = [
        f"| {m} | {info[m]['params']:,} | {info[m]['graph'][0]} | {info[m]['graph'][1]} | "
        f"{info[m]['invoke']['full']:.3f} | {info[m]['invoke']['decode']:.3f} | "
        f"{info[m]['invoke']['full'] / info[m]['invoke']['decode']:.1f}x |"
        for m in models
    ]
    method = results["student keras cached"][0]["method"]
    teacher = (
        " The SLM teacher `tiny_lm(vocab, 128, 4, 4)` is trained and timed the same way on "
        "LiteRT only (its Keras uncached path, eager, would take minutes per round)."
        if args.teacher
        else ""
    )
    engine = (
        f"Keras 3 ({keras_named('keras3').backend.backend()} backend)"
        if args.engine == "keras3"
        else "tf_keras"
    )
    body = "\n".join(
        [
            f"Engine: {engine} (`--engine`). Student "
            f"`tiny_lm({len(corpus.vocab)}, 48, 2, 4, seq_len={CONTEXT})`, trained "
            f"{args.epochs} epoch(s) on the first {args.max_chars:,} characters of "
            f"python_docs.{teacher} Greedy generation of {NEW_TOKENS} tokens after a "
            f"{len(PROMPT)}-character prompt, filling the {CONTEXT}-token context. "
            f"{args.rounds} rounds, all variants interleaved (order rotated per round), each "
            f"run >= {args.window:g} s; medians over rounds. Latency (wall clock) and energy "
            "are per generated token and include the prompt's prefill. Uncached = one forward "
            "pass of the whole context per token (Keras: the model called eagerly on the "
            "growing context; LiteRT: the `with_fixed_length` float export, 64 tokens per "
            "call). Cached = prefill once, then one token per step with the key/value cache "
            "(Keras: `tf_green.lm_cache`, compiled steps; LiteRT: the prefill/decode-signature "
            "float export, `tf_green.quantization.tflite_decoder`)."
            f" Energy: {method}; a CodeCarbon estimate on this machine (no RAPL), not a "
            "measurement. The machine may be shared with other jobs (hence interleaving and "
            f"medians). Run time {time.perf_counter() - started:.0f} s.",
            "",
            "| bar | figure | |",
            "|---|---|---|",
            *bars,
            "",
            "| variant | latency ms/token (median) | process CPU ms/token (median) | "
            "estimated energy mJ/token (median) |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            "Process CPU time per token, uncached / cached (less sensitive to the other jobs "
            "than wall clock; not a bar, a cross-check):",
            "",
            "| model, engine | CPU-time ratio |",
            "|---|---:|",
            *cpu_rows,
            "",
            "The LiteRT decode step, and a bare invoke (CPU time, 1 thread, no Python around "
            "it) of the 64-token forward vs one decode step:",
            "",
            "| model | params | decode ops | XNNPACK partitions | 64-token forward ms | "
            "decode step ms | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *graph_rows,
            "",
            f"Greedy text (student, all variants), prompt `{PROMPT!r}`:",
            "",
            "```text",
            PROMPT + sample,
            "```",
        ]
    )
    print(body)
    write_section("slm-decoding", body)


if __name__ == "__main__":
    main()
