"""The data options of a run: ``Corruption``, ``Preprocessing`` and ``DataConfig``.

Pure Python, no TensorFlow: the config layer is the floor of the package. It reads only the
TensorFlow-free registries of label noise and pixel conditions (``rethinking.registry.conditions``).
The data layer consumes these configs and re-exports them under its own names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from rethinking.config.options import ConfigDict, check_options, option
from rethinking.registry.conditions import HUMAN_LABEL_SETS, LABEL_NOISES, PIXEL_CONDITIONS  # plain Python: the registries

LABEL_MODES = ("true", "partial", "random", "human", "matrix")
# --transition label-set:NAME: the transition matrix measured from human label set NAME.
TRANSITION_OF_LABEL_SET = "label-set:"


def _label_sets() -> tuple[str, ...]:
    return tuple(HUMAN_LABEL_SETS)



def _label_noises() -> tuple[str, ...]:
    return tuple(LABEL_NOISES)  # read when used, so a condition registered later is accepted


def _pixel_conditions() -> tuple[str, ...]:
    return tuple(PIXEL_CONDITIONS)
GAUSSIAN_STATS = ("per_channel", "global")
SPLITS = ("train", "test")

@dataclasses.dataclass(frozen=True)
class Corruption(ConfigDict):
    """What to randomize: one of the paper's data conditions, or a combination.

    Attributes:
        labels: ``"true"`` (unchanged), ``"partial"`` (each training label replaced with
            probability ``corruption_prob``), ``"random"`` (every label replaced, p = 1),
            ``"human"`` (a set of real human labels, ``label_set``) or ``"matrix"`` (each label
            drawn from its row of the class-transition matrix ``transition``).
        corruption_prob: p for ``labels="partial"``; must be left unset otherwise.
        label_noise: ``"uniform"``: a replaced label is drawn uniformly from all K classes, so it
            may land on the true class (the paper's definition; about p(K-1)/K labels change).
            ``"wrong"``: it is drawn from the K-1 other classes, so exactly the drawn ones change
            (the double-descent literature's noise).
        pixels: ``"original"``, ``"shuffled"`` (one permutation of pixel positions for the whole
            dataset, train and test), ``"random"`` (an independent permutation per image) or
            ``"gaussian"`` (each image replaced by Gaussian noise matching the training set's mean
            and standard deviation).
        gaussian_stats: ``"per_channel"`` (our choice, the default) or ``"global"`` moments.
        corrupt_test_labels: also corrupt the test labels (the paper keeps them true).
        label_set: for ``labels="human"``: a name of ``HUMAN_LABEL_SETS`` (CIFAR-10N's aggregate,
            random1-3, worst; CIFAR-100N's noisy).
        transition: for ``labels="matrix"``: a K x K row-stochastic matrix, entry (i, j) the
            probability that true class i is labelled j: a text file (rows of numbers separated by
            commas or spaces) or a ``.npy`` file, or ``"label-set:NAME"`` for the matrix measured from
            human label set NAME on the run's training set (synthetic noise with the real noise's
            transition matrix).
    """

    labels: str = option("true", "--labels", "Training labels: true, partially corrupted (with --corruption-prob), random, human (real annotators' labels, with --label-set) or matrix (drawn from a class-transition matrix, with --transition).", choices=LABEL_MODES)
    corruption_prob: float | None = option(None, "--corruption-prob", "p for --labels partial: probability that a training label is redrawn.")
    label_noise: str = option("uniform", "--label-noise", "A redrawn label is uniform over all classes (the paper) or always a wrong class.", choices=_label_noises)
    pixels: str = option("original", "--pixels", "Pixel condition, applied to train and test images (after the crop).", choices=_pixel_conditions)
    gaussian_stats: str = option("per_channel", "--gaussian-stats", "Moments matched by --pixels gaussian.", choices=GAUSSIAN_STATS)
    corrupt_test_labels: bool = option(False, "--corrupt-test-labels", "Also corrupt the test labels (the paper keeps them true).", off_flag="--true-test-labels")
    label_set: str | None = option(None, "--label-set", "Human label set of --labels human: aggregate, random1-3, worst (CIFAR-10N, --dataset cifar10_n) or noisy (CIFAR-100N, --dataset cifar100_n).", choices=_label_sets)
    transition: str | None = option(None, "--transition", "Class-transition matrix of --labels matrix: a KxK text or .npy file (row i: the label probabilities of true class i), or label-set:NAME for the matrix measured from a human label set.")

    def __post_init__(self) -> None:
        check_options(self)
        p = self.corruption_prob
        if self.labels == "partial":
            if p is None:
                raise ValueError(
                    "labels='partial' needs a corruption probability: set corruption_prob "
                    "(--corruption-prob) to a value in [0, 1]."
                )
            check_probability(p)
        elif p is not None and not (self.labels == "random" and p == 1.0):
            raise ValueError(
                f"corruption_prob applies only to labels='partial' (labels='random' means p=1). "
                f"Received: labels={self.labels!r}, corruption_prob={p}"
            )
        if self.label_noise != "uniform" and self.labels not in ("partial", "random"):
            raise ValueError(
                "label_noise only matters when labels are redrawn: use labels='partial' or "
                f"'random', or drop label_noise. Received: labels={self.labels!r}, label_noise={self.label_noise!r}"
            )
        if self.corrupt_test_labels and self.labels in ("true", "human"):
            raise ValueError(
                "corrupt_test_labels needs labels the test split can have: 'partial', 'random' or 'matrix' (the "
                f"human label sets label only the training images). Received: labels={self.labels!r}"
            )
        if (self.labels == "human") != (self.label_set is not None):
            raise ValueError("labels='human' takes a label set (--label-set, e.g. worst), and a label set applies only "
                             f"to it. Received: labels={self.labels!r}, label_set={self.label_set!r}")
        if (self.labels == "matrix") != (self.transition is not None):
            raise ValueError("labels='matrix' takes a transition matrix (--transition FILE or label-set:NAME), and a "
                             f"transition applies only to it. Received: labels={self.labels!r}, transition={self.transition!r}")
        if self.transition is not None and self.transition.startswith(TRANSITION_OF_LABEL_SET):
            name = self.transition[len(TRANSITION_OF_LABEL_SET):]
            if name not in HUMAN_LABEL_SETS:
                raise ValueError(f"transition={self.transition!r}: unknown label set {name!r}; use label-set: followed "
                                 f"by one of {', '.join(HUMAN_LABEL_SETS)}.")
        elif self.transition is not None and not Path(self.transition).expanduser().is_file():
            raise ValueError(f"transition={self.transition!r}: no such file; give a KxK matrix file (.csv, .txt or "
                             "'.npy') or label-set:NAME.")

    @property
    def resolved_corruption_prob(self) -> float:
        """The probability that a label is redrawn: 0, p or 1 (0 for human and matrix labels,
        which are not redrawn with a probability: see ``corrupts_labels``)."""
        return {"true": 0.0, "random": 1.0, "partial": self.corruption_prob or 0.0}.get(self.labels, 0.0)

    @property
    def corrupts_labels(self) -> bool:
        """Whether any training label may differ from the true one."""
        return self.labels in ("human", "matrix") or self.resolved_corruption_prob > 0

    @property
    def needs_moments(self) -> bool:
        """Whether the pixel condition draws images from the training set's channel moments (Gaussian)."""
        return PIXEL_CONDITIONS[self.pixels].kind == "replacement"

    @property
    def is_clean(self) -> bool:
        """True when neither labels nor pixels are randomized."""
        return not self.corrupts_labels and self.pixels == "original"


def check_probability(p: float) -> None:
    """Raises ValueError unless 0 <= p <= 1."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"The corruption probability must be in [0, 1]. Received: p={p}")


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}: use one of {', '.join(choices)}.")


def _check_split(split: str) -> None:
    _check_choice("split", split, SPLITS)


# Default side of variable-size images (Inception v3's 299x299 input).
DEFAULT_IMAGE_SIZE = 299

@dataclasses.dataclass(frozen=True)
class Preprocessing(ConfigDict):
    """Deterministic preprocessing and the augmentation switches.

    Attributes:
        crop_size: side of the (centre or random) crop. None: 28 for 32x32 images (the paper),
            the full image otherwise. A value equal to the image side means no crop.
        random_crop: augmentation: a random crop instead of the centre one (the paper's
            "random crop"; pad-and-crop when the crop is the full image).
        flip: augmentation: random horizontal flips.
        color_jitter: augmentation: random brightness and contrast (plus saturation and hue for
            RGB images).
        standardize: per-image standardization (the paper's whitening).
        image_size: output side for variable-size images (ImageNet); ignored for fixed-size ones.
    """

    crop_size: int | None = option(None, "--crop-size", "Crop side.", minimum=1, default_help="28 for 32x32 images (the paper), else the full image")
    random_crop: bool = option(False, "--random-crop", "Augmentation: random crop (the paper's 'random crop') instead of the centre crop.", off_flag="--center-crop")
    flip: bool = option(False, "--flip", "Augmentation: random horizontal flips.", off_flag="--no-flip")
    color_jitter: bool = option(False, "--color-jitter", "Augmentation: random brightness, contrast, saturation and hue.", off_flag="--no-color-jitter")
    standardize: bool = option(True, "--standardize", "Per-image standardization (the paper's whitening).", off_flag="--no-standardize")
    image_size: int = option(DEFAULT_IMAGE_SIZE, "--image-size", "Side of variable-size images after resizing (ImageNet).", minimum=1)

    def __post_init__(self) -> None:
        check_options(self)

    @property
    def augment(self) -> bool:
        """Whether any random augmentation is on."""
        return self.random_crop or self.flip or self.color_jitter


# Largest shuffle buffer by default (examples): a full shuffle of CIFAR-10 / MNIST, bounded memory
# for larger data (100,000 ImageNet-size images would already be ~15 GB; ImageNet users set it).
MAX_DEFAULT_SHUFFLE_BUFFER = 100_000
CACHE_MODES = ("memory", "none")
# The largest seed: the initialization seed seeds NumPy's generator, which takes 32 bits (the data
# seed keeps the same bound, so either may be given the other's value).
MAX_SEED = 2**32 - 1

# Where the pixel work (crop, flip, pixel permutation, standardization) runs: rethinking.data.device_pixels.
PIXEL_PLACEMENTS = ("host", "device")

@dataclasses.dataclass(frozen=True)
class DataConfig(ConfigDict):
    """Everything that defines a run's data.

    Attributes:
        dataset: ``"digits"``, a TFDS name or a ``.npz`` path (see ``load_dataset``).
        data_dir: the TFDS data directory.
        corruption: the randomization test (labels and pixels).
        preprocessing: crop, standardization and augmentation switches.
        seed: the data seed: corruption, shuffling and augmentation all derive from it.
        cache: ``"memory"``, ``"none"`` or a file path prefix for ``Dataset.cache``.
        pixel_ops: where the crop, flip, pixel permutation and standardization run: ``"host"`` (the
            tf.data pipeline) or ``"device"`` (inside the training and evaluation steps). The
            network's inputs are bit-identical, so it is not part of the run's identity.
        shuffle_buffer: examples in the shuffle buffer; None: the whole training set up to 100,000.
        train_examples: train on the first N training examples only (by index, so each keeps the
            label and pixels it has in the full dataset); None: all. For laptop-scale runs.
        train_offset: skip the first K training examples (by index: each kept example is still what
            it is in the full dataset); with ``train_examples``, train on examples K .. K+N-1.
        replace_example: the dataset index of one kept training example whose image and label are
            replaced by those of the first training example after the kept ones (index
            ``train_offset + train_examples``), at the same position: the run differs from the one
            without replacement in that example only (same batches otherwise). One of a pair of
            runs for empirical uniform stability (docs/measures.md). None: no replacement.
    """

    dataset: str = option("digits", "--dataset", "digits (embedded), a TFDS name (cifar10, mnist, ...) or a path to a .npz file.")
    data_dir: str | None = option(None, "--data-dir", "TFDS data directory.", default_help="$TFDS_DATA_DIR or ~/tensorflow_datasets", hparam=False)
    corruption: Corruption = Corruption()
    preprocessing: Preprocessing = Preprocessing()
    seed: int = option(0, "--seed", "Data seed: corruption, shuffling and augmentation derive from it.", minimum=0,
                       maximum=MAX_SEED)
    cache: str = option("memory", "--cache", "Cache of the corrupted data: memory, none, or a file path prefix.", hparam=False)
    pixel_ops: str = option("host", "--pixel-ops", "Where crop, flip, pixel permutation and standardization run: host (the tf.data pipeline, on the CPU) or device (inside the training and evaluation steps, e.g. on the GPU); the network's inputs are identical.", choices=PIXEL_PLACEMENTS, hparam=False)
    shuffle_buffer: int | None = option(None, "--shuffle-buffer", "Shuffle buffer in examples.", minimum=1, default_help="the whole training set, up to 100,000")
    train_examples: int | None = option(None, "--train-examples", "Train on the first N training examples only (laptop-scale runs).", minimum=1, default_help="all")
    train_offset: int = option(0, "--train-offset", "Skip the first K training examples: with --train-examples N, train on examples K to K+N-1 (e.g. one half for pre-training, the other for training).", minimum=0)
    replace_example: int | None = option(None, "--replace-example", "Replace training example K (its dataset index, one of those kept) by the first training example after them, at the same position: the partner of a run without it for empirical uniform stability (needs --train-examples).", minimum=0, default_help="none")

    def __post_init__(self) -> None:
        check_options(self)
        if self.replace_example is not None:
            if self.train_examples is None:
                raise ValueError("--replace-example needs --train-examples: the replacement is the first training "
                                 "example after those kept.")
            if not self.train_offset <= self.replace_example < self.train_offset + self.train_examples:
                raise ValueError(f"--replace-example {self.replace_example} is not one of the training examples kept "
                                 f"({self.train_offset} to {self.train_offset + self.train_examples - 1}).")
        if self.pixel_ops == "device" and self.preprocessing.color_jitter:
            raise ValueError("--pixel-ops device does not run colour jitter: drop --color-jitter or use --pixel-ops host.")
        if not self.cache:
            raise ValueError(f"cache must be one of {', '.join(CACHE_MODES)} or a file path prefix.")
        if self.cache not in CACHE_MODES:
            folder = Path(self.cache).expanduser().parent
            if not folder.is_dir():
                raise ValueError(f"--cache {self.cache}: the folder {folder} does not exist; create it, or use "
                                 "--cache memory.")
