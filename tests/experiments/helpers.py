"""Sweep files for the experiment tests."""

from __future__ import annotations

from pathlib import Path


def digits_sweep(folder: Path, name: str, seeds: int, *, epochs: int, train_examples: int, batch_size: int) -> Path:
    """``folder/<name>.toml``: the MLP 1x512 on the first digits (graph mode, as tests/training/helpers.py
    says why), one run per data seed 0..seeds-1,
    logged under ``folder/logs``."""
    sweep = folder / f"{name}.toml"
    sweep.write_text(f"""
[sweep]
name = "{name}"

[base]
data = {{ dataset = "digits", train_examples = {train_examples} }}
model = {{ name = "mlp_1x512" }}
train = {{ epochs = {epochs}, batch_size = {batch_size}, jit_compile = false }}
log_dir = "{folder / 'logs'}"

[[grid]]
"data.seed" = {list(range(seeds))}
""")
    return sweep
