"""TFMOT's pruning wrapper, registered and with a complete config.

TFMOT's ``PruneLowMagnitude`` is not registered with Keras (so a saved wrapped model only
loads inside ``tfmot.sparsity.keras.prune_scope()``) and its ``get_config`` drops
``sparsity_m_by_n`` (so a reloaded 2:4 model silently prunes unstructured). This subclass
fixes both and changes nothing else: TFMOT's callbacks and ``strip_pruning`` recognise it,
because it *is* a ``PruneLowMagnitude``.

Example:
    >>> from tf_green._keras import keras
    >>> layer = PruneLowMagnitude(keras.layers.Dense(4), sparsity_m_by_n=(2, 4))
    >>> layer.get_config()["sparsity_m_by_n"]
    (2, 4)
"""

from __future__ import annotations

from typing import Any

from tf_green._keras import keras
from tf_green.pruning._tfmot import pruning_schedule as tfmot_schedules
from tf_green.pruning._tfmot import pruning_wrapper as tfmot_wrapper

__all__ = ["PruneLowMagnitude", "deserialize_schedule", "is_pruning_wrapper"]

_BUILTIN_SCHEDULES = {
    "ConstantSparsity": tfmot_schedules.ConstantSparsity,
    "PolynomialDecay": tfmot_schedules.PolynomialDecay,
}


def deserialize_schedule(config: dict[str, Any]) -> tfmot_schedules.PruningSchedule:
    """Rebuild a pruning schedule from ``schedule.get_config()``.

    TFMOT's two schedules are known by name; any other schedule class must be registered
    with ``keras.utils.register_keras_serializable`` (looked up by its registered name or
    its class name).

    Args:
        config: ``{"class_name": ..., "config": {...}}`` as ``PruningSchedule.get_config``
            returns it.

    Returns:
        A new schedule equal to the one that produced ``config``.

    Raises:
        ValueError: If ``config`` is malformed or names an unknown, unregistered class.

    Example:
        >>> s = tfmot_schedules.ConstantSparsity(0.5, begin_step=0)
        >>> deserialize_schedule(s.get_config()).target_sparsity
        0.5
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "`pruning_schedule` config must be a dict with 'class_name' and 'config' keys, "
            f"as PruningSchedule.get_config() returns; got {config!r}."
        )
    name = config["class_name"]
    cls = _BUILTIN_SCHEDULES.get(name) or keras.utils.get_registered_object(name)
    if cls is None:  # get_config gives the bare class name; registration adds "package>"
        registered = keras.utils.get_custom_objects()
        cls = next(
            (
                obj
                for key, obj in registered.items()
                if key.split(">")[-1] == name
                and isinstance(obj, type)
                and issubclass(obj, tfmot_schedules.PruningSchedule)
            ),
            None,
        )
    if cls is None:
        raise ValueError(
            f"Unknown pruning schedule class {name!r}. Register it with "
            "`keras.utils.register_keras_serializable()` so saved models can rebuild it."
        )
    return cls.from_config(config.get("config", {}))


@keras.utils.register_keras_serializable(package="tf_green")
class PruneLowMagnitude(tfmot_wrapper.PruneLowMagnitude):
    """Magnitude-pruning wrapper of one layer (TFMOT's, registered, complete config).

    Args:
        layer: The layer to prune: a built-in layer TFMOT supports, or a layer that
            implements ``get_prunable_weights`` (``tfmot.sparsity.keras.PrunableLayer``).
        pruning_schedule: A TFMOT ``PruningSchedule`` that says when to prune and to what
            sparsity. Defaults to TFMOT's ``ConstantSparsity(0.5, begin_step=0)``.
        block_size: Block shape for block sparsity of rank-2 weights; (1, 1) is none.
        block_pooling_type: ``"AVG"`` or ``"MAX"``, how a block's magnitude is pooled.
        sparsity_m_by_n: ``(m, n)`` for m zeros in every n consecutive input channels
            (TFMOT sets this mask once, at the first training step), or None.
        **kwargs: Standard layer arguments; the name is always ``prune_low_magnitude_<layer>``.

    Raises:
        ValueError: If the layer is not prunable or the options are invalid (from TFMOT).

    Example:
        >>> wrapped = PruneLowMagnitude(keras.layers.Dense(3))
        >>> wrapped.name.startswith("prune_low_magnitude_dense")
        True
    """

    def __init__(
        self,
        layer: keras.layers.Layer,
        pruning_schedule: tfmot_schedules.PruningSchedule | None = None,
        block_size: tuple[int, int] = (1, 1),
        block_pooling_type: str = "AVG",
        sparsity_m_by_n: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if pruning_schedule is None:
            pruning_schedule = tfmot_schedules.ConstantSparsity(0.5, begin_step=0)
        super().__init__(
            layer,
            pruning_schedule=pruning_schedule,
            block_size=tuple(block_size),
            block_pooling_type=block_pooling_type,
            sparsity_m_by_n=sparsity_m_by_n,
            **kwargs,
        )

    def get_config(self) -> dict[str, Any]:
        """Return the wrapper's config, including ``sparsity_m_by_n`` (TFMOT's drops it)."""
        config = super().get_config()
        config["block_size"] = tuple(self.block_size)
        config["sparsity_m_by_n"] = (
            tuple(self.sparsity_m_by_n) if self.sparsity_m_by_n is not None else None
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PruneLowMagnitude:
        """Rebuild the wrapper, its schedule and its inner layer from ``get_config()``."""
        config = dict(config)
        config["pruning_schedule"] = deserialize_schedule(config.pop("pruning_schedule"))
        config["layer"] = keras.layers.deserialize(config.pop("layer"))
        if config.get("sparsity_m_by_n") is not None:
            config["sparsity_m_by_n"] = tuple(config["sparsity_m_by_n"])
        return cls(**config)


def is_pruning_wrapper(layer: Any) -> bool:
    """Tell whether ``layer`` is a TFMOT pruning wrapper (tf_green's or TFMOT's own).

    Args:
        layer: Any object.

    Returns:
        True for instances of TFMOT's ``PruneLowMagnitude`` (this module's class included).

    Example:
        >>> is_pruning_wrapper(keras.layers.Dense(2))
        False
    """
    return isinstance(layer, tfmot_wrapper.PruneLowMagnitude)
