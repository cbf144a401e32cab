"""The demo recipes: the seed's whole workflow on embedded data, as recipe mappings.

``tf-green demo`` runs one of these; ``benchmarks/end_to_end.py`` and the tests use them too.

Example:
    >>> from tf_green.recipe import parse_recipe
    >>> [step.kind for step in parse_recipe(demo_recipe("slm", quick=True)).steps][:2]
    ['train', 'distill']
"""

from __future__ import annotations

__all__ = ["demo_recipe"]


def demo_recipe(
    task: str = "digits", quick: bool = False, seed: int = 0, engine: str = "keras3"
) -> dict:
    """The seed's workflow on embedded data, as a recipe mapping.

    ``digits``: train a CNN teacher -> prune it iteratively within a 1-point budget ->
    distill a cnn(24) student (24x fewer parameters) -> prune the distilled student ->
    INT8 export of each -> bench everything. ``slm``: the same on a character-level
    transformer LM trained on the standard library's help text, exported with dynamic-range
    quantization (full INT8 activations through LayerNorm and softmax ruin its perplexity;
    see benchmarks/RESULTS.md), plus generated samples.

    Args:
        task: ``"digits"`` or ``"slm"``.
        quick: Fewer epochs, less data, fewer exports (digits: the teacher's and the final
            student's) and shorter energy windows (under 3 minutes).
        seed: Random seed.
        engine: The Keras the models are built with: ``"keras3"`` (default) or ``"tf_keras"``
            (tf_keras + TFMOT).

    Returns:
        The recipe as a dict, ready for :func:`tf_green.recipe.parse_recipe`.

    Raises:
        ValueError: On an unknown task.

    Example:
        >>> [next(iter(s)) for s in demo_recipe(quick=True)["steps"]][:3]
        ['train', 'prune', 'distill']
    """
    if task == "slm":
        return {**_slm_recipe(quick, seed), "engine": engine}
    if task != "digits":
        raise ValueError(f"`task` must be 'digits' or 'slm', got {task!r}.")
    epochs = 3 if quick else 20
    # Each INT8 export calibrates in its own process: the quick run exports the two ends.
    exported = ["teacher", "student_pruned"]
    if not quick:
        exported = ["teacher", "teacher_pruned", "student", "student_pruned"]
    return {
        "task": task,
        "data": "digits",
        "seed": seed,
        "engine": engine,
        "steps": [
            {"train": {"name": "teacher", "model": "cnn", "width": 128, "epochs": epochs}},
            {
                "prune": {
                    "name": "teacher_pruned",
                    "source": "teacher",
                    "sparsities": [0.5, 0.8] if quick else [0.5, 0.7, 0.8, 0.9],
                    "epochs": 2,
                    "max_accuracy_drop": 0.01,
                }
            },
            {
                "distill": {
                    "name": "student",
                    "teacher": "teacher",
                    "width": 24,
                    "epochs": 6 if quick else 30,
                }
            },
            _prune_student(quick),
            {
                "export": {
                    "sources": exported,
                    "quantization": ["int8"],
                }
            },
            {"save": {"sources": ["teacher", "student_pruned"]}},
            {
                "bench": {
                    "baseline": "teacher",
                    "energy_window_s": 0.5 if quick else 3.0,
                    "repeats": 2 if quick else 3,
                    "max_metric_drop": 0.02,
                    "min_size_reduction": 2.0,
                }
            },
        ],
    }


def _prune_student(quick: bool) -> dict:
    return {
        "prune": {
            "name": "student_pruned",
            "source": "student",
            "sparsity": 0.5,
            "epochs": 2 if quick else 3,
        }
    }


def _slm_recipe(quick: bool, seed: int) -> dict:
    teacher = (
        {"d_model": 64, "num_layers": 2, "num_heads": 4}
        if quick
        else {"d_model": 128, "num_layers": 4, "num_heads": 4}
    )
    student = (
        {"d_model": 16, "num_layers": 1, "num_heads": 2}
        if quick
        else {"d_model": 48, "num_layers": 2, "num_heads": 4}
    )
    return {
        "task": "slm",
        "data": "python_docs",
        "data_options": {"seq_len": 64, **({"max_chars": 60_000} if quick else {})},
        "seed": seed,
        "steps": [
            {
                "train": {
                    "name": "teacher",
                    "model": "tiny_lm",
                    **teacher,
                    "epochs": 3 if quick else 6,
                    "learning_rate": 2e-3,
                }
            },
            {
                "distill": {
                    "name": "student",
                    "teacher": "teacher",
                    "model": "tiny_lm",
                    **student,
                    "epochs": 2 if quick else 10,
                    "alpha": 0.5,
                    "temperature": 1.0,
                    "learning_rate": 3e-3,
                }
            },
            _prune_student(quick),
            {
                "export": {
                    "sources": ["teacher", "student", "student_pruned"],
                    "quantization": ["float32", "dynamic"],
                }
            },
            {
                "export": {  # full integer with 16-bit activations, and INT4 weights
                    "sources": ["student_pruned"],
                    "quantization": ["int16x8", "int4"],
                    "representative_samples": 64,
                }
            },
            {"save": {"sources": ["teacher", "student_pruned"]}},
            {
                "sample": {
                    "sources": ["teacher", "student_pruned_dynamic"],
                    "prompt": "The for statement ",
                    "max_new_tokens": 80 if quick else 200,
                    "compare_cache": ["teacher", "student_pruned"],
                    "compare_tokens": 16 if quick else 40,
                }
            },
            {
                "bench": {
                    "baseline": "teacher",
                    "variants": [
                        "teacher",
                        "student",
                        "student_pruned",
                        "teacher_float32",
                        "student_float32",
                        "student_pruned_dynamic",
                        "student_pruned_int16x8",
                        "student_pruned_int4",
                    ],
                    "metric": "perplexity",
                    "energy_window_s": 1.0 if quick else 3.0,
                    "repeats": 1 if quick else 3,
                    "max_metric_drop": 1.0,
                    "min_size_reduction": 8.0,
                }
            },
        ],
    }
