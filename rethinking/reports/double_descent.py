"""Reports of double descent: test error against model size and against training time, under label noise.

Two reports of ``rethinking report`` (names in ``rethinking.reports.registry``), for sweeps whose grid varies
a model's size (``mlp``'s ``units``, the ResNets' base width ``width`` = k, or any model's
``width_multiplier``) and the label noise:

* ``double_descent``: model-wise double descent (Belkin et al. 2019, "Reconciling modern machine
  learning practice and the bias-variance trade-off"; Nakkiran et al. 2019, "Deep double descent"):
  final test error (and training error) against the size, one curve per noise level, mean and 95%
  band over seeds. Per noise level the table gives each size and a verdict: is there a peak, a size
  whose test error is above both a smaller size's and the largest size's (beyond the 95% interval
  of the difference, paired by seed), and is it where the training error first reaches zero (the
  interpolation threshold)?
* ``double_descent_epochs``: epoch-wise double descent (Nakkiran et al.): the test error of every
  size at every epoch, one heatmap per noise level (median over seeds), and per size the largest
  rise of the test error (from its lowest point before to a peak) and where it ends.

Our choices: "interpolation" is training accuracy (inference mode, whole training set) of at least
99.9% (mean over seeds); a size axis is read from the first of ``units``, ``width`` and
``width_multiplier`` that varies among the finished runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rethinking.reports.claims import INCONCLUSIVE, Claim, Section, judge
from rethinking.reports.formatting import markdown, pct_ci
from rethinking.reports.plotting import figure_title, NO_CURVES, pyplot, save
from rethinking.reports.stats import format_p, mean_ci, paired_t_p
from rethinking.reports.tables import finished, read_metrics

SIZE_KEYS = ("units", "width", "width_multiplier")
SIZE_NAMES = {"units": "hidden units", "width": "base width k", "width_multiplier": "width multiplier"}
INTERPOLATED = 0.999  # training accuracy (fraction) that counts as interpolating the training set
DIP = 0.05  # a fall of the training accuracy below its best so far by more than this (fraction) is a dip


def size_key(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The column that varies model size among ``rows`` (None when none varies)."""
    for key in SIZE_KEYS:
        if len({r.get(key) for r in rows if r.get(key) not in (None, "")}) > 1:
            return key
    return None


def noise_label(row: Mapping[str, Any]) -> str:
    """``0%``, ``20% wrong`` or ``20% uniform``: the fraction of labels redrawn and how."""
    p = row.get("corruption_prob") or 0
    if not p:
        return "0%"
    return f"{100 * p:g}% {row.get('label_noise') or 'uniform'}"


def curves(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, dict[float, list[Mapping[str, Any]]]]:
    """Finished runs on original pixels, by noise level, then by size (the seeds of one point)."""
    result: dict[str, dict[float, list[Mapping[str, Any]]]] = {}
    for r in finished(rows):
        if r.get("pixels") not in (None, "original") or r.get(key) in (None, ""):
            continue
        result.setdefault(noise_label(r), {}).setdefault(float(r[key]), []).append(r)
    # Noise levels in increasing order (read from a run of each, not parsed back from the label).
    order = sorted(result, key=lambda n: (next(iter(result[n].values()))[0].get("corruption_prob") or 0, n))
    return {n: dict(sorted(result[n].items())) for n in order}


def paired_difference(higher: Mapping[Any, float], lower: Mapping[Any, float]) -> list[float]:
    """``higher - lower`` for every seed both have (paired by seed)."""
    return [higher[seed] - lower[seed] for seed in higher if seed in lower]


def threshold_sentence(sizes: Sequence[float], train_errors: Sequence[float], size_name: str) -> str:
    """Where the training error first reaches zero (the interpolation threshold)."""
    threshold = next((s for s, e in zip(sizes, train_errors) if e <= 1 - INTERPOLATED), None)
    return (f"training error first reaches zero (>= {100 * INTERPOLATED:g}% training accuracy) at {size_name} "
            f"{threshold:g}" if threshold is not None else "no size reaches zero training error")


def peak_claims(noise: str, sizes: Sequence[float], errors: Sequence[Mapping[Any, float]], size_name: str) -> list[Claim]:
    """Whether test error against size has a peak above a smaller size's and above the largest size's.

    The peak is the inner size of highest mean error; it is compared with the smaller size of lowest
    mean error and with the largest size, each paired by seed (the same seed gives the same labels
    at every size), by a one-sided paired t-test. The peak is chosen from the same data, which the
    two tests do not correct for; both must hold for a model-wise double descent.

    Args:
        noise: the noise level's name.
        sizes: increasing model sizes.
        errors: per size, the final test error of each seed (``{seed: error}``).
        size_name: what a size is.
    """
    if len(sizes) < 3:
        return []
    means = [float(np.mean(list(e.values()))) for e in errors]
    peak = max(range(1, len(sizes) - 1), key=lambda i: means[i])
    claims = []
    for other, side in ((min(range(peak), key=lambda i: means[i]), "smaller"), (len(sizes) - 1, "largest")):
        diffs = paired_difference(errors[peak], errors[other])
        mean, half, n = mean_ci(diffs)
        estimate = (f"{100 * mean:+.2f}" + (f" ± {100 * half:.2f}" if half is not None else "") +
                    f" points (n={n}, paired by seed; {100 * means[peak]:.2f}% vs {100 * means[other]:.2f}%)")
        statement = (f"{noise} noise: test error at {size_name} {sizes[peak]:g} (the peak) is above the {side} "
                     f"{size_name} {sizes[other]:g}")
        p = paired_t_p(diffs, "greater")
        claims.append(Claim(statement, estimate, f"paired t-test, one-sided p {format_p(p)}", p, mean > 0) if p is not None
                      else Claim(statement, estimate, "one seed: no test", direction=mean > 0, verdict=INCONCLUSIVE))
    return claims


def double_descent(rows: Sequence[Mapping[str, Any]], out: Path | None, paper: Sequence[Mapping[str, Any]] = ()
                   ) -> Section:
    """Test and training error against model size, one curve per noise level (mean and 95% band)."""
    key = size_key(rows)
    if key is None:
        return Section(None, "No model size varies among the finished runs (units, width or width_multiplier): "
                       "nothing to draw.")
    by_noise = curves(rows, key)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    table, thresholds, claims = [], [], []
    for noise, points in by_noise.items():
        sizes = list(points)
        test = [mean_ci([1 - r["test_accuracy"] for r in g]) for g in points.values()]
        by_seed = [{(r.get("seed"), r.get("init_seed")): 1 - r["test_accuracy"] for r in g} for g in points.values()]
        train = [mean_ci([1 - r["train_accuracy"] for r in g]) for g in points.values()]
        line, = ax.plot(sizes, [m for m, _, _ in test], marker="o", label=f"test, {noise} noise")
        ax.fill_between(sizes, [m - (h or 0) for m, h, _ in test], [m + (h or 0) for m, h, _ in test],
                        color=line.get_color(), alpha=0.2)
        ax.plot(sizes, [m for m, _, _ in train], linestyle="--", color=line.get_color(), label=f"train, {noise} noise")
        for size, group in points.items():
            table.append([noise, f"{size:g}", len(group), pct_ci([1 - r["train_accuracy"] for r in group]),
                          pct_ci([1 - r["test_accuracy"] for r in group]),
                          pct_ci([1 - r["best_test_accuracy"] for r in group])])
        thresholds.append(f"{noise} noise: " + threshold_sentence(sizes, [m for m, _, _ in train], SIZE_NAMES[key]) + ".")
        claims += peak_claims(noise, sizes, by_seed, SIZE_NAMES[key])
    ax.set(xscale="log", xlabel=SIZE_NAMES[key], ylabel="error (final)")
    ax.set_ylim(0, max(1.0, ax.get_ylim()[1]))  # no error bar cut at 100%
    sizes_drawn = sorted({size for points in by_noise.values() for size in points})
    ax.set_xticks(sizes_drawn, [f"{s:g}" for s in sizes_drawn], fontsize=7)
    ax.minorticks_off()
    ax.legend(fontsize=7)
    path = save(fig, out / "double_descent.png" if out else None, figure_title("Double descent", rows))
    header = ["label noise", SIZE_NAMES[key], "seeds", "train error %", "test error % (final)",
              "test error % (best epoch)"]
    note = ("Errors are % of the whole split after the last epoch; 'best epoch' is the lowest test error "
            "during training (early stopping). Mean ± 95% interval over seeds.")
    return Section(path, "\n".join([markdown(header, table), "", note, ""] + [f"- {v}" for v in thresholds]),
                   tuple(judge(claims)))


def training_dips(metrics: Sequence[Mapping[str, float]]) -> int:
    """Epochs at which the training accuracy is more than ``DIP`` below its best so far: the short
    instabilities of Adam (or a large step) that make a one-run spike of the test error."""
    best, dips = 0.0, 0
    for m in metrics:
        accuracy = m.get("train_accuracy", float("nan"))
        if accuracy != accuracy:
            continue
        dips += accuracy < best - DIP
        best = max(best, accuracy)
    return dips


def _test_error_grid(points: Mapping[float, Sequence[Mapping[str, Any]]]) -> tuple[np.ndarray, list[float]]:
    """Median test error over seeds, [size, epoch] (NaN where no seed reached the epoch), and the sizes.

    The median, not the mean: one seed's transient spike (see ``training_dips``) cannot make a rise
    of three seeds' median.
    """
    per_size = []
    for group in points.values():
        by_epoch: dict[int, list[float]] = {}
        for run in group:
            for m in read_metrics(run["run_dir"]):
                if m.get("test_accuracy") == m.get("test_accuracy"):
                    by_epoch.setdefault(int(m["epoch"]), []).append(1 - m["test_accuracy"])
        per_size.append({epoch: float(np.median(values)) for epoch, values in by_epoch.items()})
    epochs = max((max(curve, default=0) for curve in per_size), default=0)
    grid = np.full((len(per_size), epochs + 1), np.nan)
    for i, curve in enumerate(per_size):
        for epoch, value in curve.items():
            grid[i, epoch] = value
    return grid, list(points)


def epoch_shape(errors: Sequence[float]) -> tuple[int, float, int, float, float]:
    """The shape of one test-error curve over epochs: its largest rise and what follows.

    Args:
        errors: test error per epoch (NaN where not measured).

    Returns:
        ``(low_epoch, low, peak_epoch, peak, end)`` (epochs as indices of ``errors``): the peak is the
        epoch whose error rises most above the lowest error before it, ``low`` that lowest error,
        ``end`` the last measured error. No rise: peak and low are the lowest point.
    """
    values = np.asarray(errors, float)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size == 0:
        raise ValueError("epoch_shape needs at least one measured epoch.")
    measured = values[valid]
    lows = np.minimum.accumulate(measured)
    rises = measured - lows
    peak = int(np.argmax(rises)) if rises.max() > 0 else int(np.argmin(measured))  # no rise: the lowest point
    low = int(np.argmin(measured[: peak + 1]))
    return int(valid[low]), float(measured[low]), int(valid[peak]), float(measured[peak]), float(measured[-1])


def double_descent_epochs(rows: Sequence[Mapping[str, Any]], out: Path | None,
                          paper: Sequence[Mapping[str, Any]] = ()) -> Section:
    """Test error per size and epoch, one heatmap per noise level (median over seeds)."""
    key = size_key(rows)
    if key is None:
        return Section(None, "No model size varies among the finished runs (units, width or width_multiplier): "
                       "nothing to draw.")
    by_noise = curves(rows, key)
    grids = {noise: _test_error_grid(points) for noise, points in by_noise.items()}
    grids = {noise: g for noise, g in grids.items() if g[0].shape[1] > 1 and not np.isnan(g[0][:, 1:]).all()}
    if not grids:
        return Section(None, NO_CURVES)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(grids), figsize=(5.2 * len(grids), 3.8), squeeze=False)
    table = []
    # One colour scale for every panel, so noise levels compare; epochs on a log axis for long runs
    # (the epoch-wise double descent of Nakkiran et al. spans decades of epochs).
    low, high = min(np.nanmin(g[:, 1:]) for g, _ in grids.values()), max(np.nanmax(g[:, 1:]) for g, _ in grids.values())
    for ax, (noise, (grid, sizes)) in zip(axes[0], grids.items()):
        shown = grid[:, 1:]  # epoch 0 (the untrained network) is chance everywhere
        image = ax.pcolormesh(np.arange(shown.shape[1] + 1) + 0.5, np.arange(len(sizes) + 1) - 0.5, shown,
                              cmap="viridis", vmin=low, vmax=high)
        if shown.shape[1] > 50:
            ax.set_xscale("log")
        ax.set_yticks(range(len(sizes)), [f"{s:g}" for s in sizes])
        ax.set(title=f"test error, {noise} label noise", xlabel="epoch", ylabel=SIZE_NAMES[key])
        ax.title.set_fontsize(9)
        fig.colorbar(image, ax=ax, label="test error (median over seeds)")
        for size, errors in zip(sizes, shown):
            runs = by_noise[noise][size]
            dipped = sum(training_dips(read_metrics(r["run_dir"])) > 0 for r in runs)
            if np.isnan(errors).all():
                continue
            low_epoch, low, peak_epoch, peak, end = epoch_shape(errors)
            table.append([noise, f"{size:g}", f"{100 * low:.2f} (epoch {low_epoch + 1})",
                          f"{100 * peak:.2f} (epoch {peak_epoch + 1})", f"{100 * end:.2f}", f"{dipped} of {len(runs)}"])
    path = save(fig, out / "double_descent_epochs.png" if out else None, figure_title("Epoch-wise double descent", rows))
    header = ["label noise", SIZE_NAMES[key], "lowest test error % before the rise", "peak after it %",
              "at the end %", "runs whose training accuracy dips"]
    note = ("Median test error over seeds at each epoch (one seed's transient spike cannot make a rise of the "
            "median); the peak is the epoch whose error rises most above the lowest error before it. Epoch-wise "
            "double descent: a rise to the peak, then a fall by the end ('at the end' below 'peak'); overfitting "
            f"without a second descent: the error stays at the peak. A dip: the training accuracy falls more than "
            f"{100 * DIP:g} points below its best so far at some epoch (an instability, not a descent). Descriptive: "
            "no claim is tested, since the peak epoch is picked from the same curves.")
    return Section(path, markdown(header, table) + "\n\n" + note)
