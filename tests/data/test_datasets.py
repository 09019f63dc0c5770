"""Loaders: embedded digits, .npz files, TFDS (mocked), and the fast, clear offline failure."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from rethinking.data import DataConfig, Corruption, build_pipeline
from rethinking.data import datasets as D
from rethinking.data import tfds as T
from tests.helpers import make_images, make_labels


def _all(ds):
    return list(ds.as_numpy_iterator())


# --------------------------------------------------------------------------- digits


def test_digits_is_real_fixed_and_indexed():
    a, b = D.load_digits(), D.load_digits()
    info = a.info
    assert (info.train_size, info.test_size, info.num_classes, info.image_shape) == (1438, 359, 10, (8, 8, 1))
    assert info.source == "embedded" and info.class_names == tuple(str(k) for k in range(10))
    train = _all(a.train)
    assert [ex["index"] for ex in train] == list(range(1438))
    assert train[0]["image"].dtype == np.uint8 and train[0]["image"].max() <= 255
    np.testing.assert_array_equal(train[5]["image"], _all(b.train)[5]["image"])  # the split is fixed
    # Train and test are disjoint images of the 1,797 real digits, every class present.
    train_keys = {ex["image"].tobytes() for ex in train}
    assert not train_keys & {ex["image"].tobytes() for ex in _all(a.test)}
    assert set(ex["label"] for ex in train) == set(range(10))
    assert 60 < info.channel_mean[0] < 100 and 80 < info.channel_std[0] < 110


# --------------------------------------------------------------------------- .npz


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_npz_in_keras_layout_loads(tmp_path):
    x_train, y_train = make_images(30, (6, 6)), make_labels(30, 3)  # grayscale without channel axis
    path = _write_npz(tmp_path / "d.npz", x_train=x_train, y_train=y_train[:, None], x_test=make_images(9, (6, 6)),
                      y_test=make_labels(9, 3), class_names=np.array(["a", "b", "c"]))
    bundle = D.load_dataset(path)
    assert bundle.info.image_shape == (6, 6, 1) and bundle.info.num_classes == 3
    assert bundle.info.class_names == ("a", "b", "c") and bundle.info.source == "npz"
    train = _all(bundle.train)
    np.testing.assert_array_equal(train[4]["image"][..., 0], x_train[4])
    assert train[4]["label"] == y_train[4] and train[4]["index"] == 4
    np.testing.assert_allclose(bundle.info.channel_mean, [x_train.mean()])
    np.testing.assert_allclose(bundle.info.channel_std, [x_train.std()], rtol=1e-6)


GOOD = dict(x_train=make_images(10), y_train=make_labels(10), x_test=make_images(4), y_test=make_labels(4))


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({k: v for k, v in GOOD.items() if k != "y_test"}, "lacks y_test"),
        ({"images": make_images(3)}, "lacks x_train, y_train, x_test, y_test"),
        ({**GOOD, "y_train": make_labels(9)}, "differ in length: 10 images, 9 labels"),
        ({**GOOD, "x_test": make_images(4, (4, 4, 3))}, "differ in shape"),
        ({**GOOD, "x_train": GOOD["x_train"] / 255.0}, "scaled to"),
        ({**GOOD, "x_train": GOOD["x_train"].astype(np.int32) * 4}, r"\[0, 255\]"),
        ({**GOOD, "y_train": GOOD["y_train"] - 5}, "non-negative"),
        ({**GOOD, "y_train": GOOD["y_train"].astype(np.float32)}, "integer class labels"),
        ({**GOOD, "y_train": np.zeros(10, np.int64), "y_test": np.zeros(4, np.int64)}, "at least 2"),
        ({**GOOD, "x_train": make_images(10, (8, 8, 2))}, "C in 1, 3, 4"),
    ],
)
def test_malformed_npz_is_rejected_clearly(tmp_path, arrays, message):
    path = _write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        D.load_dataset(path)


def test_unreadable_and_missing_files(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        D.load_dataset(str(junk))
    with pytest.raises(ValueError, match="No dataset file"):
        D.load_dataset(str(tmp_path / "missing.npz"))


def test_unknown_and_non_image_datasets(tfds_dir):
    with pytest.raises(ValueError, match="Unknown dataset 'no_such_data'.*digits"):
        D.load_dataset("no_such_data", data_dir=str(tfds_dir))
    with pytest.raises(ValueError, match="not an image-classification dataset"):
        D.load_dataset("imdb_reviews", data_dir=str(tfds_dir))


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
        assert int(D.tfds_index(tf.constant(tfds_id), offsets)) == expected
    ds = tf.data.Dataset.from_tensor_slices([i for i, _ in ids]).map(lambda s: D.tfds_index(s, offsets))
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
    monkeypatch.setenv(D.OFFLINE_ENV, "1")
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
    assert D.is_available("cifar10", str(tfds_dir))  # the file is there: no network needed
    with pytest.raises(D.DatasetUnavailableError, match="wrong size or checksum.*cifar-10-binary.tar.gz"):
        D.load_dataset("cifar10", data_dir=str(tfds_dir))
    assert not [p for p in tfds_dir.rglob("*") if "incomplete" in p.name or ".tmp." in p.name]
    assert (manual / "cifar-10-binary.tar.gz").exists(), "the user's file is never deleted"


def test_availability(tfds_dir):
    assert D.is_available("digits")
    assert not D.is_available("cifar10", str(tfds_dir))
    assert not D.is_available("not_a_dataset", str(tfds_dir))


# --------------------------------------------------------------------------- network probe


def test_network_probe_on_loopback(monkeypatch):
    monkeypatch.delenv(D.OFFLINE_ENV, raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepter = threading.Thread(target=lambda: server.accept()[0].close(), daemon=True)
    accepter.start()
    try:
        assert D.network_reachable([f"http://127.0.0.1:{port}/file.tar.gz"], timeout=2)
    finally:
        server.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connection refused
    start = time.monotonic()
    assert not D.network_reachable([f"https://127.0.0.1:{closed_port}/x"], timeout=2)
    assert time.monotonic() - start < 2.5
    monkeypatch.setenv(D.OFFLINE_ENV, "1")
    assert not D.network_reachable([f"http://127.0.0.1:{port}/"], timeout=2)


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
    ordered = D.load_tfds(name, data_dir=str(tfds_dir), with_stats=True)
    assert (ordered.info.train_size, ordered.info.test_size, ordered.info.num_classes) == (60, 12, 3)
    reference = {int(ex["index"]): int(ex["image"][0, 0, 0]) for ex in _all(ordered.train)}
    assert sorted(reference) == list(range(60)) and sorted(reference.values()) == list(range(60))
    for _ in range(2):  # files read in other orders: every example keeps its index
        shuffled = D.load_tfds(name, data_dir=str(tfds_dir), shuffle_files=True)
        assert {int(ex["index"]): int(ex["image"][0, 0, 0]) for ex in _all(shuffled.train)} == reference
    # Pixel statistics were computed once and cached next to the data.
    assert (tfds_dir / name / "1.0.0" / "rethinking_channel_stats.json").is_file()
    assert D.load_tfds(name, data_dir=str(tfds_dir)).info.channel_mean == ordered.info.channel_mean
    assert D.is_available(name, str(tfds_dir))
