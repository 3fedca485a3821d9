"""The largest Lyapunov exponent by the two-trajectory renormalisation method of Benettin et al."""

from __future__ import annotations

import numpy as np

from ml4es.dynamics.systems import Tendency, rk4_step


def largest_lyapunov_exponent(
    rhs: Tendency,
    initial_states: np.ndarray,
    dt: float = 0.01,
    duration: float = 100.0,
    renormalise_every: int = 10,
    separation: float = 1e-8,
    seed: int = 0,
) -> dict:
    """Estimate the largest Lyapunov exponent (per model time unit) from a set of starting states.

    Each state in ``initial_states`` (shape ``(n, N)``, already on the attractor) gets a companion
    displaced by ``separation`` in a random direction. Both are integrated with RK4; every
    ``renormalise_every`` steps the growth of their distance d is logged and the companion is
    pulled back to distance ``separation`` along the current direction of separation. The
    exponent is the mean of log(d / separation) per unit time. Returns a dict with
    ``exponent`` (mean over the starting states), ``per_state`` (one estimate each) and
    ``running`` (the running estimate of the mean after each renormalisation).
    """
    states = np.array(initial_states, dtype=float)
    if states.ndim != 2:
        raise ValueError(f"initial_states should have shape (n, N), got {states.shape}")
    n_intervals = int(round(duration / (dt * renormalise_every)))
    if n_intervals < 1:
        raise ValueError(f"duration={duration} is shorter than one renormalisation interval of {dt * renormalise_every} MTU")

    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(states.shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    companions = states + separation * direction

    log_growth = np.zeros(states.shape[0])
    running = np.empty(n_intervals)
    for interval in range(n_intervals):
        for _ in range(renormalise_every):
            states = rk4_step(rhs, states, dt)
            companions = rk4_step(rhs, companions, dt)
        difference = companions - states
        distance = np.linalg.norm(difference, axis=-1)
        log_growth += np.log(distance / separation)
        companions = states + difference * (separation / distance)[:, None]
        running[interval] = log_growth.mean() / ((interval + 1) * renormalise_every * dt)

    per_state = log_growth / (n_intervals * renormalise_every * dt)
    return {"exponent": float(per_state.mean()), "per_state": per_state, "running": running}
