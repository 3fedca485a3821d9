"""Echo-state networks (reservoir computing) with a ridge-regression readout, in NumPy.

A fixed random recurrent network, the reservoir, is driven by the input u_k:

    r_{k+1} = (1 - a) r_k + a tanh(W r_k + W_in [1, u_k]),

and only the linear readout y_{k+1} = W_out g(r_{k+1}) is trained, by ridge regression, with
features g(r) = [r, r^2]. For Lorenz-96 the same reservoir is copied at every grid point and
driven by the neighbouring values (a local, translation-invariant reservoir), so one small
readout serves all 40 points.
"""

from __future__ import annotations

import numpy as np


def ridge_readout(features: np.ndarray, targets: np.ndarray, ridge: float) -> np.ndarray:
    """Return W_out = Y^T F (F^T F + ridge I)^{-1}, shape ``(n_outputs, n_features)``.

    ``features`` F has shape ``(n_samples, n_features)`` and ``targets`` Y ``(n_samples, n_outputs)``.
    """
    features = np.asarray(features, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if features.ndim != 2 or targets.ndim != 2 or features.shape[0] != targets.shape[0]:
        raise ValueError(
            f"features {features.shape} and targets {targets.shape} must be 2-D with the same number of rows"
        )
    gram = features.T @ features + ridge * np.eye(features.shape[1])
    return np.linalg.solve(gram, features.T @ targets).T


class EchoStateNetwork:
    """A leaky tanh reservoir of ``n_reservoir`` units with a ridge readout.

    ``spectral_radius`` scales the recurrent matrix W (dense, Gaussian), ``input_scale`` the
    uniform input matrix W_in, and ``leak`` is a in the update above. Inputs are standardised
    with the mean and standard deviation of the training data.
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        n_reservoir: int = 300,
        spectral_radius: float = 0.9,
        input_scale: float = 0.5,
        leak: float = 1.0,
        ridge: float = 1e-6,
        seed: int = 0,
    ):
        rng = np.random.default_rng(seed)
        recurrent = rng.standard_normal((n_reservoir, n_reservoir))
        self.W = recurrent * (spectral_radius / np.max(np.abs(np.linalg.eigvals(recurrent))))
        self.W_in = rng.uniform(-input_scale, input_scale, (n_reservoir, n_inputs + 1))
        self.W_out = np.zeros((n_outputs, 2 * n_reservoir))
        self.leak, self.ridge = leak, ridge
        self.n_inputs, self.n_outputs, self.n_reservoir = n_inputs, n_outputs, n_reservoir
        self.input_mean, self.input_std = 0.0, 1.0

    def step(self, state: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Return the next reservoir state for states ``(..., n_reservoir)`` and inputs ``(..., n_inputs)``."""
        z = (inputs - self.input_mean) / self.input_std
        drive = state @ self.W.T + z @ self.W_in[:, 1:].T + self.W_in[:, 0]
        return (1 - self.leak) * state + self.leak * np.tanh(drive)

    def listen(self, inputs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        """Drive the reservoir with ``inputs`` ``(T, ..., n_inputs)`` and return the states after each input."""
        if state is None:
            state = np.zeros(inputs.shape[1:-1] + (self.n_reservoir,))
        states = np.empty(inputs.shape[:-1] + (self.n_reservoir,))
        for k in range(inputs.shape[0]):
            state = self.step(state, inputs[k])
            states[k] = state
        return states

    @staticmethod
    def features(states: np.ndarray) -> np.ndarray:
        """Return the readout features [r, r^2] of states ``(..., n_reservoir)``."""
        return np.concatenate([states, states**2], axis=-1)

    def readout(self, states: np.ndarray) -> np.ndarray:
        """Return W_out g(r) for states ``(..., n_reservoir)``."""
        return self.features(states) @ self.W_out.T

    def fit(self, inputs: np.ndarray, targets: np.ndarray, washout: int = 100) -> np.ndarray:
        """Fit the readout so that reservoir states after input k predict ``targets[k]``; return the states.

        ``inputs`` has shape ``(T, ..., n_inputs)`` and ``targets`` ``(T, ..., n_outputs)``. The first
        ``washout`` states, which still remember the reservoir's arbitrary starting state, are
        left out of the fit.
        """
        self.input_mean = inputs.mean()
        self.input_std = inputs.std()
        states = self.listen(inputs)
        features = self.features(states[washout:]).reshape(-1, 2 * self.n_reservoir)
        self.W_out = ridge_readout(features, targets[washout:].reshape(-1, self.n_outputs), self.ridge)
        return states


def local_inputs(x: np.ndarray, half_width: int) -> np.ndarray:
    """Return the periodic neighbourhood x_{i-h}, ..., x_{i+h} of every point: ``(..., N, 2h + 1)``."""
    return np.stack([np.roll(x, -offset, axis=-1) for offset in range(-half_width, half_width + 1)], axis=-1)


class LocalReservoir:
    """One echo-state network shared by every point of a periodic 1-D state (such as Lorenz-96).

    The reservoir at point i is driven by the ``2 * half_width + 1`` values around it and
    predicts the increment x_i(t + dt) - x_i(t).
    """

    def __init__(self, half_width: int = 3, **esn_options):
        self.half_width = half_width
        self.esn = EchoStateNetwork(2 * half_width + 1, 1, **esn_options)

    def fit(self, trajectories: np.ndarray, washout: int = 100) -> None:
        """Fit the readout on trajectories ``(n, T, N)`` sampled at the forecast step."""
        data = np.moveaxis(np.asarray(trajectories, dtype=float), 1, 0)
        inputs = local_inputs(data[:-1], self.half_width)
        targets = (data[1:] - data[:-1])[..., None]
        self.esn.fit(inputs, targets, washout=washout)

    def forecast(self, history: np.ndarray, n_steps: int) -> np.ndarray:
        """Synchronise on ``history`` ``(T, batch, N)``, then run freely for ``n_steps``.

        Returns ``(n_steps + 1, batch, N)``, starting from the last state of ``history``.
        """
        history = np.asarray(history, dtype=float)
        states = self.esn.listen(local_inputs(history[:-1], self.half_width))
        state, x = states[-1], history[-1]
        outputs = [x]
        for _ in range(n_steps):
            state = self.esn.step(state, local_inputs(x, self.half_width))
            x = x + self.esn.readout(state)[..., 0]
            outputs.append(x)
        return np.stack(outputs)
