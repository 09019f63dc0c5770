"""The paper's theory: finite-sample expressivity (Section 4) and linear / kernel models (Section 5).

    from rethinking.theory import fit_any_labels, max_error, fit_kernel, load_flat
    model = fit_any_labels(x, y)        # exactly 2n + d weights, float64
    max_error(model, x, y)              # max_i |c(x_i) - y_i|
"""

from rethinking.registry import lazy_attributes

# Loaded on first use: importing one module (e.g. expressivity, for its Keras layers) imports no other.
__getattr__ = lazy_attributes(__name__, {
    **{name: f"rethinking.theory.flat_data:{name}" for name in ("FlatData", "load_flat", "one_hot")},
    **{name: f"rethinking.theory.expressivity:{name}"
       for name in ("Construction", "construct", "fit_any_labels", "max_error", "predict64", "to_keras")},
    "random_conv_features": "rethinking.theory.features:random_conv_features",
    **{name: f"rethinking.theory.kernels:{name}" for name in ("KernelFit", "fit_kernel", "gram_matrix")},
    **{name: f"rethinking.theory.linear:{name}"
       for name in ("MinNormComparison", "compare_sgd_to_min_norm", "min_norm_least_squares", "sgd_least_squares")},
})

__all__ = [
    "Construction", "FlatData", "KernelFit", "MinNormComparison", "compare_sgd_to_min_norm", "construct",
    "fit_any_labels", "fit_kernel", "gram_matrix", "load_flat", "max_error", "min_norm_least_squares", "one_hot",
    "predict64", "random_conv_features", "sgd_least_squares", "to_keras",
]
