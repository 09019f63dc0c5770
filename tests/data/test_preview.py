"""The preview grid: each image in its cell at its true colours, changed labels in red."""

from __future__ import annotations

import numpy as np

from rethinking.data.preview import PreviewSample, save_preview


def test_each_image_sits_in_its_cell_and_only_changed_labels_are_red(tmp_path):
    import matplotlib.image

    levels = np.linspace(0.05, 0.95, 9, dtype=np.float32)  # nine flat grey images, darkest first
    images = np.broadcast_to(levels[:, None, None, None], (9, 8, 8, 1)).copy()
    labels, true = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8]), np.array([0, 1, 2, 3, 9, 5, 6, 7, 8])  # one changed: 9 -> 4
    sample = PreviewSample(images=images, labels=labels, true_labels=true, class_names=tuple("abcdefghij"))
    grid = matplotlib.image.imread(save_preview(sample, tmp_path / "grid.png"))[..., :3]
    height, width = grid.shape[:2]
    # Three columns and rows; each image fills the lower part of its cell (the label band above it).
    for k, level in enumerate(levels):
        r, q = divmod(k, 3)
        y, x = int((r + 0.6) * height / 3), int((q + 0.5) * width / 3)
        np.testing.assert_allclose(grid[y, x], level, atol=0.01)
    red = (grid[..., 0] > 0.6) & (grid[..., 1] < 0.3) & (grid[..., 2] < 0.3)
    rows, cols = np.nonzero(red)
    middle = lambda v, size: ((v > size / 3) & (v < 2 * size / 3)).all()  # noqa: E731 (the centre cell's span)
    assert rows.size and middle(rows, height) and middle(cols, width)  # the label of image 4 (row 1, column 1)
