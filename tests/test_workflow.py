import keras
import numpy as np
import pytest

from tf_green import workflow_steps
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


def test_small_run_writes_models_tflite_and_report(tmp_path, tiny_data):
    lines = []
    recipe = parse_recipe(
        {
            "steps": [
                {"train": {"name": "base", "width": 4, "epochs": 2}},
                {"prune": {"name": "pruned", "source": "base", "sparsity": 0.5, "epochs": 2}},
                {"export": {"sources": ["pruned"], "quantization": ["float32", "int8"]}},
                {"save": {"sources": ["pruned"]}},
                {"bench": {"baseline": "base", "repeats": 1}},
            ]
        }
    )
    result = run_recipe(
        recipe, tmp_path / "run", data=tiny_data, energy=False, progress=lines.append
    )
    assert set(result.files) == {
        "recipe.yaml",
        "pruned.keras",
        "pruned_float32.tflite",
        "pruned_int8.tflite",
        "report.md",
        "results.csv",
        "tradeoff.png",
    }
    assert list(result.table["name"]) == ["base", "pruned", "pruned_float32", "pruned_int8"]
    assert np.all(result.table["metric_value"] > 0.1)
    assert any(line.startswith("prune pruned") for line in lines)
    assert (tmp_path / "run").stat().st_mode & 0o777 != 0o700  # staged with mkdtemp, shared after
    assert parse_recipe(tmp_path / "run" / "recipe.yaml").to_dict() == recipe.to_dict()


@pytest.mark.slow
def test_language_model_recipe_distills_prunes_exports_samples_and_benches(tmp_path):
    recipe = parse_recipe(
        {
            "task": "slm",
            "data": "python_docs",
            "data_options": {"seq_len": 32, "max_chars": 20_000},
            "steps": [
                {"train": {"name": "teacher", "model": "tiny_lm", "d_model": 64, "epochs": 1}},
                {
                    "distill": {
                        "name": "student",
                        "teacher": "teacher",
                        "model": "tiny_lm",
                        "d_model": 32,
                        "num_layers": 1,
                        "epochs": 1,
                    }
                },
                {"prune": {"name": "pruned", "source": "student", "sparsity": 0.5}},
                {"export": {"sources": ["pruned"], "quantization": ["dynamic"]}},
                {"sample": {"sources": ["teacher", "pruned_dynamic"], "max_new_tokens": 20}},
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


def test_keras3_engine_run_trains_prunes_exports_saves_and_benches_keras3_models(
    tmp_path, tiny_data
):
    recipe = parse_recipe(
        {
            "engine": "keras3",
            "steps": [
                {"train": {"name": "base", "width": 4, "epochs": 2}},
                {"prune": {"name": "pruned", "source": "base", "sparsity": 0.5, "epochs": 2}},
                {"distill": {"name": "small", "teacher": "base", "width": 2, "epochs": 1}},
                {"export": {"sources": ["pruned"], "quantization": ["int8"]}},
                {"save": {"sources": ["pruned"]}},
                {"bench": {"baseline": "base", "repeats": 1}},
            ],
        }
    )
    result = run_recipe(recipe, tmp_path / "run", data=tiny_data, energy=False, progress=None)
    assert {"pruned.keras", "pruned_int8.tflite", "report.md"} <= set(result.files)
    assert list(result.table["name"]) == ["base", "pruned", "small", "pruned_int8"]
    assert np.all(result.table["metric_value"] > 0.1)
    saved = keras.saving.load_model(tmp_path / "run" / "pruned.keras")
    kernel = saved.get_layer("conv2").kernel.numpy()
    assert 0.45 <= float(np.mean(kernel == 0)) <= 0.55
