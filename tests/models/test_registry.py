"""The model registry: built-in names, register(), installed packages' entry points, builder paths."""

from __future__ import annotations

import pytest

from rethinking import models
from rethinking.config import ModelConfig, RunConfig


@pytest.fixture
def installed_package(tmp_path, monkeypatch):
    """A package 'acme_nets' installed with an entry point in the rethinking.models group."""
    (tmp_path / "acme_nets.py").write_text("def acme(input_shape, num_classes, **switches):\n    return None\n")
    info = tmp_path / "acme_nets-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-nets\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rethinking.models]\nacme_net = acme_nets:acme\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    models.entry_point_models.cache_clear()
    yield
    models.entry_point_models.cache_clear()


def test_an_installed_package_provides_a_model_by_name(installed_package):
    assert "acme_net" in models.model_names()
    entry = models.model_entry("acme_net")
    assert entry.location == "acme_nets:acme" and entry.load().__name__ == "acme"
    assert ModelConfig(name="acme_net").name == "acme_net"


def test_register_adds_a_name_and_refuses_the_toolkits():
    def my_net(input_shape, num_classes, *, dropout=0.0):
        raise AssertionError("not built here")

    try:
        assert models.register("my_net", learning_rate=0.05)(my_net) is my_net
        assert "my_net" in models.model_names() and RunConfig(model=ModelConfig(name="my_net")).learning_rate == 0.05
    finally:
        models.MODEL_CATALOG.pop("my_net", None)
    with pytest.raises(ValueError, match="is a model of the toolkit"):
        models.register("alexnet_small", my_net)
    with pytest.raises(ValueError, match="plain name"):
        models.register("a:b", my_net)


def test_names_paths_and_unknown_models():
    assert models.model_entry("mlp").location == "rethinking.models.mlp:mlp"
    assert models.model_entry("pkg.mod:net").location == "pkg.mod:net"  # loaded only when built
    with pytest.raises(ValueError, match="Unknown model 'resnet9'.*package.module:function"):
        models.model_entry("resnet9")
    with pytest.raises(ValueError, match="width applies only to models 'preact_resnet18', 'wide_resnet28'"):
        ModelConfig(name="mlp_1x512", width=4)
    assert ModelConfig(name="pkg.mod:net", width=4).builder_kwargs()["width"] == 4  # checked by its signature later
