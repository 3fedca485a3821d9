"""Forecast and climate metrics: normalised error, valid prediction time, Hellinger distance, autocorrelation."""

from __future__ import annotations

import numpy as np

VPT_THRESHOLD = 0.5
"""Normalised RMSE above which a forecast no longer counts as valid."""


def normalised_rmse(forecast: np.ndarray, truth: np.ndarray, climate_std: float | np.ndarray) -> np.ndarray:
    """Return the RMSE over the last (state) axis divided by the climatological standard deviation.

    ``forecast`` and ``truth`` have shape ``(n_times, ..., N)``; the result has shape ``(n_times, ...)``.
    """
    forecast, truth = np.asarray(forecast, dtype=float), np.asarray(truth, dtype=float)
    if forecast.shape != truth.shape:
        raise ValueError(f"forecast has shape {forecast.shape} but truth has shape {truth.shape}")
    spread = np.asarray(climate_std, dtype=float)
    if not (np.isfinite(spread).all() and (spread > 0).all()):
        raise ValueError(f"invalid climate_std={climate_std}; expected a positive standard deviation")
    return np.sqrt(np.mean(((forecast - truth) / climate_std) ** 2, axis=-1))


def valid_prediction_time(
    forecast: np.ndarray,
    truth: np.ndarray,
    dt: float,
    climate_std: float | np.ndarray,
    threshold: float = VPT_THRESHOLD,
) -> np.ndarray:
    """Return the time until the normalised RMSE first exceeds ``threshold``, in model time units.

    Row 0 of ``forecast`` and ``truth`` is the initial time and row k is time k * dt. The valid
    prediction time is the time of the last row before the first one whose error exceeds the
    threshold, or the whole forecast length when the error never does. Extra axes between the
    first and last give one value each.
    """
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"invalid time step dt={dt}; expected a positive number of model time units")
    error = normalised_rmse(forecast, truth, climate_std)
    exceeded = error > threshold
    first = np.where(exceeded.any(axis=0), exceeded.argmax(axis=0), error.shape[0])
    return (first - 1).clip(min=0) * dt


def hellinger_distance(samples: np.ndarray, reference: np.ndarray, bins: int = 50, value_range: tuple[float, float] | None = None) -> float:
    """Return the Hellinger distance between the histograms of two samples, pooled over all axes.

    H = sqrt(1 - sum_k sqrt(p_k q_k)) lies between 0 (same histogram) and 1 (no overlap). Both
    histograms use the same ``bins`` bins over ``value_range``, by default the range of
    ``reference`` widened by 10% on each side. Samples outside the range count in no bin, so a
    forecast that leaves the attractor is far from it. Non-finite samples raise ``ValueError``.
    """
    samples = np.asarray(samples, dtype=float).ravel()
    reference = np.asarray(reference, dtype=float).ravel()
    if not (np.isfinite(samples).all() and np.isfinite(reference).all()):
        raise ValueError("the samples contain NaN or infinite values: the forecast has blown up")
    if value_range is None:
        low, high = reference.min(), reference.max()
        margin = 0.1 * (high - low)
        value_range = (low - margin, high + margin)
    p, _ = np.histogram(samples, bins=bins, range=value_range)
    q, _ = np.histogram(reference, bins=bins, range=value_range)
    p = p / samples.size
    q = q / reference.size
    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))


def autocorrelation(series: np.ndarray, max_lag: int) -> np.ndarray:
    """Return the autocorrelation of ``series`` (time on axis 0) at lags 0 to ``max_lag``.

    Other axes are pooled: every variable's anomaly from its own mean contributes to one curve.
    """
    series = np.asarray(series, dtype=float)
    if max_lag >= series.shape[0]:
        raise ValueError(f"max_lag={max_lag} must be shorter than the series ({series.shape[0]} times)")
    anomaly = series - series.mean(axis=0)
    variance = np.mean(anomaly**2)
    return np.array([np.mean(anomaly[lag:] * anomaly[: series.shape[0] - lag]) / variance for lag in range(max_lag + 1)])
