"""The paper's preprocessing and the augmentation switch, as small pure tf functions.

The paper (Appendix A): scale pixels to [0, 1], centre-crop 32x32 CIFAR images to 28x28, then
per-image standardization (``tf.image.per_image_standardization``). Its "random crop"
augmentation takes a random 28x28 crop instead of the centre one.

Our choices, for other image sizes: images that are not 32x32 keep their full size (no crop; MNIST
28x28, digits 8x8), and a random crop of the full size first zero-pads by H/8 pixels (4 for 28x28
and 32x32, 1 for 8x8) -- the common pad-and-crop augmentation. Variable-size images (ImageNet) are
resized so the shorter side is ``image_size`` and centre- (or randomly) cropped to a square.
Flips and colour jitter are further options, off by default.
"""

from __future__ import annotations

import tensorflow as tf

from rethinking.config.data import DEFAULT_IMAGE_SIZE, Preprocessing  # noqa: F401 (re-exported)
from rethinking.data import seeds

# The paper's CIFAR-10 crop: 32x32 -> 28x28.
PAPER_CROP = 28
# Colour jitter ranges (our choice; brightness and contrast as in TensorFlow's CIFAR-10 tutorial
# that the paper's code derives from). Brightness in [0, 1] pixel units.
BRIGHTNESS_DELTA = 63.0 / 255.0
CONTRAST_RANGE = (0.2, 1.8)
SATURATION_RANGE = (0.5, 1.5)
HUE_DELTA = 0.05


def output_size(prep: Preprocessing, image_shape: tuple[int | None, int | None, int]) -> tuple[int, int]:
    """The (height, width) the network sees.

    Raises:
        ValueError: a crop larger than the image.
    """
    h, w = image_shape[0], image_shape[1]
    if h is None or w is None:
        size = prep.crop_size or prep.image_size
        return size, size
    if prep.crop_size is None:
        return (PAPER_CROP, PAPER_CROP) if (h, w) == (32, 32) else (h, w)
    if prep.crop_size > min(h, w):
        raise ValueError(
            f"crop_size {prep.crop_size} is larger than the {h}x{w} images; use at most {min(h, w)}."
        )
    return prep.crop_size, prep.crop_size


def pad_for_random_crop(height: int) -> int:
    """Zero padding (pixels per side) of a full-size random crop: H/8, at least 1."""
    return max(1, round(height / 8))


def to_float(image: tf.Tensor) -> tf.Tensor:
    """Pixels to float32 in [0, 1]: uint8 / 255; float images (Gaussian noise) are in pixel units too."""
    return tf.cast(image, tf.float32) / 255.0


def center_crop(images: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Central crop of an image [H, W, C] or a batch [B, H, W, C] (static H and W)."""
    h, w = images.shape[-3], images.shape[-2]
    if h is None or w is None:
        raise ValueError("center_crop needs static image sizes; resize variable-size images first.")
    top, left = (h - height) // 2, (w - width) // 2
    return images[..., top : top + height, left : left + width, :]


def resize_shorter_side(image: tf.Tensor, size: int) -> tf.Tensor:
    """Aspect-preserving resize of one image so that its shorter side is ``size`` (bilinear, float32)."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = float(size) / tf.reduce_min(shape)
    new = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    return tf.image.resize(tf.cast(image, tf.float32), new)


def random_crop(image: tf.Tensor, height: int, width: int, seed: tf.Tensor) -> tf.Tensor:
    """A random crop of one image, a pure function of ``seed``; pads first for a full-size crop."""
    h, w, c = image.shape
    if h is not None and (height, width) == (h, w):
        pad = pad_for_random_crop(h)
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return tf.image.stateless_random_crop(image, [height, width, c], seed)


def jitter_colors(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Random brightness and contrast (plus saturation and hue for RGB), float image in [0, 1]."""
    keys = tf.random.experimental.stateless_split(seed, num=4, alg=seeds.ALG)
    image = tf.image.stateless_random_brightness(image, BRIGHTNESS_DELTA, keys[0])
    image = tf.image.stateless_random_contrast(image, *CONTRAST_RANGE, keys[1])
    if image.shape[-1] == 3:
        image = tf.image.stateless_random_saturation(image, *SATURATION_RANGE, keys[2])
        image = tf.image.stateless_random_hue(image, HUE_DELTA, keys[3])
    return image


def prepare_example(
    image: tf.Tensor, index: tf.Tensor, *, prep: Preprocessing, size: tuple[int, int], seed: int, epoch: tf.Tensor | int
) -> tf.Tensor:
    """One image to the network's size, in [0, 1], with the augmentations that are switched on.

    The random draws are a pure function of (seed, epoch, example index), so an epoch replays
    exactly after a resume. Without augmentation this is the deterministic centre crop (or resize).

    Returns:
        float32 [height, width, C] in [0, 1] (before per-image standardization).
    """
    key = seeds.fold(seeds.fold(seeds.stream_seed(seed, seeds.AUGMENT), epoch), index)
    keys = tf.random.experimental.stateless_split(key, num=3, alg=seeds.ALG)
    image = fit_size(image, prep, size, random_seed=keys[0] if prep.random_crop else None)
    image = to_float(image)
    if prep.flip:
        image = tf.image.stateless_random_flip_left_right(image, keys[1])
    if prep.color_jitter:
        image = tf.clip_by_value(jitter_colors(image, keys[2]), 0.0, 1.0)
    return image


def fit_size(image: tf.Tensor, prep: Preprocessing, size: tuple[int, int], random_seed: tf.Tensor | None = None) -> tf.Tensor:
    """Resizes variable-size images, then crops to ``size``: centrally, or randomly with a seed."""
    if image.shape[0] is None or image.shape[1] is None:
        image = resize_shorter_side(image, max(size))
        if random_seed is None:
            return tf.image.resize_with_crop_or_pad(image, size[0], size[1])
        return tf.image.stateless_random_crop(image, [size[0], size[1], image.shape[-1]], random_seed)
    if random_seed is not None:
        return random_crop(image, size[0], size[1], random_seed)
    if tuple(image.shape[:2]) == size:
        return image
    return center_crop(image, *size)


def standardize_batch(images: tf.Tensor, prep: Preprocessing) -> tf.Tensor:
    """Per-image standardization of a float batch in [0, 1], if ``prep.standardize``."""
    return tf.image.per_image_standardization(images) if prep.standardize else images


def crop_batch(images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """A batch of raw fixed-size images to the network's size (centre crop) in [0, 1]."""
    if tuple(images.shape[1:3]) != tuple(size):
        images = center_crop(images, *size)
    return to_float(images)


def prepare_batch(images: tf.Tensor, prep: Preprocessing, size: tuple[int, int]) -> tf.Tensor:
    """The deterministic path on a whole batch of raw fixed-size images: centre crop, [0, 1], standardize."""
    return standardize_batch(crop_batch(images, size), prep)
