"""Engine-neutral core: what tf_keras and Keras 3 models share (placeholder by the DATA owner)."""
