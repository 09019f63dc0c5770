"""The datasets the toolkit lists, and where TFDS keeps them: plain Python, no TensorFlow.

``rethinking datasets`` reads this module only, so it answers at once; loading happens in
``rethinking.data.datasets`` and ``rethinking.data.tfds``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class KnownDataset:
    """A dataset the CLI lists; sizes are the published ones.

    Attributes:
        source: ``"embedded"`` or ``"tfds"``.
        image_shape: (H, W, C); None for variable sizes.
        num_classes: K.
        train_size: training examples.
        test_size: test examples.
        description: one line.
        archives: the files TFDS reads from its manual folder (downloads placed by hand are used
            instead of the network; a manual-download dataset's files); empty: any file there.
    """

    source: str
    image_shape: tuple[int | None, int | None, int]
    num_classes: int
    train_size: int
    test_size: int
    description: str
    archives: tuple[str, ...] = ()


_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz")

# The datasets `rethinking datasets` lists. Any other TFDS image-classification name also loads.
DATASETS: dict[str, KnownDataset] = {
    "digits": KnownDataset("embedded", (8, 8, 1), 10, 1438, 359, "scikit-learn's 1,797 handwritten digits, shipped with the package"),
    "cifar10": KnownDataset("tfds", (32, 32, 3), 10, 50000, 10000, "CIFAR-10, the paper's main dataset", ("cifar-10-binary.tar.gz",)),
    "cifar100": KnownDataset("tfds", (32, 32, 3), 100, 50000, 10000, "CIFAR-100", ("cifar-100-binary.tar.gz",)),
    "cifar10_n": KnownDataset("tfds", (32, 32, 3), 10, 50000, 10000, "CIFAR-10 with CIFAR-10N's human training labels (--labels human; manual download)"),
    "cifar100_n": KnownDataset("tfds", (32, 32, 3), 100, 50000, 10000, "CIFAR-100 with CIFAR-100N's human training labels (--labels human; manual download)"),
    "mnist": KnownDataset("tfds", (28, 28, 1), 10, 60000, 10000, "MNIST (the paper's kernel experiments)", _MNIST_FILES),
    "fashion_mnist": KnownDataset("tfds", (28, 28, 1), 10, 60000, 10000, "Fashion-MNIST", _MNIST_FILES),
    "svhn_cropped": KnownDataset("tfds", (32, 32, 3), 10, 73257, 26032, "SVHN, cropped digits",
                                 ("train_32x32.mat", "test_32x32.mat", "extra_32x32.mat")),
    "imagenet2012": KnownDataset("tfds", (None, None, 3), 1000, 1281167, 50000, "ImageNet ILSVRC 2012 (manual download; Table 2)",
                                 ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")),
}


def tfds_data_root(data_dir: str | None) -> Path:
    """The TFDS data directory actually used: ``data_dir``, ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``."""
    return Path(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets").expanduser()


def manual_dir(data_dir: str | None) -> Path:
    """Where TFDS looks for files placed by hand: ``<data_dir>/downloads/manual``."""
    return tfds_data_root(data_dir) / "downloads" / "manual"


def offline_status(name: str, data_dir: str | None = None) -> str:
    """Whether a listed dataset loads here without the network, from the files alone (no TFDS).

    Returns:
        ``"yes"`` (embedded, or prepared by TFDS: a version folder with its ``dataset_info.json``),
        ``"files"`` (its archives, or for a manual-download dataset any file, are in the manual
        folder: prepared at first use) or ``"no"``.
    """
    known = DATASETS[name]
    if known.source == "embedded":
        return "yes"
    root = tfds_data_root(data_dir) / name
    if any(root.glob("*/dataset_info.json")) or any(root.glob("*/*/dataset_info.json")):  # <version>/ or <config>/<version>/
        return "yes"
    folder = manual_dir(data_dir)
    if known.archives:
        return "files" if all((folder / file).exists() for file in known.archives) else "no"
    return "files" if folder.is_dir() and any(folder.iterdir()) else "no"
