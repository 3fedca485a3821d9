"""Dynamic mode decomposition: the best linear map x_{k+1} - m = A (x_k - m) of a given rank."""

from __future__ import annotations

import numpy as np


class DMD:
    """Exact DMD of rank ``rank`` on anomalies from the training mean.

    Fitting takes snapshot pairs X = [x_0 ... x_{M-1}], Y = [x_1 ... x_M], projects them on the
    leading ``rank`` left singular vectors U_r of X and solves for the reduced operator
    A_r = U_r^T Y V_r S_r^{-1}; its eigenvalues are the DMD eigenvalues.
    """

    def __init__(self, rank: int):
        self.rank = rank

    def fit(self, trajectories: np.ndarray) -> DMD:
        """Fit on trajectories ``(n, T, N)`` or ``(T, N)`` sampled at the forecast step."""
        data = np.asarray(trajectories, dtype=float)
        if data.ndim == 2:
            data = data[None]
        self.mean = data.mean(axis=(0, 1))
        anomaly = data - self.mean
        before = anomaly[:, :-1].reshape(-1, data.shape[-1]).T
        after = anomaly[:, 1:].reshape(-1, data.shape[-1]).T
        u, s, vt = np.linalg.svd(before, full_matrices=False)
        u, s, vt = u[:, : self.rank], s[: self.rank], vt[: self.rank]
        self.basis = u
        self.reduced_operator = u.T @ after @ vt.T / s
        self.eigenvalues = np.linalg.eigvals(self.reduced_operator)
        return self

    def forecast(self, initial_states: np.ndarray, n_steps: int) -> np.ndarray:
        """Return the linear forecast ``(n_steps + 1, batch, N)`` from states ``(batch, N)``."""
        coefficients = (np.atleast_2d(initial_states) - self.mean) @ self.basis
        outputs = [coefficients]
        for _ in range(n_steps):
            coefficients = coefficients @ self.reduced_operator.T
            outputs.append(coefficients)
        return np.stack(outputs) @ self.basis.T + self.mean
