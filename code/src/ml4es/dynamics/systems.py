"""The Lorenz-63 and Lorenz-96 systems and a fixed-step fourth-order Runge-Kutta integrator.

Every function works on NumPy arrays whose last axis is the state, so that one call advances many
initial conditions at once: a state of shape ``(..., N)`` gives a tendency of the same shape.
Time is in model time units (MTU).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
"""Lorenz (1963) parameters of the classic butterfly attractor."""

FORCING = 8.0
"""Lorenz-96 forcing F; with N = 40 variables the system is chaotic."""

N_LORENZ96 = 40

Tendency = Callable[[np.ndarray], np.ndarray]


def lorenz63(state: np.ndarray, sigma: float = SIGMA, rho: float = RHO, beta: float = BETA) -> np.ndarray:
    """Return dx/dt of the Lorenz-63 system for states of shape ``(..., 3)`` (x, y, z)."""
    state = np.asarray(state, dtype=float)
    if state.shape[-1:] != (3,):
        raise ValueError(f"a Lorenz-63 state has 3 components on its last axis, got shape {state.shape}")
    x, y, z = state[..., 0], state[..., 1], state[..., 2]
    return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], axis=-1)


def lorenz96(state: np.ndarray, forcing: float = FORCING) -> np.ndarray:
    """Return dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F for states of shape ``(..., N)``.

    The index i is cyclic (x_{N} = x_0), and N must be at least 4.
    """
    state = np.asarray(state, dtype=float)
    if state.ndim == 0 or state.shape[-1] < 4:
        raise ValueError(f"a Lorenz-96 state needs at least 4 variables on its last axis, got shape {state.shape}")
    ahead = np.roll(state, -1, axis=-1)
    behind = np.roll(state, 1, axis=-1)
    two_behind = np.roll(state, 2, axis=-1)
    return (ahead - two_behind) * behind - state + forcing


def tendency(system: str, **parameters: float) -> Tendency:
    """Return the right-hand side of ``system`` ("lorenz63" or "lorenz96") with ``parameters`` bound."""
    if system == "lorenz63":
        return partial(lorenz63, **parameters)
    if system == "lorenz96":
        return partial(lorenz96, **parameters)
    raise ValueError(f"unknown system {system!r}; expected 'lorenz63' or 'lorenz96'")


def rk4_step(rhs: Tendency, state: np.ndarray, dt: float) -> np.ndarray:
    """Advance ``state`` by one classical fourth-order Runge-Kutta step of length ``dt``."""
    k1 = rhs(state)
    k2 = rhs(state + 0.5 * dt * k1)
    k3 = rhs(state + 0.5 * dt * k2)
    k4 = rhs(state + dt * k3)
    return state + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def integrate(
    rhs: Tendency,
    initial_state: np.ndarray,
    n_steps: int,
    dt: float,
    save_every: int = 1,
) -> np.ndarray:
    """Integrate with RK4 from ``initial_state`` and return the saved states.

    ``initial_state`` has shape ``(..., N)``; the result has shape ``(n_saved, ..., N)`` with
    ``n_saved = n_steps // save_every + 1``, the first entry being the initial state and the
    others every ``save_every`` steps of length ``dt``.
    """
    if n_steps < 0 or save_every < 1:
        raise ValueError(
            f"invalid n_steps={n_steps} or save_every={save_every}; expected n_steps >= 0 and save_every >= 1"
        )
    if not dt > 0:
        raise ValueError(f"invalid time step dt={dt}; expected a positive number")
    state = np.array(initial_state, dtype=float)
    saved = [state.copy()]
    for step in range(1, n_steps + 1):
        state = rk4_step(rhs, state, dt)
        if step % save_every == 0:
            saved.append(state.copy())
    return np.stack(saved)


def _check_count(name: str, value: int) -> None:
    """Raise ``TypeError`` unless ``value`` is an integer, and ``ValueError`` unless it is positive."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"invalid {name}={value!r}; expected a positive integer")
    if value < 1:
        raise ValueError(f"invalid {name}={value}; expected a positive integer")


def _check_time_step(dt: float) -> None:
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"invalid time step dt={dt}; expected a positive number")


def _check_initial_state_arguments(n: int, spin_up: float, dt: float) -> None:
    """Raise unless ``n`` is a positive count and ``spin_up`` covers at least one step ``dt``."""
    _check_count("n", n)
    _check_time_step(dt)
    if not (np.isfinite(spin_up) and spin_up >= dt):
        raise ValueError(f"invalid spin_up={spin_up} MTU; expected at least one time step (dt={dt})")


def lorenz96_initial_states(n: int, n_variables: int = N_LORENZ96, seed: int = 0, spin_up: float = 20.0, dt: float = 0.01) -> np.ndarray:
    """Return ``n`` states on the Lorenz-96 attractor, shape ``(n, n_variables)``.

    Each starts at F plus small Gaussian noise and is integrated for ``spin_up`` MTU so that the
    transient has decayed.
    """
    _check_initial_state_arguments(n, spin_up, dt)
    rng = np.random.default_rng(seed)
    start = FORCING + 0.01 * rng.standard_normal((n, n_variables))
    # Spread the members apart on the attractor: each gets its own spin-up length.
    extra = rng.integers(0, int(10.0 / dt), size=n)
    states = integrate(lorenz96, start, int(spin_up / dt), dt, save_every=int(spin_up / dt))[-1]
    for _ in range(int(extra.max())):
        moving = extra > 0
        states[moving] = rk4_step(lorenz96, states[moving], dt)
        extra -= 1
    return states


def lorenz63_initial_states(n: int, seed: int = 0, spin_up: float = 10.0, dt: float = 0.01) -> np.ndarray:
    """Return ``n`` states on the Lorenz-63 attractor, shape ``(n, 3)``."""
    _check_initial_state_arguments(n, spin_up, dt)
    rng = np.random.default_rng(seed)
    start = np.array([1.0, 1.0, 25.0]) + 5.0 * rng.standard_normal((n, 3))
    extra = rng.integers(0, int(5.0 / dt), size=n)
    states = integrate(lorenz63, start, int(spin_up / dt), dt, save_every=int(spin_up / dt))[-1]
    for _ in range(int(extra.max())):
        moving = extra > 0
        states[moving] = rk4_step(lorenz63, states[moving], dt)
        extra -= 1
    return states


def ensemble_forecast(
    initial_state: np.ndarray,
    n_members: int,
    sigma: float,
    n_samples: int,
    sample_dt: float = 0.05,
    dt: float = 0.01,
    seed: int = 0,
    forcing: float = FORCING,
) -> np.ndarray:
    """Integrate an ensemble of Lorenz-96 states perturbed from ``initial_state`` ``(N,)``.

    Member m starts at ``initial_state + sigma * e_m`` with e_m standard Gaussian noise drawn by
    ``numpy.random.default_rng(seed)`` as one ``(n_members, N)`` array. Returns the states every
    ``sample_dt``, shape ``(n_samples + 1, n_members, N)``.
    """
    initial_state = np.asarray(initial_state, dtype=float)
    _check_count("n_members", n_members)
    _check_time_step(dt)
    save_every = int(round(sample_dt / dt))
    if save_every < 1:
        raise ValueError(f"invalid sample_dt={sample_dt}; expected at least the time step dt={dt}")
    rng = np.random.default_rng(seed)
    members = initial_state + sigma * rng.standard_normal((n_members, initial_state.shape[-1]))
    return integrate(partial(lorenz96, forcing=forcing), members, n_samples * save_every, dt, save_every=save_every)
