"""Distillation benchmark: the auto mode (tg.distillation.tune) vs scratch and keras.distillation.

Issue #14's bars, on the embedded digits data (1,347 training and 450 validation images,
8x8), 3 seeds, written to the ``distillation`` section of benchmarks/RESULTS.md:

* Teacher: ``tg.models.cnn(width=256)`` (1,203,210 parameters), Adam(1e-3), 15 epochs, per
  seed. Students, each with the same initial weights in every arm of a seed:
  the reference pair's ``cnn(width=16)`` (6,090 parameters) and an MLP on the flattened
  image (Flatten -> Dense(32, relu) -> Dense(10), 2,410 parameters): a student that is not
  a width-scaled copy of its CNN teacher.
* One budget for every arm, the keras.io one: Adam(1e-3), 10 epochs, batch 32.
* Arms: scratch (the student on the labels alone); ``tg.distill(..., tune=True)`` =
  ``tg.distillation.tune`` with its defaults (T in {2, 4, 8} x alpha in {0.1, 0.5}, sweep
  of 2 epochs, one finalist and scratch at 10 epochs on 80% of the training data, the
  winner refitted 10 epochs on all of it); Keras 3's ``keras.distillation.Distiller`` with
  ``LogitsDistillation(temperature=4)`` and its default ``student_loss_weight=0.5``
  (reference pair). With 10% of the labels (stratified, 135 images): scratch on the 135 vs
  the auto mode on all inputs with ``y = -1`` for the rest.
* Equal budget: every arm's *final* student trains 10 epochs; the auto mode's extra fits
  (the sweep and the held-out finalists) are counted separately as sample-epochs and
  seconds relative to one scratch fit, and reported.

Usage:
    .venv/bin/python benchmarks/distillation.py                  # Keras 3 (TF backend), writes
    .venv/bin/python benchmarks/distillation.py --quick          # smoke run, prints only
    .venv/bin/python benchmarks/distillation.py --engine tf_keras
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from _results import RESULTS, write_section

from tf_green import datasets, models
from tf_green._engine import keras_named
from tf_green._engine.models import copy_model
from tf_green.distillation.tune import tune

EPOCHS, LR, BATCH, TEACHER_EPOCHS = 10, 1e-3, 32, 15
EARLIER = "### Earlier figures"
# The last version of this script that measured the tf_keras Distiller's defaults, cache and
# step overhead (its figures are kept below the new ones, under EARLIER).
OLD_SCRIPT = "797eded"


def accuracy(model, xv, yv) -> float:
    return float(np.mean(model.predict(xv, batch_size=512, verbose=0).argmax(-1) == yv))


def sparse_ce(keras):
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_teacher(keras, engine, seed, x, y, epochs):
    keras.utils.set_random_seed(seed)
    teacher = models.cnn(width=256, engine=engine)
    teacher.compile(keras.optimizers.Adam(LR), sparse_ce(keras), metrics=["accuracy"])
    teacher.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)
    return teacher


def mlp_student(keras):
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="mlp_student",
    )


def scratch(keras, start, x, y, seed, epochs):
    """The student on the labels alone: the procedure of tune's scratch arm."""
    keras.utils.set_random_seed(seed)
    student = copy_model(start)
    student.compile(keras.optimizers.Adam(LR), sparse_ce(keras), metrics=["accuracy"])
    student.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)
    return student


def keras_distillation(keras, teacher, start, x, y, seed, epochs):
    """Keras 3's own keras.distillation, LogitsDistillation(T=4), its defaults otherwise."""
    keras.utils.set_random_seed(seed)
    distiller = keras.distillation.Distiller(
        teacher=teacher,
        student=copy_model(start),
        distillation_losses=keras.distillation.LogitsDistillation(temperature=4.0),
    )
    distiller.compile(keras.optimizers.Adam(LR), loss=sparse_ce(keras), metrics=["accuracy"])
    distiller.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)
    return distiller.student


def auto(keras, teacher, start, x, y, seed, epochs):
    """The auto mode; returns (result, seconds)."""
    begin = time.perf_counter()
    result = tune(
        teacher, start, x, y, epochs=epochs, optimizer=keras.optimizers.Adam(LR), seed=seed,
        batch_size=BATCH,
    )  # fmt: skip
    return result, time.perf_counter() - begin


def ten_percent(y, seed):
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(y), bool)
    for label in np.unique(y):
        where = np.flatnonzero(y == label)
        keep[rng.choice(where, size=max(1, round(0.1 * len(where))), replace=False)] = True
    return keep


def sample_epochs(table) -> int:
    return int((table.epochs * table.train_samples).sum())


def timed(function, *args):
    begin = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - begin


def run_seed(keras, engine, seed, x, y, xv, yv, quick):
    epochs = 2 if quick else EPOCHS
    teacher = train_teacher(keras, engine, seed, x, y, 3 if quick else TEACHER_EPOCHS)
    keras.utils.set_random_seed(1000 + seed)
    starts = {"cnn": models.cnn(width=16, engine=engine), "mlp": mlp_student(keras)}
    keep = ten_percent(y, seed)
    row = {"seed": seed, "teacher": accuracy(teacher, xv, yv), "choices": {}, "cost": {}}
    for pair, start in starts.items():
        model, seconds = timed(scratch, keras, start, x, y, seed, epochs)
        row[f"{pair}_scratch"], row[f"{pair}_scratch_s"] = accuracy(model, xv, yv), seconds
        result, seconds = auto(keras, teacher, start, x, y, seed, epochs)
        row[f"{pair}_auto"] = accuracy(result.student, xv, yv)
        row["choices"][pair] = result.arm
        row["cost"][pair] = (sample_epochs(result.table) / (epochs * len(y)), seconds)
    if engine == "keras3":
        row["cnn_keras"] = accuracy(
            keras_distillation(keras, teacher, starts["cnn"], x, y, seed, epochs), xv, yv
        )
    partial = np.where(keep, y, -1)
    row["t10_scratch"] = accuracy(
        scratch(keras, starts["cnn"], x[keep], y[keep], seed, epochs), xv, yv
    )
    result, seconds = auto(keras, teacher, starts["cnn"], x, partial, seed, epochs)
    row["t10_auto"] = accuracy(result.student, xv, yv)
    row["choices"]["t10"] = result.arm
    row["cost"]["t10"] = (sample_epochs(result.table) / (epochs * len(y)), seconds)
    return row


def earlier_figures() -> str:
    """The previous section's figures, kept under a dated heading (first run: all of it)."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    match = re.search(r"<!-- distillation:start -->(.*?)<!-- distillation:end -->", text, re.S)
    if not match:
        return ""
    old = match.group(1)
    if EARLIER in old:
        return old[old.index(EARLIER) :].strip()
    date = re.search(r"Date: (.*)", old)
    body = old.split("\n\n", 2)[-1] if old.count("\n\n") >= 2 else old
    body = re.sub(r"(?m)^## distillation\s*$", "", body).strip()
    return (
        f"{EARLIER} (tf_keras Distiller defaults, cache speed-up and step overhead; "
        f"{date.group(1) if date else 'date unknown'}, by the previous version of this "
        f"script: `git show {OLD_SCRIPT}:benchmarks/distillation.py`)\n\n"
        + re.sub(r"(?m)^Command: .*\n?|^Machine: .*\n?|^Date: .*\n?", "", body).strip()
    )


def reading(rows, picks, scratch_picks, engine, epochs, m) -> list[str]:
    """What the figures say, from the figures (so a rerun cannot keep a stale sentence)."""
    lines = [
        f"Reading: with all labels the auto mode chose scratch in {scratch_picks} of "
        f"{len(picks)} runs (two pairs x {len(rows)} seeds)"
        + (
            ": no (T, alpha) of the sweep beat the student trained without its teacher on "
            "the held-out split, so on these runs the bars' +0.00 is the scratch arm "
            "reproduced (same procedure and seed), not a gain from distillation. The auto "
            "mode's value here is that it did not lose"
            if scratch_picks == len(picks)
            else f"; in the other {len(picks) - scratch_picks} it kept a distilled student"
        )
        + ". With 10% of the labels it chose distillation every time"
        + (
            "."
            if all(r["choices"]["t10"] != "scratch" for r in rows)
            else " but for " + str(sum(r["choices"]["t10"] == "scratch" for r in rows)) + " seeds."
        ),
    ]
    if engine == "keras3":
        lines += [
            "",
            f"keras.distillation (T=4, student_loss_weight=0.5) at this budget ({epochs} epochs, "
            f"Adam 1e-3) ends {100 * (m('cnn_scratch') - m('cnn_keras')):.1f} points below "
            "scratch on the reference pair (seeds: "
            + ", ".join(f"{100 * (r['cnn_keras'] - r['cnn_scratch']):+.1f}" for r in rows)
            + "). The issue quotes -1.7 points without its budget; in 10 epochs its T=4 soft "
            "targets trail the labels by far more. The bar is measured at this budget.",
        ]
    return lines


def pct(value) -> str:
    return f"{100 * value:.1f}%"


def report(rows, engine, backend, total, epochs, teacher_epochs) -> str:
    def m(key):
        return statistics.fmean(r[key] for r in rows)

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    gap_cnn = m("cnn_auto") - m("cnn_scratch")
    gap_mlp = m("mlp_auto") - m("mlp_scratch")
    gap_t10 = m("t10_auto") - m("t10_scratch")
    lines = [
        f"Engine: {engine}"
        + (f" (backend {backend})" if engine == "keras3" else "")
        + f". Teacher `cnn(width=256)`, {teacher_epochs} epochs Adam 1e-3 (mean validation "
        f"accuracy {pct(m('teacher'))}). Every final student: Adam(1e-3), {epochs} epochs, "
        f"batch {BATCH}, same initial weights in every arm; {len(rows)} seeds. Validation: "
        "the 450 held-out digits, never seen by the auto mode's choice (it holds out 20% of "
        "the labelled *training* images). The machine was shared with other jobs (2 cores): "
        "seconds are noisy, accuracies are not affected.",
        "",
        "| bar | measured | target | |",
        "|---|---|---|---|",
        f"| reference pair cnn(256) -> cnn(16): auto - scratch | {100 * gap_cnn:+.2f} points "
        f"({pct(m('cnn_auto'))} vs {pct(m('cnn_scratch'))}) | >= -0.3 | "
        f"{verdict(gap_cnn >= -0.003)} |",
        f"| cnn(256) -> MLP (not a width-scaled copy): auto - scratch | {100 * gap_mlp:+.2f} "
        f"points ({pct(m('mlp_auto'))} vs {pct(m('mlp_scratch'))}) | >= -0.3 | "
        f"{verdict(gap_mlp >= -0.003)} |",
    ]
    if engine == "keras3":
        gap_k = m("cnn_auto") - m("cnn_keras")
        lines.append(
            f"| reference pair: auto - keras.distillation (LogitsDistillation T=4) | "
            f"{100 * gap_k:+.2f} points ({pct(m('cnn_auto'))} vs {pct(m('cnn_keras'))}; "
            f"keras.distillation - scratch {100 * (m('cnn_keras') - m('cnn_scratch')):+.2f}) | "
            f">= +1 | {verdict(gap_k >= 0.01)} |"
        )
    else:
        lines.append(
            "| reference pair: auto - keras.distillation (T=4) | not run: keras.distillation "
            "takes Keras 3 models and this run is on tf_keras | >= +1 | n/a |"
        )
    lines += [
        f"| 10% labels (135 images) + transfer set: auto - scratch on the 10% | "
        f"{100 * gap_t10:+.2f} points ({pct(m('t10_auto'))} vs {pct(m('t10_scratch'))}) | "
        f">= +15 | {verdict(gap_t10 >= 0.15)} |",
        "",
        "What the auto mode chose, and its cost: the sweep and the held-out finalists come "
        f"on top of the final {epochs}-epoch fit. Cost = sample-epochs of all its fits / "
        f"those of one plain `tg.distill` fit ({epochs} epochs x the 1,347 training inputs; "
        "with all labels that is also one scratch fit, with 10% labels a scratch fit sees "
        "a tenth of it), and the auto mode's wall-clock seconds, per seed:",
        "",
        "| seed | teacher | cnn: scratch | cnn: auto (chosen) | MLP: scratch | MLP: auto "
        "(chosen) | keras.distillation T=4 | 10%: scratch | 10%: auto (chosen) | cost cnn / "
        "MLP / 10% |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, cost = r["choices"], r["cost"]
        keras_cell = pct(r["cnn_keras"]) if "cnn_keras" in r else "n/a"
        costs = " / ".join(f"{cost[k][0]:.1f}x ({cost[k][1]:.0f} s)" for k in ("cnn", "mlp", "t10"))
        lines.append(
            f"| {r['seed']} | {pct(r['teacher'])} | {pct(r['cnn_scratch'])} | "
            f"{pct(r['cnn_auto'])} ({c['cnn']}) | {pct(r['mlp_scratch'])} | "
            f"{pct(r['mlp_auto'])} ({c['mlp']}) | {keras_cell} | {pct(r['t10_scratch'])} | "
            f"{pct(r['t10_auto'])} ({c['t10']}) | {costs} |"
        )
    scratch_s = statistics.fmean(r["cnn_scratch_s"] for r in rows)
    picks = [r["choices"][pair] for r in rows for pair in ("cnn", "mlp")]
    scratch_picks = picks.count("scratch")
    lines += ["", *reading(rows, picks, scratch_picks, engine, epochs, m), ""]
    lines += [
        f"One scratch fit of the cnn student took {scratch_s:.1f} s on average (the "
        "auto mode's seconds include the teacher's one pass for its cache). When the "
        "auto mode picks scratch, its final student is trained by the same procedure and "
        "seed as the scratch arm here, so the two match.",
        "",
        f"Whole script: {total / 60:.1f} min.",
    ]
    earlier = earlier_figures()
    return "\n".join(lines) + ("\n\n" + earlier if earlier else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, fast smoke run; no writing")
    parser.add_argument("--engine", choices=("keras3", "tf_keras"), default="keras3")
    args = parser.parse_args()
    keras = keras_named(args.engine)
    backend = keras.backend.backend() if args.engine == "keras3" else None
    (x, y), (xv, yv) = datasets.digits(seed=0)
    seeds = (0,) if args.quick else (0, 1, 2)
    t0 = time.perf_counter()
    rows = []
    for seed in seeds:
        rows.append(run_seed(keras, args.engine, seed, x, y, xv, yv, args.quick))
        print(rows[-1], f"{time.perf_counter() - t0:.0f}s", flush=True)
    body = report(
        rows, args.engine, backend, time.perf_counter() - t0,
        2 if args.quick else EPOCHS, 3 if args.quick else TEACHER_EPOCHS,
    )  # fmt: skip
    print(body)
    if not args.quick:
        print(f"wrote {write_section('distillation', body)}")


if __name__ == "__main__":
    main()
