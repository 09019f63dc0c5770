"""HParams: derived from the config's options, with the values the run resolved."""

from __future__ import annotations

from rethinking.config import Corruption, DataConfig, ModelConfig, RunConfig
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
