"""End-to-end benchmark: the `tf-green demo` workflow, and its headline table.

Runs the digits demo recipe (train a cnn(128) teacher -> iterative pruning within a 1-point
budget -> distill a cnn(16) student -> prune the student 50% -> INT8 export of each ->
bench) exactly as `tf-green demo` does, and checks the issue's headline bar: the
distilled + pruned + INT8 student is >= 50x smaller than the teacher (gzipped) and within
1.5 points of its accuracy.

Usage:
    .venv/bin/python benchmarks/end_to_end.py           # full demo (~10 min), writes RESULTS.md
    .venv/bin/python benchmarks/end_to_end.py --quick   # quick demo (~2 min), prints only
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _results import write_section

from tf_green.bench.report import markdown_table
from tf_green.cli import demo_recipe
from tf_green.recipe import dump_recipe, parse_recipe
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quick demo; prints, writes nothing")
    args = parser.parse_args()
    recipe = parse_recipe(demo_recipe("digits", quick=args.quick, seed=0))
    with tempfile.TemporaryDirectory() as tmp:
        result = run_recipe(recipe, pathlib.Path(tmp) / "demo", progress=print)
        table = result.table.set_index("name")
        break_even = (result.out_dir / "report.md").read_text().split("## Break-even", 1)
    teacher, final = table.loc["teacher"], table.loc["student_pruned_int8"]
    shrink = teacher["gzip_bytes"] / final["gzip_bytes"]
    drop = 100 * (teacher["metric_value"] - final["metric_value"])
    ok_size, ok_drop = shrink >= 50, drop <= 1.5
    lines = [
        f"The `tf-green demo{' --quick' if args.quick else ''}` recipe, run in "
        f"{result.duration_s:.0f} s (the recipe it ran is below).",
        "",
        "| bar | figure | |",
        "|---|---|---|",
        f"| distilled + pruned + INT8 student >= 50x smaller than the teacher (gzip) | "
        f"{shrink:.0f}x ({teacher['gzip_bytes']:,} -> {final['gzip_bytes']:,} bytes) | "
        f"{'met' if ok_size else '**missed**'} |",
        f"| ... within 1.5 points of the teacher's accuracy | {drop:+.2f} points "
        f"({final['metric_value']:.4f} vs {teacher['metric_value']:.4f}) | "
        f"{'met' if ok_drop else '**missed**'} |",
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
        print("wrote", write_section("end-to-end", text))


if __name__ == "__main__":
    main()
