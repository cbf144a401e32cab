"""tg.distillation.tune on tf_keras: the arms table, the scratch arm, the split, one teacher run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tune_helpers as th

import tf_green as tg
import tf_green.distillation.tune_arms as tune_arms
from tf_green._keras import keras
from tf_green.distillation.tune import TuneResult, tune
from tf_green.distillation.tune_data import holdout_split

GRID = {"temperatures": (2.0, 4.0), "alphas": (0.0,)}


@pytest.fixture(scope="module")
def useless_run():
    """One tuning run with a teacher that teaches nothing (constant logits), counted."""
    x, y = th.blobs(90)
    seen: list[int] = []
    teacher, student = th.useless_teacher(keras, seen), th.student(keras)
    before = [w.copy() for w in student.get_weights()], [w.copy() for w in teacher.get_weights()]
    scored_on = []
    accuracy = tune_arms.accuracy
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            tune_arms,
            "accuracy",
            lambda m, xs, ids, b: scored_on.append(xs) or accuracy(m, xs, ids, b),
        )
        with pytest.warns(UserWarning, match="scratch arm won"):
            result = tune(
                teacher, student, x, y, epochs=3, sweep_epochs=1, holdout=0.3, batch_size=8,
                optimizer=keras.optimizers.Adam(0.05), refit=False, **GRID,
            )  # fmt: skip
    return {"result": result, "x": x, "y": y, "seen": seen, "scored_on": scored_on,
            "student": student, "teacher": teacher, "before": before}  # fmt: skip


def test_table_has_every_arm_and_stage(useless_run):
    result: TuneResult = useless_run["result"]
    table = result.table
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == list(tune_arms.COLUMNS)
    sweep = table[table.stage == "sweep"]
    assert sorted(sweep.arm) == ["T=2, alpha=0", "T=4, alpha=0"]
    assert set(sweep.epochs) == {1}
    full = table[table.stage == "full"]
    assert "scratch" in set(full.arm) and len(full) == 2  # scratch + one finalist
    assert set(full.epochs) == {3}
    assert "refit" not in set(table.stage)  # refit=False: the winner trained on the fit split
    assert (table.seconds > 0).all()
    assert np.isnan(table[table.arm == "scratch"].temperature).all()
    assert (table[table.arm == "scratch"].alpha == 1.0).all()


def test_useless_teacher_scratch_wins_and_says_so(useless_run):
    result = useless_run["result"]
    assert result.scratch_won and result.arm == "scratch"
    assert result.temperature is None and result.alpha == 1.0
    full = result.table[result.table.stage == "full"].set_index("arm").holdout_accuracy
    assert full["scratch"] > 0.9 > full.drop("scratch").max()
    assert result.holdout_accuracy == full["scratch"]
    x, y = useless_run["x"], useless_run["y"]
    assert np.mean(result.student.predict(x, verbose=0).argmax(-1) == y) > 0.9
    assert result.student.optimizer is not None  # compiled
    assert "scratch_won=True" in repr(result)


def test_holdout_comes_from_the_training_data(useless_run):
    x, result = useless_run["x"], useless_run["result"]
    assert result.holdout_samples == 27  # 30% of the 90 labelled samples, 9 per class
    scored = useless_run["scored_on"]
    assert scored and all(len(s) == 27 for s in scored)
    held = {row.tobytes() for row in scored[0]}
    assert all({r.tobytes() for r in s} == held for s in scored)
    assert held <= {row.tobytes() for row in x}
    assert set(result.table.train_samples) == {63}


def test_teacher_runs_once_over_the_data(useless_run):
    assert sum(useless_run["seen"]) == len(useless_run["x"])


def test_callers_models_unchanged(useless_run):
    student_before, teacher_before = useless_run["before"]
    for a, b in zip(useless_run["student"].get_weights(), student_before, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(useless_run["teacher"].get_weights(), teacher_before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert useless_run["student"].optimizer is None


def _transfer_run():
    x, y = th.blobs(300, seed=1)
    partial = np.where(np.arange(300) < 36, y, -1)  # 12 labels per class, 264 unlabelled
    optimizer = keras.optimizers.Adam(0.05)
    result = tune(
        th.good_teacher(keras), th.student(keras), x, partial, epochs=1, holdout=0.5,
        temperatures=(2.0,), alphas=(0.1,), optimizer=optimizer,
    )  # fmt: skip
    assert optimizer.iterations.numpy() == 0  # each fit had its own copy
    return result


def test_helpful_teacher_wins_and_runs_are_reproducible():
    first, second = _transfer_run(), _transfer_run()
    assert not first.scratch_won and (first.temperature, first.alpha) == (2.0, 0.1)
    table = first.table.set_index(["arm", "stage"])
    assert table.loc[("T=2, alpha=0.1", "full"), "train_samples"] == 282  # 18 labelled + 264
    assert table.loc[("scratch", "full"), "train_samples"] == 18
    assert table.loc[("T=2, alpha=0.1", "refit"), "train_samples"] == 300
    assert np.isnan(table.loc[("T=2, alpha=0.1", "refit"), "holdout_accuracy"])
    pd.testing.assert_series_equal(first.table.holdout_accuracy, second.table.holdout_accuracy)
    for a, b in zip(first.student.get_weights(), second.student.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_holdout_split_is_stratified_and_keeps_unlabelled_in_fit():
    ids = np.array([0] * 20 + [1] * 10 + [-1] * 15)
    split = holdout_split(ids, 0.4, seed=3)
    assert np.bincount(ids[split.holdout]).tolist() == [8, 4]
    assert not np.intersect1d(split.fit, split.holdout).size
    assert np.union1d(split.fit, split.holdout).tolist() == list(range(len(ids)))
    assert set(np.flatnonzero(ids == -1)) <= set(split.fit)
    assert holdout_split(ids, 0.4, seed=3).holdout.tolist() == split.holdout.tolist()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"temperatures": ()}, ValueError, "`temperatures` is empty"),
        ({"alphas": []}, ValueError, "`alphas` is empty"),
        ({"temperatures": (4.0, 0.0)}, ValueError, "`temperatures` must be a number > 0"),
        ({"temperatures": (-1.0,)}, ValueError, "`temperatures`"),
        ({"temperature": 0.0}, ValueError, "`temperature` must be a number > 0"),
        ({"alphas": (1.5,)}, ValueError, r"`alphas` must be a number in \[0, 1\]"),
        ({"alphas": (-0.1,)}, ValueError, "`alphas`"),
        ({"alpha": 2.0}, ValueError, r"`alpha` must be a number in \[0, 1\]"),
        ({"temperatures": 4.0}, TypeError, "`temperatures` must be a sequence"),
        ({"holdout": 1.0}, ValueError, "`holdout` must be a fraction"),
        ({"holdout": 0.01}, ValueError, "too little labelled data.*`holdout`"),
        ({"sweep_epochs": 5, "epochs": 2}, ValueError, "`sweep_epochs`"),
        ({"epochs": 0}, ValueError, "`epochs`"),
        ({"finalists": 0}, ValueError, "`finalists`"),
        ({"cache": False}, ValueError, "`cache`"),
        ({"feature_pairs": [("a", "b")]}, ValueError, "`feature_pairs`"),
        ({"task": "regression"}, ValueError, "`task`"),
        ({"cache": "yes"}, TypeError, "`cache` must be True or a TeacherCache"),
        ({"refit": False, "callbacks": []}, ValueError, "`callbacks`: used only by the refit"),
        ({"refit": False, "validation_data": (1, 2)}, ValueError, "`validation_data`: used only"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    seen: list[int] = []
    x, y = th.blobs(60)
    with pytest.raises(error, match=match):
        tune(th.useless_teacher(keras, seen), th.student(keras), x, y, **kwargs)
    assert not seen  # refused before the teacher ran


def test_bad_data_is_named():
    teacher, student = th.useless_teacher(keras), th.student(keras)
    x, y = th.blobs(60)
    with pytest.raises(ValueError, match="too little labelled data"):
        tune(teacher, student, x[:20], y[:20])  # 20% of 20 labels: 4 < 10
    with pytest.raises(ValueError, match="too little labelled data"):
        tune(teacher, student, x, np.where(np.arange(60) < 9, y, -1), holdout=0.5)
    with pytest.raises(ValueError, match="`y` is None"):
        tune(teacher, student, x, None)
    with pytest.raises(ValueError, match="`y` has label 3"):
        tune(teacher, student, x, np.full(60, 3))
    with pytest.raises(TypeError, match=r"`x` is a tf\.data\.Dataset"):
        tune(teacher, student, tf.data.Dataset.from_tensor_slices((x, y)).batch(8), None)
    bad = x.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="`x` has a non-finite value"):
        tune(teacher, student, bad, y)


def test_distill_temperature_auto_runs_tune_and_returns_its_student():
    x, y = th.blobs(60)
    student = th.student(keras)
    before = [w.copy() for w in student.get_weights()]
    with pytest.warns(UserWarning, match="scratch arm won"):
        trained = tg.distill(
            th.useless_teacher(keras), student, x, y, temperature="auto", epochs=1,
            temperatures=(2.0,), alphas=(0.0,), batch_size=8,
            optimizer=keras.optimizers.Adam(0.05),
        )  # fmt: skip
    assert isinstance(trained, keras.Model) and trained is not student
    assert trained.optimizer is not None
    for a, b in zip(student.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="`temperature` must be a number"):
        tg.distill(th.useless_teacher(keras), student, x, y, temperature="hot")
