"""Shared parts of the ``rethinking`` command: the group, one-line errors, options from the config.

Errors: a bad flag or value exits 2 with one line on stderr; a problem of the environment (data
that cannot be had here, a run in use, a full disk, ...) exits 1 with one line saying what to do.
Neither prints a traceback. TensorFlow starts only once a command has checked its flags.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click

# Quiet TensorFlow's C++ start-up chatter before it is imported (a user sees our lines, not its).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Failure(click.ClickException):
    """A one-line failure with an exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turns the library's expected errors into one-line messages (2: bad input, 1: the environment).

    Only modules already loaded are consulted: a usage error caught before TensorFlow started
    must not start it just to be classified.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, BrokenPipeError):
            raise
        except Exception as err:  # noqa: BLE001 (classified below; anything else propagates unchanged)
            failure = _classify(err)
            if failure is None:
                raise
            raise failure from err

    return wrapper


def _loaded(module: str, name: str) -> type | None:
    """``module.name`` if ``module`` is already imported, else None."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


def _classify(err: Exception) -> Failure | None:
    """The one-line failure for an expected error, or None for a bug (which keeps its traceback)."""
    from rethinking.training.runlock import LockLost, RunLocked  # noqa: PLC0415 (pure Python)

    environment = tuple(t for t in (RunLocked, LockLost, _loaded("rethinking.data.datasets", "DatasetUnavailableError"),
                                    _loaded("rethinking.training.checkpoints", "CheckpointError")) if t is not None)
    if isinstance(err, environment):
        return Failure(str(err), 1)
    if isinstance(err, ValueError):
        return Failure(str(err), 2)
    tf = sys.modules.get("tensorflow")
    if _disk_full(err):  # before memory: TensorFlow reports a full disk as ResourceExhaustedError too
        return Failure(disk_full_message(err), 1)
    if isinstance(err, MemoryError) or (tf is not None and isinstance(err, tf.errors.ResourceExhaustedError)):
        return Failure(out_of_memory_message(err), 1)
    if isinstance(err, OSError):
        return Failure(os_error_message(err), 1)
    return None


def _disk_full(err: BaseException) -> bool:
    """A full disk or an exhausted quota, however the library that wrote reported it (OSError,
    TensorFlow's ResourceExhaustedError, h5py's OSError without errno)."""
    import errno  # noqa: PLC0415

    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return True
    text = str(err)
    return "No space left on device" in text or "Disk quota exceeded" in text


def disk_full_message(err: BaseException) -> str:
    """One line for a full disk: the file (or the command's --log-dir) and what to do."""
    where = getattr(err, "filename", None)
    if where is None:
        context = click.get_current_context(silent=True)
        log_dir = context.params.get("log_dir") if context is not None else None
        where = f"a file under {log_dir}" if log_dir else None
    return (f"The disk is full{f' writing {where}' if where else ''} ({_first_line(err)}); free space or use another "
            "--log-dir, then rerun the same command to resume.")


def start_tensorflow() -> None:
    """Imports TensorFlow (quietly unless --verbose): call it once the flags are checked."""
    context = click.get_current_context(silent=True)
    verbose = bool(context and context.find_root().params.get("verbose"))
    if not verbose:
        import_tensorflow_quietly()


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:300] if lines else type(err).__name__


def out_of_memory_message(err: BaseException) -> str:
    """One line for a model or batch that does not fit in memory."""
    import re  # noqa: PLC0415

    shape = re.search(r"tensor with shape\s*\[([^\]]*)\]", str(err))
    what = f" (a tensor of shape [{shape.group(1)}])" if shape else ""
    return (f"Out of memory{what}: use a smaller model (--units, --width-multiplier) or a smaller --batch-size; "
            "checkpoints already written are kept.")


def os_error_message(err: OSError) -> str:
    """One line for a file-system error: the path, the reason and what to do."""
    import errno  # noqa: PLC0415

    if err.filename is None:
        return str(err)
    advice = {
        errno.ENOSPC: "free space or use another --log-dir, then rerun the same command to resume",
        errno.EACCES: "give a --log-dir you can write to (or fix its permissions)",
        errno.EPERM: "give a --log-dir you can write to (or fix its permissions)",
        errno.EROFS: "the file system is read-only: give a --log-dir on a writable one",
        errno.ENOTDIR: "a file stands where a folder should be: give another --log-dir",
        errno.EEXIST: "a file stands where a folder should be: give another --log-dir",
        errno.ENOENT: "check that the path exists",
    }.get(err.errno or 0, "check the path and rerun")
    return f"Cannot write {err.filename}: {err.strerror or err}; {advice}."


def click_option(spec: Any, help_text: str | None = None) -> Callable[..., Any]:
    """The click option of one config field, from its ``Option`` metadata alone."""
    opt = spec.option
    text = help_text or opt.help
    if opt.default_help:
        text += f" [default: {opt.default_help}]"
    show_default = opt.default_help is None and spec.default is not None
    if spec.kind is bool and opt.off_flag:
        return click.option(f"{opt.flag}/{opt.off_flag}", opt.name, default=spec.default, show_default=show_default,
                            help=text)
    if opt.choice_list() is not None and opt.open_choices:  # checked by the config: names or package.module:function
        kind: Any = str
        text += f" One of: {', '.join(opt.choice_list())}."
    elif opt.choice_list() is not None:
        kind = click.Choice(opt.choice_list())
    elif spec.kind is int:
        kind = click.IntRange(min=opt.minimum, max=opt.maximum) if opt.minimum is not None else int
    else:
        kind = spec.kind
    return click.option(opt.flag, opt.name, type=kind, default=spec.default, show_default=show_default, help=text)


def config_options(section: str = "", only: tuple[str, ...] | None = None,
                   help_texts: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding the click options of every ``RunConfig`` field under ``section`` (e.g. ``data``).

    Args:
        section: a dotted prefix of the fields to offer ("" for all of them).
        only: offer just these flags (``--dataset``, ...), in this order.
        help_texts: per flag, a help text replacing the field's own.
    """
    from rethinking.config import RunConfig  # noqa: PLC0415 (no TensorFlow)
    from rethinking.config.options import option_fields  # noqa: PLC0415

    specs = [spec for spec in option_fields(RunConfig) if spec.key.startswith(section)]
    if only is not None:
        by_flag = {spec.option.flag: spec for spec in specs}
        specs = [by_flag[flag] for flag in only]
    texts = help_texts or {}

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for spec in reversed(specs):
            fn = click_option(spec, texts.get(spec.option.flag))(fn)
        return fn

    return decorate


data_options = config_options("data")
run_options = config_options()
# The theory commands read a dataset and its (corrupted) labels, nothing else of a run.
theory_data_options = config_options(
    "data", only=("--dataset", "--data-dir", "--labels", "--corruption-prob", "--seed"),
    help_texts={"--seed": "Data seed: the same corrupted labels as 'rethinking train' with this seed."})


def data_config_from_flags(flags: dict[str, Any]) -> Any:
    """Builds a ``DataConfig`` from the flags of ``data_options`` (validation happens in the config)."""
    from rethinking.config import RunConfig  # noqa: PLC0415
    from rethinking.config.options import from_flags  # noqa: PLC0415

    return from_flags(RunConfig, flags).data


def run_config_from_flags(flags: dict[str, Any]) -> Any:
    """Builds a ``RunConfig`` from the flags of ``run_options``."""
    from rethinking.config import RunConfig  # noqa: PLC0415
    from rethinking.config.options import from_flags  # noqa: PLC0415

    return from_flags(RunConfig, flags)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rethinking")
@click.option("-v", "--verbose", is_flag=True, help="Log what the library does (data preparation, statistics).")
def cli(verbose: bool) -> None:
    """Randomization tests of Zhang et al., "Understanding deep learning requires rethinking
    generalization" (ICLR 2017), in Keras 3 / TensorFlow."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # basicConfig does nothing where the root logger already has handlers (notebooks, pytest).
    logging.getLogger("rethinking").setLevel(level)
    # TFDS logs through absl; its warnings about folders it has not created yet are noise here.
    logging.getLogger("absl").setLevel(logging.INFO if verbose else logging.ERROR)
    # TensorFlow starts only once a command has checked its flags (start_tensorflow): --help and
    # usage errors answer at once.


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and probes its devices with file descriptor 2 silenced.

    A CUDA build of TensorFlow on a machine without a GPU writes several C++ lines to stderr
    before its log settings apply; no environment variable hides them. Python errors raised
    here still surface (after stderr is restored). ``--verbose`` skips this. Keras' optional
    imports of packages the commands never use are skipped (``runtime.keras_optional_imports_skipped``).
    """
    if "tensorflow" in sys.modules:
        return
    from rethinking.runtime import keras_optional_imports_skipped  # noqa: PLC0415

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull, keras_optional_imports_skipped():
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf  # noqa: PLC0415

            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def given_arguments(context: click.Context, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The command-line arguments the user gave this command, rebuilt from its parameters.

    Options left at their defaults are not repeated, nor those named in ``leave_out``: the
    arguments a child process needs to run the same command.
    """
    args: list[str] = []
    for param in context.command.params:
        if param.name in leave_out or context.get_parameter_source(param.name) in (
                click.core.ParameterSource.DEFAULT, None):
            continue
        value = context.params[param.name]
        if not isinstance(param, click.Option):
            args.append(str(value))
            continue
        flag = max(param.opts, key=len)
        if param.is_flag and param.secondary_opts:
            args.append(flag if value else max(param.secondary_opts, key=len))
        elif param.is_flag:
            args.extend([flag] if value else [])
        else:
            args.extend(f"{flag}={item}" for item in (value if param.multiple else [value]))
    return args


def percent(value: Any) -> str:
    """A fraction as a percentage; ``-`` for None or NaN."""
    return "-" if value is None or value != value else f"{100 * value:.1f}%"
