"""Model assembly: the configured network, compiled the way the engine trains it.

``assemble_model(config, pipeline)`` is what the engine calls inside ``strategy.scope()`` and what
the hyperparameter search (``experiments.tuning``) calls for each trial: the builder from the model
registry under the configured dtype policy, the optimizer on its learning-rate schedule (the
paper's: SGD with momentum, decayed per epoch), cross-entropy on logits, and the model's compile defaults (XLA, steps per call).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from rethinking.config import RunConfig
from rethinking.models import ModelEntry, model_entry, register
from rethinking.registry import load_function

# The switches every run passes, at the value that means "off": a builder that does not take one
# is called without it while it is off (a researcher's builder need not take them).
NEUTRAL_SWITCHES = {"dropout": 0.0, "weight_decay": 0.0, "width_multiplier": 1.0}


def builder_arguments(builder: Callable[..., Any], switches: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The switches ``builder`` is called with: those its signature takes.

    Raises:
        ValueError: a switch set to something other than "off" that the builder does not take,
            naming the switches and what the builder does take.
    """
    try:
        parameters = inspect.signature(builder).parameters
    except (TypeError, ValueError):  # no signature to read (some C callables): pass everything
        return dict(switches)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(switches)
    taken = {k: v for k, v in switches.items() if k in parameters}
    refused = {k: v for k, v in switches.items() if k not in parameters and NEUTRAL_SWITCHES.get(k, object()) != v}
    if refused:
        offered = [p for p in parameters if parameters[p].kind is inspect.Parameter.KEYWORD_ONLY
                   or parameters[p].default is not inspect.Parameter.empty]
        raise ValueError(f"The builder of model {model!r} does not take {', '.join(f'{k}={v!r}' for k, v in refused.items())}"
                         f" (it takes {', '.join(offered) or 'no switches'}): drop those options or add the keywords to "
                         "the builder.")
    return taken


def check_callable_as_builder(builder: Any, model: str, input_shape: tuple[int, ...], num_classes: int,
                              kwargs: Mapping[str, Any]) -> None:
    """Refuses what cannot be called as ``builder(input_shape, num_classes, **switches)`` (e.g.
    ``--model os:getcwd``) before calling it: one line instead of the callee's TypeError.

    Raises:
        ValueError: naming the model and the form a builder takes.
    """
    if not callable(builder):
        raise ValueError(f"--model {model} names {type(builder).__name__}, not a function; a builder is "
                         "builder(input_shape, num_classes, **switches) -> keras.Model.")
    try:
        inspect.signature(builder).bind(input_shape, num_classes, **kwargs)
    except ValueError:
        return  # no signature to read (some C callables): the call will tell
    except TypeError as err:
        raise ValueError(f"--model {model} is not a model builder ({err}); a builder is "
                         "builder(input_shape, num_classes, **switches) -> keras.Model.") from None


def use_builder(config: RunConfig, builder: Callable[..., keras.Model]) -> RunConfig:
    """``config`` training ``builder``: a builder ``(input_shape, num_classes, **switches)`` or a factory ``()``.

    The config's model name becomes the builder's location (``module:function``) when it can be
    imported from there, so the run records how to find it again; otherwise (a local function, a
    factory) the builder is registered under its own name, which the run records.

    Raises:
        ValueError: a callable without a usable name (a lambda): register it under a name.
    """
    try:
        required = [p for p in inspect.signature(builder).parameters.values() if p.default is inspect.Parameter.empty
                    and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        required = [None, None]
    location = ModelEntry(builder).location if required else None
    try:
        importable = location is not None and load_function(location) is builder
    except ValueError:
        importable = False
    if importable:
        name = location
    else:
        name = getattr(builder, "__name__", "")
        if not name.isidentifier():
            raise ValueError(f"Give your model a name: rethinking.models.register('my_net', builder) and "
                             f"ModelConfig(name='my_net'), or a named function. Received: {builder!r}")
        factory = builder
        register(name, builder if required else (lambda input_shape, num_classes: factory()))
    return dataclasses.replace(config, model=dataclasses.replace(config.model, name=name))


def build_model(config: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """The configured network, under the configured dtype policy (global policy restored after).

    Raises:
        ValueError: the builder cannot be loaded, refuses a switch, or does not return a Keras model.
    """
    builder = model_entry(config.model.name).load()
    kwargs = builder_arguments(builder, config.model.builder_kwargs(), config.model.name)
    check_callable_as_builder(builder, config.model.name, input_shape, num_classes, kwargs)
    previous = keras.config.dtype_policy()
    if config.train.mixed_precision != "none":
        keras.config.set_dtype_policy(config.train.mixed_precision)
    try:
        model = builder(input_shape, num_classes, **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)
    if not isinstance(model, keras.Model):
        raise ValueError(f"The builder of model {config.model.name!r} returned {type(model).__name__}, not a keras.Model.")
    return model


def compile_settings(config: RunConfig, keras_fit: bool, replicas: int = 1) -> dict[str, Any]:
    """``jit_compile`` and ``steps_per_execution``: the configured ones, else the model's defaults.

    Under the multi-worker driver both are off: XLA clusters cannot hold the cross-worker
    all-reduce on CPU, and the driver runs one step per call. With several replicas, too: under
    MirroredStrategy Keras 3.15's multi-step loop fails ("You must feed a value for placeholder
    tensor ... while/cond") and so does XLA ("Trying to access resource ... located in device
    CPU:1 from device CPU:0"). With op determinism (``deterministic``) XLA is off as well: Keras
    drops it then anyway (XLA is not deterministic), and the run's record says what ran. With
    ``fit_every``, at most that many steps per call (the fit is checked between calls).
    """
    entry = model_entry(config.model.name)
    jit = entry.jit_compile if config.train.jit_compile is None else config.train.jit_compile
    spe = entry.steps_per_execution if config.train.steps_per_execution is None else config.train.steps_per_execution
    if not keras_fit:
        return {"jit_compile": False, "steps_per_execution": 1}
    if replicas > 1:
        jit, spe = False, 1
    if config.train.deterministic:
        jit = False
    if config.train.fit_every is not None:
        # The fit is checked between graph calls: a call of more steps than --fit-every would skip
        # checks (the MLPs' default of 20 steps covers a whole 16-step laptop epoch).
        spe = min(spe, config.train.fit_every)
    return {"jit_compile": bool(jit), "steps_per_execution": int(spe)}


def scheduled_rate(config: RunConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based: steps taken before it), as documented.

    exponential: ``lr * lr_decay ** floor(step / steps_per_epoch)`` (the paper's per-epoch decay);
    step: ``lr * lr_step_factor ** (milestones reached)``, a milestone epoch e reached at step
    ``e * steps_per_epoch``; cosine: ``lr * (1 + cos(pi * min(step, T) / T)) / 2``, T = epochs x
    steps per epoch; constant: ``lr``. Nothing depends on the epoch cap except cosine.
    """
    train, rate = config.train, config.learning_rate
    epoch = step // steps_per_epoch
    if train.schedule == "exponential":
        return rate * train.lr_decay ** epoch
    if train.schedule == "step":
        return rate * train.lr_step_factor ** sum(1 for e in train.step_epochs() if epoch >= e)
    if train.schedule == "cosine":
        total = train.epochs * steps_per_epoch
        return rate * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    return rate


def learning_rate_schedule(config: RunConfig, steps_per_epoch: int) -> keras.optimizers.schedules.LearningRateSchedule | float:
    """The Keras schedule giving ``scheduled_rate`` at every optimizer step."""
    train, rate = config.train, config.learning_rate
    schedules = keras.optimizers.schedules
    if train.schedule == "exponential":
        return schedules.ExponentialDecay(rate, decay_steps=steps_per_epoch, decay_rate=train.lr_decay, staircase=True)
    if train.schedule == "step":  # PiecewiseConstantDecay keeps values[i] while step <= boundaries[i]
        epochs = train.step_epochs()
        return schedules.PiecewiseConstantDecay([e * steps_per_epoch - 1 for e in epochs],
                                                [rate * train.lr_step_factor ** i for i in range(len(epochs) + 1)])
    if train.schedule == "cosine":
        return schedules.CosineDecay(rate, decay_steps=train.epochs * steps_per_epoch)
    return rate


def make_optimizer(config: RunConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """SGD (momentum, optionally Nesterov) or Adam, on the configured schedule."""
    schedule = learning_rate_schedule(config, steps_per_epoch)
    if config.train.optimizer == "adam":
        return keras.optimizers.Adam(schedule)
    return keras.optimizers.SGD(schedule, momentum=config.train.momentum, nesterov=config.train.nesterov)


def compile_model(model: keras.Model, config: RunConfig, steps_per_epoch: int, settings: dict[str, Any],
                  metrics: Sequence[keras.metrics.Metric] = ()) -> None:
    """The optimizer, cross-entropy on logits, running batch accuracy and any extra ``metrics``."""
    model.compile(optimizer=make_optimizer(config, steps_per_epoch),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"), *metrics], **settings)
    model.optimizer.build(model.trainable_variables)  # variables exist before a checkpoint is restored into them


def assemble_model(config: RunConfig, pipeline: Any, *, keras_fit: bool = True, replicas: int = 1,
                   metrics: Sequence[keras.metrics.Metric] = ()) -> tuple[keras.Model, dict[str, Any]]:
    """Builds and compiles the network of ``config`` for ``pipeline``'s inputs.

    Args:
        config: the run.
        pipeline: its ``DataPipeline`` (input shape, classes, steps per epoch).
        keras_fit: trained with ``model.fit`` (else the multi-worker step loop).
        replicas: replicas in sync (compile settings depend on it).
        metrics: extra Keras metrics to compile in.

    Returns:
        The compiled model and its compile settings (``jit_compile``, ``steps_per_execution``).
    """
    settings = compile_settings(config, keras_fit, replicas)
    model = build_model(config, pipeline.input_shape, pipeline.info.num_classes)
    compile_model(model, config, pipeline.steps_per_epoch, settings, metrics)
    return model, settings
