import math
import os
import pathlib

import pandas as pd
import pytest

from tf_green import models
from tf_green.bench import Bench, FakePowerSource, Targets
from tf_green.bench.plot import pareto_front
from tf_green.bench.solution import break_even

FAST = {"repeats": 2, "latency_calls": 10, "energy_window_s": 0.02}


@pytest.fixture(scope="module")
def ran(trained_cnn, cnn_tflite_int8, val_digits):
    """A bench of the trained CNN, its INT8 .tflite and an untrained CNN, fake energy."""
    from tf_green import quantization

    x, y = val_digits
    source = FakePowerSource({"inference": 30.0, "idle": 20.0}, carbon_intensity_g_per_kwh=400.0)
    bench = Bench(
        x,
        y,
        targets=Targets(max_metric_drop=0.05, min_size_reduction=1.1),
        energy_source=source,
        **FAST,
    )
    bench.add("baseline", trained_cnn)
    bench.add("int8", quantization.TFLiteModel(cnn_tflite_int8))
    bench.add("untrained", models.cnn(width=8, engine="tf_keras"))
    results = bench.run(progress=False)
    return bench, results


def test_run_gives_one_row_per_variant_with_ratios(ran, weights_digest, trained_cnn):
    bench, results = ran
    assert list(results["name"]) == ["baseline", "int8", "untrained"]
    assert list(results["is_baseline"]) == [True, False, False]
    base = results.iloc[0]
    for _, row in results.iterrows():
        assert row["size_reduction"] == pytest.approx(base["size_bytes"] / row["size_bytes"])
        assert row["speedup"] == pytest.approx(base["latency_ms_p50"] / row["latency_ms_p50"])
        assert row["energy_reduction"] == pytest.approx(
            base["energy_j_per_1k"] / row["energy_j_per_1k"]
        )
        assert row["metric_drop"] == pytest.approx(base["metric_value"] - row["metric_value"])
    assert base["metric_drop"] == 0 and base["size_reduction"] == 1
    meets = dict(zip(results["name"], results["meets_targets"], strict=True))
    assert meets == {"baseline": False, "int8": True, "untrained": False}
    missed = dict(zip(results["name"], results["targets_missed"], strict=True))
    assert missed["baseline"] == "size_reduction 1 < 1.1"
    assert missed["untrained"].startswith("metric_drop ")
    assert set(bench.profiles) == {"baseline", "int8", "untrained"}


def test_energy_to_solution_only_for_variants_meeting_the_metric_target(ran):
    bench, results = ran
    solution = bench.energy_to_solution()
    status = dict(zip(solution["name"], solution["status"], strict=True))
    assert status["baseline"] == status["int8"] == "attained"
    assert status["untrained"].startswith("not attained: metric_drop ")
    row = solution.set_index("name").loc["int8"]
    per_1k = results.set_index("name").loc["int8", "energy_j_per_1k"]
    assert row["requests"] == 200
    assert row["energy_j"] == pytest.approx(per_1k * 200 / 1000)
    assert row["co2_g"] == pytest.approx(per_1k * 0.2 / 3.6e6 * 400.0)
    assert math.isnan(solution.set_index("name").loc["untrained", "energy_j"])
    assert bench.energy_to_solution(requests=1000).set_index("name").loc[
        "int8", "energy_j"
    ] == pytest.approx(per_1k)
    with pytest.raises(ValueError, match="`requests` must be >= 1"):
        bench.energy_to_solution(0)


def test_break_even_is_compression_energy_over_savings(ran):
    bench, results = ran
    table = bench.break_even({"int8": 12.0}, basis="analytic").set_index("name")
    energy = results.set_index("name")["analytic_energy_j_per_1k"]
    saved = energy["baseline"] - energy["int8"]
    assert table.loc["int8", "saved_j_per_1k"] == pytest.approx(saved)
    assert table.loc["int8", "break_even_inferences"] == pytest.approx(12.0 / (saved / 1000))
    assert math.isnan(table.loc["untrained", "break_even_inferences"])  # no energy given
    assert list(bench.break_even(5.0)["name"]) == ["int8", "untrained"]
    with pytest.raises(ValueError, match=r"names \['nope'\] that are not non-baseline"):
        bench.break_even({"nope": 1.0})
    with pytest.raises(ValueError, match="`basis` must be 'measured' or 'analytic'"):
        bench.break_even(1.0, basis="guess")
    with pytest.raises(ValueError, match="must be >= 0"):
        bench.break_even(-1.0)


def test_report_has_a_break_even_section_only_with_compression_energy(ran, tmp_path):
    bench, _ = ran
    plain = (bench.report(tmp_path / "plain") / "report.md").read_text()
    assert "## Break-even" not in plain
    folder = bench.report(tmp_path / "even", compression_energy_j={"int8": 12.0})
    text = (folder / "report.md").read_text()
    section = text.split("## Break-even", 1)[1].split("## How the figures", 1)[0]
    assert "| int8 |" in section and "break_even_inferences" in section
    with pytest.raises(ValueError, match="must be >= 0"):
        bench.report(tmp_path / "bad", compression_energy_j=-1.0)
    assert not (tmp_path / "bad").exists()


def test_break_even_never_when_nothing_is_saved():
    frame = pd.DataFrame(
        {
            "name": ["b", "worse", "better"],
            "is_baseline": [True, False, False],
            "energy_j_per_1k": [2.0, 3.0, 1.5],
            "analytic_energy_j_per_1k": [1.0, 1.0, 1.0],
        }
    )
    table = break_even(frame, 10.0).set_index("name")
    assert table.loc["worse", "break_even_inferences"] == math.inf
    assert table.loc["better", "break_even_inferences"] == pytest.approx(10.0 / 0.0005)


def test_markdown_csv_and_plot(ran, tmp_path):
    bench, results = ran
    table = bench.to_markdown()
    assert table.splitlines()[0].startswith("| name | kind | metric_value | metric_drop |")
    assert "| int8 | tflite-int8 |" in table and "size_reduction 1 < 1.1" in table
    path = bench.to_csv(tmp_path / "results.csv")
    again = pd.read_csv(path)
    assert list(again["name"]) == list(results["name"])
    assert again["latency_ms_p50"].tolist() == pytest.approx(results["latency_ms_p50"].tolist())
    figure = bench.plot()
    left, right, analytic = figure.axes  # the analytic model is always beside the meter's figure
    assert left.get_xlabel().startswith("size (bytes)") and "gzip" in left.get_xlabel()
    assert right.get_xlabel().startswith("measured energy")
    assert analytic.get_xlabel().startswith("analytic energy")
    labels = left.get_legend_handles_labels()[1]
    assert "baseline" in labels and "Pareto front" in labels
    with pytest.raises(ValueError, match="folder '/no/such' does not exist"):
        bench.to_csv("/no/such/results.csv")


def test_pareto_front():
    assert pareto_front([3, 1, 2, 2], [0.9, 0.5, 0.9, 0.8], higher_is_better=True) == [1, 2]
    assert pareto_front([1, 2], [10.0, 5.0], higher_is_better=False) == [0, 1]
    assert pareto_front([1, float("nan")], [0.5, 0.9], higher_is_better=True) == [0]


def test_bench_errors_name_the_problem(trained_cnn, val_digits, capsys):
    x, y = val_digits
    with pytest.raises(ValueError, match="`x` has 200 samples but `y` has 10"):
        Bench(x, y[:10])
    with pytest.raises(ValueError, match=r"`metric` 'auc' is unknown; use one of"):
        Bench(x, y, metric="auc")
    with pytest.raises(TypeError, match=r"unknown Bench option\(s\) \['epochs'\]"):
        Bench(x, y, epochs=3)
    with pytest.raises(TypeError, match="`targets` must be a Targets"):
        Bench(x, y, targets={"max_metric_drop": 0.1})
    bench = Bench(x, y, baseline="teacher", energy=False, **FAST)
    with pytest.raises(ValueError, match="no variants to run"):
        bench.run()
    bench.add("student", trained_cnn)
    with pytest.raises(ValueError, match="a variant named 'student' was already added"):
        bench.add("student", trained_cnn)
    with pytest.raises(ValueError, match=r"variant 'flat' expects samples of shape \(64,\)"):
        bench.add("flat", models.mlp(engine="tf_keras"))
    with pytest.raises(ValueError, match=r"path 'missing\.tflite' does not exist"):
        bench.add("missing", "missing.tflite")
    with pytest.raises(ValueError, match=r"`baseline` 'teacher' was not added; .* \['student'\]"):
        bench.run()
    with pytest.raises(ValueError, match=r"no results yet; call bench\.run"):
        bench.to_markdown()
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_report_with_real_codecarbon_offline_writes_only_the_report(
    trained_cnn, cnn_tflite, val_digits, tmp_path, monkeypatch, block_network, capsys
):
    from tf_green import quantization

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    x, y = val_digits
    bench = Bench(x, y, repeats=1, latency_calls=10, energy_window_s=0.3)
    bench.add("baseline", trained_cnn).add("float", quantization.TFLiteModel(cnn_tflite))
    results = bench.run(progress=True)
    err = capsys.readouterr().err
    assert err.count("[tf_green.bench] [") == 2  # one line per variant ...
    assert err.count("baseline (keras): ") == 5  # ... and one per stage
    # CodeCarbon's own log stays quiet; the method text may name its TDP table
    assert "codecarbon" not in err.lower().replace("codecarbon cpu_load", "").replace(
        "codecarbon tdp", ""
    )
    assert all(m.startswith(("estimated: ", "measured: ")) for m in results["energy_method"])
    assert results["energy_j_per_1k"].notna().all()
    folder = bench.report(cwd / "report")
    assert sorted(os.listdir(cwd)) == ["report"]
    assert sorted(os.listdir(folder)) == ["report.md", "results.csv", "tradeoff.png"]
    text = (folder / "report.md").read_text()
    assert "| baseline | keras |" in text and "Horowitz" in text and "Energy to solution" in text
    if any(m.startswith("estimated") for m in results["energy_method"]):
        assert "not from a power meter" in text  # the caveat of estimated energy
    assert pathlib.Path(folder / "tradeoff.png").read_bytes()[:4] == b"\x89PNG"
    assert block_network == []
