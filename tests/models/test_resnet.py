"""The follow-up literature's ResNets: published parameter counts, width k, switches, training."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.models import MODELS
from rethinking.models.resnet import preact_resnet18, wide_resnet28
from tests.models.test_models import layer_types, train_step, trainable


@pytest.mark.parametrize("builder, width, published", [
    (preact_resnet18, 64, 11_171_146),  # kuangliu/pytorch-cifar PreActResNet18 on CIFAR-10
    (wide_resnet28, 1, 369_498),        # WRN-28-1 on CIFAR-10
])
def test_parameter_counts_are_the_published_ones(builder, width, published):
    assert trainable(builder((32, 32, 3), 10, width=width)) == published


def _resnet18_count(k: int, classes: int = 10) -> int:
    """ResNet-18(k) by hand: 3x3 convs without bias, BN scale+shift before each conv of a block."""
    convs = 27 * k + 4 * 9 * k * k  # stem, stage 1
    bns = 4 * 2 * k
    for c_in, c in ((k, 2 * k), (2 * k, 4 * k), (4 * k, 8 * k)):
        convs += 9 * c_in * c + 9 * c * c + c_in * c + 2 * 9 * c * c  # block 1 (with 1x1 shortcut), block 2
        bns += 2 * c_in + 3 * 2 * c
    return convs + bns + 8 * k * classes + classes


@pytest.mark.parametrize("k", [1, 3, 8])
def test_resnet18_width_k_has_k_2k_4k_8k_channels(k):
    model = preact_resnet18((32, 32, 3), 10, width=k)
    assert trainable(model) == _resnet18_count(k)
    widths = [model.get_layer(f"stage{s}_block1_conv1").filters for s in (1, 2, 3, 4)]
    assert widths == [k, 2 * k, 4 * k, 8 * k]
    assert model.get_layer("stem_conv").filters == k


def test_wide_resnet_28_10_and_its_stages():
    model = wide_resnet28((32, 32, 3), 10, width=10)
    assert trainable(model) == 36_479_194  # the WRN paper's 36.5M
    assert [model.get_layer(f"stage{s}_block1_conv1").filters for s in (1, 2, 3)] == [160, 320, 640]
    assert sum(name.endswith("_add") for name in (layer.name for layer in model.layers)) == 12  # 3 x 4 blocks


@pytest.mark.slow
@pytest.mark.parametrize("name", ["preact_resnet18", "wide_resnet28"])
def test_switches_and_a_training_step(name):
    builder = MODELS[name]
    shape = (16, 16, 3)
    base = builder(shape, 10, width=2)  # built once (a WRN-28 takes a second): checked, compared, then trained
    assert "FusedBatchNormalization" in layer_types(base) and "Dropout" not in layer_types(base)
    assert "FusedBatchNormalization" not in layer_types(builder(shape, 10, width=2, batch_norm=False))
    assert "Dropout" in layer_types(builder(shape, 10, width=2, dropout=0.3))
    wider = builder(shape, 10, width=2, width_multiplier=2.0)
    for layer in ("stem_conv", "stage1_block1_conv1", "stage3_block1_conv2"):
        assert wider.get_layer(layer).filters == 2 * base.get_layer(layer).filters
    loss = train_step(base, shape)
    assert np.isfinite(loss)


def test_bad_width_is_refused():
    with pytest.raises(ValueError, match="width must be a positive integer"):
        preact_resnet18((32, 32, 3), 10, width=0)
