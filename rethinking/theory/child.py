"""Run one function in a fresh child process and return its result: keeps TensorFlow (about 0.7 GB
of resident memory once imported) out of a process that needs its memory for a Gram matrix.

The child is started with ``spawn`` (a clean interpreter, no inherited threads); the function is
named as ``"package.module:function"`` and its arguments and result are pickled. An exception in the
child is raised again here.

A process that has already imported TensorFlow (a notebook, a test session, a script that trained
first) has nothing to keep out: the function runs in it, without the child's start-up (about 5 s
of imports on 2 cores).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import sys
from typing import Any


def in_child(function: str, **kwargs: Any) -> Any:
    """``function(**kwargs)`` computed in a spawned child process, or here if TensorFlow is imported already."""
    if "tensorflow" in sys.modules:
        return _call(function, kwargs)
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_call, function, kwargs).result()


def _call(function: str, kwargs: dict[str, Any]) -> Any:
    from rethinking import runtime  # noqa: PLC0415 (the child's TensorFlow settings, as the CLI's)
    from rethinking.registry import load_function  # noqa: PLC0415

    runtime.configure()
    return load_function(function)(**kwargs)
