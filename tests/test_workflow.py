import re

import keras
import numpy as np
import pytest

from tf_green import loading, workflow_steps
from tf_green._engine import engine_of
from tf_green.recipe import parse_recipe
from tf_green.workflow import run_recipe


@pytest.fixture(scope="module")
def tiny_data(digits_data):
    (x, y), (xv, yv) = digits_data
    return (x[:200], y[:200]), (xv[:60], yv[:60])


def test_failed_step_leaves_nothing_and_names_no_staging_path(tmp_path, tiny_data, monkeypatch):
    def broken_save(ctx, step):
        raise ValueError(f"cannot write {ctx.staging / 'a.keras'}")

    monkeypatch.setitem(workflow_steps.RUNNERS, "save", broken_save)
    recipe = parse_recipe(
        {
            "steps": [
                {"train": {"name": "a", "width": 2, "epochs": 1}},
                {"save": {"sources": ["a"]}},
            ]
        }
    )
    out = tmp_path / "out"
    with pytest.raises(ValueError) as excinfo:
        run_recipe(recipe, out, data=tiny_data, energy=False, progress=None)
    assert str(excinfo.value) == f"cannot write {out / 'a.keras'}"
    assert list(tmp_path.iterdir()) == []


def test_names_are_checked_before_anything_runs():
    with pytest.raises(ValueError, match=r"source 'missing' is not a model.*known models: \['a'\]"):
        parse_recipe(
            {
                "steps": [
                    {"train": {"name": "a", "width": 2, "epochs": 1}},
                    {"prune": {"name": "b", "source": "missing"}},
                ]
            }
        )
    with pytest.raises(ValueError, match=r"step 2, 'train'.*name 'a' is already used"):
        parse_recipe({"steps": [{"train": {"name": "a"}}, {"train": {"name": "a"}}]})


def test_busy_out_dir(tmp_path, tiny_data):
    recipe = parse_recipe({"steps": [{"train": {"name": "a", "width": 2, "epochs": 1}}]})
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        run_recipe(recipe, tmp_path / "busy", data=tiny_data, energy=False, progress=None)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, tiny_data):
    """One run of a recipe without an ``engine`` key (Keras 3), shared by the tests below."""
    keras.utils.set_random_seed(0)
    lines = []
    recipe = parse_recipe(
        {
            "steps": [
                {"train": {"name": "base", "width": 4, "epochs": 2}},
                {"prune": {"name": "pruned", "source": "base", "sparsity": 0.5, "epochs": 2}},
                {"distill": {"name": "small", "teacher": "base", "width": 2, "epochs": 1}},
                {"export": {"sources": ["pruned"], "quantization": ["float32", "int8"]}},
                {"save": {"sources": ["pruned"]}},
                {"bench": {"baseline": "base", "repeats": 1}},
            ]
        }
    )
    out = tmp_path_factory.mktemp("default_run") / "run"
    result = run_recipe(recipe, out, data=tiny_data, energy=False, progress=lines.append)
    return recipe, result, lines


def test_default_run_writes_keras3_models_tflite_and_report(default_run):
    recipe, result, lines = default_run
    assert recipe.engine == "keras3"  # the default engine
    assert set(result.files) == {
        "recipe.yaml",
        "pruned.keras",
        "pruned_float32.tflite",
        "pruned_int8.tflite",
        "report.md",
        "results.csv",
        "tradeoff.png",
    }
    names = ["base", "pruned", "small", "pruned_float32", "pruned_int8"]
    assert list(result.table["name"]) == names
    assert np.all(result.table["metric_value"] > 0.1)
    assert any(line.startswith("prune pruned") for line in lines)
    assert result.out_dir.stat().st_mode & 0o777 != 0o700  # staged with mkdtemp, shared after
    assert parse_recipe(result.out_dir / "recipe.yaml").to_dict() == recipe.to_dict()
    saved = keras.saving.load_model(result.out_dir / "pruned.keras")  # a Keras 3 file
    kernel = saved.get_layer("conv2").kernel.numpy()
    assert 0.45 <= float(np.mean(kernel == 0)) <= 0.55


def test_run_without_energy_meters_nothing_in_the_bench(default_run):
    # run_recipe(energy=False) (the CLI's --no-energy) skips all metering, the bench's too.
    _, result, _ = default_run
    assert set(result.table["energy_status"]) == {"not measured (energy=False)"}


def test_tf_keras_engine_trains_and_prunes_with_tfmot_and_loaded_models_keep_their_engine(
    tmp_path, tiny_data, default_run
):
    # ``engine: tf_keras``: the tf_keras + TFMOT path. A loaded Keras 3 teacher keeps its
    # file's engine, and the student distilled from it is built for that engine.
    _, first, _ = default_run
    recipe = parse_recipe(
        {
            "engine": "tf_keras",
            "steps": [
                {"load": {"name": "teacher", "path": str(first.out_dir / "pruned.keras")}},
                {"train": {"name": "base", "width": 2, "epochs": 1}},
                {"prune": {"name": "base_pruned", "source": "base", "sparsity": 0.5}},
                {"distill": {"name": "student", "teacher": "teacher", "width": 2, "epochs": 1}},
                {"save": {"sources": ["base_pruned", "student"]}},
            ],
        }
    )
    run_recipe(recipe, tmp_path / "run", data=tiny_data, energy=False, progress=None)
    pruned = loading.load_model(tmp_path / "run" / "base_pruned.keras")
    assert engine_of(pruned) == "tf_keras"
    kernel = pruned.get_layer("conv2").kernel.numpy()
    assert 0.45 <= float(np.mean(kernel == 0)) <= 0.55
    assert engine_of(loading.load_model(tmp_path / "run" / "student.keras")) == "keras3"


@pytest.mark.slow
def test_language_model_recipe_distills_prunes_exports_samples_and_benches(tmp_path):
    recipe = parse_recipe(
        {
            "task": "slm",
            "data": "python_docs",
            "data_options": {"seq_len": 32, "max_chars": 20_000},
            "steps": [
                {"train": {"name": "teacher", "model": "tiny_lm", "d_model": 32, "epochs": 1}},
                {
                    "distill": {
                        "name": "student",
                        "teacher": "teacher",
                        "model": "tiny_lm",
                        "d_model": 16,
                        "num_layers": 1,
                        "epochs": 1,
                    }
                },
                {"prune": {"name": "pruned", "source": "student", "sparsity": 0.5}},
                {"export": {"sources": ["pruned"], "quantization": ["dynamic"]}},
                {
                    "sample": {
                        "sources": ["teacher", "pruned_dynamic"],
                        "max_new_tokens": 20,
                        "compare_cache": ["pruned"],
                        "compare_tokens": 4,
                    }
                },
                {
                    "bench": {
                        "baseline": "teacher",
                        "metric": "perplexity",
                        "repeats": 1,
                        "max_metric_drop": 100.0,
                    }
                },
            ],
        }
    )
    result = run_recipe(recipe, tmp_path / "slm", energy=False, progress=None)
    table = result.table.set_index("name")
    assert table.loc["pruned_dynamic", "kind"] == "tflite-dynamic"
    assert table.loc["student", "params"] < table.loc["teacher", "params"] / 4
    assert 1.0 < table.loc["teacher", "metric_value"] < 120.0  # perplexity, vocab ~104
    samples = (tmp_path / "slm" / "samples.md").read_text()
    assert "## teacher" in samples and "## pruned_dynamic" in samples
    assert "## Cached vs uncached decoding" in samples
    assert re.search(r"^\| pruned \| [\d.]+ \| [\d.]+ \| [\d.]+x \| yes \|$", samples, re.M)
