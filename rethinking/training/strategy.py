"""The one ``tf.distribute`` seam: every run gets its strategy from ``get_strategy(name)``.

The names are the keys of ``rethinking.training.STRATEGIES`` (the registry); each maps to the
``<name>_strategy`` function here. Adding a strategy: one function plus one registry name.

=============  ==========================================================================
``auto``       ``MirroredStrategy`` over all GPUs when there are several, else the default
``default``    TensorFlow's default strategy (no distribution: one CPU or GPU)
``one-device`` ``OneDeviceStrategy`` on the first GPU, else the CPU
``mirrored``   ``MirroredStrategy``: synchronous data parallelism over the local GPUs (or,
               without GPUs, the logical CPU devices configured before TensorFlow starts)
``multi-worker`` ``MultiWorkerMirroredStrategy`` across machines described by ``TF_CONFIG``
``tpu``        ``TPUStrategy`` on the TPU found by ``TPUClusterResolver`` (Cloud TPU VMs)
=============  ==========================================================================

Keras 3's ``model.fit`` does not run under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585); ``uses_keras_fit`` tells the engine which driver to use (see
``training.engine``: ``model.fit`` or its ``strategy.run`` step loop). The global batch size is the one the user asks for, whatever the replica count.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from rethinking.registry import load_function
from rethinking.training import STRATEGIES


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The distribution strategy called ``name`` (a key of ``rethinking.training.STRATEGIES``).

    Raises:
        ValueError: an unknown name, ``multi-worker`` without a usable ``TF_CONFIG``, or ``tpu``
            without a TPU.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}.")
    return load_function(STRATEGIES[name], "strategy")()


def auto_strategy() -> tf.distribute.Strategy:
    """``MirroredStrategy`` over all local GPUs when there are several, else the default strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def default_strategy() -> tf.distribute.Strategy:
    """TensorFlow's default strategy: no distribution."""
    return tf.distribute.get_strategy()


def one_device_strategy() -> tf.distribute.Strategy:
    """``OneDeviceStrategy`` on the first GPU, else the CPU."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")


def mirrored_strategy() -> tf.distribute.Strategy:
    """``MirroredStrategy`` over the local GPUs, or without GPUs over the logical CPU devices."""
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def multi_worker_strategy() -> tf.distribute.Strategy:
    """``MultiWorkerMirroredStrategy`` across the machines of ``TF_CONFIG``.

    Nothing may list devices before it: collective ops must be configured before TF's runtime starts.
    """
    check_tf_config(os.environ.get("TF_CONFIG"))
    return tf.distribute.MultiWorkerMirroredStrategy()


def check_tf_config(text: str | None) -> dict:
    """Parses ``TF_CONFIG`` for a multi-worker run; a clear error when it is missing or malformed."""
    help_text = ('set TF_CONFIG on every machine, e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                 '"task": {"type": "worker", "index": 0}} (docs/training.md)')
    if not text:
        raise ValueError(f"--strategy multi-worker needs the TF_CONFIG environment variable: {help_text}.")
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        if not isinstance(workers, list) or not workers or task["type"] not in ("worker", "chief"):
            raise KeyError("worker")
        int(task["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"TF_CONFIG is not a valid multi-worker cluster ({type(err).__name__}: {err}): {help_text}.") from err
    return config


def tpu_strategy() -> tf.distribute.Strategy:
    """``TPUStrategy`` on the TPU ``TPUClusterResolver`` finds (Cloud TPU VMs)."""
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError) as err:
        raise ValueError(f"--strategy tpu found no TPU here ({err}); use auto, mirrored or default.") from err
    return tf.distribute.TPUStrategy(resolver)


def uses_keras_fit(strategy: tf.distribute.Strategy, pixel_ops: str = "host") -> bool:
    """Whether ``model.fit`` can drive training under ``strategy``: not under multi-worker, and not
    with raw batches (``pixel_ops="device"``) under any strategy but the default one, where Keras
    averages the first batch over replicas to build its metrics (which raw batches do not allow)."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return pixel_ops != "device" or not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run directory (always, except non-chief workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and
                                            "chief" not in resolver.cluster_spec().as_dict())


def worker_id(strategy: tf.distribute.Strategy) -> int:
    """This worker's index (0 outside multi-worker runs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 0
    return int(resolver.task_id or 0)
