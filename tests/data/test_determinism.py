"""A corrupted example is a fixed function of (seed, index): the same in every epoch, for any
shuffle order, under Dataset.shard, in any read order, and with 1 or 2 replicas."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from rethinking.data import Corruption, DataConfig, apply_corruption, attach_index, build_pipeline
from tests.helpers import make_images, make_labels, synthetic_bundle

CONDITIONS = [
    Corruption(labels="partial", corruption_prob=0.5, pixels="random"),
    Corruption(labels="random", label_noise="wrong", pixels="gaussian"),
    Corruption(labels="partial", corruption_prob=0.3, pixels="shuffled"),
]
N = 120
STATS = dict(mean=(120.0, 110.0, 100.0), std=(60.0, 60.0, 60.0))


def _key(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def _by_index(examples) -> dict[int, tuple]:
    """{index: (label, label_corrupted, image hash)} of an iterable of (possibly batched) example dicts."""
    table = {}
    for ex in examples:
        indices = np.atleast_1d(ex["index"])
        images = ex["image"] if np.ndim(ex["index"]) else ex["image"][None]
        for k, i in enumerate(indices):
            entry = (int(np.atleast_1d(ex["label"])[k]), bool(np.atleast_1d(ex["label_corrupted"])[k]), _key(images[k]))
            assert int(i) not in table, f"index {i} seen twice"
            table[int(i)] = entry
    return table


def _indexed(order=None) -> tf.data.Dataset:
    images, labels = make_images(N), make_labels(N)
    index = np.arange(N) if order is None else np.asarray(order)
    return tf.data.Dataset.from_tensor_slices({"image": images[index], "label": labels[index], "index": index.astype(np.int64)})


def _corrupt(ds: tf.data.Dataset, corruption: Corruption) -> tf.data.Dataset:
    return apply_corruption(ds, corruption, num_classes=10, seed=7, **STATS)


@pytest.mark.slow
@pytest.mark.parametrize("corruption", CONDITIONS, ids=lambda c: f"{c.labels}-{c.pixels}")
def test_same_under_shuffle_shard_and_read_order(corruption):
    reference = _by_index(_corrupt(_indexed(), corruption).as_numpy_iterator())
    assert len(reference) == N
    assert any(v[1] for v in reference.values()), "some labels must change"
    # Any shuffle order before the corruption.
    for seed in (1, 2):
        shuffled = _corrupt(_indexed().shuffle(N, seed=seed), corruption)
        assert _by_index(shuffled.as_numpy_iterator()) == reference
    # Dataset.shard into 2 parts (e.g. 2 workers): the union is the whole, example for example.
    union = {}
    for shard in range(2):
        part = _by_index(_corrupt(_indexed().shard(2, shard), corruption).as_numpy_iterator())
        assert len(part) == N // 2
        union.update(part)
    assert union == reference
    # Read in another order (reversed files, interleaving): the index travels with the example.
    reversed_order = _corrupt(_indexed(order=np.arange(N)[::-1]), corruption)
    assert _by_index(reversed_order.as_numpy_iterator()) == reference


def test_attach_index_then_shuffle_equals_unshuffled():
    ds = tf.data.Dataset.from_tensor_slices((make_images(N), make_labels(N)))
    corruption = Corruption(labels="random", pixels="random")
    plain = _by_index(_corrupt(attach_index(ds), corruption).as_numpy_iterator())
    shuffled = _by_index(_corrupt(attach_index(ds).shuffle(N, seed=3), corruption).as_numpy_iterator())
    assert plain == shuffled


@pytest.mark.parametrize("corruption", CONDITIONS[:2], ids=lambda c: f"{c.labels}-{c.pixels}")
def test_every_epoch_sees_the_same_corrupted_examples(corruption):
    pipeline = build_pipeline(DataConfig(corruption=corruption, seed=7), batch_size=32, bundle=synthetic_bundle(N))
    epochs = [_by_index(pipeline.train(e).as_numpy_iterator()) for e in range(3)]
    assert len(epochs[0]) == N
    assert epochs[0] == epochs[1] == epochs[2]
    orders = [np.concatenate([b["index"] for b in pipeline.train(e).as_numpy_iterator()]) for e in range(2)]
    assert not np.array_equal(orders[0], orders[1]), "epochs must be shuffled differently"
    # Epoch e is a pure function of (seed, e): rebuilding the pipeline replays it (resume).
    again = build_pipeline(DataConfig(corruption=corruption, seed=7), batch_size=32, bundle=synthetic_bundle(N))
    np.testing.assert_array_equal(np.concatenate([b["index"] for b in again.train(1).as_numpy_iterator()]), orders[1])
    # The back-to-back epochs dataset model.fit uses holds the same epochs.
    joined = np.concatenate([b["index"] for b in pipeline.train_epochs(0, 2).as_numpy_iterator()])
    np.testing.assert_array_equal(joined, np.concatenate(orders))


def test_augmented_epochs_keep_labels_and_differ_in_pixels():
    from rethinking.data import Preprocessing

    config = DataConfig(corruption=CONDITIONS[0], seed=7, preprocessing=Preprocessing(random_crop=True, flip=True))
    pipeline = build_pipeline(config, batch_size=40, bundle=synthetic_bundle(N))
    e0, e1 = (_by_index(pipeline.train(e).as_numpy_iterator()) for e in (0, 1))
    assert {i: v[:2] for i, v in e0.items()} == {i: v[:2] for i, v in e1.items()}
    assert sum(e0[i][2] != e1[i][2] for i in e0) > N * 0.8
    replay = _by_index(build_pipeline(config, batch_size=40, bundle=synthetic_bundle(N)).train(1).as_numpy_iterator())
    assert replay == e1


@pytest.mark.slow
def test_two_replica_mirrored_strategy_sees_the_same_examples():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) >= 2, "conftest configures 2 logical CPUs"
    strategy = tf.distribute.MirroredStrategy(devices[:2])
    assert strategy.num_replicas_in_sync == 2
    corruption = CONDITIONS[0]
    pipeline = build_pipeline(DataConfig(corruption=corruption, seed=7), batch_size=20, bundle=synthetic_bundle(N))
    single = _by_index(pipeline.train(0).as_numpy_iterator())
    seen, per_replica = {}, [0, 0]
    for batch in strategy.experimental_distribute_dataset(pipeline.train(0)):
        for r, local in enumerate(strategy.experimental_local_results(batch)):
            local = {k: v.numpy() for k, v in local.items()}
            per_replica[r] += len(local["index"])
            part = _by_index([local])
            assert not set(part) & set(seen)
            seen.update(part)
    assert per_replica[0] > 0 and per_replica[1] > 0
    assert seen == single
