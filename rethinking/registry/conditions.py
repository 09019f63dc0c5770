"""The registries of label noise, human label sets and pixel conditions: the only lists of their names.

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
    "uniform": "rethinking.data.element_corruptions:uniform_label",  # all K classes (the paper's definition)
    "wrong": "rethinking.data.element_corruptions:wrong_label",  # the K-1 other classes (double descent)
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
    "shuffled": PixelCondition("permutation", "rethinking.data.element_corruptions:pixel_permutation"),
    "random": PixelCondition("permutation", "rethinking.data.element_corruptions:example_permutation", per_example=True),
    "gaussian": PixelCondition("replacement", "rethinking.data.element_corruptions:gaussian_image"),
}


@dataclasses.dataclass(frozen=True)
class HumanLabelSet:
    """A set of real human training labels published with a dataset (``--labels human --label-set NAME``).

    Attributes:
        dataset: the TFDS dataset that holds it.
        feature: the TFDS feature holding the human label of each training image.
        noise_rate: the published fraction of training labels that differ from the true ones; the
            rate measured at load must match it (which also checks that labels and images are in
            the same order).
        train_size: the training examples the published rate is measured on.
    """

    dataset: str
    feature: str
    noise_rate: float
    train_size: int = 50_000


# Wei et al. 2022 ("Learning with noisy labels revisited: a study using real-world human
# annotations", Table 1): CIFAR-10N and CIFAR-100N, noise rates of the training set.
HUMAN_LABEL_SETS: dict[str, HumanLabelSet] = {
    "aggregate": HumanLabelSet("cifar10_n", "aggre_label", 0.0903),  # majority vote of 3 annotators
    "random1": HumanLabelSet("cifar10_n", "random_label1", 0.1723),  # one annotator's label
    "random2": HumanLabelSet("cifar10_n", "random_label2", 0.1812),
    "random3": HumanLabelSet("cifar10_n", "random_label3", 0.1764),
    "worst": HumanLabelSet("cifar10_n", "worse_label", 0.4021),  # a wrong one of the 3 when there is one
    "noisy": HumanLabelSet("cifar100_n", "noise_label", 0.4020),  # CIFAR-100N fine labels
}
# The published rates are given to 0.01 percentage points: a measured rate further than this
# (fraction) is another label set, or labels in another order than the images.
NOISE_RATE_TOLERANCE = 0.0001


def human_label_set(name: str) -> HumanLabelSet:
    """The registered human label set ``name``; a one-line error naming the choices otherwise."""
    if name not in HUMAN_LABEL_SETS:
        raise ValueError(f"Unknown label set {name!r}: use one of {', '.join(HUMAN_LABEL_SETS)}.")
    return HUMAN_LABEL_SETS[name]


def pixel_condition(name: str) -> PixelCondition:
    """The registered pixel condition ``name``; a one-line error naming the choices otherwise."""
    if name not in PIXEL_CONDITIONS:
        raise ValueError(f"Unknown pixels {name!r}: use one of {', '.join(PIXEL_CONDITIONS)}.")
    return PIXEL_CONDITIONS[name]
