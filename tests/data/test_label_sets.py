"""Transition-matrix label noise (chi-square against its matrix, fixed per example, eager = in
Dataset.map) and the CIFAR-10N / CIFAR-100N human label sets on TFDS mock data (noise rates
checked at load, labels by example index)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from scipy import stats

from rethinking.config import Corruption, DataConfig, RunConfig, default_run_name
from rethinking.data import build_pipeline
from rethinking.data import label_sets as L
from rethinking.data import tfds as T
from rethinking.registry.conditions import HUMAN_LABEL_SETS
from rethinking.data.corruptions import apply_corruption, attach_index, corrupt_labels_by_matrix

# A 4-class matrix with zeros, a dominant diagonal and an asymmetric flip (2 -> 3 but not back).
MATRIX = np.array([[0.70, 0.10, 0.10, 0.10],
                   [0.00, 0.90, 0.10, 0.00],
                   [0.05, 0.05, 0.50, 0.40],
                   [0.00, 0.00, 0.00, 1.00]])


def _write(path, matrix, sep=", "):
    path.write_text("# true class per row\n" + "\n".join(sep.join(f"{v:g}" for v in row) for row in matrix) + "\n")
    return path


# --------------------------------------------------------------------------- the matrix file


def test_transition_files_in_every_accepted_layout(tmp_path):
    for path in (_write(tmp_path / "t.csv", MATRIX), _write(tmp_path / "t.txt", MATRIX, sep=" ")):
        np.testing.assert_array_equal(L.read_transition(path, 4), MATRIX)
    np.save(tmp_path / "t.npy", MATRIX)
    np.testing.assert_array_equal(L.read_transition(tmp_path / "t.npy"), MATRIX)


@pytest.mark.parametrize("matrix, message", [
    (MATRIX[:3], "K x K"),
    (np.eye(3), "the dataset has 4 classes, the matrix is 3 x 3"),
    (MATRIX * 1.01, "row 0 sums to 1.01"),
    (np.where(MATRIX == 0.7, -0.1, MATRIX), "probabilities >= 0"),
])
def test_a_bad_matrix_is_one_line_that_says_what_is_wrong(tmp_path, matrix, message):
    with pytest.raises(ValueError, match=message) as err:
        L.read_transition(_write(tmp_path / "t.csv", matrix), 4)
    assert "\n" not in str(err.value)


def test_an_unreadable_matrix_file(tmp_path):
    (tmp_path / "t.csv").write_text("0.5, half\n0.5, 0.5\n")
    with pytest.raises(ValueError, match="cannot read a matrix"):
        L.read_transition(tmp_path / "t.csv")


def test_an_empty_npy_and_a_matrix_of_strings_name_their_file(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")  # once: EOFError, which the CLI reported as "Aborted."
    with pytest.raises(ValueError, match=r"--transition .*empty\.npy: cannot read a matrix"):
        L.read_transition(tmp_path / "empty.npy")
    np.save(tmp_path / "words.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"words\.npy: a transition matrix holds numbers"):
        L.read_transition(tmp_path / "words.npy")


# --------------------------------------------------------------------------- matrix noise


def _labels_through_map(labels, matrix, seed, split="train"):
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((len(labels), 1, 1, 1), np.uint8), labels))
    out = corrupt_labels_by_matrix(attach_index(ds), transition=matrix, seed=seed, split=split)
    return np.concatenate([b["label"] for b in out.batch(4096).as_numpy_iterator()])


@pytest.mark.slow
def test_matrix_noise_matches_its_matrix_chi_square():
    per_class = 6000
    true = np.repeat(np.arange(4), per_class)
    drawn = _labels_through_map(true, MATRIX, seed=11)
    for k in range(4):
        counts = np.bincount(drawn[true == k], minlength=4)
        allowed = MATRIX[k] > 0
        assert counts[~allowed].sum() == 0, f"class {k} drew a label of probability 0"
        if allowed.sum() > 1:
            _, p_value = stats.chisquare(counts[allowed], per_class * MATRIX[k][allowed])
            assert p_value > 0.001, f"class {k}: counts {counts} do not follow row {MATRIX[k]}"
    # The measured matrix recovers the one drawn from, within sampling error (about 0.006 here).
    np.testing.assert_allclose(L.measured_transition(true, drawn, 4), MATRIX, atol=0.025)
    # A wrong matrix is told apart by the same test (so the test can fail).
    counts = np.bincount(drawn[true == 2], minlength=4)
    assert stats.chisquare(counts, per_class * np.array([0.05, 0.05, 0.40, 0.50]))[1] < 1e-6


def test_matrix_noise_is_fixed_per_example_eagerly_in_map_and_in_any_order():
    true = np.tile(np.arange(4), 500)
    once = _labels_through_map(true, MATRIX, seed=5)
    assert np.array_equal(once, _labels_through_map(true, MATRIX, seed=5))  # a second pass (another epoch)
    assert not np.array_equal(once, _labels_through_map(true, MATRIX, seed=6))  # another seed
    assert not np.array_equal(once, _labels_through_map(true, MATRIX, seed=5, split="test"))  # the test stream
    eager = [int(L.matrix_label(tf.constant(int(true[i])), tf.constant(i), transition=MATRIX, seed=5)[0])
             for i in (0, 7, 1234, 1999)]
    assert eager == [int(once[i]) for i in (0, 7, 1234, 1999)]
    # Read in another order (shuffled before the labels are drawn), each example keeps its label.
    ds = attach_index(tf.data.Dataset.from_tensor_slices((np.zeros((2000, 1, 1, 1), np.uint8), true)))
    shuffled = corrupt_labels_by_matrix(ds.shuffle(2000, seed=1), transition=MATRIX, seed=5)
    for ex in shuffled.take(50).as_numpy_iterator():
        assert ex["label"] == once[ex["index"]] and ex["true_label"] == true[ex["index"]]
        assert ex["label_corrupted"] == (ex["label"] != ex["true_label"])


def test_matrix_labels_through_the_pipeline_train_only_and_as_in_the_full_dataset(tmp_path):
    path = _write(tmp_path / "t.csv", np.full((10, 10), 0.1))  # 10 digits classes: uniform noise
    corruption = Corruption(labels="matrix", transition=str(path))
    full = build_pipeline(DataConfig(dataset="digits", corruption=corruption, seed=3), 64)
    part = build_pipeline(DataConfig(dataset="digits", corruption=corruption, seed=3, train_offset=100,
                                     train_examples=50), 64)
    train = {int(i): (int(y), int(t)) for b in full.train_in_order().as_numpy_iterator()
             for i, y, t in zip(b["index"], b["label"], b["true_label"])}
    changed = np.mean([y != t for y, t in train.values()])
    assert 0.85 < changed < 0.95  # 9 of 10 labels differ under uniform noise
    for b in part.train_in_order().as_numpy_iterator():
        for i, y in zip(b["index"], b["label"]):
            assert train[int(i)][0] == y
    test = np.concatenate([b["label"] != b["true_label"] for b in full.test().as_numpy_iterator()])
    assert not test.any()  # test labels stay true
    both = build_pipeline(DataConfig(dataset="digits", corruption=Corruption(
        labels="matrix", transition=str(path), corrupt_test_labels=True), seed=3), 64)
    assert np.concatenate([b["label"] != b["true_label"] for b in both.test().as_numpy_iterator()]).mean() > 0.8


def test_a_changed_matrix_file_is_a_new_run(tmp_path):
    path = _write(tmp_path / "t.csv", np.full((10, 10), 0.1))
    config = RunConfig(data=DataConfig(corruption=Corruption(labels="matrix", transition=str(path))))
    before = default_run_name(config)
    assert before.startswith("inception_small-labels_matrix-")
    _write(path, np.eye(10))
    assert default_run_name(config) != before


# --------------------------------------------------------------------------- human label sets (mock TFDS)


def _mock_cifar_n(feature, differ, train_size=50_000, shift=0):
    """``as_dataset_fn`` for mock_data: ``train_size`` examples, label = index % K, and the human
    label ``feature`` differing (by +1 mod K) on the first ``differ`` examples; ``shift`` rolls the
    human labels (a file whose order does not match the images)."""
    num_classes = 100 if feature == "noise_label" else 10
    index = np.arange(train_size)
    true = index % num_classes
    human = np.where(index < differ, (true + 1) % num_classes, true)
    human = np.roll(human, shift)

    def as_dataset(self, split, decoders=None, read_config=None, **kwargs):
        n = train_size if split == "train" else 20
        labels = {"label": true[:n]}
        labels.update({f: (human if split == "train" else np.full(n, -1))[:n]
                       for f in ("aggre_label", "worse_label", "random_label1", "random_label2", "random_label3",
                                 "noise_label")})
        # Whole columns zipped into one dict, no per-example map: 50,000 examples in well under a second.
        columns = {k: tf.data.Dataset.from_tensor_slices(v.astype(np.int64)) for k, v in labels.items()}
        columns["image"] = tf.data.Dataset.from_tensors(tf.zeros((32, 32, 3), tf.uint8)).repeat(n)
        if read_config is not None and read_config.add_tfds_id:
            ids = np.char.add(f"{self.name}-{split}.tfrecord-00000-of-00001__", np.arange(n).astype(str))
            columns["tfds_id"] = tf.data.Dataset.from_tensor_slices(ids)
        return tf.data.Dataset.zip(columns)

    return as_dataset


@pytest.fixture
def manual_files(tfds_dir, monkeypatch):
    """A non-empty manual folder (CIFAR-N needs a manual download; mock_data skips preparing it)."""
    manual = tfds_dir / "downloads" / "manual"
    manual.mkdir(parents=True)
    (manual / "CIFAR-10_human_annotations.csv").write_text("placeholder\n")
    monkeypatch.setattr(T, "network_reachable", lambda urls, timeout=0: True)
    return tfds_dir


@pytest.mark.slow
@pytest.mark.parametrize("name", list(HUMAN_LABEL_SETS))
def test_every_published_noise_rate_is_checked_at_load(manual_files, name):
    label_set = HUMAN_LABEL_SETS[name]
    differ = round(label_set.noise_rate * 50_000)
    with tfds.testing.mock_data(as_dataset_fn=_mock_cifar_n(label_set.feature, differ)):
        true, human = L.human_labels(label_set.dataset, name)
    assert true.size == 50_000 and L.noise_rate(true, human) == pytest.approx(label_set.noise_rate, abs=1e-12)
    assert (human[:differ] != true[:differ]).all() and (human[differ:] == true[differ:]).all()


@pytest.mark.slow
def test_cifar10n_worst_labels_train_by_index_and_misordered_labels_are_refused(manual_files):
    label_set = HUMAN_LABEL_SETS["worst"]
    differ = round(label_set.noise_rate * 50_000)
    config = DataConfig(dataset="cifar10_n", corruption=Corruption(labels="human", label_set="worst"),
                        train_offset=20_000, train_examples=300)
    with tfds.testing.mock_data(as_dataset_fn=_mock_cifar_n(label_set.feature, differ)):
        pipeline = build_pipeline(config, 100)
        batches = list(pipeline.train_in_order().as_numpy_iterator())
        # The matrix measured from the same set, for synthetic noise with the real noise's matrix.
        matrix = L.transition_matrix(Corruption(labels="matrix", transition="label-set:worst"), "cifar10_n", 10)
    index = np.concatenate([b["index"] for b in batches])
    assert index.tolist() == list(range(20_000, 20_300))
    true = index % 10
    assert np.array_equal(np.concatenate([b["true_label"] for b in batches]), true)
    # Examples 20,000.. are past the first 20,105 changed ones only in part: each has its own human label.
    expected = np.where(index < differ, (true + 1) % 10, true)
    assert np.array_equal(np.concatenate([b["label"] for b in batches]), expected)
    assert np.array_equal(np.concatenate([b["label_corrupted"] for b in batches]), expected != true)
    changed = np.bincount(np.arange(differ) % 10, minlength=10) / 5000  # per true class (5,000 each)
    assert np.diag(matrix) == pytest.approx(1 - changed, abs=1e-12)
    assert matrix[np.arange(10), (np.arange(10) + 1) % 10] == pytest.approx(changed, abs=1e-12)
    # Human labels in another order than the images: about 90% differ, refused in one line.
    with tfds.testing.mock_data(as_dataset_fn=_mock_cifar_n(label_set.feature, differ, shift=1)):
        with pytest.raises(ValueError, match="not in the order of the images") as err:
            build_pipeline(config, 100)
    assert "published rate is 40.21%" in str(err.value) and "\n" not in str(err.value)


def test_the_check_needs_the_whole_dataset_and_the_right_one(manual_files):
    with tfds.testing.mock_data(as_dataset_fn=_mock_cifar_n("aggre_label", 90, train_size=1000)):
        with pytest.raises(ValueError, match="1,000 training examples; the published noise rate .* 50,000"):
            L.human_labels("cifar10_n", "aggregate")
    with pytest.raises(ValueError, match="belongs to --dataset cifar100_n"):
        L.human_labels("cifar10_n", "noisy")


def test_human_labels_need_their_dataset_in_one_line():
    with pytest.raises(ValueError, match="'worst' belongs to --dataset cifar10_n. Received: dataset='digits'"):
        build_pipeline(DataConfig(dataset="digits", corruption=Corruption(labels="human", label_set="worst")), 8)
    with pytest.raises(ValueError, match="needs the human label of every example"):
        apply_corruption(tf.data.Dataset.from_tensor_slices((np.zeros((2, 1, 1, 1)), [0, 1])),
                         Corruption(labels="human", label_set="worst"), num_classes=10, seed=0)
