"""The label_noise report: kinds of label noise side by side, from a tiny real sweep."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.reports.write import write_report
from rethinking.experiments.runner import run_sweep
from rethinking.experiments.sweep import load_sweep


@pytest.mark.slow
def test_the_table_and_figure_of_matrix_and_symmetric_noise(tmp_path):
    flips = np.eye(10)
    flips[[3, 5], [3, 5]] = 0.0
    flips[3, 5] = flips[5, 3] = 1.0  # 3 and 5 swap their labels: about 20% of the digits change
    (tmp_path / "swap.csv").write_text("\n".join(",".join(f"{v:g}" for v in row) for row in flips))
    (tmp_path / "kinds.toml").write_text(f"""
[sweep]
name = "kinds"
reports = ["label_noise", "learning_order"]
seeds = [0, 1]

[base]
data = {{ dataset = "digits", train_examples = 300 }}
model = {{ name = "mlp_1x512" }}
train = {{ epochs = 3, batch_size = 32, learning_rate = 0.05, jit_compile = false }}
log_dir = "{tmp_path / 'logs'}"

[[grid]]
"data.corruption" = [{{ labels = "true" }}, {{ labels = "matrix", transition = "swap.csv" }},
                     {{ labels = "partial", corruption_prob = 0.2, label_noise = "wrong" }}]
""")
    rows, folder = run_sweep(load_sweep(tmp_path / "kinds.toml"))  # swap.csv is found beside the sweep file
    assert len(rows) == 6 and all(r["status"] == "finished" for r in rows)
    swapped = [r for r in rows if r["labels"] == "matrix"]
    # Exactly the 3s and 5s changed: the measured fraction is theirs among the first 300 digits.
    from rethinking.data.datasets import load_digits

    labels = np.array([int(y) for y in load_digits().train.take(300).map(lambda ex: ex["label"])])
    assert all(r["labels_changed"] == pytest.approx(np.isin(labels, [3, 5]).mean()) for r in swapped)
    written = {p.name for p in write_report(folder / "results.json", tmp_path / "report")}
    assert {"label_noise.png", "learning_order.png", "report.md"} <= written
    text = (tmp_path / "report" / "report.md").read_text()
    table = text.split("## label_noise")[1].split("## learning_order")[0]
    assert "| mlp_1x512, none, true labels | 2 | 0.00 ± 0.00 (n=2) |" in table
    assert "transition-matrix labels (swap.csv) | 2 |" in table
    assert "labels corrupted p=0.2 (wrong class) | 2 |" in table
    # The matrix runs are in the learning-order report too (clean vs changed examples).
    assert "transition-matrix labels (swap.csv)" in text.split("## learning_order")[1]
    assert "Wei et al. 2022" in text
