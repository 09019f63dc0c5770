"""The configs a run travels with: ``RunConfig`` = ``DataConfig`` + ``ModelConfig`` + ``TrainConfig``.

All are frozen dataclasses with ``to_dict`` / ``from_dict`` (JSON and TOML round trips); invalid
values raise ``ValueError`` naming the field and what to do. ``None`` means "the model's default",
resolved by ``resolve_*`` helpers, so a config file states only what it changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import json
import math
from pathlib import Path
from typing import Any

from rethinking.config.data import MAX_SEED, TRANSITION_OF_LABEL_SET, DataConfig
from rethinking.config.options import ConfigDict, check_options, option

MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
OPTIMIZERS = ("sgd", "adam")
# Learning-rate schedules (rates per optimizer step: assembly.scheduled_rate and learning_rate_schedule).
SCHEDULES = ("exponential", "step", "cosine", "constant")
# Adam's initial learning rate when none is given (Keras' default; the model defaults are SGD's).
ADAM_LEARNING_RATE = 0.001

def _model_names() -> tuple[str, ...]:
    """The model registry's names (``rethinking.models.MODEL_CATALOG``; plain Python, no TensorFlow)."""
    from rethinking.registry.models import model_names  # noqa: PLC0415 (the registry is the only list of models)

    return model_names()


def _strategy_names() -> tuple[str, ...]:
    """The strategy registry's names (``rethinking.training.STRATEGIES``; plain Python)."""
    from rethinking.registry.strategies import STRATEGIES  # noqa: PLC0415

    return tuple(STRATEGIES)


def _model_entry(name: str):
    from rethinking.registry.models import model_entry  # noqa: PLC0415 (plain Python)

    return model_entry(name)


# Model-specific switches: passed to the builder only when set (a builder that does not take one refuses it).
MODEL_SWITCHES = ("depth", "units", "width")


def _check_model_switches(config: ModelConfig) -> None:
    """A toolkit model refuses the model-specific switches it does not take, naming the models that do."""
    from rethinking.registry.models import MODEL_CATALOG  # noqa: PLC0415

    entry = _model_entry(config.name)
    if not str(entry.location).startswith("rethinking.models."):
        return  # a builder of the user's: checked against its signature when it is built
    for switch in MODEL_SWITCHES:
        if getattr(config, switch) is not None and switch not in entry.switches:
            takers = [name for name, e in MODEL_CATALOG.items() if switch in e.switches]
            group = MODEL_CATALOG[takers[0]].switches
            raise ValueError(f"{' and '.join(group)} appl{'y' if len(group) > 1 else 'ies'} only to "
                             f"model{'s' if len(takers) > 1 else ''} {', '.join(repr(t) for t in takers)}. "
                             f"Received: name={config.name!r}")


@dataclasses.dataclass(frozen=True)
class ModelConfig(ConfigDict):
    """Which network, with which switches.

    Attributes:
        name: a registered model (``rethinking.models.model_names()``) or a builder of your own,
            ``"package.module:function"``.
        batch_norm: None: the architecture's default (on for the Inceptions, off otherwise).
        dropout: dropout rate (where it applies: see docs/models.md).
        weight_decay: L2 coefficient lambda of (lambda / 2) ||w||^2 on every kernel.
        width_multiplier: scales every layer width.
        depth: hidden layers, for ``name="mlp"`` only.
        units: hidden units per layer, for ``name="mlp"`` only.
        width: base width k of the ResNets (ResNet-18: k, 2k, 4k, 8k channels; WRN-28-k: 16k, 32k, 64k).
    """

    name: str = option("inception_small", "--model", "Network (docs/models.md), or your own builder as package.module:function.", choices=_model_names, open_choices=True)
    batch_norm: bool | None = option(None, "--batch-norm", "Batch norm after every conv/dense layer.", off_flag="--no-batch-norm", default_help="on for the Inceptions, off otherwise")
    dropout: float = option(0.0, "--dropout", "Dropout rate in [0, 1).")
    weight_decay: float = option(0.0, "--weight-decay", "L2 coefficient lambda of (lambda/2)||w||^2 on every kernel (the paper: 0.0005 in Table 1).")
    width_multiplier: float = option(1.0, "--width-multiplier", "Scales every layer width.")
    depth: int | None = option(None, "--depth", "Hidden layers (--model mlp only).", minimum=0, default_help="1")
    units: int | None = option(None, "--units", "Units per hidden layer (--model mlp only).", minimum=1, default_help="512")
    width: int | None = option(None, "--width", "Base width k of --model preact_resnet18 (k, 2k, 4k, 8k channels) or wide_resnet28 (WRN-28-k).", minimum=1, default_help="64 for ResNet-18, 10 for WRN-28")

    def __post_init__(self) -> None:
        check_options(self)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout is a rate in [0, 1). Received: dropout={self.dropout}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be a finite number >= 0. Received: weight_decay={self.weight_decay}")
        if not (self.width_multiplier > 0 and math.isfinite(self.width_multiplier)):
            raise ValueError(f"width_multiplier must be > 0. Received: width_multiplier={self.width_multiplier}")
        _check_model_switches(self)

    @property
    def resolved_batch_norm(self) -> bool:
        """Batch norm as the run builds it: the flag, else the architecture's default (the registry's)."""
        return self.batch_norm if self.batch_norm is not None else _model_entry(self.name).batch_norm

    def builder_kwargs(self) -> dict[str, Any]:
        """Keywords for ``MODELS[name]`` (unset switches left to the builder's defaults)."""
        kwargs: dict[str, Any] = dict(dropout=self.dropout, weight_decay=self.weight_decay,
                                      width_multiplier=self.width_multiplier)
        for key in ("batch_norm", *MODEL_SWITCHES):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        return kwargs


@dataclasses.dataclass(frozen=True)
class TrainConfig(ConfigDict):
    """How to train.

    Attributes:
        epochs: epochs to train; with ``until_fit``, the cap.
        batch_size: global batch size (split over replicas).
        learning_rate: None: the paper's (0.1 Inception, 0.01 others).
        momentum: SGD momentum.
        optimizer: ``sgd`` (the paper) or ``adam``.
        nesterov: Nesterov momentum (SGD).
        schedule: ``exponential`` (the paper: times ``lr_decay`` after every epoch), ``step``
            (times ``lr_step_factor`` at each epoch of ``lr_steps``), ``cosine`` (cosine decay to 0
            over ``epochs``) or ``constant``.
        lr_decay: the exponential schedule's factor per epoch (the paper: 0.95).
        lr_steps: the step schedule's epochs, comma-separated (``"60,120,160"``).
        lr_step_factor: the step schedule's factor at each of them.
        until_fit: stop as soon as training accuracy reaches ``fit_threshold``.
        fit_threshold: training accuracy (fraction, whole training set, inference mode) that counts
            as fitted.
        fit_every: also evaluate the training set (inference mode, the fit criterion) every this
            many steps within an epoch, so ``fit_step`` is found at step resolution; None: once an
            epoch, after it (stopping with ``until_fit`` still happens at an epoch's end).
        strategy: a name of ``rethinking.training.STRATEGIES`` (``auto``, ``mirrored``, ``multi-worker``, ...).
        deterministic: TensorFlow op determinism (bit-identical results across runs; slower).
        mixed_precision: ``none``, ``mixed_float16`` or ``mixed_bfloat16``.
        jit_compile: XLA; None: the model's default (``rethinking.models.MODEL_CATALOG``).
        steps_per_execution: training steps per graph call; None: the model's default.
        init_seed: seed of weight initialization and dropout; None: the data seed.
        init_from: a completed run's folder whose network (all but the classifier head) this run
            starts from (pre-training, e.g. on random labels); None: a fresh initialization.
        divergence_loss: a training loss above this (or NaN) stops the run as diverged.
        measures: compute the run's generalization measures once it completes (``measures.json``;
            not part of the run's identity: measuring changes no result).
        tensorboard_steps: also write each epoch's metrics at x = optimizer steps (``step_*`` tags;
            not part of the run's identity).
        eval_batch_size: batch size of the per-epoch evaluations (inference only, so it does not
            change results); None: as large as 1 GiB of activations allows
            (``training.evaluation.evaluation_batch_size``).
    """

    epochs: int = option(100, "--epochs", "Epochs to train (with --until-fit: the cap).", minimum=1)
    batch_size: int = option(128, "--batch-size", "Global batch size (split over replicas).", minimum=1)
    learning_rate: float | None = option(None, "--learning-rate", "Initial learning rate.", default_help="the model's SGD rate: the paper's 0.1 for the Inceptions, 0.01 otherwise; 0.001 with --optimizer adam")
    momentum: float = option(0.9, "--momentum", "SGD momentum.")
    optimizer: str = option("sgd", "--optimizer", "sgd (the paper's, with --momentum) or adam.", choices=OPTIMIZERS)
    nesterov: bool = option(False, "--nesterov", "Nesterov momentum (--optimizer sgd).", off_flag="--no-nesterov")
    schedule: str = option("exponential", "--schedule", "Learning-rate schedule: exponential (the paper's: x --lr-decay every epoch), step (x --lr-step-factor at each of --lr-steps), cosine (to 0 over --epochs), constant.", choices=SCHEDULES)
    lr_decay: float = option(0.95, "--lr-decay", "Learning-rate factor applied after every epoch (the paper's 0.95).")
    lr_steps: str | None = option(None, "--lr-steps", "Epochs at which --schedule step multiplies the rate by --lr-step-factor, comma-separated (e.g. 60,120,160).")
    lr_step_factor: float = option(0.1, "--lr-step-factor", "Factor of --schedule step at each of --lr-steps.")
    until_fit: bool = option(False, "--until-fit", "Stop once training accuracy reaches --fit-threshold (time to fit).", off_flag="--fixed-epochs")
    fit_threshold: float = option(1.0, "--fit-threshold", "Training accuracy that counts as fitted (1.0 = 100%).")
    fit_every: int | None = option(None, "--fit-every", "Also evaluate the whole training set (inference mode, the fit criterion) every STEPS training steps within an epoch: time to fit at step resolution (each evaluation costs a pass over the training set).", minimum=1, default_help="once an epoch")
    strategy: str = option("auto", "--strategy", "tf.distribute strategy (auto: all local GPUs, else one device; multi-worker reads TF_CONFIG).", choices=_strategy_names)
    deterministic: bool = option(False, "--deterministic", "TensorFlow op determinism: bit-identical results across runs (slower).", off_flag="--nondeterministic")
    mixed_precision: str = option("none", "--mixed-precision", "Keras dtype policy (float32 logits in any case).", choices=MIXED_PRECISION)
    jit_compile: bool | None = option(None, "--jit-compile", "XLA.", off_flag="--no-jit-compile", default_help="per model, docs/models.md")
    steps_per_execution: int | None = option(None, "--steps-per-execution", "Training steps per graph call.", minimum=1, default_help="per model")
    init_seed: int | None = option(None, "--init-seed", "Seed of weight initialization and dropout.", minimum=0,
                                   maximum=MAX_SEED, default_help="--seed")
    init_from: str | None = option(None, "--init-from", "Start from a completed run's network (its folder): every layer but the classifier head, which starts afresh; the source is recorded.", default_help="a fresh initialization")
    divergence_loss: float = option(1e4, "--divergence-loss", "A training loss above this (or NaN) stops the run as diverged.")
    measures: bool = option(False, "--measures", "At the end of the run, compute its generalization measures (measures.json; docs/measures.md).", off_flag="--no-measures")
    tensorboard_steps: bool = option(False, "--tensorboard-steps", "Also write each epoch's metrics to TensorBoard at x = optimizer steps (tags step_*), to compare runs of different batch sizes.", off_flag="--no-tensorboard-steps", hparam=False)
    eval_batch_size: int | None = option(None, "--eval-batch-size", "Batch size of the per-epoch evaluations.", minimum=1, default_help="as large as 1 GiB of activations allows")

    def __post_init__(self) -> None:
        check_options(self)
        if self.learning_rate is not None and not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a finite number > 0. Received: learning_rate={self.learning_rate}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1). Received: momentum={self.momentum}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay is a per-epoch factor in (0, 1]. Received: lr_decay={self.lr_decay}")
        if not 0.0 < self.lr_step_factor <= 1.0:
            raise ValueError(f"lr_step_factor must be in (0, 1]. Received: lr_step_factor={self.lr_step_factor}")
        if (self.schedule == "step") != (self.lr_steps is not None):
            raise ValueError("--schedule step takes --lr-steps (e.g. 60,120,160), and --lr-steps only applies to it. "
                             f"Received: schedule={self.schedule!r}, lr_steps={self.lr_steps!r}")
        if self.lr_steps is not None:
            self.step_epochs()  # raises on a malformed list
        if self.nesterov and self.optimizer != "sgd":
            raise ValueError(f"nesterov applies to --optimizer sgd. Received: optimizer={self.optimizer!r}")
        if not 0.0 < self.fit_threshold <= 1.0:
            raise ValueError(f"fit_threshold is an accuracy in (0, 1]. Received: fit_threshold={self.fit_threshold}")
        if not self.divergence_loss > 0:
            raise ValueError(f"divergence_loss must be > 0. Received: divergence_loss={self.divergence_loss}")


    def step_epochs(self) -> tuple[int, ...]:
        """The epochs of ``lr_steps`` as integers (increasing, positive); () when unset."""
        if self.lr_steps is None:
            return ()
        try:
            epochs = tuple(int(part) for part in str(self.lr_steps).split(","))
        except ValueError:
            epochs = ()
        if not epochs or any(e < 1 for e in epochs) or list(epochs) != sorted(set(epochs)):
            raise ValueError("lr_steps takes increasing positive epochs, comma-separated (e.g. 60,120,160). "
                             f"Received: lr_steps={self.lr_steps!r}")
        return epochs


@dataclasses.dataclass(frozen=True)
class RunConfig(ConfigDict):
    """One training run: data, model, training, and where it is written.

    Attributes:
        data: the ``DataConfig``.
        model: the ``ModelConfig``.
        train: the ``TrainConfig``.
        experiment: folder under ``log_dir`` grouping runs (a sweep, a table).
        run_name: the run's folder; None: derived from the config (``default_run_name``), so the
            same command finds the same folder again and resumes it.
        log_dir: root of the run folders.
    """

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    experiment: str = option("default", "--experiment", "Folder under --log-dir grouping runs.", hparam=False)
    run_name: str | None = option(None, "--run-name", "The run's folder.", default_help="derived from the config", hparam=False)
    log_dir: str = option("tensorboard_logs", "--log-dir", "Root of the run folders.", hparam=False)

    def __post_init__(self) -> None:
        for field in ("experiment", "run_name"):
            value = getattr(self, field)
            if value is not None and (not value or "/" in value or value in (".", "..")):
                raise ValueError(f"{field} must be a non-empty folder name without '/'. Received: {field}={value!r}")

    @property
    def resolved_run_name(self) -> str:
        """``run_name``, or the name derived from the config."""
        return self.run_name or default_run_name(self)

    @property
    def learning_rate(self) -> float:
        """The initial learning rate: the configured one, else Adam's default (0.001) or the model's SGD rate."""
        if self.train.learning_rate is not None:
            return self.train.learning_rate
        if self.train.optimizer == "adam":
            return ADAM_LEARNING_RATE
        return _model_entry(self.model.name).learning_rate

    @property
    def init_seed(self) -> int:
        """Seed of weight initialization and dropout (the data seed unless set)."""
        return self.data.seed if self.train.init_seed is None else self.train.init_seed


# sha256 of dataset files, by (resolved path, size in bytes, mtime in ns): hashed once per process.
_FINGERPRINTS: dict[tuple[str, int, int], str] = {}
_HASH_CHUNK = 1 << 20  # bytes


def file_fingerprint(path: str | Path) -> str | None:
    """The sha256 (hex) of a file's content; None for a missing file.

    Cached by the file's size and modification time, so a sweep hashes each file once.
    """
    path = Path(path).expanduser()
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _FINGERPRINTS:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(_HASH_CHUNK):
                    digest.update(chunk)
            _FINGERPRINTS[key] = digest.hexdigest()
        return _FINGERPRINTS[key]
    except OSError:
        return None


def is_dataset_path(dataset: str) -> bool:
    """Whether ``--dataset`` names a file (read as .npz) rather than a registered or TFDS name or a
    function: a name ending in .npz (any case), holding a path separator, or of an existing file.
    The one rule of both the loader and the run's identity (a file's content is hashed)."""
    return (dataset.lower().endswith(".npz") or os.sep in dataset or "/" in dataset
            or Path(dataset).expanduser().is_file())


def dataset_fingerprint(dataset: str) -> str | None:
    """The sha256 (hex) of a dataset file's content (``is_dataset_path``); None for named datasets or a
    missing file."""
    return file_fingerprint(dataset) if is_dataset_path(dataset) else None


def transition_fingerprint(transition: str | None) -> str | None:
    """The sha256 (hex) of a ``--transition`` file's content; None without one, or for a label set's
    matrix (measured from the named dataset, whose name is in the config)."""
    if transition is None or transition.startswith(TRANSITION_OF_LABEL_SET):
        return None
    return file_fingerprint(transition)


def content_identity(config: RunConfig) -> dict[str, str | None]:
    """The content hashes of the files a run reads by path: ``dataset_sha256`` (a ``.npz`` dataset) and
    ``transition_sha256`` (a transition-matrix file); None where there is no such file."""
    return data_content_identity(config.data)


def data_content_identity(data: DataConfig) -> dict[str, str | None]:
    """``content_identity`` of a data configuration alone (what the data pipelines a process keeps
    are told apart by, beside the configuration itself)."""
    return {"dataset_sha256": dataset_fingerprint(data.dataset),
            "transition_sha256": transition_fingerprint(data.corruption.transition)}


def run_identity(config: RunConfig) -> dict[str, Any]:
    """What makes a run's results, as a flat ``{dotted key: value}`` dict.

    Every option except where the run is written (experiment, run name, log dir), whether it is
    measured afterwards, whether TensorBoard also gets step-indexed curves, where the pixel work runs
    (identical inputs), and the epoch cap: a longer run of the same config continues a shorter
    one, as the schedule does not depend on the cap (except ``cosine``, whose cap is kept). Options at their default are left out, so a
    new option (at its default) changes no existing run's identity.
    """
    from rethinking.config.options import option_values  # noqa: PLC0415

    skip = {"experiment", "run_name", "log_dir", "measures", "tensorboard_steps", "pixel_ops"} | ({"epochs"} if config.train.schedule != "cosine" else set())
    return {spec.key: value for name, (spec, value) in option_values(config).items()
            if spec.path[-1] not in skip and value != spec.default}


def config_digest(config: RunConfig) -> str:
    """A short hash of ``run_identity``: everything that changes a run's results.

    For a ``.npz`` dataset or a transition-matrix file that includes the file's content: a changed
    file is a new run.
    """
    values = run_identity(config)
    for key, fingerprint in content_identity(config).items():
        if fingerprint is not None:  # only then, so the names of runs without such files never change
            values[key] = fingerprint
    text = json.dumps(values, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def default_run_name(config: RunConfig) -> str:
    """``<model>-<labels>-<pixels>[-replaced<K>]-seed<k>-<digest>``: readable, and unique per config.

    A builder given as ``package.module:function`` is named by its function (the digest tells
    builders of the same name apart).
    """
    c = config.data.corruption
    labels = (f"partial{c.corruption_prob:g}" if c.labels == "partial" else f"human_{c.label_set}" if c.labels == "human"
              else c.labels)
    model = config.model.name.rpartition(":")[2]
    replaced = f"-replaced{config.data.replace_example}" if config.data.replace_example is not None else ""
    return f"{model}-labels_{labels}-pixels_{c.pixels}{replaced}-seed{config.data.seed}-{config_digest(config)}"
