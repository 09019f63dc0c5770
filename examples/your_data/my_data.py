"""Your own data for rethinking: a function returning (x_train, y_train, x_test, y_test) arrays.

Here: scikit-learn's handwritten digits at 16x16 (each pixel repeated 2x2), pixels 0-255, a fixed
split. Any function of yours works the same way, given as --dataset my_data:digits_16x16 with this
folder on PYTHONPATH (or installed as a package). It may also return (train, test) tf.data.Datasets
of (image, label) in a fixed order.
"""

import numpy as np
from sklearn.datasets import load_digits


def digits_16x16():
    digits = load_digits()
    images = np.kron(digits.images, np.ones((2, 2))) * (255.0 / 16.0)  # 8x8 values 0-16 -> 16x16, 0-255
    x = np.rint(images).astype(np.uint8)[..., None]
    y = digits.target
    return x[:1400], y[:1400], x[1400:], y[1400:]
