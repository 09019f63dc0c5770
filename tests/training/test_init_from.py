"""--init-from: a run starts from another run's network, all but the classifier head."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from rethinking.training import train
from tests.training.helpers import digits_run, read_weights


def _weights(run_dir) -> dict[str, np.ndarray]:
    return dict(read_weights(run_dir / "final.weights.h5"))


@pytest.mark.slow
def test_every_layer_but_the_head_is_copied_and_the_source_recorded(tmp_path):
    source = train(digits_run(tmp_path, labels="random", epochs=1, run_name="source"))
    config = digits_run(tmp_path, labels="true", epochs=1, run_name="target", learning_rate=1e-12)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, init_from=source["run_dir"]))
    target = train(config)
    before, after = _weights(tmp_path / "default" / "source"), _weights(tmp_path / "default" / "target")
    # Keras' weight files name the layers by class: dense = hidden1, dense_1 = logits (the head).
    hidden = [k for k in before if k.startswith("layers/dense/")]
    head = [k for k in before if k.startswith("layers/dense_1/")]
    assert len(hidden) == len(head) == 2 and set(before) == set(after)
    for key in hidden:  # copied (and all but unchanged by one epoch at a rate of 1e-12)
        np.testing.assert_allclose(after[key], before[key], atol=1e-6)
    for key in head:  # the classifier head starts afresh
        assert not np.allclose(after[key], before[key], atol=1e-3)
    record = json.loads((tmp_path / "default" / "target" / "results.json").read_text())["init_from"]
    assert record["run"] == "source" and record["labels"] == "random" and record["layers_copied"] == 1
    assert record == target["init_from"] and record["status"] == "finished"
    # Without --init-from the same run is another run (a folder of its own), freshly initialized.
    fresh = train(dataclasses.replace(config, train=dataclasses.replace(config.train, init_from=None), run_name=None))
    scratch = _weights(tmp_path / "default" / fresh["run_dir"].rsplit("/", 1)[1])
    assert not np.allclose(scratch[hidden[0]], before[hidden[0]])
    # The head is not the one a network of this init seed starts with (the source's own initial head,
    # which its copied layers co-adapted to): it is drawn with a seed of its own, from the same initializer.
    kernel = next(k for k in head if after[k].ndim == 2)
    assert not np.allclose(after[kernel], scratch[kernel], atol=1e-3)
    assert abs(after[kernel].std() - scratch[kernel].std()) < 0.2 * scratch[kernel].std()
    assert record["head_seed"] not in (None, config.init_seed)


@pytest.mark.slow
def test_an_incompatible_or_unfinished_source_is_refused_in_one_line_and_leaves_no_folder(tmp_path, cli):
    source = train(digits_run(tmp_path, labels="random", epochs=1, run_name="source"))
    common = ["train", "--dataset", "digits", "--epochs", "1", "--log-dir", str(tmp_path), "--init-from", source["run_dir"]]
    code, _, err = cli(*common, "--model", "mlp_3x512", "--run-name", "deeper")
    assert code == 2 and "its network has 2 layers with weights, this one 4" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli(*common, "--model", "mlp", "--units", "256", "--run-name", "narrower")
    assert code == 2 and "layer hidden1 has weights of shapes [(64, 256), (256,)] here but [(64, 512), (512,)] there" in err
    assert not (tmp_path / "default" / "deeper").exists() and not (tmp_path / "default" / "narrower").exists()
    code, _, err = cli("train", "--dataset", "digits", "--epochs", "1", "--log-dir", str(tmp_path),
                       "--init-from", str(tmp_path / "nothing"), "--run-name", "x")
    assert code == 2 and "is not a run folder" in err and "Traceback" not in err


@pytest.mark.slow
def test_batch_norm_moving_statistics_are_copied_with_the_layers(tmp_path):
    """The source's moving mean and variance (not trainable, not in the gradient) come along."""
    source_config = digits_run(tmp_path, labels="random", epochs=1, run_name="source")
    source_config = dataclasses.replace(source_config, model=dataclasses.replace(source_config.model, batch_norm=True))
    source = train(source_config)
    config = dataclasses.replace(digits_run(tmp_path, labels="true", epochs=1, run_name="target"), model=source_config.model)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, init_from=source["run_dir"]))
    train(config)
    before = dict(read_weights(tmp_path / "default" / "source" / "final.weights.h5"))
    start = dict(read_weights(tmp_path / "default" / "target" / "initial.weights.h5"))  # after the copy
    # Keras names the layer by class; its variables: 0 beta (no gamma: scale=False), 1 moving mean,
    # 2 moving variance.
    mean, variance = "layers/fused_batch_normalization/vars/1", "layers/fused_batch_normalization/vars/2"
    assert {mean, variance} <= set(before), sorted(before)
    for key in (mean, variance):
        np.testing.assert_array_equal(start[key], before[key])
    assert np.abs(before[mean]).max() > 1e-3 and np.abs(before[variance] - 1).max() > 1e-3  # trained, not 0 and 1


@pytest.mark.slow
def test_a_resumed_init_from_run_continues_from_its_checkpoint_and_never_copies_the_source_again(tmp_path):
    from tests.training.helpers import same_weights
    from tests.training.test_kill_safety import _Killed, _stop_after

    source = train(digits_run(tmp_path, labels="random", epochs=1, run_name="source"))
    target = digits_run(tmp_path, labels="true", epochs=3, run_name="straight", deterministic=True)
    target = dataclasses.replace(target, train=dataclasses.replace(target.train, init_from=source["run_dir"]))
    train(target)  # uninterrupted
    interrupted = dataclasses.replace(target, run_name="killed")
    try:
        train(interrupted, progress=_stop_after(1))
    except _Killed:
        pass
    # The source's network changes (retrained elsewhere): a resume that copied it again would diverge.
    other = train(digits_run(tmp_path / "other", labels="true", epochs=2, run_name="source"))
    (tmp_path / "default" / "source" / "model.keras").write_bytes((Path(other["run_dir"]) / "model.keras").read_bytes())
    assert train(interrupted)["status"] == "finished"
    assert same_weights(tmp_path / "default" / "straight" / "final.weights.h5",
                        tmp_path / "default" / "killed" / "final.weights.h5")
