"""Generalization measures and bounds of trained networks (docs/measures.md).

Functions of a ``keras.Model`` (any builder, a user's too), its training data (a tf.data pipeline
of ``(images, labels)`` or of the toolkit's example dicts, or arrays) and, where needed, its
initial weights; usable without the rest of the toolkit::

    from rethinking.measures import path_norm, spectral_measures, margins
    path_norm(model)["path_norm"]

``measure_run(run_dir)`` computes all of them for a finished run and writes ``measures.json``
(``rethinking measure RUN_DIR``).
"""

from rethinking.registry import lazy_attributes

__getattr__ = lazy_attributes(__name__, {
    "linear_operators": "rethinking.measures.operators:linear_operators",
    "spectral_norm": "rethinking.measures.operators:spectral_norm",
    "two_one_norm": "rethinking.measures.operators:two_one_norm",
    "parameter_norm": "rethinking.measures.norms:parameter_norm",
    "distance_from_init": "rethinking.measures.norms:distance_from_init",
    "spectral_measures": "rethinking.measures.norms:spectral_measures",
    "spectral_complexity": "rethinking.measures.norms:spectral_complexity",
    "path_norm": "rethinking.measures.norms:path_norm",
    "margins": "rethinking.measures.margins:margins",
    "normalized_margins": "rethinking.measures.margins:normalized_margins",
    "jacobian_norm": "rethinking.measures.margins:jacobian_norm",
    "epsilon_sharpness": "rethinking.measures.sharpness:epsilon_sharpness",
    "pac_bayes_flatness": "rethinking.measures.sharpness:pac_bayes_flatness",
    "pac_bayes_kl": "rethinking.measures.sharpness:pac_bayes_kl",
    "pac_bayes_bound": "rethinking.measures.sharpness:pac_bayes_bound",
    "vc_bound": "rethinking.measures.bounds:vc_bound",
    "rademacher_estimate": "rethinking.measures.bounds:rademacher_estimate",
    "compute": "rethinking.measures.run:compute",
    "measure_run": "rethinking.measures.run:measure_run",
    "MEASURE_NAMES": "rethinking.measures.run:MEASURE_NAMES",
})

__all__ = ["MEASURE_NAMES", "compute", "distance_from_init", "epsilon_sharpness", "jacobian_norm", "linear_operators",
           "margins", "measure_run", "normalized_margins", "pac_bayes_bound", "pac_bayes_flatness", "pac_bayes_kl",
           "parameter_norm", "path_norm", "rademacher_estimate", "spectral_complexity", "spectral_measures",
           "spectral_norm", "two_one_norm", "vc_bound"]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
