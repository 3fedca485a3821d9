"""Sparse identification of nonlinear dynamics (SINDy) with pysindy."""

from __future__ import annotations

import numpy as np
import pysindy as ps


def fit_sindy(x: np.ndarray, dt: float, threshold: float = 0.5, derivative_order: int = 4, smooth: bool = False) -> ps.SINDy:
    """Fit a SINDy model with quadratic polynomial terms to a trajectory ``x`` ``(T, 3)`` sampled every ``dt``.

    Derivatives come from centred finite differences of ``derivative_order`` (2 or 4), or with
    ``smooth`` from pysindy's Savitzky-Golay smoothed differences; STLSQ drops every coefficient
    below ``threshold`` in magnitude.
    """
    if smooth:
        differentiation = ps.SmoothedFiniteDifference()
    else:
        differentiation = ps.FiniteDifference(order=derivative_order)
    model = ps.SINDy(
        optimizer=ps.STLSQ(threshold=threshold),
        feature_library=ps.PolynomialLibrary(degree=2),
        differentiation_method=differentiation,
    )
    model.fit(np.asarray(x, dtype=float), t=dt, feature_names=["x", "y", "z"])
    return model


def coefficient_errors(coefficients: np.ndarray, true: np.ndarray) -> dict:
    """Return the largest relative error of the true terms, and counts of missing and spurious terms."""
    active = true != 0
    found = np.abs(coefficients) > 0
    relative = np.abs(coefficients[active] - true[active]) / np.abs(true[active])
    return {
        "max_relative_error": float(relative.max()),
        "missing_terms": int((active & ~found).sum()),
        "spurious_terms": int((~active & found).sum()),
    }
