"""``rethinking datasets`` and ``rethinking preview``: what data there is and what the network sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rethinking.cli.base import (
    cli,
    data_config_from_flags,
    data_options,
    friendly_errors,
    start_tensorflow,
)


@cli.command()
@click.option("--data-dir", default=None, help="TFDS data directory to check [default: $TFDS_DATA_DIR or ~/tensorflow_datasets].")
@friendly_errors
def datasets(data_dir: str | None) -> None:
    """List the known datasets and whether each loads offline on this machine.

    Offline: yes (embedded, or prepared by TFDS in the data directory), files (its download files
    are in <data-dir>/downloads/manual: prepared at first use), no. Starts no TensorFlow.
    """
    from rethinking.data.catalog import DATASETS, offline_status, tfds_data_root  # noqa: PLC0415 (plain Python)

    click.echo(f"{'name':<14} {'source':<9} {'image':<11} {'classes':>7} {'train':>9} {'test':>7}  offline  description")
    for name, known in DATASETS.items():
        shape = "x".join("?" if d is None else str(d) for d in known.image_shape)
        ready = offline_status(name, data_dir)
        click.echo(f"{name:<14} {known.source:<9} {shape:<11} {known.num_classes:>7} {known.train_size:>9,} "
                   f"{known.test_size:>7,}  {ready:<7}  {known.description}")
    click.echo(f"\nTFDS data directory: {tfds_data_root(data_dir)}. Any other TFDS image-classification name, "
               "or a .npz file (x_train, y_train, x_test, y_test), also works as --dataset.")


@cli.command()
@data_options
@click.option("--out", type=click.Path(dir_okay=False), default="preview.png", show_default=True, help="PNG file to write.")
@click.option("--num-images", type=click.IntRange(1, 400), default=36, show_default=True, help="How many images (the first by index).")
@click.option("--epoch", type=click.IntRange(min=0), default=0, show_default=True, help="Epoch whose augmentation to show.")
@friendly_errors
def preview(out: str, num_images: int, epoch: int, **flags: Any) -> None:
    """Write a grid of training images after corruption, each with its (possibly corrupted) label.

    Changed labels are red, written 'true -> new'.
    """
    config = data_config_from_flags(flags)
    start_tensorflow()
    from rethinking.data import build_pipeline  # noqa: PLC0415
    from rethinking.data.preview import sample_training_images, save_preview  # noqa: PLC0415

    pipeline = build_pipeline(config, batch_size=num_images)
    sample = sample_training_images(pipeline, num_images, epoch)
    c = config.corruption
    labels = f"labels {c.labels}" + (f" p={c.corruption_prob}" if c.labels == "partial" else "")
    title = f"{Path(pipeline.info.name).name}: {labels}, pixels {c.pixels}, seed {config.seed}"
    path = save_preview(sample, out, title)
    changed = int((sample.labels != sample.true_labels).sum())
    click.echo(f"Wrote {path} ({len(sample.labels)} images, {changed} labels changed; {title}).")


