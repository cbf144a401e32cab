"""Profile one model or TFLite artifact: quality, size, compute, latency, memory and energy.

:func:`profile` runs the stages in this order, each printed as one progress line when asked:
metric (a pass over all of ``x``), size and MACs (from the weights / flatbuffer, no inference),
latency at ``batch_size``, throughput and peak memory at ``throughput_batch_size``, and energy
(``repeats`` measured windows of inference at ``batch_size``, each followed by an equal idle
window, see :mod:`tf_green.bench.inference_energy`). It never trains and never changes the
model.

Example:
    >>> from tf_green import datasets, models
    >>> (_, _), (x, y) = datasets.digits()
    >>> result = profile(models.cnn(width=8), x, y, energy=False, repeats=2)  # doctest: +SKIP
    >>> result.kind, result.energy_method  # doctest: +SKIP
    ('keras', 'not measured (energy=False)')
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tf_green.bench._inputs import Inputs, as_arrays
from tf_green.bench.activation_memory import activation_memory
from tf_green.bench.analytic import analytic_energy
from tf_green.bench.energy import DEFAULT_COUNTRY, PowerSource
from tf_green.bench.latency import measure_latency, measure_throughput
from tf_green.bench.memory import PeakMemory, rss_figure
from tf_green.bench.metrics import Metric, resolve_metric
from tf_green.bench.profile_energy import energy_fields, measure_energy
from tf_green.bench.resolution import below_resolution_text
from tf_green.bench.variants import Variant, as_variant

__all__ = ["Profile", "profile"]


@dataclass(frozen=True)
class Profile:
    """Everything measured about one variant; units are in the field names.

    Attributes:
        name: Variant name.
        kind: "keras", "tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8".
        runtime: What ran it: "TensorFlow (tf.function)" (tf_keras), "Keras 3 on TensorFlow
            (tf.function)", "Keras 3 on JAX (jax.jit)" or "LiteRT (xnnpack|builtin)".
        metric: Metric name.
        metric_value: Metric on all samples (None without targets).
        metric_higher_is_better: Direction of the metric.
        samples: Number of samples the metric was computed on.
        params: Parameters.
        nonzero_params: Parameters that are not zero.
        sparsity: Fraction of zero parameters.
        size_bytes: Weights (Keras) or file (.tflite) bytes.
        gzip_bytes: gzip -9 size of the same bytes.
        flops_per_sample: 2 x executed MACs for one sample.
        macs_fp32: float32 MACs per sample.
        macs_fp16: float16 MACs per sample.
        macs_int8: int8 MACs per sample.
        macs_int4: MACs of INT4 weights (int8 activations) per sample.
        macs_int16x8: MACs of 16-bit activations with 8-bit (or 4-bit) weights per sample.
        macs_int16: MACs of two 16-bit integer operands per sample.
        macs_int32: MACs of wider (32/64-bit) integer operands per sample.
        macs_skipped: Zero-weight MACs the runtime skips (sparse kernels), per sample.
        flops_method: How MACs were counted ("from the graph", "from the jaxpr" or "per op").
        latency_ms_p50: Median latency at ``latency_batch_size``, ms.
        latency_ms_p95: 95th percentile latency, ms.
        latency_cv: Coefficient of variation of the per-repeat p50s.
        latency_batch_size: Samples per latency call.
        cpu_ms_per_inference: This process's CPU time per inference during the latency runs,
            ms (all its threads; what the per-process energy estimate is proportional to).
        throughput_per_s: Samples per second at ``throughput_batch_size``.
        throughput_batch_size: Samples per throughput call.
        peak_memory_mb: Measured peak extra resident memory while running batches, MiB; None
            when below its 1 MiB resolution (``memory_method`` says so).
        memory_method: How ``peak_memory_mb`` was measured, or why it is None.
        activation_bytes: Activation bytes at batch 1, from the graph (TFLite: non-constant
            tensors; Keras: input and layer outputs); None if unknown.
        memory_bytes: ``size_bytes`` + ``activation_bytes``: what a deployment must hold.
        memory_bytes_method: How ``activation_bytes`` was counted.
        energy_j_per_1k: Median net energy per 1,000 inferences, J; None if not measured,
            unavailable or below resolution (``energy_status`` says which).
        energy_j_per_1k_min: Smallest per-repeat figure, J (None unless resolved).
        energy_j_per_1k_max: Largest per-repeat figure, J (None unless resolved).
        energy_spread_j_per_1k: Max minus min over repeats, J.
        energy_uncertainty_j_per_1k: Standard error of the figure, J.
        energy_resolution_j_per_1k: The floor under which a figure is noise, J.
        energy_idle_w: Median idle power subtracted, W.
        energy_method: "measured: ...", "estimated: ...", "unavailable: <reason>" or
            "not measured (energy=False)".
        energy_basis: "measured", "estimated" or "none".
        energy_attribution: "process" (this process's CPU time) or "machine" (whole machine
            minus idle), "none" when not measured.
        energy_status: "resolved", "below resolution (< F J/1k)", "unavailable: ..." or
            "not measured (energy=False)".
        energy_window_s: Length of the inference windows, s.
        energy_calls_per_window: Calls per inference window (planned from the latency).
        analytic_energy_j_per_1k: The analytic model's J per 1,000 inferences.
        co2_g_per_1k: Grams CO2e per 1,000 inferences (from the measured energy).
        inference_s: Seconds spent running inference while profiling.
        profile_s: Seconds the whole profile took.

    Example:
        >>> from tf_green import models
        >>> x = np.zeros((4, 64), np.float32)
        >>> p = profile(models.mlp(), x, np.zeros(4), energy=False, repeats=1, latency_calls=2)
        >>> p.to_dict()["size_bytes"], p.metric_value
        (68904, 1.0)
    """

    name: str
    kind: str
    runtime: str
    metric: str
    metric_value: float | None
    metric_higher_is_better: bool
    samples: int
    params: int
    nonzero_params: int
    sparsity: float
    size_bytes: int
    gzip_bytes: int
    flops_per_sample: int
    macs_fp32: int
    macs_fp16: int
    macs_int8: int
    macs_int4: int
    macs_int16x8: int
    macs_int16: int
    macs_int32: int
    macs_skipped: int
    flops_method: str
    latency_ms_p50: float
    latency_ms_p95: float
    latency_cv: float
    latency_batch_size: int
    cpu_ms_per_inference: float
    throughput_per_s: float
    throughput_batch_size: int
    peak_memory_mb: float | None
    memory_method: str
    activation_bytes: int | None
    memory_bytes: int | None
    memory_bytes_method: str
    energy_j_per_1k: float | None
    energy_j_per_1k_min: float | None
    energy_j_per_1k_max: float | None
    energy_spread_j_per_1k: float | None
    energy_uncertainty_j_per_1k: float | None
    energy_resolution_j_per_1k: float | None
    energy_idle_w: float | None
    energy_method: str
    energy_basis: str
    energy_attribution: str
    energy_status: str
    energy_window_s: float | None
    energy_calls_per_window: int | None
    analytic_energy_j_per_1k: float
    co2_g_per_1k: float | None
    inference_s: float
    profile_s: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (one row of a results table).

        Returns:
            Field name to value.

        Example:
            >>> "latency_ms_p50" in Profile.__dataclass_fields__
            True
        """
        return asdict(self)


def _reporter(progress: bool | Callable[[str], None], name: str) -> Callable[[str], None]:
    if callable(progress):
        return lambda line: progress(f"{name}: {line}")
    if progress:
        return lambda line: print(f"[tf_green.bench] {name}: {line}", file=sys.stderr, flush=True)
    return lambda line: None


def _batches(x: np.ndarray | Inputs, batch_size: int) -> list[np.ndarray | Inputs]:
    if len(x) < batch_size:
        if isinstance(x, Inputs):
            x = x.repeat_to(batch_size)
        else:
            x = np.resize(x, (batch_size, *x.shape[1:]))
    return [x[i : i + batch_size] for i in range(0, len(x) - batch_size + 1, batch_size)]


def _metric_value(metric: Metric, variant: Variant, y: np.ndarray, outputs: np.ndarray) -> float:
    try:
        return float(metric.fn(y, outputs))
    except ValueError as error:
        raise ValueError(f"variant {variant.name!r}: metric {metric.name!r}: {error}") from error


def _check_positive(**values: float) -> None:
    for argument, value in values.items():
        if not value > 0:
            raise ValueError(f"`{argument}` must be > 0, got {value!r}.")


def profile(
    model_or_tflite: Any,
    x: Any,
    y: Any = None,
    *,
    metric: str | Callable | Metric = "accuracy",
    higher_is_better: bool | None = None,
    batch_size: int = 1,
    energy: bool = True,
    repeats: int = 5,
    name: str | None = None,
    throughput_batch_size: int = 64,
    latency_calls: int | None = None,
    energy_window_s: float = 3.0,
    energy_source: PowerSource | None = None,
    energy_attribution: str = "process",
    energy_budget_s: float | None = 60.0,
    country_iso_code: str = DEFAULT_COUNTRY,
    carbon_intensity_g_per_kwh: float | None = None,
    progress: bool | Callable[[str], None] = False,
) -> Profile:
    """Measure one variant side by side figures: quality, size, FLOPs, latency, memory, energy.

    Args:
        model_or_tflite: A tf_keras model, a Keras 3 model (TensorFlow or JAX backend), a
            ``TFLiteModel`` (e.g. of ``tg.to_tflite``), .tflite bytes, or a path to a
            .tflite / .keras / .h5 file or SavedModel directory.
        x: Inputs as Keras ``evaluate`` takes them: an array; for several inputs a list of
            arrays (model input order) or a dict keyed by input name; or a ``tf.data.Dataset``,
            batched or not, of ``x`` or ``(x, y)`` (``x`` may be a dict).
        y: Targets; without them ``metric_value`` is None (a latency/size-only profile).
        metric: "accuracy", "macro_f1" (higher is better), "perplexity", "mse", "mae",
            "rmse" (lower is better), a :class:`~tf_green.bench.metrics.Metric`, or a
            callable ``fn(y_true, y_pred)`` with ``higher_is_better`` given.
        higher_is_better: The direction of a callable ``metric`` (required for one).
        batch_size: Samples per call for latency and energy (the serving batch), >= 1.
        energy: Measure energy (``repeats`` windows of about ``energy_window_s``, a number of
            calls planned from the latency, plus equal idle windows); False skips it.
        repeats: Latency runs and energy windows, >= 1.
        name: Name in results; defaults to the model's name.
        throughput_batch_size: Samples per call for the metric pass, throughput and memory.
        latency_calls: Timed calls per latency run; None: enough for ~0.25 s per run.
        energy_window_s: Length of each inference window, seconds (several seconds is what
            CodeCarbon's 1-second sampling needs; shorter only for tests with a fake source).
        energy_source: A power source; default the one of ``energy_attribution``.
        energy_attribution: "process" (default: this process's CPU seconds x CodeCarbon's
            power per core, robust to other load on a shared machine) or "machine"
            (CodeCarbon whole-machine power minus idle; measured where RAPL/NVML is readable).
            See :mod:`tf_green.bench.profile_energy`.
        energy_budget_s: Seconds the energy stage may take (inference plus idle windows); a
            figure below resolution is measured again with 4x longer windows while that fits.
            None: one round.
        country_iso_code: Grid for CO2 with the default source (default "USA").
        carbon_intensity_g_per_kwh: Force a carbon intensity with the default source.
        progress: Print one line per stage (True), or call this function with each line.

    Returns:
        The :class:`Profile`.

    Raises:
        ValueError: On bad sizes, lengths that differ, an unknown metric, a missing path, or
            data whose samples do not fit the model's input.
        TypeError: If the model or data is of an unsupported type.

    Example:
        >>> from tf_green import models
        >>> import numpy as np
        >>> x, y = np.zeros((8, 64), np.float32), np.zeros(8, np.int64)
        >>> p = profile(models.mlp(), x, y, energy=False, repeats=1, latency_calls=5)
        >>> p.metric, p.flops_per_sample, p.energy_method
        ('accuracy', 34048, 'not measured (energy=False)')
    """
    began = time.perf_counter()
    _check_positive(
        batch_size=batch_size,
        repeats=repeats,
        throughput_batch_size=throughput_batch_size,
        energy_window_s=energy_window_s,
    )
    metric = resolve_metric(metric, higher_is_better)
    variant = as_variant(model_or_tflite, name)
    x, y = as_arrays(x, y, variant.input_ranks())
    x = variant.check_input(x)
    say = _reporter(progress, f"{variant.name} ({variant.kind})")

    start = time.perf_counter()
    outputs = variant.predict(x, throughput_batch_size)
    inference_s = time.perf_counter() - start
    value = None if y is None else _metric_value(metric, variant, y, outputs)
    shown = "no targets" if value is None else f"{value:.4f}"
    say(f"metric {metric.name} = {shown} on {len(x)} samples ({inference_s:.1f} s)")

    size = variant.size()
    macs = variant.macs(x.shape[1:])
    analytic = analytic_energy(macs.by_precision(), size.weight_bytes_read)
    say(
        f"size {size.size_bytes} B, {size.params} params ({size.sparsity:.0%} zero), "
        f"{macs.flops_per_sample} FLOPs/sample"
    )

    batches = _batches(x, batch_size)
    cpu_start = time.process_time()
    latency = measure_latency(
        lambda i: variant.run(batches[i % len(batches)]), repeats=int(repeats), calls=latency_calls
    )
    cpu_ms = 1000.0 * (time.process_time() - cpu_start) / max(latency.calls * batch_size, 1)
    inference_s += latency.total_s
    say(f"latency p50 {latency.latency_ms_p50:.3f} ms, p95 {latency.latency_ms_p95:.3f} ms")

    with PeakMemory() as peak:
        throughput = measure_throughput(
            lambda a, b: variant.run(x[a:b]), len(x), int(throughput_batch_size)
        )
    inference_s += throughput.total_s
    rss_mb, rss_method = rss_figure(peak.peak_mb)
    deployed = activation_memory(variant, x.shape[1:])
    say(f"throughput {throughput.throughput_per_s:.0f}/s at batch {throughput_batch_size}")

    measured = None
    if energy:
        counter = iter(range(10**12))

        def run_one() -> int:
            variant.run(batches[next(counter) % len(batches)])
            return batch_size

        measured = measure_energy(
            run_one,
            latency_ms=latency.latency_ms_p50,
            source=energy_source,
            attribution=energy_attribution,
            window_s=energy_window_s,
            repeats=int(repeats),
            budget_s=energy_budget_s,
            country_iso_code=country_iso_code,
            carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh,
        )
        inference_s += measured.inference_s
        shown = "n/a" if measured.j_per_1k is None else f"{measured.j_per_1k:.4g} J/1k"
        if measured.available and measured.j_per_1k is None:
            shown = below_resolution_text(measured.resolution_j_per_1k)
        say(f"energy {shown} ({measured.basis}, {measured.attribution}: {measured.method})")

    return Profile(
        name=variant.name,
        kind=variant.kind,
        runtime=variant.runtime,
        metric=metric.name,
        metric_value=value,
        metric_higher_is_better=metric.higher_is_better,
        samples=len(x),
        params=size.params,
        nonzero_params=size.nonzero_params,
        sparsity=size.sparsity,
        size_bytes=size.size_bytes,
        gzip_bytes=size.gzip_bytes,
        flops_per_sample=macs.flops_per_sample,
        macs_fp32=macs.macs_fp32,
        macs_fp16=macs.macs_fp16,
        macs_int8=macs.macs_int8,
        macs_int4=macs.macs_int4,
        macs_int16x8=macs.macs_int16x8,
        macs_int16=macs.macs_int16,
        macs_int32=macs.macs_int32,
        macs_skipped=macs.macs_skipped,
        flops_method=macs.method,
        latency_ms_p50=latency.latency_ms_p50,
        latency_ms_p95=latency.latency_ms_p95,
        latency_cv=latency.latency_cv,
        latency_batch_size=int(batch_size),
        cpu_ms_per_inference=cpu_ms,
        throughput_per_s=throughput.throughput_per_s,
        throughput_batch_size=int(throughput_batch_size),
        peak_memory_mb=rss_mb,
        memory_method=rss_method,
        activation_bytes=deployed.activation_bytes,
        memory_bytes=deployed.memory_bytes,
        memory_bytes_method=deployed.method,
        analytic_energy_j_per_1k=analytic.j_per_1k,
        **energy_fields(measured),
        inference_s=inference_s,
        profile_s=time.perf_counter() - began,
    )
