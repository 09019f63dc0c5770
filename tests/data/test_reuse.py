"""Pipelines reused by later runs of a process: the same data only, the same batches."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.data import Corruption, DataConfig, build_pipeline
from rethinking.data import reuse
from rethinking.data.reuse import data_key, forget_pipelines, reused_pipeline
from tests.helpers import make_images, make_labels


@pytest.fixture(autouse=True)
def _nothing_kept():
    forget_pipelines()
    yield
    forget_pipelines()


def _write_npz(path, seed: int) -> str:
    np.savez(path, x_train=make_images(40, (8, 8, 1), seed), y_train=make_labels(40, 10, seed + 1),
             x_test=make_images(10, (8, 8, 1), seed + 2), y_test=make_labels(10, 10, seed + 3))
    return str(path)


def _batches(dataset):
    return [{k: v for k, v in batch.items()} for batch in dataset.as_numpy_iterator()]


def _same(a, b) -> bool:
    return len(a) == len(b) > 0 and all(np.array_equal(x[k], y[k]) for x, y in zip(a, b) for k in x)


def test_the_same_data_gets_the_same_pipeline_and_the_most_recent_are_kept(monkeypatch):
    random, true = DataConfig(corruption=Corruption(labels="random")), DataConfig()
    first = reused_pipeline(random, 32)
    assert reused_pipeline(random, 32) is first
    assert reused_pipeline(random, 16) is not first  # another batch size, other batches
    other = reused_pipeline(true, 32)
    assert other is not first and reused_pipeline(true, 32) is other
    assert len(reuse._KEPT) == 3 and reused_pipeline(random, 32) is first  # all kept: 8 may be
    monkeypatch.setattr(reuse, "PIPELINES_KEPT", 2)
    # random/16 is the least recently used one: it goes when the next pipeline comes.
    reused_pipeline(DataConfig(seed=1), 32)
    assert len(reuse._KEPT) == 2 and reused_pipeline(random, 32) is first
    assert data_key(random, 16) not in reuse._KEPT


def test_the_memory_the_kept_caches_hold_is_bounded(monkeypatch):
    digits = reused_pipeline(DataConfig(), 32)
    assert reuse.cached_bytes(digits) == 1797 * 8 * 8 * 1  # uint8 digits, both splits
    gaussian = reused_pipeline(DataConfig(corruption=Corruption(pixels="gaussian")), 32)
    assert reuse.cached_bytes(gaussian) == 4 * 1797 * 8 * 8  # float32 images
    assert reuse.cached_bytes(reused_pipeline(DataConfig(cache="none"), 32)) == 0
    monkeypatch.setattr(reuse, "KEPT_BYTES", 2 * 1797 * 64)
    # Over the budget: the oldest go until the rest fits; the newest stays whatever its size.
    newest = reused_pipeline(DataConfig(seed=2, corruption=Corruption(pixels="gaussian")), 32)
    assert [kept.pipeline for kept in reuse._KEPT.values()] == [newest]


def test_what_runs_derive_from_a_kept_pipeline_is_made_once_and_counts_against_the_memory(monkeypatch):
    made = []

    def make(name):
        return lambda: made.append(name) or name

    kept = reused_pipeline(DataConfig(), 32)
    assert reuse.kept_for(kept, "evaluation", make("a"), nbytes=100) == "a"
    assert reuse.kept_for(kept, "evaluation", make("b"), nbytes=100) == "a" and made == ["a"]
    assert reuse.kept_for(kept, "preview", make("c")) == "c" and made == ["a", "c"]
    # A pipeline that is not kept (a dataset function's, an evicted one) makes it every time.
    assert reuse.kept_for(build_pipeline(DataConfig(), 32), "evaluation", make("d")) == "d" and made[-1] == "d"
    other = reused_pipeline(DataConfig(seed=1), 32)
    monkeypatch.setattr(reuse, "KEPT_BYTES", 2 * reuse.cached_bytes(kept) + 99)
    reuse.kept_for(other, "evaluation", make("e"), nbytes=100)  # now over the budget: the older one goes
    assert [k.pipeline for k in reuse._KEPT.values()] == [other]
    assert reuse.kept_for(kept, "evaluation", make("f")) == "f"


def test_a_reused_pipeline_gives_the_batches_of_a_new_one():
    config = DataConfig(corruption=Corruption(labels="partial", corruption_prob=0.5, pixels="random"), seed=4)
    used = reused_pipeline(config, 64)
    before = [_batches(used.train(2)), _batches(used.train_in_order()), _batches(used.test())]  # caches filled
    again = reused_pipeline(config, 64)
    assert again is used
    forget_pipelines()
    new = reused_pipeline(config, 64)
    assert new is not used
    for old, fresh in zip(before, [_batches(new.train(2)), _batches(new.train_in_order()), _batches(new.test())]):
        assert _same(old, fresh)
    assert _same(_batches(again.train(2)), before[0])


def test_a_changed_file_is_read_again_and_a_dataset_function_is_never_reused(tmp_path, monkeypatch):
    path = _write_npz(tmp_path / "mine.npz", seed=0)
    config = DataConfig(dataset=path, corruption=Corruption(labels="random"))
    first = reused_pipeline(config, 8)
    assert reused_pipeline(config, 8) is first
    _write_npz(tmp_path / "mine.npz", seed=10)  # same name, other images
    second = reused_pipeline(config, 8)
    assert second is not first
    assert not _same(_batches(first.test()), _batches(second.test()))
    # A function of the user's may return other data when called again: built anew every time.
    (tmp_path / "my_module.py").write_text(
        "import numpy as np\n"
        f"def data():\n    d = np.load({str(tmp_path / 'mine.npz')!r})\n"
        "    return d['x_train'], d['y_train'], d['x_test'], d['y_test']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    function = DataConfig(dataset="my_module:data")
    assert data_key(function, 8) is None
    assert reused_pipeline(function, 8) is not reused_pipeline(function, 8)
