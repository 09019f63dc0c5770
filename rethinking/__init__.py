"""rethinking: the randomization tests of Zhang et al. (ICLR 2017) in Keras 3 / TensorFlow."""

__version__ = "0.1.0"
