"""Functions that tf.data traces, traced as written: without AutoGraph's conversion."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tensorflow as tf

F = TypeVar("F", bound=Callable)


def as_written(fn: F) -> F:
    """``fn`` for ``Dataset.map``, ``filter`` or ``reduce``, traced as written (no AutoGraph).

    tf.data converts every function it traces with AutoGraph, which parses and rewrites the source of
    the function and of everything it calls: 20-60 ms a function, about 0.5 s of every command that
    trains (19 functions for a digits run, measured on 2 cores). The data layer needs none of it:
    whatever depends on a tensor's value is a TensorFlow op (``tf.where``, ``tf.cond``) and a Python
    ``if`` tests only static things (shapes, settings). Code these functions call keeps that rule: a
    Python ``if`` on a tensor fails at trace time ("using a `tf.Tensor` as a Python `bool` is not
    allowed"), which every condition's map test would show.
    """
    return tf.autograph.experimental.do_not_convert(fn)
