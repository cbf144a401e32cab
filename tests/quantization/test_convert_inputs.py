import numpy as np
import pytest

import tf_green as tg
from tf_green import models


def test_nan_in_representative_data_is_refused_before_converting():
    model = models.mlp(hidden=(8,), engine="tf_keras")
    x = np.random.default_rng(0).random((20, 64), dtype=np.float32)
    x[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"representative_data.*(nan|NaN)"):
        tg.to_tflite(model, quantization="int8", representative_data=x)
    # Only the calibrated samples matter: a NaN past them is never read.
    clean = tg.to_tflite(
        model, quantization="int8", representative_data=x[:15][::-1], representative_samples=10
    )
    assert len(clean) > 0


def test_an_empty_representative_dataset_is_named():
    from tf_green._keras import tf

    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 64), np.float32)).batch(4)
    with pytest.raises(ValueError, match="representative_data"):
        tg.to_tflite(
            models.mlp(hidden=(8,), engine="tf_keras"),
            quantization="int8",
            representative_data=empty,
        )
