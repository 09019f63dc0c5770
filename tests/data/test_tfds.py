"""TFDS loading: indices from TFDS ids, mock data, offline failures, manual files, availability, the network probe."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from rethinking.data import Corruption, DataConfig, build_pipeline
from rethinking.data import datasets as D
from rethinking.data import tfds as T


def _all(ds):
    return list(ds.as_numpy_iterator())


# --------------------------------------------------------------------------- TFDS


def test_tfds_index_from_ids():
    offsets = tf.constant([0, 10, 25, 40], tf.int64)
    ids = [
        ("cifar10-train.tfrecord-00000-of-00004__3", 3),
        ("cifar10-train.tfrecord-00002-of-00004__7", 32),
        ("imagenet2012-train.array_record-00003-of-00004__0", 40),
        ("folder/x-test.tfrecord-00001-of-00004__14", 24),
    ]
    for tfds_id, expected in ids:
        assert int(T.tfds_index(tf.constant(tfds_id), offsets)) == expected
    ds = tf.data.Dataset.from_tensor_slices([i for i, _ in ids]).map(lambda s: T.tfds_index(s, offsets))
    assert list(ds.as_numpy_iterator()) == [e for _, e in ids]


@pytest.fixture
def reachable(monkeypatch):
    """Pretend the network is up: mock_data makes download_and_prepare a no-op, so nothing is fetched."""
    monkeypatch.setattr(T, "network_reachable", lambda urls, timeout=0: True)


@pytest.mark.parametrize("name, shape", [("cifar10", (32, 32, 3)), ("mnist", (28, 28, 1))])
def test_tfds_loading_with_mock_data(name, shape, reachable):
    with tfds.testing.mock_data(num_examples=24):
        bundle = D.load_dataset(name, with_stats=True)
        info = bundle.info
        assert info.source == "tfds" and info.image_shape == shape and info.num_classes == 10
        assert (info.train_size, info.test_size) == (24, 24)
        assert len(info.channel_mean) == shape[-1] and all(0 < m < 255 for m in info.channel_mean)
        train = _all(bundle.train)
        assert sorted(ex["index"] for ex in train) == list(range(24))
        assert train[0]["image"].dtype == np.uint8 and train[0]["image"].shape == shape
        pipeline = build_pipeline(DataConfig(dataset=name, corruption=Corruption(labels="random", pixels="gaussian")), 8)
        batches = list(pipeline.train(0).as_numpy_iterator())
        assert sum(len(b["index"]) for b in batches) == 24
        assert batches[0]["image"].shape[1:] == ((28, 28, 3) if name == "cifar10" else (28, 28, 1))


def test_offline_failure_is_fast_clear_and_leaves_nothing(tfds_dir, monkeypatch):
    monkeypatch.setenv(T.OFFLINE_ENV, "1")
    start = time.monotonic()
    with pytest.raises(D.DatasetUnavailableError) as err:
        D.load_dataset("cifar10", data_dir=str(tfds_dir))
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "cifar-10-binary.tar.gz" in message and str(tfds_dir / "downloads" / "manual") in message
    assert "--dataset digits" in message and "\n" not in message
    assert not [p for p in tfds_dir.rglob("*") if "incomplete" in p.name or ".tmp" in p.name]


def test_manual_download_instructions_for_imagenet(tfds_dir):
    with pytest.raises(D.DatasetUnavailableError, match="manual download into .*ILSVRC2012_img_train.tar"):
        D.load_dataset("imagenet2012", data_dir=str(tfds_dir))


@pytest.mark.slow
def test_wrong_manual_file_gives_a_checksum_error_and_no_leftovers(tfds_dir):
    manual = tfds_dir / "downloads" / "manual"
    manual.mkdir(parents=True)
    (manual / "cifar-10-binary.tar.gz").write_bytes(b"not the real archive")
    assert T.is_available("cifar10", str(tfds_dir))  # the file is there: no network needed
    with pytest.raises(D.DatasetUnavailableError, match="wrong size or checksum.*cifar-10-binary.tar.gz"):
        D.load_dataset("cifar10", data_dir=str(tfds_dir))
    assert not [p for p in tfds_dir.rglob("*") if "incomplete" in p.name or ".tmp." in p.name]
    assert (manual / "cifar-10-binary.tar.gz").exists(), "the user's file is never deleted"


def test_availability(tfds_dir):
    assert T.is_available("digits")
    assert not T.is_available("cifar10", str(tfds_dir))
    assert not T.is_available("not_a_dataset", str(tfds_dir))


# --------------------------------------------------------------------------- network probe


def test_network_probe_on_loopback(monkeypatch):
    monkeypatch.delenv(T.OFFLINE_ENV, raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepter = threading.Thread(target=lambda: server.accept()[0].close(), daemon=True)
    accepter.start()
    try:
        assert T.network_reachable([f"http://127.0.0.1:{port}/file.tar.gz"], timeout=2)
        accepter.join(timeout=5)  # the probe's connection was accepted: close the server only then
    finally:
        server.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connection refused
    start = time.monotonic()
    assert not T.network_reachable([f"https://127.0.0.1:{closed_port}/x"], timeout=2)
    assert time.monotonic() - start < 2.5
    monkeypatch.setenv(T.OFFLINE_ENV, "1")
    assert not T.network_reachable([f"http://127.0.0.1:{port}/"], timeout=2)


# --------------------------------------------------------------------------- a real, locally built TFDS dataset


class RethinkingTinyShards(tfds.core.GeneratorBasedBuilder):
    """60 train / 12 test 4x4x3 images whose first pixel encodes the generation key; built offline."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(4, 4, 3)),
                "label": tfds.features.ClassLabel(num_classes=3),
            }),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(60), "test": self._generate_examples(12)}

    def _generate_examples(self, n):
        for key in range(n):
            image = np.full((4, 4, 3), 7, np.uint8)
            image[0, 0, 0] = key
            yield key, {"image": image, "label": key % 3}


@pytest.mark.slow
def test_prepared_multi_shard_tfds_dataset_keeps_indices_when_files_are_shuffled(tfds_dir):
    builder = RethinkingTinyShards(data_dir=str(tfds_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(num_shards=4))
    assert len(builder.info.splits["train"].shard_lengths) == 4
    name = "rethinking_tiny_shards"
    ordered = T.load_tfds(name, data_dir=str(tfds_dir), with_stats=True)
    assert (ordered.info.train_size, ordered.info.test_size, ordered.info.num_classes) == (60, 12, 3)
    reference = {int(ex["index"]): int(ex["image"][0, 0, 0]) for ex in _all(ordered.train)}
    assert sorted(reference) == list(range(60)) and sorted(reference.values()) == list(range(60))
    for _ in range(2):  # files read in other orders: every example keeps its index
        shuffled = T.load_tfds(name, data_dir=str(tfds_dir), shuffle_files=True)
        assert {int(ex["index"]): int(ex["image"][0, 0, 0]) for ex in _all(shuffled.train)} == reference
    # Pixel statistics were computed once and cached next to the data.
    assert (tfds_dir / name / "1.0.0" / "rethinking_channel_stats.json").is_file()
    assert T.load_tfds(name, data_dir=str(tfds_dir)).info.channel_mean == ordered.info.channel_mean
    assert T.is_available(name, str(tfds_dir))
