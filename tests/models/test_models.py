"""Model builders: exact parameter counts, switches, shapes, precision, XLA, save/load, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import keras
import tensorflow as tf

from rethinking.models import MODELS, PAPER_PARAMETER_COUNTS, LocalResponseNormalization

SMALL = ["inception_small", "alexnet_small", "mlp_1x512", "mlp_3x512", "mlp"]


def trainable(model: keras.Model) -> int:
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def train_step(model: keras.Model, shape, num_classes=10, batch=4, jit_compile=False, eagerly=False) -> float:
    """One ``fit`` step; ``eagerly`` skips building the step's graph (Inception v3's takes 14 s of a
    17 s test on 2 cores, eagerly 3 s): for the tests about shapes, dtypes and saved files, while the
    tests about a compiled step (graph, XLA) build it."""
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile, run_eagerly=eagerly)
    x = np.random.RandomState(0).rand(batch, *shape).astype("float32")
    y = np.arange(batch) % num_classes
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    return float(history.history["loss"][0])


@pytest.mark.parametrize("name", list(PAPER_PARAMETER_COUNTS))
@pytest.mark.parametrize("batch_norm", [True, False])
def test_parameter_counts_are_the_papers_exactly(name, batch_norm):
    model = MODELS[name]((28, 28, 3), 10, batch_norm=batch_norm)
    assert trainable(model) == PAPER_PARAMETER_COUNTS[name]


@pytest.mark.slow
def test_inception_v3_matches_keras_applications():
    ours = MODELS["inception_v3"]((299, 299, 3), 1000)
    reference = keras.applications.InceptionV3(weights=None, input_shape=(299, 299, 3), classes=1000)
    assert trainable(ours) == trainable(reference) == 23_817_352
    assert len(ours.layers) == len(reference.layers)
    assert ours.output_shape == (None, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_forward_and_training_step_on_tiny_inputs(name, shape):
    model = MODELS[name](shape, 7)
    out = model(np.zeros((2, *shape), "float32"))
    assert out.shape == (2, 7) and out.dtype == "float32"
    # The graph step (the conv nets' default in the engine) on CIFAR-size images; the others eagerly.
    assert np.isfinite(train_step(model, shape, num_classes=7, eagerly=shape != (32, 32, 3)))


@pytest.mark.slow
def test_inception_v3_trains_on_its_smallest_input():
    model = MODELS["inception_v3"]((75, 75, 3), 5, dropout=0.2, weight_decay=1e-4)
    assert np.isfinite(train_step(model, (75, 75, 3), num_classes=5, batch=2, eagerly=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL + ["inception_v3"])
def test_batch_norm_switch(name):
    shape = (75, 75, 3) if name == "inception_v3" else (28, 28, 3)
    on = MODELS[name](shape, 10, batch_norm=True).layers
    off = MODELS[name](shape, 10, batch_norm=False).layers
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in off)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in on)
    bn = next(layer for layer in MODELS[name](shape, 10, batch_norm=True).layers if isinstance(layer, keras.layers.BatchNormalization))
    assert bn.center and not bn.scale  # a shift, no scale: same parameter count with and without


@pytest.mark.parametrize("name", SMALL)
def test_dropout_only_when_rate_positive(name):
    assert "Dropout" not in layer_types(MODELS[name]((28, 28, 3), 10, dropout=0.0))
    model = MODELS[name]((28, 28, 3), 10, dropout=0.3)
    rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert rates and all(r == 0.3 for r in rates)


@pytest.mark.parametrize("name", SMALL)
def test_weight_decay_adds_half_lambda_squared_norm_of_kernels(name):
    assert MODELS[name]((28, 28, 3), 10).losses == []
    wd = 5e-4
    model = MODELS[name]((28, 28, 3), 10, weight_decay=wd)
    kernels = [w for w in model.trainable_weights if w.path.endswith("kernel")]
    assert len(model.losses) == len(kernels) > 0
    expected = wd / 2 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", SMALL)
def test_width_multiplier_scales_the_network(name):
    base = trainable(MODELS[name]((28, 28, 3), 10))
    wide = trainable(MODELS[name]((28, 28, 3), 10, width_multiplier=2.0))
    narrow = trainable(MODELS[name]((28, 28, 3), 10, width_multiplier=0.25))
    assert narrow < base < wide


def test_general_mlp_depth_and_width():
    model = MODELS["mlp"]((4, 4, 1), 3, depth=2, units=5)
    assert trainable(model) == (16 * 5 + 5) + (5 * 5 + 5) + (5 * 3 + 3)
    assert trainable(MODELS["mlp"]((4, 4, 1), 3, depth=0)) == 16 * 3 + 3
    assert trainable(MODELS["mlp_1x512"]((28, 28, 3), 10, width_multiplier=2.0)) == 2352 * 1024 + 1024 + 1024 * 10 + 10


def test_stable_layer_names():
    names = {layer.name for layer in MODELS["inception_small"]((28, 28, 3), 10).layers}
    assert {"image", "stem_conv", "stem_bn", "inception1_1x1_conv", "inception1_3x3_bn", "inception1_concat",
            "downsample1_conv", "downsample1_pool", "downsample2_concat", "inception8_concat", "global_pool",
            "logits"} <= names
    alex = {layer.name for layer in MODELS["alexnet_small"]((28, 28, 3), 10).layers}
    assert {"block1_conv", "block1_pool", "block1_lrn", "block2_lrn", "flatten", "fc1", "fc2", "logits"} <= alex
    assert MODELS["inception_small"]((28, 28, 3), 10).get_layer("downsample2_concat").output.shape[1:3] == (7, 7)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("inception_small", dict(input_shape=(28, 28)), "input_shape"),
        ("alexnet_small", dict(input_shape=(0, 28, 3)), "positive integers"),
        ("mlp_1x512", dict(num_classes=1), "num_classes"),
        ("inception_small", dict(dropout=1.0), "dropout"),
        ("alexnet_small", dict(weight_decay=-1e-4), "weight_decay"),
        ("mlp_3x512", dict(width_multiplier=0.0), "width_multiplier"),
        ("mlp", dict(depth=-1), "depth"),
        ("inception_v3", dict(input_shape=(74, 74, 3)), "at least 75x75"),
    ],
)
def test_bad_arguments_raise_clear_errors(name, kwargs, message):
    args = {"input_shape": (28, 28, 3), "num_classes": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        MODELS[name](args.pop("input_shape"), args.pop("num_classes"), **args)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", ["inception_small", "alexnet_small", "mlp_1x512"])
def test_mixed_precision_keeps_float32_logits(policy, name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        model = MODELS[name]((16, 16, 3), 10)
        hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)][0]
        assert hidden.compute_dtype == policy.split("_")[1]
        assert model.get_layer("logits").compute_dtype == "float32"
        assert model(np.zeros((2, 16, 16, 3), "float32")).dtype == "float32"
        assert np.isfinite(train_step(model, (16, 16, 3), eagerly=True))
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception_small", "alexnet_small", "mlp_3x512"])
def test_jit_compile_trains(name):
    model = MODELS[name]((16, 16, 3), 10, batch_norm=True)
    assert np.isfinite(train_step(model, (16, 16, 3), jit_compile=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL)
def test_keras_file_round_trip(name, tmp_path):
    model = MODELS[name]((16, 16, 3), 10, dropout=0.1, weight_decay=1e-4)
    train_step(model, (16, 16, 3), eagerly=True)  # moving statistics and weights away from their initial values
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.RandomState(1).rand(3, 16, 16, 3).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_local_response_normalization_layer():
    layer = LocalResponseNormalization(depth_radius=4, bias=1.0, alpha=0.001 / 9, beta=0.75)
    x = np.random.RandomState(0).rand(2, 5, 5, 16).astype("float32") * 10
    expected = tf.nn.local_response_normalization(x, depth_radius=4, bias=1.0, alpha=0.001 / 9, beta=0.75)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-6)
    clone = LocalResponseNormalization.from_config(layer.get_config())
    assert (clone.depth_radius, clone.alpha, clone.beta) == (4, 0.001 / 9, 0.75)
    x = tf.data.Dataset.from_tensors(x).map(layer)
    np.testing.assert_allclose(next(iter(x)), expected, rtol=1e-6)


def test_flop_counts():
    from rethinking.models.flops import forward_macs, training_flops

    mlp = MODELS["mlp_1x512"]((28, 28, 3), 10)
    assert forward_macs(mlp) == 2352 * 512 + 512 * 10
    assert training_flops(mlp) == 6 * forward_macs(mlp)
    # Small Inception by hand: stem 28*28*2592, then each module's 1x1 + 3x3 (+ stride-2 conv) MACs.
    by_hand = (784 * 2592 + 784 * (96 * 32 + 864 * 32) + 784 * (64 * 32 + 576 * 48) + 196 * 720 * 80
               + 196 * (160 * 112 + 1440 * 48) + 196 * (160 * 96 + 1440 * 64) + 196 * (160 * 80 + 1440 * 80)
               + 196 * (160 * 48 + 1440 * 96) + 49 * 1296 * 96 + 49 * (240 * 176 + 2160 * 160)
               + 49 * (336 * 176 + 3024 * 160) + 336 * 10)
    assert forward_macs(MODELS["inception_small"]((28, 28, 3), 10)) == by_hand
    alex = 784 * 25 * 3 * 64 + 196 * 25 * 64 * 64 + 3136 * 384 + 384 * 192 + 192 * 10
    assert forward_macs(MODELS["alexnet_small"]((28, 28, 3), 10)) == alex
