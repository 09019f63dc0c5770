"""The classical capacity bounds of the paper's Section 2.2, made numeric: vacuous or saturated.

* ``vc_bound``: Vapnik's uniform bound on the generalization gap of a class of VC dimension
  ``d`` on ``m`` examples, ``sqrt(8 (ln G(2m) + ln(4 / delta)) / m)`` with the growth function
  ``G(2m) <= (2 e m / d)^d`` (Sauer's lemma; ``2^(2m)`` when ``2m < d``). We take ``d`` = the
  number of parameters: the VC dimension of a piecewise-linear network with ``W`` parameters and
  ``L`` layers is of order ``W L log W`` (Bartlett, Harvey, Liaw and Mehrabian 2019), so ``W`` is
  a generous lower estimate, and a bound that is vacuous with it is vacuous with the true one.
* ``rademacher_estimate``: the empirical Rademacher complexity of a class on the training inputs
  is ``E_sigma sup_h (1/n) sum_i sigma_i h(x_i)``; a network trained on uniformly random labels is
  one ``h`` the supremum ranges over. With ``K`` classes and training accuracy ``a`` on random
  labels, ``(a - 1/K) / (1 - 1/K)`` is its correlation with the random labelling beyond chance
  (``2a - 1`` for two classes, exactly the binary Rademacher sum): a lower estimate of the
  complexity that reaches 1 when the network fits the random labels, as the paper shows it does.
  The Rademacher bound ``2 R + 3 sqrt(ln(2 / delta) / (2 m))`` on the gap is then at least 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DELTA = 0.05


def vc_bound(parameters: int, examples: int, delta: float = DELTA) -> float:
    """The VC bound on the gap between test and training error (> 1: vacuous).

    Raises:
        ValueError: parameters or examples below 1, delta outside (0, 1).
    """
    if parameters < 1 or examples < 1 or not 0 < delta < 1:
        raise ValueError(f"Need parameters >= 1, examples >= 1 and 0 < delta < 1. Received: "
                         f"parameters={parameters}, examples={examples}, delta={delta}")
    d, m = float(parameters), float(examples)
    # ln of the growth function on 2m points: Sauer's lemma (2em/d)^d once 2m >= d, else all 2^(2m) labellings.
    log_growth = d * math.log(2.0 * math.e * m / d) if 2.0 * m >= d else 2.0 * m * math.log(2.0)
    return math.sqrt(8.0 * (log_growth + math.log(4.0 / delta)) / m)


def rademacher_estimate(random_label_train_accuracies: Sequence[float], num_classes: int) -> float:
    """The mean over random-label runs of ``(a - 1/K) / (1 - 1/K)`` (see the module docstring).

    Raises:
        ValueError: no runs, fewer than two classes, or an accuracy outside [0, 1].
    """
    if not random_label_train_accuracies:
        raise ValueError("The Rademacher estimate needs at least one random-label run.")
    if num_classes < 2:
        raise ValueError(f"Need at least two classes. Received: num_classes={num_classes}")
    chance = 1.0 / num_classes
    values = []
    for a in random_label_train_accuracies:
        if not 0.0 <= a <= 1.0:
            raise ValueError(f"A training accuracy is a fraction in [0, 1]. Received: {a}")
        values.append((a - chance) / (1.0 - chance))
    return sum(values) / len(values)


def rademacher_bound(complexity: float, examples: int, delta: float = DELTA) -> float:
    """``2 R + 3 sqrt(ln(2 / delta) / (2 m))``: the Rademacher bound on the gap (> 1: vacuous)."""
    if examples < 1 or not 0 < delta < 1:
        raise ValueError(f"Need examples >= 1 and 0 < delta < 1. Received: examples={examples}, delta={delta}")
    return 2.0 * complexity + 3.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * examples))
