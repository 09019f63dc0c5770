"""Randomization tests of your own Keras model: does it memorize random labels, and what does it cost?

    python examples/your_model.py            # about a minute on 2 CPU cores (embedded digits data)
"""

import argparse

import keras

import rethinking
from rethinking.config import Corruption, DataConfig, RunConfig, TrainConfig


def my_convnet(input_shape, num_classes, *, dropout=0.0):
    """Your network: any builder (input_shape, num_classes, **switches) -> keras.Model of logits."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D()(x))
    x = keras.layers.Dropout(dropout)(keras.layers.Dense(128, activation="relu")(x))
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=60)
parser.add_argument("--log-dir", default="tensorboard_logs")
args = parser.parse_args()
for labels in ("true", "random"):
    config = RunConfig(data=DataConfig(dataset="digits", corruption=Corruption(labels=labels)), log_dir=args.log_dir,
                       train=TrainConfig(epochs=args.epochs, until_fit=True, batch_size=32, learning_rate=0.03, lr_decay=0.99))
    r = rethinking.train(config, model=my_convnet)
    print(f"{labels} labels: train {r['train_accuracy']:.1%}, test {r['test_accuracy']:.1%}, "
          f"fitted at epoch {r['fit_epoch']} ({r['run_dir']})")
