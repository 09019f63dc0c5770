"""The registries of label noise and pixel conditions: the only lists of their names.

Plain Python (no TensorFlow), so the config layer and the CLI read the names without starting
TensorFlow; each entry names its function as ``"module:function"`` (see ``rethinking.registry``),
imported when a run uses it.

Adding a label noise: one function ``(true_label int64, key [2], num_classes) -> drawn int64`` that
draws the replacement class from the Philox key, plus one ``LABEL_NOISES`` line.

Adding a pixel condition: one function plus one ``PIXEL_CONDITIONS`` line, of one of two kinds:

* ``"permutation"``: ``(num_pixels, *, seed, split, index) -> int permutation [num_pixels]`` of
  the pixel positions of the image the network receives (after the crop). ``per_example=False``:
  one permutation for the whole dataset (``index`` is None; computed once, a graph constant);
  ``per_example=True``: a pure function of (seed, split, example index).
* ``"replacement"``: ``(index, *, shape, mean, std, seed, split) -> float32 image`` drawn at the
  stored size, given the per-channel moments (pixel units) of the training images the network sees.
"""

from __future__ import annotations

import dataclasses

# {name: "module:function"} of the replacement-label draws (docs/data.md).
LABEL_NOISES: dict[str, str] = {
    "uniform": "rethinking.data.corruptions:uniform_label",  # all K classes (the paper's definition)
    "wrong": "rethinking.data.corruptions:wrong_label",  # the K-1 other classes (double descent)
}


@dataclasses.dataclass(frozen=True)
class PixelCondition:
    """How a pixel condition changes the image the network receives.

    Attributes:
        kind: ``"none"``, ``"permutation"`` or ``"replacement"`` (see the module docstring).
        function: ``"module:function"``; None for ``kind="none"``.
        per_example: a permutation that differs per example (drawn from its index).
    """

    kind: str
    function: str | None = None
    per_example: bool = False


PIXEL_CONDITIONS: dict[str, PixelCondition] = {
    "original": PixelCondition("none"),
    "shuffled": PixelCondition("permutation", "rethinking.data.corruptions:pixel_permutation"),
    "random": PixelCondition("permutation", "rethinking.data.corruptions:example_permutation", per_example=True),
    "gaussian": PixelCondition("replacement", "rethinking.data.corruptions:gaussian_image"),
}


def pixel_condition(name: str) -> PixelCondition:
    """The registered pixel condition ``name``; a one-line error naming the choices otherwise."""
    if name not in PIXEL_CONDITIONS:
        raise ValueError(f"Unknown pixels {name!r}: use one of {', '.join(PIXEL_CONDITIONS)}.")
    return PIXEL_CONDITIONS[name]
