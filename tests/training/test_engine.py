"""The training engine on the embedded digits data: the paper's headline, run files, resume, drivers."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rethinking.training import TrainingDiverged, train
from rethinking.config.reproducing_command import command_args
from tests.training.helpers import digits_run, same_weights
from rethinking.data.pipeline import build_pipeline as reuse_build

CLI = [sys.executable, "-m", "rethinking.cli"]


@pytest.mark.slow
def test_random_labels_are_memorized_and_true_labels_generalize(tmp_path):
    # 400 of the 1,438 training images and a larger rate: fitted in about 35 epochs instead of 80.
    config = digits_run(tmp_path, labels="random", epochs=150, until_fit=True, learning_rate=0.1)
    random = train(dataclasses.replace(config, data=dataclasses.replace(config.data, train_examples=400)))
    assert random["status"] == "fitted"
    assert random["train_accuracy"] == 1.0 and random["train_accuracy_corrupted"] == 1.0
    assert random["fit_epoch"] == random["epochs_trained"] < 150
    assert random["fit_step"] == random["fit_epoch"] * 13  # 400 examples in batches of 32
    # 359 test images, chance 10%: 3 standard deviations are under 5 points.
    assert abs(random["test_accuracy"] - 0.1) < 0.08
    assert random["examples_never_fitted"] == 0
    true = train(digits_run(tmp_path, labels="true", epochs=5))
    assert true["train_accuracy"] > 0.98 and true["test_accuracy"] > 0.9
    assert true["train_accuracy_corrupted"] is None or np.isnan(true["train_accuracy_corrupted"])


def test_a_later_run_on_the_same_data_reuses_its_pipeline_and_trains_the_same(tmp_path, monkeypatch):
    from rethinking.data import reuse

    reuse.forget_pipelines()
    built = []
    monkeypatch.setattr(reuse, "build_pipeline", lambda *a, **k: built.append(a) or reuse_build(*a, **k))
    config = digits_run(tmp_path, labels="random", epochs=2, run_name="first")
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, train_examples=300))
    first = train(config)
    second = train(dataclasses.replace(config, run_name="second"))
    assert len(built) == 1  # the second run trained on the first one's pipeline (its cache filled)
    reuse.forget_pipelines()
    third = train(dataclasses.replace(config, run_name="third"))
    assert len(built) == 2
    for name in ("second", "third"):
        assert same_weights(tmp_path / "default" / "first" / "final.weights.h5",
                            tmp_path / "default" / name / "final.weights.h5"), name
    assert first["train_accuracy"] == second["train_accuracy"] == third["train_accuracy"]
    # Evaluated on the same (kept, cached) evaluation sets: every epoch's numbers are the same.
    columns = ("train_loss", "train_accuracy", "train_accuracy_corrupted", "test_loss", "test_accuracy")
    curves = [[tuple(row[c] for c in columns) for row in csv.DictReader((tmp_path / "default" / name / "metrics.csv").open())]
              for name in ("first", "second", "third")]
    assert len(curves[0]) == 3 and curves[0] == curves[1] == curves[2]
    assert first["labels_changed"] == second["labels_changed"] == third["labels_changed"] > 0
    reuse.forget_pipelines()


def test_run_directory_holds_every_file_and_tensorboard_reads_it(tmp_path):
    config = digits_run(tmp_path, labels="partial", epochs=2, run_name="r")
    results = train(config)
    run = tmp_path / "default" / "r"
    assert results["run_dir"] == str(run) and results["status"] == "finished"
    for name in ("config.json", "results.json", "metrics.csv", "examples.csv", "test_examples.csv", "inputs.png",
                 "initial.weights.h5", "final.weights.h5", "checkpoints/latest.json"):
        assert (run / name).is_file(), name
    # Per test example, whether the final network got it right: the test accuracy, example by example.
    test_examples = list(csv.DictReader((run / "test_examples.csv").open()))
    assert [int(e["index"]) for e in test_examples] == list(range(359))
    assert sum(int(e["correct"]) for e in test_examples) == round(359 * results["test_accuracy"])
    assert sum(float(e["loss"]) for e in test_examples) / 359 == pytest.approx(results["test_loss"], rel=1e-4)
    stored = json.loads((run / "results.json").read_text())
    for key in ("train_accuracy", "test_accuracy", "best_test_accuracy", "best_test_epoch", "fit_epoch", "fit_step",
                "wall_seconds", "train_images_per_second", "versions", "git_revision", "command"):
        assert key in stored, key
    assert stored["command"].split()[2:] == command_args(config)
    assert stored["versions"]["tensorflow"] and stored["epochs_trained"] == 2
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2] and [int(r["step"]) for r in rows] == [0, 45, 90]
    assert float(rows[2]["learning_rate"]) == pytest.approx(0.03 * 0.99)
    # Partial corruption: both groups exist, and the overall accuracy is their weighted mean.
    corrupted = [int(r["label_corrupted"]) for r in csv.DictReader((run / "examples.csv").open())]
    n_bad = sum(corrupted)
    assert len(corrupted) == 1438 and 0.35 * 1438 < n_bad < 0.55 * 1438
    last = rows[-1]
    mixed = (n_bad * float(last["train_accuracy_corrupted"]) + (1438 - n_bad) * float(last["train_accuracy_clean"])) / 1438
    assert float(last["train_accuracy"]) == pytest.approx(mixed, abs=1e-4)
    examples = list(csv.DictReader((run / "examples.csv").open()))
    # examples.npz, written after every epoch, holds what the CSV written at the end holds.
    from rethinking.training.example_files import examples_csv_from_binary, read_examples_binary

    binary = read_examples_binary(run)
    for column in examples[0]:
        in_csv = np.array([float(e[column]) for e in examples])
        np.testing.assert_allclose(binary[column], in_csv, rtol=1e-5 if column == "loss" else 0, err_msg=column)
    before = (run / "examples.csv").read_bytes()
    examples_csv_from_binary(run)  # the CSV on demand (a run still training) is the same file
    assert (run / "examples.csv").read_bytes() == before
    assert list(examples[0]) == ["index", "label", "true_label", "label_corrupted", "first_correct_epoch",
                                 "first_learned_epoch", "forgetting_events", "forgetting_score", "epochs_correct",
                                 "never_learned", "correct_at_end", "loss"]
    assert all((int(e["first_learned_epoch"]) == -1) == (e["never_learned"] == "1") for e in examples)
    # The loss at the last evaluation: its mean is the training loss of the last epoch's row.
    assert sum(float(e["loss"]) for e in examples) / len(examples) == pytest.approx(float(last["train_loss"]), rel=1e-4)
    assert all(int(e["label_corrupted"]) == int(e["label"] != e["true_label"]) for e in examples)
    assert {int(e["first_correct_epoch"]) for e in examples} <= {-1, 0, 1, 2}
    # The per-example dynamics agree with the per-epoch accuracies of metrics.csv: the evaluations
    # after training began (epochs 1 and 2) hold sum(epochs_correct) correct answers, the last one
    # sum(correct_at_end); an example can be forgotten only between epochs 1 and 2.
    assert sum(int(e["epochs_correct"]) for e in examples) == round(
        1438 * (float(rows[1]["train_accuracy"]) + float(rows[2]["train_accuracy"])))
    assert sum(int(e["correct_at_end"]) for e in examples) == round(1438 * float(rows[2]["train_accuracy"]))
    forgotten = sum(int(e["forgetting_events"]) for e in examples)
    assert {int(e["forgetting_events"]) for e in examples} <= {0, 1}
    assert forgotten >= round(1438 * (float(rows[1]["train_accuracy"]) - float(rows[2]["train_accuracy"])))
    assert all(int(e["never_learned"]) == int(e["epochs_correct"] == "0") for e in examples)
    assert stored["examples_forgotten"] == forgotten and stored["dynamics_since_epoch"] == 0

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def events_of(folder: Path) -> EventAccumulator:
        events = EventAccumulator(str(folder), size_guidance={"tensors": 0, "images": 0})
        events.Reload()
        return events

    def values(events: EventAccumulator, tag: str) -> list[float]:
        import tensorflow as tf

        return [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]

    # Keras' layout: the same tag in train/ and validation/ (and the corrupted/clean split) overlays
    # on one chart; each curve equals metrics.csv, epoch by epoch (epoch 0: the untrained network).
    for folder, tag, column in (("train", "epoch_accuracy", "train_accuracy"), ("validation", "epoch_accuracy", "test_accuracy"),
                                ("train_corrupted", "epoch_accuracy", "train_accuracy_corrupted"),
                                ("train_clean", "epoch_accuracy", "train_accuracy_clean"),
                                ("train", "epoch_loss", "train_loss"), ("validation", "epoch_loss", "test_loss"),
                                ("train", "epoch_learning_rate", "learning_rate")):
        events = events_of(run / folder)
        assert [e.step for e in events.Tensors(tag)] == [0, 1, 2], (folder, tag)
        assert values(events, tag) == pytest.approx([float(r[column]) for r in rows], rel=1e-5), (folder, tag)
    train_tags = set(events_of(run / "train").Tags()["tensors"])
    assert "batch_loss" in train_tags and not any(t.startswith("step_") for t in train_tags)  # no step duplicates unless asked
    root = events_of(run)
    root_tags = set(root.Tags()["tensors"])
    assert {"epochs_trained", "inputs/training_images"} <= root_tags
    import tensorflow as tf

    from rethinking.training import summaries

    (image,) = root.Tensors("inputs/training_images")  # the image tab's record: width, height, the PNG itself
    width, height, png = tf.make_ndarray(image.tensor_proto)
    assert png == (run / "inputs.png").read_bytes() and (int(width), int(height)) == summaries.png_size(png)
    assert root.SummaryMetadata("inputs/training_images").plugin_data.plugin_name == "images"
    assert ("fit_epoch" in root_tags) == (results["fit_epoch"] is not None)  # a run that did not fit has no time to fit
    hparams = root.PluginTagToContent("hparams")
    start = hparams["_hparams_/session_start_info"]  # the run's hyperparameters, as TensorBoard's HParams tab reads them
    assert b"lr_decay" in start and b"digits" in start and b"batch_size" in start
    assert "partial 0.5 · seed 0 · mlp_1x512 · ".encode() in start  # the readable trial name


@pytest.mark.slow
def test_a_completed_run_is_not_trained_again(tmp_path):
    config = digits_run(tmp_path, epochs=1, run_name="done")
    first = train(config)
    again = train(config)
    assert again["already_complete"] and again["wall_seconds"] == first["wall_seconds"]
    with pytest.raises(ValueError, match="holds a run with a different config"):  # (a larger --epochs extends it)
        train(dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=64)))


@pytest.mark.slow
def test_until_fit_stops_at_the_threshold(tmp_path):
    results = train(digits_run(tmp_path, labels="true", epochs=20, until_fit=True, fit_threshold=0.9))
    assert results["status"] == "fitted" and results["epochs_trained"] == results["fit_epoch"] < 20
    rows = list(csv.DictReader((Path(results["run_dir"]) / "metrics.csv").open()))
    accuracies = [float(r["train_accuracy"]) for r in rows]
    assert accuracies[-1] >= 0.9 and all(a < 0.9 for a in accuracies[:-1])


@pytest.mark.slow
def test_diverging_loss_stops_the_run_and_keeps_its_directory(tmp_path):
    config = digits_run(tmp_path, labels="true", epochs=3, learning_rate=1e6, run_name="nan")
    with pytest.raises(TrainingDiverged, match="diverged in epoch 1 .*lower --learning-rate"):
        train(config)
    results = json.loads((tmp_path / "default" / "nan" / "results.json").read_text())
    assert results["status"] == "diverged" and results["epochs_trained"] == 0


@pytest.mark.slow
def test_distributed_step_loop_trains_exactly_like_fit(tmp_path):
    """The multi-worker driver (Keras' train_step under strategy.run) on one process equals model.fit."""
    common = dict(epochs=2, jit_compile=False, steps_per_execution=1)
    by_fit = train(digits_run(tmp_path, run_name="fit", **common), driver="fit")
    by_loop = train(digits_run(tmp_path, run_name="loop", **common), driver="loop")
    assert same_weights(Path(by_fit["run_dir"]) / "final.weights.h5", Path(by_loop["run_dir"]) / "final.weights.h5")
    assert by_fit["train_accuracy"] == by_loop["train_accuracy"]


@pytest.mark.slow
def test_mirrored_strategy_on_two_cpus_trains_on_the_same_corrupted_data(tmp_path):
    one = train(digits_run(tmp_path, run_name="one", epochs=1, strategy="default"))
    two = train(digits_run(tmp_path, run_name="two", epochs=1, strategy="mirrored"))
    assert two["replicas"] == 2 and two["strategy_class"] == "MirroredStrategy" and two["status"] == "finished"
    examples = [(Path(r["run_dir"]) / "examples.csv").read_text().splitlines() for r in (one, two)]
    labels = [[line.split(",")[:4] for line in e] for e in examples]
    assert labels[0] == labels[1]
    assert two["train_accuracy"] > 0.15  # it learned something in one epoch (chance: 0.1)


@pytest.mark.slow
def test_mixed_precision_run(tmp_path):
    results = train(digits_run(tmp_path, labels="true", epochs=1, mixed_precision="mixed_float16"))
    assert results["status"] == "finished" and results["test_accuracy"] > 0.5


def _one_run_sweep(folder: Path, epochs: int) -> Path:
    """A sweep of one deterministic run of ``epochs`` epochs, in ``folder/logs/one/``."""
    folder.mkdir(parents=True, exist_ok=True)
    sweep = folder / "one.toml"
    sweep.write_text(f"""
[sweep]
name = "one"

[base]
data = {{ dataset = "digits", corruption = {{ labels = "random" }} }}
model = {{ name = "mlp_1x512", dropout = 0.2 }}
train = {{ epochs = {epochs}, batch_size = 32, learning_rate = 0.03, lr_decay = 0.99, deterministic = true }}
log_dir = "{folder / 'logs'}"
experiment = "one"
""")
    return sweep


@pytest.mark.slow
def test_a_sweep_worker_killed_mid_run_is_taken_over_and_ends_with_the_same_weights(tmp_path, cli):
    """SIGKILL a `rethinking run` process mid-run; the next one (this process) takes the run over,
    bit-identical to the same run trained without interruption (also here: deterministic ops give
    the same weights in any process, which the comparison checks too)."""
    from rethinking.experiments.runner import run_sweep
    from rethinking.experiments.sweep import load_sweep

    env = {**os.environ, "RETHINKING_OFFLINE": "1"}
    (straight,), _ = run_sweep(load_sweep(_one_run_sweep(tmp_path / "straight", 6)))
    assert straight["status"] == "finished"
    straight_run = tmp_path / "straight" / "logs" / "one" / straight["run"]

    sweep = _one_run_sweep(tmp_path / "killed", 6)
    command = [*CLI, "run", str(sweep)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    runs = tmp_path / "killed" / "logs" / "one"
    deadline = time.monotonic() + 300
    latest = None
    while time.monotonic() < deadline and process.poll() is None:
        found = list(runs.glob("*/checkpoints/latest.json"))
        if found and json.loads(found[0].read_text())["epoch"] >= 3:
            latest = found[0]
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert latest is not None, "the run ended before it could be killed mid-way"
    run = latest.parents[1]
    stopped_at = json.loads(latest.read_text())["epoch"]
    assert 3 <= stopped_at < 6
    # SIGKILL runs no handler: results.json, if any was written, does not say the run completed.
    if (run / "results.json").exists():
        assert json.loads((run / "results.json").read_text())["status"] not in ("finished", "fitted")
    assert (run / "run.lock").exists()  # the dead worker's lock, taken over below

    code, out, err = cli(*command[len(CLI):])
    assert code == 0, err[-2000:]
    assert f"epoch {stopped_at + 1}/6" in out and "epoch 1/6" not in out
    assert run.name == straight_run.name
    assert same_weights(straight_run / "final.weights.h5", run / "final.weights.h5")
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(7))
    assert json.loads((runs / "results.json").read_text())["runs"][0]["status"] == "finished"
    # The per-example dynamics and test results survive the kill: the same files, byte for byte.
    for name in ("examples.csv", "test_examples.csv"):
        assert (run / name).read_bytes() == (straight_run / name).read_bytes(), name
    dynamics = list(csv.DictReader((run / "examples.csv").open()))
    assert sum(int(r["forgetting_events"]) for r in dynamics) > 0  # the counts cover the epochs across the kill


@pytest.mark.slow
def test_per_epoch_evaluation_is_in_inference_mode_on_the_corrupted_labels(tmp_path):
    """The recorded training accuracy is the model's inference-mode accuracy against the labels trained on."""
    import keras

    from rethinking.data import build_pipeline
    from rethinking.training.assembly import build_model

    base = digits_run(tmp_path, labels="random", epochs=1, run_name="r")
    config = dataclasses.replace(base, model=dataclasses.replace(base.model, dropout=0.5))
    results = train(config)
    pipeline = build_pipeline(config.data, 64)
    model = build_model(config, pipeline.input_shape, pipeline.info.num_classes)
    model.load_weights(Path(results["run_dir"]) / "final.weights.h5")
    correct, true_correct, total = 0, 0, 0
    for batch in pipeline.train_in_order():
        predicted = np.argmax(model(batch["image"], training=False), axis=-1)
        correct += int((predicted == batch["label"].numpy()).sum())
        true_correct += int((predicted == batch["true_label"].numpy()).sum())
        total += len(predicted)
    assert results["train_accuracy"] == pytest.approx(correct / total, abs=1e-9)
    assert abs(correct - true_correct) > 10  # the corrupted labels, not the true ones, are what is scored
    # Training mode (dropout 0.5 on) would score differently: inference mode is what is recorded.
    train_mode = np.mean([np.mean(np.argmax(model(b["image"], training=True), -1) == b["label"].numpy())
                          for b in pipeline.train_in_order()])
    assert train_mode != pytest.approx(results["train_accuracy"], abs=1e-6)
    keras.backend.clear_session()


@pytest.mark.slow
def test_fit_every_finds_the_fit_step_off_the_epoch_grid(tmp_path):
    # 1,438 digits in batches of 32: 45 steps an epoch; the training set is evaluated every 4 steps.
    results = train(digits_run(tmp_path, labels="true", epochs=3, fit_threshold=0.9, fit_every=4))
    assert results["fit_every"] == 4
    # The MLP's 20 steps per graph call are capped at 4: the fit is checked between calls.
    assert results["compile"]["steps_per_execution"] == 4
    steps_per_epoch = 45
    assert results["fit_step"] % 4 == 0 and results["fit_step"] % steps_per_epoch != 0  # within an epoch
    assert (results["fit_epoch"] - 1) * steps_per_epoch < results["fit_step"] < results["fit_epoch"] * steps_per_epoch
    rows = list(csv.DictReader((Path(results["run_dir"]) / "metrics.csv").open()))
    assert float(rows[results["fit_epoch"] - 1]["train_accuracy"]) < 0.9 <= float(rows[results["fit_epoch"]]["train_accuracy"])
    # The running training-mode batch accuracy of an epoch is recorded too (at a step of the last 3 epochs).
    assert results["batch_fit_step"] is not None and 0 < results["batch_fit_step"] <= 3 * steps_per_epoch
    # Without --fit-every: the fit step is its epoch's end, in a different run folder, and the
    # evaluations within epochs changed nothing of the training (the same curves).
    plain = train(digits_run(tmp_path, labels="true", epochs=3, fit_threshold=0.9))
    assert plain["fit_step"] == plain["fit_epoch"] * steps_per_epoch and plain["fit_every"] is None
    assert plain["compile"]["steps_per_execution"] == 20
    assert plain["run_dir"] != results["run_dir"] and plain["fit_epoch"] == results["fit_epoch"]
    plain_rows = list(csv.DictReader((Path(plain["run_dir"]) / "metrics.csv").open()))
    assert [r["train_loss"] for r in plain_rows] == [r["train_loss"] for r in rows]
    # The batch accuracy is seen between graph calls too: every 4 steps here, every 20 in the plain run.
    assert results["batch_fit_step"] <= plain["batch_fit_step"] < results["batch_fit_step"] + 20
    # TensorBoard has each evaluation within an epoch, at its step.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(Path(results["run_dir"]) / "train"), size_guidance={"tensors": 0})
    events.Reload()
    probes = [e.step for e in events.Tensors("probe_accuracy")]
    assert probes and all(step % 4 == 0 and step % steps_per_epoch for step in probes)
    assert max(probes) == results["fit_step"]  # evaluated until fitted, not after
    # One definition of "never fitted": results.json's count is examples.csv's never_learned column.
    examples = list(csv.DictReader((Path(results["run_dir"]) / "examples.csv").open()))
    assert results["examples_never_fitted"] == sum(int(r["never_learned"]) for r in examples)
    never = [r for r in examples if r["never_learned"] == "1"]
    assert all(r["first_learned_epoch"] == "-1" and r["forgetting_score"] == "3" for r in never)  # 3 epochs trained
    assert all(r["forgetting_score"] == r["forgetting_events"] for r in examples if r["never_learned"] == "0")


@pytest.mark.slow
def test_pixel_work_on_the_device_with_a_crop_evaluates_both_splits_like_the_host(tmp_path):
    """Random 28x28 crops of 32x32 images: the raw test split is cropped before its cache, so the two
    splits reach the evaluation in different sizes (once: a trace relaxed to unknown sizes failed)."""
    rng = np.random.RandomState(0)
    data_file = tmp_path / "c.npz"
    np.savez(data_file, x_train=rng.randint(0, 256, (96, 32, 32, 3), dtype=np.uint8), y_train=np.arange(96) % 10,
             x_test=rng.randint(0, 256, (40, 32, 32, 3), dtype=np.uint8), y_test=np.arange(40) % 10)
    results = {}
    for placement in ("host", "device"):
        config = digits_run(tmp_path / placement, epochs=1, batch_size=32, eval_batch_size=64)
        data = dataclasses.replace(config.data, dataset=str(data_file), pixel_ops=placement,
                                   preprocessing=dataclasses.replace(config.data.preprocessing, crop_size=28,
                                                                     random_crop=True))
        results[placement] = train(dataclasses.replace(config, data=data))
    host, device = results["host"], results["device"]
    assert host["status"] == device["status"] == "finished"
    assert same_weights(Path(host["run_dir"]) / "final.weights.h5", Path(device["run_dir"]) / "final.weights.h5")
    for name in ("examples.csv", "test_examples.csv"):  # every example's loss, both splits
        assert (Path(host["run_dir"]) / name).read_text() == (Path(device["run_dir"]) / name).read_text(), name


@pytest.mark.parametrize("strategy", ["default", pytest.param("mirrored", marks=pytest.mark.slow)])
def test_pixel_work_on_the_device_trains_exactly_like_on_the_host(tmp_path, strategy):
    """--pixel-ops device under the MLP's default XLA step (and on two replicas): same run folder, same
    weights bit for bit, same metrics, as the host's tf.data pixel work."""
    results = {}
    for placement in ("host", "device"):
        config = digits_run(tmp_path / placement, epochs=1, strategy=strategy, jit_compile=None)  # the default: XLA
        data = dataclasses.replace(config.data, pixel_ops=placement, train_examples=300,
                                   corruption=dataclasses.replace(config.data.corruption, pixels="random"),
                                   preprocessing=dataclasses.replace(config.data.preprocessing, random_crop=True, flip=True))
        results[placement] = train(dataclasses.replace(config, data=data))
    host, device = results["host"], results["device"]
    assert Path(host["run_dir"]).name == Path(device["run_dir"]).name  # not part of the run's identity
    assert host["compile"] == device["compile"] and "jit_compile" in str(host["compile"])
    assert same_weights(Path(host["run_dir"]) / "final.weights.h5", Path(device["run_dir"]) / "final.weights.h5")
    metrics = [(Path(r["run_dir"]) / "metrics.csv").read_text().splitlines() for r in (host, device)]
    drop = [i for i, name in enumerate(metrics[0][0].split(",")) if "second" in name]
    assert [[v for i, v in enumerate(line.split(",")) if i not in drop] for line in metrics[0]] == \
        [[v for i, v in enumerate(line.split(",")) if i not in drop] for line in metrics[1]]
