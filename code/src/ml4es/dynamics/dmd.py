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
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
            raise TypeError(f"invalid rank={rank!r}; expected a positive integer")
        if rank < 1:
            raise ValueError(f"invalid rank={rank}; expected a positive integer")
        self.rank = rank

    def fit(self, trajectories: np.ndarray) -> DMD:
        """Fit on trajectories ``(n, T, N)`` or ``(T, N)`` sampled at the forecast step.

        Raises ``ValueError`` when ``rank`` exceeds the number of nonzero singular values of X,
        which is at most ``min(N, n * (T - 1))``.
        """
        data = np.asarray(trajectories, dtype=float)
        if data.ndim == 2:
            data = data[None]
        if data.ndim != 3 or data.shape[1] < 2:
            raise ValueError(f"invalid trajectories of shape {np.shape(trajectories)}; expected (n, T, N) or (T, N) with T >= 2")
        if not np.isfinite(data).all():
            raise ValueError("the trajectories contain NaN or infinite values")
        self.mean = data.mean(axis=(0, 1))
        anomaly = data - self.mean
        before = anomaly[:, :-1].reshape(-1, data.shape[-1]).T
        after = anomaly[:, 1:].reshape(-1, data.shape[-1]).T
        u, s, vt = np.linalg.svd(before, full_matrices=False)
        # Singular values below NumPy's matrix_rank tolerance are rounding noise, and dividing by
        # them would blow the reduced operator up.
        tolerance = s[0] * max(before.shape) * np.finfo(float).eps
        data_rank = int(np.sum(s > tolerance))
        if data_rank == 0:
            raise ValueError("the trajectories are constant in time; DMD needs states that change")
        if self.rank > data_rank:
            raise ValueError(
                f"rank {self.rank} is larger than the rank of the data ({data_rank}: {data.shape[-1]} variables, "
                f"{before.shape[1]} snapshot pairs); expected a rank between 1 and {data_rank}"
            )
        u, s, vt = u[:, : self.rank], s[: self.rank], vt[: self.rank]
        self.basis = u
        self.reduced_operator = u.T @ after @ vt.T / s
        self.eigenvalues = np.linalg.eigvals(self.reduced_operator)
        return self

    def forecast(self, initial_states: np.ndarray, n_steps: int) -> np.ndarray:
        """Return the linear forecast ``(n_steps + 1, batch, N)`` from states ``(batch, N)``."""
        if not hasattr(self, "basis"):
            raise RuntimeError("this DMD is not fitted yet; call fit(trajectories) before forecast")
        if n_steps < 0:
            raise ValueError(f"invalid n_steps={n_steps}; expected a non-negative integer")
        coefficients = (np.atleast_2d(initial_states) - self.mean) @ self.basis
        outputs = [coefficients]
        for _ in range(n_steps):
            coefficients = coefficients @ self.reduced_operator.T
            outputs.append(coefficients)
        return np.stack(outputs) @ self.basis.T + self.mean
