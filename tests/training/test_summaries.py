"""HParams: derived from the config's options, with the values the run resolved."""

from __future__ import annotations

from rethinking.config import Corruption, DataConfig, ModelConfig, RunConfig, TrainConfig
from rethinking.training.summaries import hparams_of


def test_hparams_are_the_options_named_like_their_flags_without_folders_or_none():
    config = RunConfig(data=DataConfig(corruption=Corruption(labels="random")), model=ModelConfig(name="mlp_1x512"),
                       log_dir="/somewhere", run_name="r")
    hparams = hparams_of(config, learning_rate=0.01, batch_norm=False)
    assert hparams["model"] == "mlp_1x512" and hparams["labels"] == "random" and hparams["lr_decay"] == 0.95
    assert hparams["corruption_prob"] == 1.0  # the resolved probability, not the unset field
    assert hparams["learning_rate"] == 0.01 and hparams["batch_norm"] is False
    assert not {"log_dir", "run_name", "experiment", "data_dir", "cache"} & set(hparams)
    assert None not in hparams.values()


def test_an_experiment_config_declares_what_varies_and_the_metrics_tensorboard_reads_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    from rethinking.training.summaries import EXPERIMENT_FILE, HPARAMS_METRICS, declared_hparams, write_experiment

    runs = [{"model": "mlp_1x512", "labels": labels, "seed": seed, "batch_size": 128, "learning_rate": 0.01}
            for labels in ("true", "random") for seed in (0, 1)]
    declared = declared_hparams(runs)
    assert [h.name for h in declared] == ["labels", "seed"]  # only what varies; seeds last
    assert declared[0].domain.values == ["random", "true"]
    write_experiment(tmp_path, declared)
    write_experiment(tmp_path, declared)  # replaced, not added: one config per folder
    assert [p.name for p in tmp_path.iterdir()] == [EXPERIMENT_FILE]
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    experiment = metadata.parse_experiment_plugin_data(events.PluginTagToContent("hparams")[metadata.EXPERIMENT_TAG])
    assert [h.name for h in experiment.hparam_infos] == ["labels", "seed"]
    assert [(m.name.tag, m.name.group) for m in experiment.metric_infos] == [(t, g) for t, g, _ in HPARAMS_METRICS]
    assert experiment.metric_infos[0].display_name == "test accuracy"
    # Single runs declare the standard set, without domains.
    assert [h.name for h in declared_hparams([], names=("model", "labels"))] == ["model", "labels"]


def test_trial_names_are_short_readable_and_unique_per_config():
    from rethinking.config import Preprocessing
    from rethinking.training.summaries import trial_name

    base = RunConfig(data=DataConfig(corruption=Corruption(labels="partial", corruption_prob=0.2)),
                     model=ModelConfig(name="inception_small", weight_decay=5e-4))
    name = trial_name(base)
    assert name.startswith("partial 0.2 · wd 0.0005 · seed 0 · inception_small · ")  # what differs first
    assert len(name) <= len(base.resolved_run_name) and name.endswith(base.resolved_run_name[-8:])  # its digest
    cropped = RunConfig(data=DataConfig(corruption=base.data.corruption, preprocessing=Preprocessing(random_crop=True)),
                        model=base.model)
    assert "· crop ·" in trial_name(cropped)
    lr = RunConfig(data=base.data, model=base.model, train=TrainConfig(learning_rate=0.05))
    assert trial_name(lr) != name  # not in the readable part, but the digest tells them apart
