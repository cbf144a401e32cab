"""End-to-end benchmark: the `tf-green demo` workflow, and its headline table.

Runs the digits demo recipe (train a cnn(128) teacher -> iterative pruning within a 1-point
budget -> distill a cnn(24) student -> prune the student 50% -> INT8 export of each ->
bench) exactly as `tf-green demo` does, on Keras 3 by default (``--engine tf_keras``: the
tf_keras + TFMOT path), and checks the issue's headline bars: the distilled + pruned + INT8
student is >= 50x smaller than the teacher (gzipped) and within 1.5 points of its accuracy,
and every exported .tflite has TFLite builtin ops only (no Flex, no custom ops).

The Keras 3 run writes the ``end-to-end`` section of RESULTS.md, the tf_keras run the
``end-to-end-tf_keras`` section.

Usage:
    .venv/bin/python benchmarks/end_to_end.py           # full demo (~10 min), writes RESULTS.md
    .venv/bin/python benchmarks/end_to_end.py --engine tf_keras   # the same on tf_keras + TFMOT
    .venv/bin/python benchmarks/end_to_end.py --quick   # quick demo (~2 min), prints only
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from _results import write_section
from ai_edge_litert import schema_py_generated as schema

from tf_green.bench.report import markdown_table
from tf_green.demo_recipes import demo_recipe
from tf_green.recipe import ENGINES, dump_recipe, parse_recipe
from tf_green.workflow import run_recipe

COLUMNS = [
    "name",
    "kind",
    "params",
    "metric_value",
    "metric_drop",
    "size_bytes",
    "gzip_bytes",
    "gzip_reduction",
    "latency_ms_p50",
    "energy_j_per_1k",
    "analytic_energy_j_per_1k",
    "meets_targets",
]


_BUILTINS = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def non_builtin_ops(content: bytes) -> list[str]:
    """The operators of a .tflite (every subgraph) that are not TFLite builtins (Flex, custom)."""
    model = schema.Model.GetRootAs(content, 0)
    found: list[str] = []
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for i in range(graph.OperatorsLength()):
            code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == schema.BuiltinOperator.CUSTOM or builtin not in _BUILTINS:
                name = (code.CustomCode() or b"CUSTOM").decode()
                if name not in found:
                    found.append(name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quick demo; prints, writes nothing")
    parser.add_argument(
        "--engine", choices=ENGINES, default="keras3", help="keras3 (default) or tf_keras"
    )
    args = parser.parse_args()
    recipe = parse_recipe(demo_recipe("digits", quick=args.quick, seed=0, engine=args.engine))
    with tempfile.TemporaryDirectory() as tmp:
        result = run_recipe(recipe, pathlib.Path(tmp) / "demo", progress=print)
        table = result.table.set_index("name")
        break_even = (result.out_dir / "report.md").read_text().split("## Break-even", 1)
        exports = sorted(result.out_dir.glob("*.tflite"))
        flex = {p.name: non_builtin_ops(p.read_bytes()) for p in exports}
    teacher, final = table.loc["teacher"], table.loc["student_pruned_int8"]
    shrink = teacher["gzip_bytes"] / final["gzip_bytes"]
    drop = 100 * (teacher["metric_value"] - final["metric_value"])
    ok_size, ok_drop = shrink >= 50, drop <= 1.5
    ok_ops = bool(exports) and not any(flex.values())
    ops_figure = (
        f"{len(exports)} of {len(exports)} files"
        if ok_ops
        else "; ".join(f"{name}: {', '.join(ops)}" for name, ops in flex.items() if ops)
        or "no .tflite written"
    )
    where = f"Keras 3, {keras.backend.backend()} backend" if args.engine == "keras3" else "TFMOT"
    lines = [
        f"The `tf-green demo{' --quick' if args.quick else ''} --engine {args.engine}` recipe "
        f"({where}), "
        f"run in {result.duration_s:.0f} s on a machine shared with other jobs (load average "
        f"{os.getloadavg()[0]:.1f} at the end: latency and energy figures are inflated and noisy; "
        "the size, accuracy and op bars are not). The recipe it ran is below.",
        "",
        "| bar | figure | |",
        "|---|---|---|",
        f"| distilled + pruned + INT8 student >= 50x smaller than the teacher (gzip) | "
        f"{shrink:.0f}x ({teacher['gzip_bytes']:,} -> {final['gzip_bytes']:,} bytes) | "
        f"{'met' if ok_size else '**missed**'} |",
        f"| ... within 1.5 points of the teacher's accuracy | {drop:+.2f} points "
        f"({final['metric_value']:.4f} vs {teacher['metric_value']:.4f}) | "
        f"{'met' if ok_drop else '**missed**'} |",
        f"| every exported .tflite has TFLite builtin ops only (no Flex, no custom ops) | "
        f"{ops_figure} | {'met' if ok_ops else '**missed**'} |",
        "",
        f"Energy: {table['energy_method'].iloc[0]}, net of idle. On this machine (no RAPL) it "
        "is an estimate, not a measurement, and sub-millisecond variants are below its "
        "resolution (their net figures can even come out negative).",
        "",
        markdown_table(result.table, COLUMNS),
        "",
    ]
    if len(break_even) == 2:
        lines += ["Break-even" + break_even[1].split("## How", 1)[0].rstrip(), ""]
    lines += ["Recipe:", "", "```yaml", dump_recipe(recipe).rstrip(), "```"]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        section = "end-to-end" if args.engine == "keras3" else f"end-to-end-{args.engine}"
        print("wrote", write_section(section, text))


if __name__ == "__main__":
    main()
