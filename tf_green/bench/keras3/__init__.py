"""The bench's Keras 3 pieces that need the JAX backend: a jitted runner and a jaxpr MAC count.

Keras 3 models on the TensorFlow backend share the tf_keras path (one ``tf.function``, MACs from
the traced graph, :mod:`tf_green.bench.flops`); only the JAX backend needs its own engine,
:mod:`tf_green.bench.keras3.jax_engine`, which imports ``jax`` and is imported only when a
Keras 3 model on JAX arrives. Nothing here imports tf_keras or TFMOT.

Example:
    >>> import tf_green.bench.keras3
    >>> tf_green.bench.keras3.__name__
    'tf_green.bench.keras3'
"""
