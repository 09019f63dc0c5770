"""What the network will see: a grid of corrupted training images with their (corrupted) labels."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from rethinking.atomic import atomic_write_with

from rethinking.data.pipeline import DataPipeline


@dataclasses.dataclass(frozen=True)
class PreviewSample:
    """The first ``n`` training examples by index, as the network sees them (before standardization).

    Attributes:
        images: float32 [n, h, w, C] in [0, 1] (Gaussian noise clipped for display).
        labels: the labels training uses (possibly corrupted) [n].
        true_labels: the dataset's labels [n].
        class_names: names of the classes.
    """

    images: np.ndarray
    labels: np.ndarray
    true_labels: np.ndarray
    class_names: tuple[str, ...]


def sample_training_images(pipeline: DataPipeline, n: int = 36, epoch: int = 0) -> PreviewSample:
    """Takes the first ``n`` training examples (by index) of ``pipeline`` in epoch ``epoch``.

    Augmentation, when on, is the one of that epoch; per-image standardization is left out so the
    images display as images.
    """
    if n < 1:
        raise ValueError(f"n must be positive. Received: n={n}")
    prep = dataclasses.replace(pipeline.config.preprocessing, standardize=False)
    plain = dataclasses.replace(pipeline, config=dataclasses.replace(pipeline.config, preprocessing=prep))
    images, labels, true = [], [], []
    for batch in plain.train_in_order(epoch).unbatch().take(n).batch(n):
        images.append(batch["image"].numpy())
        labels.append(batch["label"].numpy())
        true.append(batch["true_label"].numpy())
    return PreviewSample(
        images=np.clip(np.concatenate(images), 0.0, 1.0),
        labels=np.concatenate(labels), true_labels=np.concatenate(true),
        class_names=pipeline.info.class_names,
    )


def image_grid(pixels: np.ndarray, columns: int, band: int, gap: int) -> np.ndarray:
    """Tiles [n, h, w, 3] uint8 images on a white canvas, ``columns`` to a row: each cell is
    ``band + h`` by ``w + gap`` pixels, its image below a band of ``band`` rows (for its label) and
    ``gap // 2`` pixels from the cell's left edge."""
    n, h, w, _ = pixels.shape
    rows = math.ceil(n / columns)
    cell_h, cell_w = h + band, w + gap
    canvas = np.full((rows * cell_h, columns * cell_w, 3), 255, dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, columns)
        y0, x0 = r * cell_h + band, q * cell_w + gap // 2
        canvas[y0:y0 + h, x0:x0 + w] = pixels[k]
    return canvas


def save_preview(sample: PreviewSample, path: str | Path, title: str = "") -> Path:
    """Writes a PNG grid; each image is titled with its label, red "true -> new" when corrupted.

    One axes shows one image, the whole grid (the labels are text in the band above each image): a
    figure of 36 subplots took 1.4 s to lay out, a third of a small run's time; 36 images on one
    axes 0.12-0.18 s, one image 0.11-0.15 s (the labels' text and the PNG encoding are most of it).
    """
    import matplotlib  # noqa: PLC0415 (plotting is optional at import time)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    images = sample.images
    n, h, w, channels = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    # Label band above each image and space between columns, in whole image pixels so that one
    # white canvas holds every image: one imshow instead of n.
    band, gap = max(1, round(h * 0.3)), max(2, round(w * 0.1))
    cell_h, cell_w = h + band, w + gap
    # 8-bit RGB, as the PNG stores it (gray repeated in the three channels): matplotlib draws it
    # without colour mapping.
    pixels = np.rint(np.broadcast_to(images, (n, h, w, 3)) * 255.0).astype(np.uint8)
    canvas = image_grid(pixels, cols, band, gap)
    scale = 1.6 / cell_w  # inches per image pixel: square pixels, 1.6 inches per column
    width, height = cols * cell_w * scale, rows * cell_h * scale + (0.4 if title else 0)
    fig = plt.figure(figsize=(width, height))
    top = 1 - (0.4 / height if title else 0.0)
    ax = fig.add_axes((0.0, 0.0, 1.0, top))
    ax.axis("off")
    ax.imshow(canvas, interpolation="nearest", extent=(0, cols * cell_w, rows * cell_h, 0))
    ax.set_xlim(0, cols * cell_w)
    ax.set_ylim(rows * cell_h, 0)
    names = sample.class_names
    for k in range(n):
        r, q = divmod(k, cols)
        x0, y0 = q * cell_w + gap // 2, r * cell_h + band
        label, true = int(sample.labels[k]), int(sample.true_labels[k])
        text, color = (names[label], "black") if label == true else (f"{names[true]} \u2192 {names[label]}", "red")
        ax.text(x0 + w / 2, y0 - band * 0.15, text, ha="center", va="bottom", fontsize=8, color=color)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.2 / height, va="center")
    path = atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=100))
    plt.close(fig)
    return path
