"""Reports of double descent: test error against model size and against training time, under label noise.

Two reports of ``rethinking report`` (names in ``REPORTS`` of report.py), for sweeps whose grid varies
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
  size at every epoch, one heatmap per noise level (mean over seeds), and per size the largest
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

SIZE_KEYS = ("units", "width", "width_multiplier")
SIZE_NAMES = {"units": "hidden units", "width": "base width k", "width_multiplier": "width multiplier"}
INTERPOLATED = 0.999  # training accuracy (fraction) that counts as interpolating the training set


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
    from rethinking.experiments.report import finished  # noqa: PLC0415

    result: dict[str, dict[float, list[Mapping[str, Any]]]] = {}
    for r in finished(rows):
        if r.get("pixels") not in (None, "original") or r.get(key) in (None, ""):
            continue
        result.setdefault(noise_label(r), {}).setdefault(float(r[key]), []).append(r)
    # Noise levels in increasing order (read from a run of each, not parsed back from the label).
    order = sorted(result, key=lambda n: (next(iter(result[n].values()))[0].get("corruption_prob") or 0, n))
    return {n: dict(sorted(result[n].items())) for n in order}


def paired_difference(higher: Mapping[Any, float], lower: Mapping[Any, float]) -> tuple[float, float | None, int]:
    """Mean and 95% half-width of ``higher - lower`` over the seeds both have (paired by seed)."""
    from rethinking.experiments.report import mean_ci  # noqa: PLC0415

    return mean_ci([higher[seed] - lower[seed] for seed in higher if seed in lower])


def peak_verdict(sizes: Sequence[float], errors: Sequence[Mapping[Any, float]], train_errors: Sequence[float],
                 size_name: str) -> str:
    """Whether test error against size has a peak above a smaller size's and the largest size's.

    The peak is the inner size of highest mean error; it is compared with the smaller size of lowest
    mean error and with the largest size, each paired by seed (the same seed gives the same labels
    at every size): a peak "beyond the intervals" is above both by more than the 95% interval of
    the paired difference.

    Args:
        sizes: increasing model sizes.
        errors: per size, the final test error of each seed (``{seed: error}``).
        train_errors: per size, the mean training error.
        size_name: what a size is, for the sentence.

    Returns:
        One sentence: the peak (beyond the intervals, or not), and where the training error first
        reaches zero.
    """
    threshold = next((s for s, e in zip(sizes, train_errors) if e <= 1 - INTERPOLATED), None)
    where = (f"training error first reaches zero (>= {100 * INTERPOLATED:g}% training accuracy) at {size_name} "
             f"{threshold:g}" if threshold is not None else "no size reaches zero training error")
    if len(sizes) < 3:
        return f"fewer than 3 sizes: no peak tested; {where}."
    means = [float(np.mean(list(e.values()))) for e in errors]
    peak = max(range(1, len(sizes) - 1), key=lambda i: means[i])
    before = min(range(peak), key=lambda i: means[i])
    last = len(sizes) - 1
    rises = [paired_difference(errors[peak], errors[other]) for other in (before, last)]
    numbers = (f"test error {100 * means[peak]:.2f}% at {size_name} {sizes[peak]:g}, against "
               f"{100 * means[before]:.2f}% at {sizes[before]:g} and {100 * means[last]:.2f}% at {sizes[last]:g}")
    paired = "; paired by seed: " + ", ".join(
        f"{100 * m:+.2f}" + (f" ± {100 * h:.2f}" if h is not None else "") + f" points over {sizes[other]:g} (n={n})"
        for (m, h, n), other in zip(rises, (before, last)))
    if all(h is not None and m - h > 0 for m, h, _ in rises):
        verdict = f"**a peak** ({numbers}{paired}: beyond the 95% intervals on both sides)"
    elif means[peak] > max(means[before], means[last]):
        verdict = f"**no peak beyond the intervals** ({numbers}{paired})"
    else:
        verdict = f"**no peak** (highest inner point: {numbers})"
    single = all(len(e) < 2 for e in errors)
    return f"{verdict}; {where}" + (" (one seed: no intervals)." if single else ".")


def double_descent(rows: Sequence[Mapping[str, Any]], out: Path) -> tuple[Path | None, str]:
    """Test and training error against model size, one curve per noise level (mean and 95% band)."""
    from rethinking.experiments.report import _markdown, _pct_ci, _plt, _save, mean_ci  # noqa: PLC0415

    key = size_key(rows)
    if key is None:
        return None, "No model size varies among the finished runs (units, width or width_multiplier): nothing to draw."
    by_noise = curves(rows, key)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    table, verdicts = [], []
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
            table.append([noise, f"{size:g}", len(group), _pct_ci([1 - r["train_accuracy"] for r in group]),
                          _pct_ci([1 - r["test_accuracy"] for r in group]),
                          _pct_ci([1 - r["best_test_accuracy"] for r in group])])
        verdicts.append(f"{noise} noise: " + peak_verdict(sizes, by_seed, [m for m, _, _ in train], SIZE_NAMES[key]))
    ax.set(xscale="log", xlabel=SIZE_NAMES[key], ylabel="error (final)", ylim=(0, 1))
    sizes_drawn = sorted({size for points in by_noise.values() for size in points})
    ax.set_xticks(sizes_drawn, [f"{s:g}" for s in sizes_drawn], fontsize=7)
    ax.minorticks_off()
    ax.legend(fontsize=7)
    path = _save(fig, out / "double_descent.png")
    header = ["label noise", SIZE_NAMES[key], "seeds", "train error %", "test error % (final)",
              "test error % (best epoch)"]
    note = ("Errors are % of the whole split after the last epoch; 'best epoch' is the lowest test error "
            "during training (early stopping). Mean ± 95% interval over seeds.")
    return path, "\n".join([_markdown(header, table), "", note, ""] + [f"- {v}" for v in verdicts])


def _test_error_grid(points: Mapping[float, Sequence[Mapping[str, Any]]]) -> tuple[np.ndarray, list[float]]:
    """Mean test error over seeds, [size, epoch] (NaN where no seed reached the epoch), and the sizes."""
    from rethinking.experiments.report import _mean_curve  # noqa: PLC0415

    curves = [_mean_curve(group, lambda m: 1 - m["test_accuracy"], x=lambda m: m["epoch"])[:2]
              for group in points.values()]
    epochs = max((int(max(xs, default=0)) for xs, _ in curves), default=0)
    grid = np.full((len(curves), epochs + 1), np.nan)
    for i, (xs, means) in enumerate(curves):
        grid[i, [int(x) for x in xs]] = means
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


def double_descent_epochs(rows: Sequence[Mapping[str, Any]], out: Path) -> tuple[Path | None, str]:
    """Test error per size and epoch, one heatmap per noise level (mean over seeds)."""
    from rethinking.experiments.report import _NO_CURVES, _markdown, _plt, _save  # noqa: PLC0415

    key = size_key(rows)
    if key is None:
        return None, "No model size varies among the finished runs (units, width or width_multiplier): nothing to draw."
    grids = {noise: _test_error_grid(points) for noise, points in curves(rows, key).items()}
    grids = {noise: g for noise, g in grids.items() if g[0].shape[1] > 1 and not np.isnan(g[0][:, 1:]).all()}
    if not grids:
        return None, _NO_CURVES
    plt = _plt()
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
        fig.colorbar(image, ax=ax, label="test error (mean over seeds)")
        for size, errors in zip(sizes, shown):
            if np.isnan(errors).all():
                continue
            low_epoch, low, peak_epoch, peak, end = epoch_shape(errors)
            table.append([noise, f"{size:g}", f"{100 * low:.2f} (epoch {low_epoch + 1})",
                          f"{100 * peak:.2f} (epoch {peak_epoch + 1})", f"{100 * end:.2f}"])
    path = _save(fig, out / "double_descent_epochs.png")
    header = ["label noise", SIZE_NAMES[key], "lowest test error % before the rise", "peak after it %",
              "at the end %"]
    note = ("Mean test error over seeds at each epoch; the peak is the epoch whose error rises most above "
            "the lowest error before it. Epoch-wise double descent: a rise to the peak, then a fall by the end "
            "('at the end' below 'peak'); overfitting without a second descent: the error stays at the peak.")
    return path, _markdown(header, table) + "\n\n" + note
