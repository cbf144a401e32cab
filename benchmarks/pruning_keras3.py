"""Keras 3 pruning benchmark: accuracy drop, gzip size and fit time, beside the TFMOT path.

Measured in one run on the embedded digits data, on the Keras 3 backend this process runs
(``KERAS_BACKEND``, TensorFlow by default; run it again with ``KERAS_BACKEND=jax``), and
written to the ``pruning-keras3-<backend>`` section of benchmarks/RESULTS.md:

* Reference model: the digits CNN (``tf_green.models.cnn``'s architecture) built with Keras 3,
  width 128, trained 30 epochs (Adam 1e-3, cosine decay), then compiled with a constant
  Adam(1e-3) for fine-tuning.
* ``tf_green.pruning.keras3.prune`` at 80% sparsity over 3 seeds, and beside it the tf_keras
  + TFMOT path (``tg.prune`` on a tf_keras copy holding the *same* trained weights) on the
  same seeds: accuracy drop from the baseline and the difference between the two engines.
* gzip -9 of the weights (float32 bytes) of the stripped model vs the baseline.
* Time: each Keras 3 ``prune`` call is paired with a plain Keras 3 fit of the same epochs
  (a compiled copy made the same way, then ``fit``), in alternating order; the median of
  the per-pair ratios, CPU and wall. Inside the timed prune calls, the CPU time of the mask
  updates (``update_masks`` calls that changed masks) is recorded too: where the
  remaining overhead is. The one-time compile of the on-device mask function
  (``graph_masks``, once per process and weight size) is timed on its own before the
  untimed warm-up and reported beside the ratio.
* A subclassed Keras 3 model (a nested block of Conv2D + Dense) pruned to 80%.

Usage:
    .venv/bin/python benchmarks/pruning_keras3.py            # full run (~10 min), writes
    KERAS_BACKEND=jax .venv/bin/python benchmarks/pruning_keras3.py
    .venv/bin/python benchmarks/pruning_keras3.py --quick    # smoke run (~1 min), prints only
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from _results import write_section

import tf_green as tg
from tf_green import datasets
from tf_green.pruning import keras3
from tf_green.pruning.keras3 import fit_callbacks, graph_masks

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def cnn(width: int) -> keras.Model:
    """``tf_green.models.cnn``'s architecture in Keras 3 (same layer and weight order)."""
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name="conv1")(
        inputs
    )
    h = keras.layers.MaxPooling2D(2, strides=1, padding="same", name="pool")(h)
    h = keras.layers.Conv2D(
        2 * width, 3, strides=2, padding="same", activation="relu", name="conv2"
    )(h)
    outputs = keras.layers.Dense(10, name="logits")(keras.layers.Flatten(name="flatten")(h))
    return keras.Model(inputs, outputs, name=f"cnn_{width}")


class Block(keras.layers.Layer):
    """A nested block: Conv2D then a Dense projection."""

    def __init__(self, width: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.conv = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")
        self.proj = keras.layers.Dense(width, activation="relu")

    def call(self, x):
        return self.proj(self.conv(x))

    def get_config(self):
        return {**super().get_config(), "width": self.width}


class Net(keras.Model):
    """A subclassed model holding a Block, pooling and a Dense head."""

    def __init__(self, width: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.block = Block(width)
        self.flat = keras.layers.Flatten()
        self.head = keras.layers.Dense(10)

    def call(self, x):
        return self.head(self.flat(self.block(x)))

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def train(model: keras.Model, epochs: int, x, y) -> keras.Model:
    keras.utils.set_random_seed(0)
    decay = keras.optimizers.schedules.CosineDecay(1e-3, math.ceil(len(x) / 32) * epochs)
    model.compile(keras.optimizers.Adam(decay), LOSS, metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    model.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])
    return model


def accuracy(model, xv, yv) -> float:
    return float(model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"])


def gzip_size(model) -> int:
    data = b"".join(np.asarray(w, np.float32).tobytes() for w in model.get_weights())
    return len(gzip.compress(data, compresslevel=9))


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def k3_prune(base, x, y, epochs, seed):
    keras.utils.set_random_seed(seed)
    return keras3.prune(base, x, y, target_sparsity=0.8, epochs=epochs, verbose=0)


def plain_fit(base, x, y, epochs, seed):
    keras.utils.set_random_seed(seed)
    model = keras3.strip(base)  # a compiled copy, made as prune makes its own
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def tfmot_prune(base, x, y, epochs, seed, width):
    """``tg.prune`` on a tf_keras copy of ``base`` (same weights): the TFMOT path."""
    tf_keras = tg.engine.tf_keras()
    model = tg.models.cnn(width=width, engine="tf_keras")
    model.set_weights(base.get_weights())
    model.compile(
        tf_keras.optimizers.Adam(1e-3),
        tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    tf_keras.utils.set_random_seed(seed)
    return tg.prune(model, x, y, target_sparsity=0.8, epochs=epochs, verbose=0)


class MaskUpdateClock:
    """Wraps ``fit_callbacks.update_masks``: CPU time and count of the calls that update masks."""

    def __init__(self) -> None:
        self.inner = fit_callbacks.update_masks
        self.seconds: list[float] = []
        fit_callbacks.update_masks = self

    def __call__(self, model, state, step):
        cpu = time.process_time()
        changed = self.inner(model, state, step)
        if changed:
            self.seconds.append(time.process_time() - cpu)
        return changed


def compile_device_masks(model) -> tuple[list[int], float]:
    """Compile the on-device mask function for each large weight size; (sizes, CPU s)."""
    sizes = sorted(
        {
            int(np.prod(w.shape))
            for w in model.weights
            if graph_masks.on_device(w.dtype, int(np.prod(w.shape)))
        }
    )
    cpu = time.process_time()
    for size in sizes:
        keras.ops.convert_to_numpy(graph_masks.magnitude_mask(np.ones(size, "float32"), 1))
    return sizes, time.process_time() - cpu


def kernel_sparsity(model) -> float:
    report = tg.sparsity_report(model)
    kernels = report[report["prunable"] == True]  # noqa: E712
    return float(kernels["zeros"].sum() / kernels["params"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small, fast smoke run; no writing")
    quick = parser.parse_args().quick
    backend = keras.backend.backend()
    width, base_epochs, prune_epochs = (16, 4, 3) if quick else (128, 30, 12)
    seeds, pairs = ((0,), 2) if quick else ((0, 1, 2), 5)
    t0, load_start = time.time(), os.getloadavg()[0]
    (x, y), (xv, yv) = datasets.digits()

    base = train(cnn(width), base_epochs, x, y)
    base_acc, base_gzip = accuracy(base, xv, yv), gzip_size(base)
    print(f"[{time.time() - t0:.0f}s] {backend}: baseline cnn({width}) {base_acc:.4f}", flush=True)

    compiled_sizes, compile_cpu = compile_device_masks(base)
    k3_prune(base, x[:64], y[:64], 2, 0)  # warm-up, untimed
    plain_fit(base, x[:64], y[:64], 2, 0)
    ratios, k3_runs, update_shares = [], [], []
    clock = MaskUpdateClock()
    for i in range(max(pairs, len(seeds))):
        seed = seeds[i % len(seeds)]
        order = [("prune", k3_prune), ("plain", plain_fit)]
        timing = {}
        for who, fn in order if i % 2 == 0 else order[::-1]:
            clock.seconds.clear()
            model, wall, cpu = timed(fn, base, x, y, prune_epochs, seed)
            timing[who] = (wall, cpu)
            if who == "prune":
                update_shares.append((len(clock.seconds), sum(clock.seconds), cpu))
            if who == "prune" and i < len(seeds):
                k3_runs.append((accuracy(model, xv, yv), gzip_size(model), model))
        ratios.append(
            (timing["prune"][1] / timing["plain"][1], timing["prune"][0] / timing["plain"][0])
        )
        print(f"[{time.time() - t0:.0f}s] pair {i}: cpu ratio {ratios[-1][0]:.3f}", flush=True)

    tfmot_accs = []
    for seed in seeds:
        tfmot_accs.append(accuracy(tfmot_prune(base, x, y, prune_epochs, seed, width), xv, yv))
    print(f"[{time.time() - t0:.0f}s] TFMOT path done", flush=True)

    net = Net(32)
    net(x[:1])
    net = train(net, base_epochs, x, y)
    net_acc = accuracy(net, xv, yv)
    keras.utils.set_random_seed(0)
    net_pruned = keras3.prune(net, x, y, target_sparsity=0.8, epochs=prune_epochs, verbose=0)
    net_pruned_acc = accuracy(net_pruned, xv, yv)

    k3_accs = [acc for acc, _, _ in k3_runs]
    drop = base_acc - statistics.mean(k3_accs)
    gap = statistics.mean(k3_accs) - statistics.mean(tfmot_accs)
    gzip_ratio = base_gzip / statistics.mean(size for _, size, _ in k3_runs)
    cpu_ratio = statistics.median(r[0] for r in ratios)
    wall_ratio = statistics.median(r[1] for r in ratios)
    sparsity = kernel_sparsity(k3_runs[0][2])
    updates = statistics.median(n for n, _, _ in update_shares)
    per_update_ms = 1e3 * statistics.median(t / max(n, 1) for n, t, _ in update_shares)
    update_share = statistics.median(t / cpu for _, t, cpu in update_shares)
    plain_cpu = statistics.median(
        cpu / ratio for (_, _, cpu), (ratio, _) in zip(update_shares, ratios, strict=True)
    )
    body = "\n".join(
        [
            f"Keras 3 backend **{backend}**; digits CNN width {width} "
            f"({base.count_params():,} parameters), baseline trained {base_epochs} epochs; "
            f"pruning to 80% over {prune_epochs} epochs, seeds {list(seeds)}.",
            "",
            "| measure | value | bar |",
            "|---|---|---|",
            f"| baseline accuracy | {base_acc:.4f} | |",
            f"| Keras 3 pruned accuracy (mean) | {statistics.mean(k3_accs):.4f} | |",
            f"| drop | {100 * drop:.2f} points | <= 0.5 |",
            f"| tf_keras + TFMOT pruned accuracy, same weights and seeds (mean) | "
            f"{statistics.mean(tfmot_accs):.4f} | |",
            f"| Keras 3 minus TFMOT | {100 * gap:+.2f} points | within 0.5 |",
            f"| kernel sparsity (pruned tensors) | {sparsity:.4f} | 0.80 |",
            f"| gzip -9 of the weights, baseline / pruned | {gzip_ratio:.2f}x | >= 3.2x |",
            f"| prune / plain fit, CPU time (median of {len(ratios)} pairs) | {cpu_ratio:.3f}x"
            " | <= 1.10x |",
            f"| prune / plain fit, wall time (median) | {wall_ratio:.3f}x | |",
            f"| mask updates per prune fit; CPU per update (median); share of the prune "
            f"call's CPU | {updates:.0f}; {per_update_ms:.1f} ms; {100 * update_share:.1f}% | |",
            f"| subclassed model (nested block): unpruned -> pruned 80% | "
            f"{net_acc:.4f} -> {net_pruned_acc:.4f} | within 1 point |",
            "",
            f"Run time {time.time() - t0:.0f} s. Each pair times `keras3.prune` (copy, compile, "
            "fit with the pruning callbacks, strip) against a plain Keras 3 fit of the same "
            "epochs on a compiled copy made the same way.",
            "",
            "Mask updates: float32 weights of at least "
            f"{graph_masks.MIN_SIZE:,} entries get their masks on the device "
            "(`tf_green.pruning.keras3.graph_masks`, a compiled radix select giving the numpy "
            f"masks exactly), smaller ones in numpy; here sizes {compiled_sizes} went to the "
            f"device. Compiling that function cost {compile_cpu:.2f} s of CPU once per process "
            "and weight size (timed apart, before the untimed warm-up, so not in the pairs; a "
            "first `prune` in a fresh process pays it, about "
            f"{100 * compile_cpu / plain_cpu:.0f}% of one plain fit here). The plain fit's CPU "
            f"time (median) was {plain_cpu:.2f} s.",
            "",
            f"The machine was shared with other engineers' jobs during this run (1-minute load "
            f"average {load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end, on "
            f"{os.cpu_count()} cores), so the two sides of each pair run in alternating order "
            "and the table reports the median of the per-pair ratios; single timings are noisy.",
        ]
    )
    print(body)
    if not quick:
        print(f"wrote {write_section(f'pruning-keras3-{backend}', body)}")


if __name__ == "__main__":
    main()
