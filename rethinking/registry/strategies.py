"""The distribution strategies by name: the only list of them (descriptions in training/strategy.py).

Plain Python on the floor, so the config layer and the CLI read the names without TensorFlow; its
public home is ``rethinking.training.STRATEGIES``.
"""

from __future__ import annotations

# {name: "module:function"} of a function () -> tf.distribute.Strategy.
STRATEGIES: dict[str, str] = {
    name: f"rethinking.training.strategy:{name.replace('-', '_')}_strategy"
    for name in ("auto", "default", "one-device", "mirrored", "multi-worker", "tpu")
}
